// Package maintenance is preventive maintenance: plans that fall due by the
// calendar (every N days, weeks, months or years, on a weekday or a date each
// year, working days only) or by usage read from the device's own telemetry
// (a generator's running hours from its dry contact, pump starts, energy
// through a breaker), whichever comes first; the checklists their work
// orders carry, some items of which are filled from telemetry (evidence.go);
// and the scheduler (schedule.go), which is pure: time, usage and the
// working-day calendar are given to it, so a year of plans is a table test.
// The store beside it (store.go) keeps plans, their state and their orders;
// the desk (desk/maintenance.go) runs the scheduler and opens each
// occurrence as a ticket (kind repair, category maintenance).
package maintenance

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Units of a calendar schedule.
const (
	Day   = "day"
	Week  = "week"
	Month = "month"
	Year  = "year"
)

// Usage measures: how a telemetry point becomes a usage figure.
const (
	// RunningHours integrates the time a contact (0/1) point is on.
	RunningHours = "running_hours"
	// Starts counts off→on changes of a contact point (pump starts).
	Starts = "starts"
	// Counter is the increase of a point that only grows (energy in kWh, trips).
	Counter = "counter"
)

// Measures lists the usage measures.
var Measures = []string{RunningHours, Starts, Counter}

// Plan is one maintenance plan: what is maintained (one piece of equipment,
// or every piece of a class), when (Calendar, Usage or both: whichever comes
// first), and what the work order carries.
type Plan struct {
	ID   string `json:"id" yaml:"id"`
	Site string `json:"site" yaml:"site"`
	Name string `json:"name" yaml:"name"`
	// Template names the shipped template the plan was made from, if any.
	Template string `json:"template,omitempty" yaml:"template,omitempty"`
	// Equipment is one register entry's id; Class every entry of a class
	// (elevator, generator, ...). Exactly one of them is set.
	Equipment string    `json:"equipment,omitempty" yaml:"equipment,omitempty"`
	Class     string    `json:"class,omitempty" yaml:"class,omitempty"`
	Calendar  *Calendar `json:"calendar,omitempty" yaml:"calendar,omitempty"`
	Usage     *Usage    `json:"usage,omitempty" yaml:"usage,omitempty"`
	// DeadlineDays is how long the order has from its due day (default 3).
	DeadlineDays int `json:"deadline_days,omitempty" yaml:"deadline_days,omitempty"`
	// Assignee (staff name), Team and Contractor (a maintenance company)
	// get the order.
	Assignee   string `json:"assignee,omitempty" yaml:"assignee,omitempty"`
	Team       string `json:"team,omitempty" yaml:"team,omitempty"`
	Contractor string `json:"contractor,omitempty" yaml:"contractor,omitempty"`
	// WindowMinutes, when not 0, asks that the equipment's devices be in a
	// maintenance window on their gateway for this long from the due time,
	// so that the work raises no alarms.
	WindowMinutes int    `json:"window_minutes,omitempty" yaml:"window_minutes,omitempty"`
	Checklist     []Item `json:"checklist" yaml:"checklist"`
	Active        bool   `json:"active" yaml:"active"`
}

// Calendar is a schedule by date. Every Unit from Start: day (every N
// days), week (every N weeks on Weekday, default Start's), month (every N
// months on Day, default Start's; a day the month lacks is its last day),
// year (every N years on Month-Day; 29 February is 28 February in common
// years). With WorkingDaysOnly a date that is not a working day moves to the
// next working day. At is the time of day the work starts ("09:00").
type Calendar struct {
	Every           int    `json:"every" yaml:"every"`
	Unit            string `json:"unit" yaml:"unit"`
	Start           string `json:"start" yaml:"start"` // YYYY-MM-DD, site time
	Weekday         string `json:"weekday,omitempty" yaml:"weekday,omitempty"`
	Day             int    `json:"day,omitempty" yaml:"day,omitempty"`
	Month           int    `json:"month,omitempty" yaml:"month,omitempty"`
	WorkingDaysOnly bool   `json:"working_days_only,omitempty" yaml:"working_days_only,omitempty"`
	At              string `json:"at,omitempty" yaml:"at,omitempty"`
}

// Usage is a schedule by what the device reports: due when Measure of
// Point has grown by Every since the last occurrence.
type Usage struct {
	Point   string  `json:"point" yaml:"point"`
	Measure string  `json:"measure" yaml:"measure"`
	Every   float64 `json:"every" yaml:"every"`
}

// Item kinds of a checklist.
const (
	KindCheck   = "check"   // pass or fail
	KindReading = "reading" // a number, with limits
	KindPhoto   = "photo"   // a photo's reference
	KindNote    = "note"    // free text
)

// ItemKinds lists the kinds of checklist items.
var ItemKinds = []string{KindCheck, KindReading, KindPhoto, KindNote}

// Item is one line of a checklist.
type Item struct {
	ID   string `json:"id" yaml:"id"`
	Text string `json:"text" yaml:"text"`
	// TextEN is the English text, for consoles switched to English.
	TextEN string `json:"text_en,omitempty" yaml:"text_en,omitempty"`
	Kind   string `json:"kind" yaml:"kind"`
	// Category groups failed items in the reports (electrical, mechanical, ...).
	Category string   `json:"category,omitempty" yaml:"category,omitempty"`
	Unit     string   `json:"unit,omitempty" yaml:"unit,omitempty"`
	Min      *float64 `json:"min,omitempty" yaml:"min,omitempty"`
	Max      *float64 `json:"max,omitempty" yaml:"max,omitempty"`
	Required bool     `json:"required,omitempty" yaml:"required,omitempty"`
	// Evidence, when set, fills the item from telemetry.
	Evidence *Evidence `json:"evidence,omitempty" yaml:"evidence,omitempty"`
}

// Evidence rules.
const (
	// RanAtLeast: the contact Points[0] was on for at least Minutes in the window.
	RanAtLeast = "ran_at_least"
	// Within: every sample of every point of Points lay within the item's Min..Max.
	Within = "within"
)

// Evidence says how an item is filled from telemetry: over the order's
// window (from its due time to now, at most Hours back; default 168).
type Evidence struct {
	Rule    string   `json:"rule" yaml:"rule"`
	Points  []string `json:"points" yaml:"points"`
	Minutes float64  `json:"minutes,omitempty" yaml:"minutes,omitempty"`
	Hours   int      `json:"hours,omitempty" yaml:"hours,omitempty"`
}

var (
	idPattern    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
	pointPattern = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)
	weekdays     = map[string]time.Weekday{"sunday": time.Sunday, "monday": time.Monday, "tuesday": time.Tuesday,
		"wednesday": time.Wednesday, "thursday": time.Thursday, "friday": time.Friday, "saturday": time.Saturday}
)

// Validate says everything wrong with a plan, each problem naming its field.
func (p Plan) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if !idPattern.MatchString(p.ID) {
		bad("id", "%q is not an id (1 to 64 letters, digits, - _ .)", p.ID)
	}
	if strings.TrimSpace(p.Name) == "" || len(p.Name) > 200 {
		bad("name", "required, at most 200 bytes")
	}
	switch {
	case p.Equipment == "" && p.Class == "":
		bad("equipment", "name the equipment (its register id) or the class of equipment the plan is for")
	case p.Equipment != "" && p.Class != "":
		bad("class", "give the equipment or the class, not both")
	case p.Equipment != "" && !idPattern.MatchString(p.Equipment):
		bad("equipment", "%q is not an id", p.Equipment)
	case p.Class != "" && !idPattern.MatchString(p.Class):
		bad("class", "%q is not a class name", p.Class)
	}
	if p.Calendar == nil && p.Usage == nil {
		bad("calendar", "the plan has no trigger: give a calendar schedule, a usage trigger or both")
	}
	if p.Calendar != nil {
		if err := p.Calendar.validate(); err != nil {
			errs = append(errs, fmt.Errorf("calendar.%w", err))
		}
	}
	if u := p.Usage; u != nil {
		switch {
		case !pointPattern.MatchString(u.Point):
			bad("usage.point", "%q is not a point name", u.Point)
		case !slices.Contains(Measures, u.Measure):
			bad("usage.measure", "%q is not one of %s", u.Measure, strings.Join(Measures, ", "))
		case !(u.Every > 0) || math.IsInf(u.Every, 0) || u.Every > 1e9:
			bad("usage.every", "must be a positive number (hours, starts or counter units)")
		}
	}
	if p.DeadlineDays < 0 || p.DeadlineDays > 366 {
		bad("deadline_days", "0 to 366")
	}
	if p.WindowMinutes < 0 || p.WindowMinutes > 7*24*60 {
		bad("window_minutes", "0 to 10080 (a week)")
	}
	for _, f := range []struct{ name, v string }{{"assignee", p.Assignee}, {"team", p.Team}, {"contractor", p.Contractor}} {
		if len(f.v) > 100 {
			bad(f.name, "at most 100 bytes")
		}
	}
	if len(p.Checklist) == 0 || len(p.Checklist) > 100 {
		bad("checklist", "1 to 100 items")
	}
	seen := map[string]bool{}
	for i, it := range p.Checklist {
		if err := it.validate(); err != nil {
			errs = append(errs, fmt.Errorf("checklist[%d].%w", i, err))
		}
		if seen[it.ID] {
			bad(fmt.Sprintf("checklist[%d].id", i), "%q is given twice", it.ID)
		}
		seen[it.ID] = true
	}
	return errors.Join(errs...)
}

func (c Calendar) validate() error {
	if c.Every < 1 || c.Every > 1000 {
		return fmt.Errorf("every: %d is not 1 to 1000", c.Every)
	}
	start, err := time.Parse(time.DateOnly, c.Start)
	if err != nil || start.Year() < 2000 || start.Year() > 2200 {
		return fmt.Errorf("start: %q is not a date (YYYY-MM-DD, 2000 to 2200)", c.Start)
	}
	if c.At != "" {
		if _, err := time.Parse("15:04", c.At); err != nil {
			return fmt.Errorf("at: %q is not a time of day (HH:MM)", c.At)
		}
	}
	switch c.Unit {
	case Day:
	case Week:
		if _, ok := weekdays[strings.ToLower(c.Weekday)]; c.Weekday != "" && !ok {
			return fmt.Errorf("weekday: %q is not a day of the week (monday ... sunday)", c.Weekday)
		}
	case Month:
		if c.Day < 0 || c.Day > 31 {
			return fmt.Errorf("day: %d is not a day of a month (1 to 31)", c.Day)
		}
	case Year:
		m, d := c.Month, c.Day
		if m == 0 {
			m = int(start.Month())
		}
		if d == 0 {
			d = start.Day()
		}
		if m < 1 || m > 12 {
			return fmt.Errorf("month: %d is not a month (1 to 12)", c.Month)
		}
		// 29 February exists (in leap years); 30 February or 31 April never does.
		if d < 1 || d > daysIn(time.Month(m), 2024) {
			return fmt.Errorf("day: %s %d does not exist", time.Month(m), d)
		}
	default:
		return fmt.Errorf("unit: %q is not one of day, week, month, year", c.Unit)
	}
	return nil
}

func (it Item) validate() error {
	switch {
	case !idPattern.MatchString(it.ID):
		return fmt.Errorf("id: %q is not an id", it.ID)
	case strings.TrimSpace(it.Text) == "" || len(it.Text) > 500 || len(it.TextEN) > 500:
		return errors.New("text: required, at most 500 bytes")
	case !slices.Contains(ItemKinds, it.Kind):
		return fmt.Errorf("kind: %q is not one of %s", it.Kind, strings.Join(ItemKinds, ", "))
	case len(it.Category) > 64 || len(it.Unit) > 16:
		return errors.New("category: at most 64 bytes, unit at most 16")
	case it.Kind != KindReading && (it.Min != nil || it.Max != nil):
		return fmt.Errorf("min: only a reading has limits, this item is a %s", it.Kind)
	case it.Min != nil && it.Max != nil && *it.Min > *it.Max:
		return fmt.Errorf("min: %g is above max %g", *it.Min, *it.Max)
	case it.Min != nil && (math.IsNaN(*it.Min) || math.IsInf(*it.Min, 0)), it.Max != nil && (math.IsNaN(*it.Max) || math.IsInf(*it.Max, 0)):
		return errors.New("min: limits are finite numbers")
	}
	if e := it.Evidence; e != nil {
		if len(e.Points) == 0 || len(e.Points) > 8 {
			return errors.New("evidence.points: 1 to 8 points")
		}
		for _, p := range e.Points {
			if !pointPattern.MatchString(p) {
				return fmt.Errorf("evidence.points: %q is not a point name", p)
			}
		}
		if e.Hours < 0 || e.Hours > 24*31 {
			return errors.New("evidence.hours: 0 to 744")
		}
		switch e.Rule {
		case RanAtLeast:
			if it.Kind != KindCheck {
				return errors.New("evidence.rule: ran_at_least fills a check item")
			}
			if !(e.Minutes > 0) || e.Minutes > 24*60 {
				return errors.New("evidence.minutes: a positive number of minutes, at most 1440")
			}
		case Within:
			if it.Kind != KindReading || (it.Min == nil && it.Max == nil) {
				return errors.New("evidence.rule: within fills a reading item with min or max")
			}
		default:
			return fmt.Errorf("evidence.rule: %q is not one of ran_at_least, within", e.Rule)
		}
	}
	return nil
}

// EvidencePoints are the telemetry points a plan reads: its usage point and
// its evidence items' points (each must be one the device reports).
func (p Plan) EvidencePoints() []string {
	var out []string
	if p.Usage != nil {
		out = append(out, p.Usage.Point)
	}
	for _, it := range p.Checklist {
		if it.Evidence != nil {
			for _, pt := range it.Evidence.Points {
				if !slices.Contains(out, pt) {
					out = append(out, pt)
				}
			}
		}
	}
	return out
}

func daysIn(m time.Month, year int) int {
	return time.Date(year, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}
