package ticket

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/estatehq/estate/internal/wire"
)

// Limit is how long a step may take: a duration, or until the end of the day
// (in the site's time zone) on which the clock started.
type Limit struct {
	After   time.Duration
	SameDay bool
}

// Due is when a step started at start must be done, in loc.
func (l Limit) Due(start time.Time, loc *time.Location) time.Time {
	if !l.SameDay {
		return start.Add(l.After)
	}
	if loc == nil {
		loc = time.UTC
	}
	s := start.In(loc)
	return time.Date(s.Year(), s.Month(), s.Day()+1, 0, 0, 0, 0, loc)
}

func (l Limit) String() string {
	if l.SameDay {
		return "same_day"
	}
	if l.After%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(l.After/(24*time.Hour)), 10) + "d"
	}
	return l.After.String()
}

// ParseLimit reads "same_day", a Go duration ("90s", "15m", "1h") or a number of days ("3d").
func ParseLimit(s string) (Limit, error) {
	s = strings.TrimSpace(s)
	if s == "same_day" {
		return Limit{SameDay: true}, nil
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
		return Limit{}, fmt.Errorf("%q is not same_day, a positive duration (15m, 1h) or a number of days (3d)", s)
	}
	return Limit{After: d}, nil
}

// Deadlines is a kind's deadline per step.
type Deadlines map[wire.Step]Limit

// week is the weekly call's period: a case open longer than a week gets a
// call to the resident every week until it is solved.
const week = 7 * 24 * time.Hour

// DefaultDeadlines is the table of docs/product.md ("Deadlines").
//
// "One working day" (the reply to a complaint, the follow-up of a household
// repair) is written as 24h until the working-day calendar lands (issue 14
// part 2 adds limits such as "1wd" to this table); the entries are marked.
func DefaultDeadlines() map[wire.Kind]Deadlines {
	return map[wire.Kind]Deadlines{
		wire.Emergency: {wire.StepAcknowledge: {After: time.Minute}, wire.StepOnSite: {After: 5 * time.Minute},
			wire.StepWeeklyCall: {After: week}},
		wire.Repair: {wire.StepDispatch: {After: 10 * time.Minute}, wire.StepOnSite: {After: 15 * time.Minute}, wire.StepResolve: {SameDay: true},
			wire.StepWeeklyCall: {After: week},
			wire.StepFollowUp:   {After: 24 * time.Hour}}, // household repairs: one working day ("1wd")
		wire.TopUp: {wire.StepRemind: {After: time.Hour}},
		wire.Request: {wire.StepDispatch: {After: 10 * time.Minute}, wire.StepRespond: {After: time.Hour}, wire.StepResolve: {SameDay: true},
			wire.StepReply: {SameDay: true}, wire.StepWeeklyCall: {After: week},
			wire.StepFollowUp: {SameDay: true}}, // the day's work orders are followed up the same day
		wire.Complaint: {wire.StepDispatch: {After: 10 * time.Minute}, wire.StepRespond: {After: time.Hour}, wire.StepResolve: {SameDay: true},
			wire.StepReply:      {After: 24 * time.Hour}, // one working day ("1wd"), at most three
			wire.StepWeeklyCall: {After: week},
			wire.StepFollowUp:   {After: 72 * time.Hour}},
	}
}

// WeeklyCall is the limit of the next weekly call after one is logged.
var WeeklyCall = Limit{After: week}

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
