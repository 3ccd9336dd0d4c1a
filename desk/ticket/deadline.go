package ticket

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Step is a point in a ticket's life that has a deadline.
type Step string

const (
	StepAcknowledge Step = "acknowledge" // someone in the control room has seen it
	StepDispatch    Step = "dispatch"    // an assignee is set (complaints: "assigned")
	StepRespond     Step = "respond"     // the resident has had an answer
	StepOnSite      Step = "on_site"     // the engineer is there
	StepRemind      Step = "remind"      // the household was told to buy power
	StepResolve     Step = "resolve"     // done ("same day")
	StepFollowUp    Step = "follow_up"   // 回访, counted from resolution
)

// Steps lists every step in lifecycle order.
var Steps = []Step{StepAcknowledge, StepDispatch, StepRespond, StepOnSite, StepRemind, StepResolve, StepFollowUp}

// FromResolution reports whether a step's deadline counts from the ticket's
// resolution rather than from its creation.
func (s Step) FromResolution() bool { return s == StepFollowUp }

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
type Deadlines map[Step]Limit

// DefaultDeadlines is the table of DESIGN.md §2.
func DefaultDeadlines() map[Kind]Deadlines {
	return map[Kind]Deadlines{
		Emergency: {StepAcknowledge: {After: time.Minute}, StepOnSite: {After: 5 * time.Minute}},
		Repair:    {StepDispatch: {After: 10 * time.Minute}, StepOnSite: {After: 15 * time.Minute}, StepResolve: {SameDay: true}},
		TopUp:     {StepRemind: {After: time.Hour}},
		Request: {StepDispatch: {After: 10 * time.Minute}, StepRespond: {After: time.Hour}, StepResolve: {SameDay: true},
			StepFollowUp: {After: 72 * time.Hour}},
		Complaint: {StepDispatch: {After: 10 * time.Minute}, StepRespond: {After: time.Hour}, StepResolve: {SameDay: true},
			StepFollowUp: {After: 72 * time.Hour}},
	}
}

// StepsMetBy lists the steps an action completes: arriving on site also
// means the ticket was acknowledged, dispatched and answered.
func StepsMetBy(a Action) []Step {
	switch a {
	case Acknowledge:
		return []Step{StepAcknowledge}
	case Dispatch:
		return []Step{StepAcknowledge, StepDispatch}
	case Arrive:
		return []Step{StepAcknowledge, StepDispatch, StepRespond, StepOnSite}
	case Resolve:
		return []Step{StepAcknowledge, StepDispatch, StepRespond, StepOnSite, StepRemind, StepResolve}
	case FollowUp:
		return []Step{StepFollowUp}
	}
	return nil
}

// StepsMetByReminder lists the steps a recorded top-up reminder completes.
var StepsMetByReminder = []Step{StepAcknowledge, StepRespond, StepRemind}

// StepsMetByStaffComment lists the steps a staff comment completes: it is an answer.
var StepsMetByStaffComment = []Step{StepAcknowledge, StepRespond}

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
func NotifiedAtCreation(k Kind) []Level {
	if k == Emergency {
		return []Level{LevelAssignee, LevelManager, LevelLeadership}
	}
	return []Level{LevelAssignee}
}

// Escalate returns the ticket's escalation rung after a missed deadline (the
// number is an index into Levels) and who is told. Emergencies tell the
// manager and leadership at every miss; top-up reminders go no further than
// the supervisor (the daily list is their escalation); the rest climb one rung
// per missed deadline.
func Escalate(k Kind, current int) (int, []Level) {
	switch k {
	case Emergency:
		return len(Levels) - 1, []Level{LevelManager, LevelLeadership}
	case TopUp:
		return 1, []Level{LevelSupervisor}
	}
	next := min(current+1, len(Levels)-1)
	return next, []Level{Levels[next]}
}
