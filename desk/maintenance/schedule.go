package maintenance

import (
	"fmt"
	"strings"
	"time"
)

// WorkingDays says which days are working days on a site. Weekends is the
// default; the site's calendar of public holidays and make-up working days
// (调休) plugs in here.
type WorkingDays interface {
	IsWorkingDay(day time.Time) bool
}

// Weekends takes Saturday and Sunday as the only non-working days.
type Weekends struct{}

// IsWorkingDay is true from Monday to Friday.
func (Weekends) IsWorkingDay(day time.Time) bool {
	wd := day.Weekday()
	return wd != time.Saturday && wd != time.Sunday
}

// State is what the scheduler remembers of a plan for one piece of equipment.
type State struct {
	// LastCalendar is the scheduled time of the last calendar occurrence
	// turned into an order (zero: none yet).
	LastCalendar time.Time `json:"last_calendar,omitzero"`
	// LastAt is when the last occurrence (calendar or usage) was opened:
	// usage is counted from there (or from Since when there was none).
	LastAt time.Time `json:"last_at,omitzero"`
	// Since is when the plan started to apply to the equipment.
	Since time.Time `json:"since"`
}

// UsageFrom is the moment usage is counted from.
func (s State) UsageFrom() time.Time {
	if !s.LastAt.IsZero() {
		return s.LastAt
	}
	return s.Since
}

// Due is a plan's next occurrence for one piece of equipment, with why.
type Due struct {
	// At is the next calendar occurrence (zero without a calendar).
	At time.Time `json:"at,omitzero"`
	// UsageAt is the usage figure at which it falls due (0 without usage)
	// and Usage the figure now (since the last occurrence).
	UsageAt float64 `json:"usage_at,omitempty"`
	Usage   float64 `json:"usage,omitempty"`
	// Now is true when the plan is due at the moment (a calendar
	// occurrence has come or usage reached its figure); Trigger says which
	// ("calendar" or "usage").
	Now     bool   `json:"now"`
	Trigger string `json:"trigger,omitempty"`
	// Explain says it in words (English; Chinese is ExplainZH).
	Explain   string `json:"explain"`
	ExplainZH string `json:"explain_zh"`
}

// Triggers of an occurrence.
const (
	TriggerCalendar = "calendar"
	TriggerUsage    = "usage"
)

// Occurrences returns the calendar's occurrences in [from, to), in order,
// at most limit of them, in loc (the site's time zone).
func (c Calendar) Occurrences(from, to time.Time, loc *time.Location, wd WorkingDays, limit int) []time.Time {
	var out []time.Time
	for t := c.after(from.Add(-time.Nanosecond), loc, wd); !t.IsZero() && t.Before(to) && len(out) < limit; t = c.after(t, loc, wd) {
		out = append(out, t)
	}
	return out
}

// After returns the first occurrence strictly after t (zero if none
// before 2300, which a valid calendar always has).
func (c Calendar) After(t time.Time, loc *time.Location, wd WorkingDays) time.Time {
	return c.after(t, loc, wd)
}

func (c Calendar) after(t time.Time, loc *time.Location, wd WorkingDays) time.Time {
	if loc == nil {
		loc = time.UTC
	}
	if wd == nil {
		wd = Weekends{}
	}
	start, err := time.ParseInLocation(time.DateOnly, c.Start, loc)
	if err != nil || c.Every < 1 {
		return time.Time{}
	}
	hh, mm := 9, 0
	if at, err := time.Parse("15:04", c.At); err == nil {
		hh, mm = at.Hour(), at.Minute()
	}
	// The k-th nominal date; occurrences are in order of k, and moving a
	// date to the next working day never passes the next nominal date by
	// more than the days it skips, so scanning k in order finds the first
	// one after t.
	nominal := func(k int) time.Time {
		var d time.Time
		switch c.Unit {
		case Day:
			d = start.AddDate(0, 0, k*c.Every)
		case Week:
			first := start
			if w, ok := weekdays[strings.ToLower(c.Weekday)]; ok {
				first = start.AddDate(0, 0, (int(w)-int(start.Weekday())+7)%7)
			}
			d = first.AddDate(0, 0, 7*k*c.Every)
		case Month:
			day := c.Day
			if day == 0 {
				day = start.Day()
			}
			m := time.Date(start.Year(), start.Month()+time.Month(k*c.Every), 1, 0, 0, 0, 0, loc)
			d = time.Date(m.Year(), m.Month(), min(day, daysIn(m.Month(), m.Year())), 0, 0, 0, 0, loc)
			if k == 0 && d.Before(start) {
				return time.Time{} // the first month's day is before the start: not an occurrence
			}
		case Year:
			month, day := time.Month(c.Month), c.Day
			if month == 0 {
				month = start.Month()
			}
			if day == 0 {
				day = start.Day()
			}
			y := start.Year() + k*c.Every
			d = time.Date(y, month, min(day, daysIn(month, y)), 0, 0, 0, 0, loc)
			if k == 0 && d.Before(start) {
				return time.Time{}
			}
		default:
			return time.Time{}
		}
		if c.WorkingDaysOnly {
			for i := 0; i < 60 && !wd.IsWorkingDay(d); i++ {
				d = d.AddDate(0, 0, 1)
			}
		}
		return time.Date(d.Year(), d.Month(), d.Day(), hh, mm, 0, 0, loc)
	}
	// Skip ahead roughly, then scan: a daily plan over years is thousands
	// of steps otherwise.
	k := 0
	if span := t.Sub(start); span > 0 {
		var approx time.Duration
		switch c.Unit {
		case Day:
			approx = 24 * time.Hour
		case Week:
			approx = 7 * 24 * time.Hour
		case Month:
			approx = 28 * 24 * time.Hour
		case Year:
			approx = 365 * 24 * time.Hour
		}
		k = max(0, int(span/(approx*time.Duration(c.Every)))-2)
		// months and years are longer than their approximations: back off
		// until the k-th is not after t.
		for k > 0 {
			if d := nominal(k); !d.IsZero() && d.After(t) {
				k--
				continue
			}
			break
		}
	}
	for ; k < 100000; k++ {
		d := nominal(k)
		if d.IsZero() {
			continue
		}
		if d.Year() > 2300 {
			return time.Time{}
		}
		if d.After(t) {
			return d
		}
	}
	return time.Time{}
}

// Next says when a plan is next due for one piece of equipment, given its
// state, the time, and the usage since the last occurrence (ignored
// without a usage trigger). unit names the usage's unit in the
// explanation ("running hours").
func Next(p Plan, st State, now time.Time, usage float64, loc *time.Location, wd WorkingDays) Due {
	if loc == nil {
		loc = time.UTC
	}
	var d Due
	var en, zh []string
	if c := p.Calendar; c != nil {
		from := st.LastCalendar
		if from.IsZero() {
			// An occurrence earlier on the day the plan started counts: a
			// plan made at 10:00 for a 09:00 round is due today.
			s := st.Since.In(loc)
			from = time.Date(s.Year(), s.Month(), s.Day(), 0, 0, 0, 0, loc).Add(-time.Nanosecond)
		}
		d.At = c.After(from, loc, wd)
		if !d.At.IsZero() {
			// The day and time; the year too when it is not this year's.
			layout := "01-02 15:04"
			if d.At.In(loc).Year() != now.In(loc).Year() {
				layout = "2006-01-02 15:04"
			}
			en = append(en, "due on "+d.At.In(loc).Format(layout))
			zh = append(zh, d.At.In(loc).Format(layout)+" 到期")
			if !d.At.After(now) {
				d.Now, d.Trigger = true, TriggerCalendar
			}
		}
	}
	if u := p.Usage; u != nil {
		d.UsageAt, d.Usage = u.Every, usage
		name, nameZH := MeasureName(u.Measure, u.Point)
		en = append(en, fmt.Sprintf("at %s %s; now %s", trimFloat(u.Every), name, trimFloat(usage)))
		zh = append(zh, fmt.Sprintf("或%s达到 %s (当前 %s)", nameZH, trimFloat(u.Every), trimFloat(usage)))
		if usage >= u.Every && !d.Now {
			d.Now, d.Trigger = true, TriggerUsage
		}
	}
	d.Explain = strings.Join(en, ", or ")
	d.ExplainZH = strings.Join(zh, ", ")
	if d.Now {
		d.Explain = "due now (" + d.Trigger + "): " + d.Explain
		d.ExplainZH = "已到期 (" + map[string]string{TriggerCalendar: "日历", TriggerUsage: "用量"}[d.Trigger] + "): " + d.ExplainZH
	}
	return d
}

// Occurrence is one time a plan fell due for one piece of equipment.
type Occurrence struct {
	// Due is the calendar time, or the moment usage reached its figure.
	Due     time.Time `json:"due"`
	Trigger string    `json:"trigger"`
	Usage   float64   `json:"usage,omitempty"`
	Explain string    `json:"explain"`
}

// Step is the scheduler's one move at now: the occurrence that has come
// due, if any, and the state after it. Calendar occurrences missed while
// the desk was down become one occurrence (the latest), not a burst of
// orders for work that can be done only once.
func Step(p Plan, st State, now time.Time, usage float64, loc *time.Location, wd WorkingDays) (*Occurrence, State) {
	d := Next(p, st, now, usage, loc, wd)
	if !d.Now {
		return nil, st
	}
	o := &Occurrence{Trigger: d.Trigger, Usage: usage, Explain: d.Explain}
	switch d.Trigger {
	case TriggerCalendar:
		at := d.At
		for {
			n := p.Calendar.After(at, loc, wd)
			if n.IsZero() || n.After(now) {
				break
			}
			at = n
		}
		o.Due, st.LastCalendar = at, at
	case TriggerUsage:
		o.Due = now
	}
	st.LastAt = now
	return o, st
}

// MeasureName names a usage measure in English and Chinese.
func MeasureName(measure, point string) (string, string) {
	switch measure {
	case RunningHours:
		return "running hours", "运行小时"
	case Starts:
		return "starts", "启动次数"
	default:
		return point, point + " 增量"
	}
}

// trimFloat shows a usage figure: a tenth for large ones, three decimals
// below 1 (a demo's 0.05 running hours), without trailing zeros.
func trimFloat(v float64) string {
	s := fmt.Sprintf("%.1f", v)
	if v < 1 && v > -1 {
		s = fmt.Sprintf("%.3f", v)
	}
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}
