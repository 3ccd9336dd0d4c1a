// Package calendar is a site's working calendar: which days are working days
// once weekends, public holidays and the make-up working days (调休) that
// China moves around them each year are counted. Each year comes from its own
// file (YAML or CSV, see Parse), because the State Council publishes each
// year's arrangement only in the November before; a deadline that needs a
// year no file gives is an error naming the year and the files, never a
// silent guess. The package is pure: parsing and arithmetic, no I/O but Load.
package calendar

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"
)

// Date is a day of the calendar, without a time or a zone.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// DateOf is the day t falls on in t's own location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{y, m, d}
}

func (d Date) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day) }

// Weekday of the date.
func (d Date) Weekday() time.Weekday {
	return time.Date(d.Year, d.Month, d.Day, 12, 0, 0, 0, time.UTC).Weekday()
}

// next is the following day.
func (d Date) next() Date {
	return DateOf(time.Date(d.Year, d.Month, d.Day+1, 12, 0, 0, 0, time.UTC))
}

// parseDate reads YYYY-MM-DD strictly (2026-2-3 and 2026-02-30 are refused).
func parseDate(s string) (Date, error) {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return Date{}, fmt.Errorf("%q is not a date such as 2026-10-01 (YYYY-MM-DD)", s)
	}
	return DateOf(t), nil
}

// Year is one year's arrangement: its weekend days, holidays and make-up
// working days, as read from File.
type Year struct {
	Year    int
	File    string
	Weekend []time.Weekday
	// Holidays are days off that would otherwise be working days (or fall on
	// a weekend inside a holiday); Workdays are weekend days worked instead
	// (调休上班). Each maps the day to its name (国庆节, 国庆节调休上班).
	Holidays map[Date]string
	Workdays map[Date]string
}

// Working reports whether d (a day of this year) is a working day.
func (y *Year) Working(d Date) bool {
	if _, ok := y.Workdays[d]; ok {
		return true
	}
	if _, ok := y.Holidays[d]; ok {
		return false
	}
	return !slices.Contains(y.Weekend, d.Weekday())
}

// MissingYearError is a deadline that needs a year the calendar has no file for.
type MissingYearError struct {
	Year  int
	Files []string // the files the calendar was loaded from
}

func (e *MissingYearError) Error() string {
	if len(e.Files) == 0 {
		return fmt.Sprintf("the working calendar has no year %d: it has no files; add a calendar file for %d", e.Year, e.Year)
	}
	return fmt.Sprintf("the working calendar has no year %d (it has %s); add a calendar file for %d", e.Year, strings.Join(e.Files, ", "), e.Year)
}

// Calendar is a site's working calendar: one Year per year it covers.
type Calendar struct {
	years map[int]*Year
	files []string
}

// New makes a calendar of years; two files for one year are an error.
func New(years ...*Year) (*Calendar, error) {
	c := &Calendar{years: map[int]*Year{}}
	for _, y := range years {
		if prev, ok := c.years[y.Year]; ok {
			return nil, fmt.Errorf("%s: year %d is already given by %s", y.File, y.Year, prev.File)
		}
		c.years[y.Year] = y
		c.files = append(c.files, y.File)
	}
	sort.Strings(c.files)
	return c, nil
}

// Load reads calendar files (.yaml, .yml or .csv, one year each) into a calendar.
func Load(paths ...string) (*Calendar, error) {
	var years []*Year
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("calendar: %w", err)
		}
		y, err := Parse(p, data)
		if err != nil {
			return nil, err
		}
		years = append(years, y)
	}
	return New(years...)
}

// Parse reads one year's file, YAML or CSV by its extension.
func Parse(name string, data []byte) (*Year, error) {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".csv":
		return ParseCSV(name, data)
	case ".yaml", ".yml":
		return ParseYAML(name, data)
	}
	return nil, Problems{{File: name, Msg: "a calendar file is .yaml, .yml or .csv"}}
}

// Years lists the years the calendar covers, in order.
func (c *Calendar) Years() []int {
	out := make([]int, 0, len(c.years))
	for y := range c.years {
		out = append(out, y)
	}
	sort.Ints(out)
	return out
}

// Working reports whether d is a working day; a year the calendar lacks is a *MissingYearError.
func (c *Calendar) Working(d Date) (bool, error) {
	y, ok := c.years[d.Year]
	if !ok {
		return false, &MissingYearError{Year: d.Year, Files: c.files}
	}
	return y.Working(d), nil
}

// Name is the holiday or make-up day d is (国庆节), or "".
func (c *Calendar) Name(d Date) string {
	if y, ok := c.years[d.Year]; ok {
		if n, ok := y.Workdays[d]; ok {
			return n
		}
		return y.Holidays[d]
	}
	return ""
}

// maxDays bounds the walk of AddWorkingDays: a calendar whose every day is
// a holiday must not make it loop (a year has at most 366 days; a file may
// cover one year only, so the walk leaves the calendar within that).
const maxDays = 4 * 366

// AddWorkingDays is when n working days after start have passed, counting in
// loc: working time runs only on working days, a whole day each (midnight to
// midnight), so a clock started on Friday at 18:30 with one working day
// falls due on Monday at 18:30, and one started on a Saturday (or a holiday)
// runs from the next working day's midnight to its end. A day the calendar
// has no year for is a *MissingYearError.
func (c *Calendar) AddWorkingDays(start time.Time, n int, loc *time.Location) (time.Time, error) {
	if loc == nil {
		loc = time.UTC
	}
	if n <= 0 {
		return start, nil
	}
	cur := start.In(loc)
	remaining := time.Duration(n) * 24 * time.Hour
	for range maxDays {
		d := DateOf(cur)
		end := time.Date(d.Year, d.Month, d.Day+1, 0, 0, 0, 0, loc)
		ok, err := c.Working(d)
		if err != nil {
			return time.Time{}, err
		}
		if ok {
			if avail := end.Sub(cur); avail >= remaining {
				return cur.Add(remaining), nil
			} else {
				remaining -= avail
			}
		}
		cur = end
	}
	return time.Time{}, errors.New("no working days found in four years of the calendar")
}

// Weekdays is the calendar of a site that has no calendar file: Saturdays
// and Sundays off, no holidays, every year. The desk uses it so that a
// deadline in working days still falls on a weekday; `estate check` asks for
// a real calendar wherever a configured deadline counts working days.
type Weekdays struct{}

// AddWorkingDays counts n weekdays from start in loc, as Calendar.AddWorkingDays does.
func (Weekdays) AddWorkingDays(start time.Time, n int, loc *time.Location) (time.Time, error) {
	c := &Calendar{years: map[int]*Year{}}
	y0 := start.In(orUTC(loc)).Year()
	for y := y0; y <= y0+n/200+2; y++ {
		c.years[y] = &Year{Year: y, Weekend: []time.Weekday{time.Saturday, time.Sunday}}
	}
	return c.AddWorkingDays(start, n, loc)
}

func orUTC(l *time.Location) *time.Location {
	if l == nil {
		return time.UTC
	}
	return l
}
