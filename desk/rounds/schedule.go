// Package rounds runs the inspection rounds (巡检) of the desk: routes of
// checkpoints with checklists from the desk configuration (desk.rounds),
// the round that falls due on each scheduled day of a site, the checkpoint
// visits that confirm presence (a QR label scanned with the phone, its code
// typed in, or a patrol reader over MQTT forwarded by the gateway), one
// result per checklist item, a ticket with a 24-hour deadline for every
// failed item, and the escalation of rounds not started or not finished in
// time, through the desk's tickets and notification outbox. Its tables
// (migration 018) sit beside the store's; time is always given by the caller.
package rounds

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/estatehq/estate/desk/deskconfig"
)

// Defaults of a route's schedule.
const (
	DefaultStart        = "08:00"
	DefaultStartWithin  = time.Hour
	DefaultFinishWithin = 4 * time.Hour
	// DefaultFrom is the day every_days counts from when a route gives none.
	DefaultFrom = "2026-01-01"
)

// Weekdays are the names a schedule's weekdays take, Sunday first as Go's.
var Weekdays = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// dayLayout is how a site's day is written (rounds.day).
const dayLayout = "2006-01-02"

// Window is when one round of a route may be walked.
type Window struct {
	Day      string    // the site's day, YYYY-MM-DD
	StartsAt time.Time // the round may begin
	StartBy  time.Time // not started by then: escalated
	FinishBy time.Time // not finished by then: missed
}

// schedule is a route's schedule with its defaults, parsed.
type schedule struct {
	everyDays    int
	from         time.Time // a civil date at UTC midnight
	weekdays     []time.Weekday
	startMin     int // minutes after midnight
	startWithin  time.Duration
	finishWithin time.Duration
}

func parseSchedule(s deskconfig.RouteSchedule) (schedule, error) {
	out := schedule{everyDays: s.EveryDays, startWithin: s.StartWithin, finishWithin: s.FinishWithin}
	if len(s.Weekdays) > 0 && s.EveryDays != 0 {
		return out, fmt.Errorf("give every_days or weekdays, not both")
	}
	if out.everyDays == 0 && len(s.Weekdays) == 0 {
		out.everyDays = 1
	}
	if out.everyDays < 0 || out.everyDays > 366 {
		return out, fmt.Errorf("every_days: %d is not a number of days from 1 to 366", s.EveryDays)
	}
	for _, w := range s.Weekdays {
		i := slices.Index(Weekdays, strings.ToLower(strings.TrimSpace(w)))
		if i < 0 {
			return out, fmt.Errorf("weekdays: %q is not one of %s", w, strings.Join(Weekdays[1:], ", ")+", sun")
		}
		out.weekdays = append(out.weekdays, time.Weekday(i))
	}
	from := s.From
	if from == "" {
		from = DefaultFrom
	}
	f, err := time.Parse(dayLayout, from)
	if err != nil {
		return out, fmt.Errorf("from: %q is not a date (YYYY-MM-DD)", s.From)
	}
	out.from = f
	start := s.Start
	if start == "" {
		start = DefaultStart
	}
	h, m, ok := strings.Cut(start, ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || hh < 0 || hh > 23 || mm < 0 || mm > 59 || len(m) != 2 {
		return out, fmt.Errorf("start: %q is not a time of day (HH:MM)", s.Start)
	}
	out.startMin = hh*60 + mm
	if out.startWithin == 0 {
		out.startWithin = DefaultStartWithin
	}
	if out.finishWithin == 0 {
		out.finishWithin = DefaultFinishWithin
	}
	if out.startWithin < 0 || out.finishWithin < 0 {
		return out, fmt.Errorf("start_within and finish_within must be positive")
	}
	if out.startWithin > out.finishWithin {
		return out, fmt.Errorf("start_within (%s) is longer than finish_within (%s)", out.startWithin, out.finishWithin)
	}
	if out.finishWithin > 24*time.Hour {
		return out, fmt.Errorf("finish_within: %s is longer than a day", out.finishWithin)
	}
	return out, nil
}

// dueOn reports whether the round falls due on the civil date y-m-d.
func (s schedule) dueOn(y int, m time.Month, d int) bool {
	day := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	if len(s.weekdays) > 0 {
		return slices.Contains(s.weekdays, day.Weekday())
	}
	n := int(day.Sub(s.from).Hours()+0.5) / 24 // whole days; DST does not apply to UTC dates
	return day.Sub(s.from) >= 0 && n%s.everyDays == 0
}

// window is the round's window on the civil date y-m-d in loc.
func (s schedule) window(y int, m time.Month, d int, loc *time.Location) Window {
	start := time.Date(y, m, d, s.startMin/60, s.startMin%60, 0, 0, loc)
	return Window{Day: time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Format(dayLayout), StartsAt: start,
		StartBy: start.Add(s.startWithin), FinishBy: start.Add(s.finishWithin)}
}

// DueOn returns the window of a route's round on the site's day that holds
// at (in loc), and whether one falls due that day.
func DueOn(r deskconfig.Route, at time.Time, loc *time.Location) (Window, bool, error) {
	s, err := parseSchedule(r.Schedule)
	if err != nil {
		return Window{}, false, err
	}
	l := at.In(loc)
	y, m, d := l.Date()
	if !s.dueOn(y, m, d) {
		return Window{}, false, nil
	}
	return s.window(y, m, d, loc), true, nil
}

// Next returns the window of a route's next round that starts at or after
// at, looking a year ahead.
func Next(r deskconfig.Route, at time.Time, loc *time.Location) (Window, bool, error) {
	s, err := parseSchedule(r.Schedule)
	if err != nil {
		return Window{}, false, err
	}
	l := at.In(loc)
	for i := range 367 {
		y, m, d := time.Date(l.Year(), l.Month(), l.Day()+i, 12, 0, 0, 0, loc).Date()
		if !s.dueOn(y, m, d) {
			continue
		}
		if w := s.window(y, m, d, loc); !w.StartsAt.Before(at) {
			return w, true, nil
		}
	}
	return Window{}, false, nil
}
