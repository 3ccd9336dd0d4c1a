package ticket

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/estatehq/estate/desk/calendar"
	"github.com/estatehq/estate/internal/wire"
)

// Limit is how long a step may take: a duration, until the end of the day
// (in the site's time zone) on which the clock started, or a number of
// working days of the site's calendar (weekends, public holidays and the
// make-up working days of 调休 counted).
type Limit struct {
	After       time.Duration
	SameDay     bool
	WorkingDays int
}

// WorkingCalendar counts working days on a site (desk/calendar).
type WorkingCalendar interface {
	AddWorkingDays(start time.Time, n int, loc *time.Location) (time.Time, error)
}

// Due is when a step started at start must be done, in loc; working days
// are counted Monday to Friday (DueOn counts them on a site's calendar).
func (l Limit) Due(start time.Time, loc *time.Location) time.Time {
	due, _ := l.DueOn(start, loc, nil)
	return due
}

// DueOn is when a step started at start must be done, in loc, counting
// working days on cal (nil: Monday to Friday). When cal lacks a year the
// deadline needs, the error says so (naming the year and the calendar's
// files) and the time returned counts that stretch Monday to Friday, so that
// the caller can still record a deadline and say how it was counted.
func (l Limit) DueOn(start time.Time, loc *time.Location, cal WorkingCalendar) (time.Time, error) {
	if loc == nil {
		loc = time.UTC
	}
	switch {
	case l.WorkingDays > 0:
		if cal != nil {
			due, err := cal.AddWorkingDays(start, l.WorkingDays, loc)
			if err == nil {
				return due, nil
			}
			fallback, _ := calendar.Weekdays{}.AddWorkingDays(start, l.WorkingDays, loc)
			return fallback, err
		}
		return calendar.Weekdays{}.AddWorkingDays(start, l.WorkingDays, loc)
	case l.SameDay:
		s := start.In(loc)
		return time.Date(s.Year(), s.Month(), s.Day()+1, 0, 0, 0, 0, loc), nil
	}
	return start.Add(l.After), nil
}

func (l Limit) String() string {
	if l.WorkingDays > 0 {
		return strconv.Itoa(l.WorkingDays) + "wd"
	}
	if l.SameDay {
		return "same_day"
	}
	if l.After%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(l.After/(24*time.Hour)), 10) + "d"
	}
	return l.After.String()
}

// ParseLimit reads "same_day", a Go duration ("90s", "15m", "1h"), a number
// of days ("3d", clock time) or a number of working days ("2wd", on the
// site's calendar).
func ParseLimit(s string) (Limit, error) {
	s = strings.TrimSpace(s)
	if s == "same_day" {
		return Limit{SameDay: true}, nil
	}
	if d, ok := strings.CutSuffix(s, "wd"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n < 1 || n > 366 || strings.HasPrefix(d, "+") {
			return Limit{}, fmt.Errorf("%q: working days must be a whole number from 1 to 366, such as 2wd", s)
		}
		return Limit{WorkingDays: n}, nil
	}
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n < 1 || n > 366 {
			return Limit{}, fmt.Errorf("%q: days must be a whole number from 1 to 366", s)
		}
		return Limit{After: time.Duration(n) * 24 * time.Hour}, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return Limit{}, fmt.Errorf("%q is not same_day, a positive duration (15m, 1h), a number of days (3d) or of working days (2wd)", s)
	}
	return Limit{After: d}, nil
}

// Deadlines is a kind's deadline per step.
type Deadlines map[wire.Step]Limit

// week is the weekly call's period: a case open longer than a week gets a
// call to the resident every week until it is solved.
const week = 7 * 24 * time.Hour

// DefaultDeadlines is the table of DESIGN §2 and docs/product.md
// ("Deadlines"): the manuals' limits, and ours where the manuals name none
// (marked "ours"). configs/desk.example.yaml lists it, and desk.deadlines
// overrides it per site and kind.
func DefaultDeadlines() map[wire.Kind]Deadlines {
	const m = time.Minute
	return map[wire.Kind]Deadlines{
		// Reported at once; on site within 5 minutes; acknowledged within 2 (ours).
		wire.Emergency: {wire.StepAcknowledge: {After: 2 * m}, wire.StepOnSite: {After: 5 * m}, wire.StepWeeklyCall: {After: week}},
		// 急修半小时内到场; done the same day.
		wire.UrgentRepair: {wire.StepOnSite: {After: 30 * m}, wire.StepResolve: {SameDay: true}, wire.StepWeeklyCall: {After: week}},
		// Dispatched within 10 minutes (ours); an electrician on site within 15
		// or at the agreed time; done the same day; household repairs followed
		// up within a working day.
		wire.Repair: {wire.StepDispatch: {After: 10 * m}, wire.StepOnSite: {After: 15 * m}, wire.StepResolve: {SameDay: true},
			wire.StepWeeklyCall: {After: week}, wire.StepFollowUp: {WorkingDays: 1}},
		// The household reminded within an hour (ours).
		wire.TopUp: {wire.StepRemind: {After: time.Hour}},
		// Work orders: a response within an hour, answered the same day; the
		// day's work orders are followed up the same day.
		wire.Request: {wire.StepDispatch: {After: 10 * m}, wire.StepRespond: {After: time.Hour}, wire.StepResolve: {SameDay: true},
			wire.StepReply: {SameDay: true}, wire.StepWeeklyCall: {After: week}, wire.StepFollowUp: {SameDay: true}},
		wire.Enquiry:     {wire.StepRespond: {After: time.Hour}, wire.StepResolve: {SameDay: true}, wire.StepWeeklyCall: {After: week}},
		wire.Suggestion:  {wire.StepRespond: {After: time.Hour}, wire.StepResolve: {SameDay: true}, wire.StepWeeklyCall: {After: week}},
		wire.Cleaning:    {wire.StepRespond: {After: time.Hour}, wire.StepResolve: {After: 24 * time.Hour}, wire.StepWeeklyCall: {After: week}},
		wire.PaidService: {wire.StepRespond: {After: time.Hour}, wire.StepResolve: {After: 24 * time.Hour}, wire.StepWeeklyCall: {After: week}},
		// A staff member within 10 minutes; a first answer within one working
		// day; handled within 2 days; the result told to the resident (the
		// owner's reply) within one working day, at most three; followed up
		// within 3 days.
		wire.Complaint: {wire.StepDispatch: {After: 10 * m}, wire.StepRespond: {WorkingDays: 1}, wire.StepResolve: {After: 48 * time.Hour},
			wire.StepReply: {WorkingDays: 1}, wire.StepWeeklyCall: {After: week}, wire.StepFollowUp: {After: 72 * time.Hour}},
	}
}

// WeeklyCall is the limit of the next weekly call after one is logged.
var WeeklyCall = Limit{After: week}

// DefaultSubKindDeadlines are the steps a sub-kind sets differently from its
// kind (the manuals': written and staff-attitude complaints answered the
// same day, important ones within two working days).
func DefaultSubKindDeadlines() map[wire.Kind]map[string]Deadlines {
	return map[wire.Kind]map[string]Deadlines{
		wire.Complaint: {
			wire.SubKindWritten:       {wire.StepRespond: {SameDay: true}},
			wire.SubKindStaffAttitude: {wire.StepRespond: {SameDay: true}},
			wire.SubKindImportant:     {wire.StepRespond: {WorkingDays: 2}},
		},
	}
}

// StepsMetBy lists the steps an action completes: arriving on site also
// means the ticket was acknowledged, dispatched and answered.
func StepsMetBy(a Action) []wire.Step {
	switch a {
	case Acknowledge:
		return []wire.Step{wire.StepAcknowledge}
	case Dispatch:
		return []wire.Step{wire.StepAcknowledge, wire.StepDispatch}
	case Arrive:
		return []wire.Step{wire.StepAcknowledge, wire.StepDispatch, wire.StepRespond, wire.StepOnSite}
	case Resolve:
		return []wire.Step{wire.StepAcknowledge, wire.StepDispatch, wire.StepRespond, wire.StepOnSite, wire.StepRemind, wire.StepResolve}
	case FollowUp:
		// The follow-up call tells the resident the result too.
		return []wire.Step{wire.StepReply, wire.StepFollowUp}
	}
	return nil
}

// StepsEndedBy lists the pending steps an action makes needless: a solved
// case needs no more weekly calls.
func StepsEndedBy(a Action) []wire.Step {
	if a == Resolve {
		return []wire.Step{wire.StepWeeklyCall}
	}
	return nil
}

// NeedsIncidentReport reports whether a ticket closes only with an approved
// incident report (突发事件处理表): emergencies, and power-distribution
// accidents (category power_accident) of any kind. The database's trigger
// tickets_close_needs_incident (migration 013) says the same.
func NeedsIncidentReport(t wire.Ticket) bool {
	return t.Kind == wire.Emergency || t.Category == PowerAccident
}

// PowerAccident is the category of a power-distribution accident (配电事故).
const PowerAccident = "power_accident"

// StepsMetByReminder lists the steps a recorded top-up reminder completes.
var StepsMetByReminder = []wire.Step{wire.StepAcknowledge, wire.StepRespond, wire.StepRemind}

// StepsMetByStaffComment lists the steps a staff comment completes: it is an answer.
var StepsMetByStaffComment = []wire.Step{wire.StepAcknowledge, wire.StepRespond}

// Level is a rung of the escalation ladder.
type Level string

const (
	LevelAssignee   Level = "assignee"
	LevelSupervisor Level = "supervisor"
	LevelManager    Level = "manager"
	LevelLeadership Level = "leadership" // the centre's leadership
)

// Levels is the escalation ladder, lowest first.
var Levels = []Level{LevelAssignee, LevelSupervisor, LevelManager, LevelLeadership}

// NotifiedAtCreation lists who hears of a new ticket at once: major and
// sudden events go straight to the manager and the centre's leadership.
func NotifiedAtCreation(k wire.Kind) []Level {
	if k == wire.Emergency {
		return []Level{LevelAssignee, LevelManager, LevelLeadership}
	}
	return []Level{LevelAssignee}
}

// Escalate returns the ticket's escalation rung after a missed deadline (the
// number is an index into Levels) and who is told. Emergencies tell the
// manager and leadership at every miss; top-up reminders go no further than
// the supervisor (the daily list is their escalation); the rest climb one rung
// per missed deadline.
func Escalate(k wire.Kind, current int) (int, []Level) {
	switch k {
	case wire.Emergency:
		return len(Levels) - 1, []Level{LevelManager, LevelLeadership}
	case wire.TopUp:
		return 1, []Level{LevelSupervisor}
	}
	next := min(current+1, len(Levels)-1)
	return next, []Level{Levels[next]}
}
