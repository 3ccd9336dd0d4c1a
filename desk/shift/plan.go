// Package shift is the control room's shifts (值班三班制) and duty log
// (值班记录): each site's shift plan and duty roster (who of each department
// is on duty, OnDuty), the handover sheet (交接班记录) that the desk builds
// at the end of a shift from what is still open, signed by the outgoing
// operator and accepted by the incoming one, with reminders to the
// supervisors while it is not accepted, and the key register (钥匙交接单).
// Time is injected (Service.now); the scheduler's work is Service.Tick, which
// tests drive on a fake clock. The store beside it (store.go) keeps its
// tables in the desk's database (migration 014).
package shift

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/estatehq/estate/desk/deskconfig"
)

// Departments whose people are on duty: the control room and the ticket
// teams (desk/ticket.Teams).
var Departments = []string{"control_room", "engineering", "security", "customer_service", "management"}

// ControlRoom is the department that signs and accepts the handover.
const ControlRoom = "control_room"

// Def is one shift of a plan; Start and End are minutes after midnight in
// the site's time, End ≤ Start meaning the shift runs past midnight.
type Def struct {
	Name  string `json:"name"`
	Label string `json:"label"`
	Start int    `json:"start_minute"`
	End   int    `json:"end_minute"`
}

// minutes is how long the shift lasts.
func (d Def) minutes() int {
	m := (d.End - d.Start + 1440) % 1440
	if m == 0 {
		m = 1440
	}
	return m
}

// Plan is a site's shifts, ordered by start, covering the day exactly once.
type Plan []Def

// DefaultPlan is the three shifts of the manuals' 值班三班制.
func DefaultPlan() Plan {
	return Plan{
		{Name: "night", Label: "夜班", Start: 0, End: 8 * 60},
		{Name: "day", Label: "早班", Start: 8 * 60, End: 16 * 60},
		{Name: "evening", Label: "中班", Start: 16 * 60, End: 0},
	}
}

// ParseClock reads "HH:MM" (00:00 to 24:00) as minutes after midnight.
func ParseClock(s string) (int, error) {
	h, m, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok || len(h) < 1 || len(h) > 2 || len(m) != 2 {
		return 0, fmt.Errorf("%q is not a time of day such as 08:00", s)
	}
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if err1 != nil || err2 != nil || hh < 0 || mm < 0 || mm > 59 || hh > 24 || hh == 24 && mm != 0 {
		return 0, fmt.Errorf("%q is not a time of day such as 08:00", s)
	}
	return (hh*60 + mm) % 1440, nil
}

// PlanProblem is what is wrong with one field of a configured plan; Index
// is the shift (-1: the plan as a whole).
type PlanProblem struct {
	Index int
	Field string
	Msg   string
}

func clock(m int) string { return fmt.Sprintf("%02d:%02d", m/60, m%60) }

// ParsePlan checks the configured shifts: names, times, and that they cover
// the day without gaps or overlaps. No shifts: the default plan.
func ParsePlan(defs []deskconfig.ShiftDef) (Plan, []PlanProblem) {
	if len(defs) == 0 {
		return DefaultPlan(), nil
	}
	var ps []PlanProblem
	bad := func(i int, field, format string, args ...any) {
		ps = append(ps, PlanProblem{Index: i, Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	plan := Plan{}
	names := map[string]bool{}
	for i, d := range defs {
		ok := true
		if !identifier(d.Name) {
			bad(i, "name", "required: the shift's id, of letters, digits, '-' and '_' (such as day)")
			ok = false
		} else if names[d.Name] {
			bad(i, "name", "%q names another shift too", d.Name)
			ok = false
		}
		names[d.Name] = true
		start, err := ParseClock(d.Start)
		if err != nil {
			bad(i, "start", "%v", err)
			ok = false
		}
		end, err := ParseClock(d.End)
		if err != nil {
			bad(i, "end", "%v", err)
			ok = false
		}
		if ok {
			label := d.Label
			if label == "" {
				label = d.Name
			}
			plan = append(plan, Def{Name: d.Name, Label: label, Start: start, End: end})
		}
	}
	if len(ps) > 0 {
		return nil, ps
	}
	// Walk the day from the first start: each shift must begin where the
	// one before it ended, and the last end where the first began.
	order := make([]int, len(plan))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return plan[a].Start - plan[b].Start })
	for k, i := range order {
		next := order[(k+1)%len(order)]
		a, b := plan[i], plan[next]
		dist := (b.Start - a.Start + 1440) % 1440
		if i == next {
			dist = 1440
		}
		switch {
		case a.minutes() > dist:
			bad(i, "end", "shift %s (%s–%s) overlaps shift %s, which starts at %s: every minute of the day belongs to one shift",
				a.Name, clock(a.Start), clock(a.End), b.Name, clock(b.Start))
		case a.minutes() < dist:
			bad(i, "end", "a gap from %s (end of shift %s) to %s (start of shift %s): every minute of the day belongs to one shift",
				clock(a.End), a.Name, clock(b.Start), b.Name)
		}
	}
	if len(ps) > 0 {
		return nil, ps
	}
	out := make(Plan, len(plan))
	for k, i := range order {
		out[k] = plan[i]
	}
	return out, nil
}

func identifier(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

// Instance is one occurrence of a shift on a site: the day shift of 3 December.
type Instance struct {
	Site  string    `json:"site"`
	Name  string    `json:"shift"`
	Label string    `json:"label"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// At is the shift of the plan under way at t on a site in loc.
func (p Plan) At(site string, t time.Time, loc *time.Location) Instance {
	lt := t.In(loc)
	y, m, d := lt.Date()
	var best Instance
	for day := -1; day <= 0; day++ {
		for _, def := range p {
			start := time.Date(y, m, d+day, def.Start/60, def.Start%60, 0, 0, loc)
			// The end on the wall clock, not start + duration: a shift
			// across a clock change is an hour shorter or longer.
			endDay := d + day
			if def.End <= def.Start {
				endDay++
			}
			end := time.Date(y, m, endDay, def.End/60, def.End%60, 0, 0, loc)
			if !t.Before(start) && t.Before(end) {
				// The latest start wins where a clock change made two cover t.
				if best.Name == "" || start.After(best.Start) {
					best = Instance{Site: site, Name: def.Name, Label: def.Label, Start: start, End: end}
				}
			}
		}
	}
	if best.Name == "" {
		// A clock change skipped the boundary: the shift that started last.
		return p.At(site, t.Add(time.Hour), loc)
	}
	return best
}

// Next is the shift after i.
func (p Plan) Next(i Instance, loc *time.Location) Instance { return p.At(i.Site, i.End, loc) }

// Previous is the shift before i.
func (p Plan) Previous(i Instance, loc *time.Location) Instance {
	return p.At(i.Site, i.Start.Add(-time.Nanosecond), loc)
}
