package shift

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/estatehq/estate/desk/deskconfig"
	"github.com/estatehq/estate/internal/config"
)

// DefaultReminder is how long after a shift's end an unaccepted handover
// first reminds the supervisors.
const DefaultReminder = 15 * time.Minute

// SitePlan is one site's plan, roster and reminder delay.
type SitePlan struct {
	Plan Plan
	// roster[shift][department] are the people on duty.
	roster   map[string]map[string][]string
	Reminder time.Duration
}

// Roster is the people of a department on duty in a shift.
func (p SitePlan) Roster(shift, department string) []string {
	return slices.Clone(p.roster[shift][department])
}

// Settings are the plans of every site.
type Settings struct {
	sites map[string]SitePlan
	def   SitePlan
	// Sites are the sites named by a plan of their own.
	Sites []string
}

// NewSettings reads desk.shifts, which Validate has checked; a plan that
// does not parse falls back to the default plan.
func NewSettings(plans []deskconfig.ShiftPlan) Settings {
	s := Settings{sites: map[string]SitePlan{}, def: SitePlan{Plan: DefaultPlan(), roster: map[string]map[string][]string{}, Reminder: DefaultReminder}}
	for _, p := range plans {
		plan, ps := ParsePlan(p.Shifts)
		if len(ps) > 0 {
			plan = DefaultPlan()
		}
		sp := SitePlan{Plan: plan, roster: map[string]map[string][]string{}, Reminder: p.HandoverReminder}
		if sp.Reminder <= 0 {
			sp.Reminder = DefaultReminder
		}
		for _, r := range p.Duty {
			if sp.roster[r.Shift] == nil {
				sp.roster[r.Shift] = map[string][]string{}
			}
			sp.roster[r.Shift][r.Department] = append(sp.roster[r.Shift][r.Department], r.Staff...)
		}
		if p.Site == "" || p.Site == "*" {
			s.def = sp
			continue
		}
		s.sites[p.Site] = sp
		s.Sites = append(s.Sites, p.Site)
	}
	return s
}

// For is a site's plan: its own, else the one for every site, else the default.
func (s Settings) For(site string) SitePlan {
	if p, ok := s.sites[site]; ok {
		return p
	}
	return s.def
}

// Validate checks desk.shifts: each plan's shifts cover the day without
// gaps or overlaps, rosters name shifts of the plan, departments and staff
// of the desk; it is part of desk.Validate (estate check).
func Validate(c *config.Config) []config.Problem {
	var ps []config.Problem
	add := func(path, format string, args ...any) { ps = append(ps, c.Problemf(path, format, args...)) }
	staff := map[string]deskconfig.Staff{}
	for _, s := range c.Desk.Staff {
		staff[s.Name] = s
	}
	sites := map[string]bool{}
	for i, p := range c.Desk.Shifts {
		at := fmt.Sprintf("desk.shifts[%d]", i)
		site := p.Site
		if site == "" {
			site = "*"
		}
		if site != "*" && !config.IsIdentifier(site) {
			add(at+".site", "%q is not a site id (letters, digits, '-' and '_'; * or empty: every site)", p.Site)
		}
		if sites[site] {
			add(at+".site", "site %s has another plan in desk.shifts already", site)
		}
		sites[site] = true
		plan, problems := ParsePlan(p.Shifts)
		for _, pp := range problems {
			add(fmt.Sprintf("%s.shifts[%d].%s", at, pp.Index, pp.Field), "%s", pp.Msg)
		}
		if p.HandoverReminder != 0 && p.HandoverReminder < time.Minute {
			add(at+".handover_reminder", "must be at least 1m, got %s", p.HandoverReminder)
		}
		names := make([]string, len(plan))
		for j, d := range plan {
			names[j] = d.Name
		}
		seen := map[string]bool{}
		for j, r := range p.Duty {
			rp := fmt.Sprintf("%s.duty[%d]", at, j)
			if plan != nil && !slices.Contains(names, r.Shift) {
				add(rp+".shift", "%q is not a shift of this plan; use one of %s", r.Shift, strings.Join(names, ", "))
			}
			if !slices.Contains(Departments, r.Department) {
				add(rp+".department", "%q is not a department; use one of %s", r.Department, strings.Join(Departments, ", "))
			}
			if seen[r.Shift+"/"+r.Department] {
				add(rp+".department", "shift %s already has a roster for %s", r.Shift, r.Department)
			}
			seen[r.Shift+"/"+r.Department] = true
			if len(r.Staff) == 0 {
				add(rp+".staff", "name at least one person (desk.staff[].name)")
			}
			for k, name := range r.Staff {
				s, ok := staff[name]
				switch {
				case !ok:
					add(fmt.Sprintf("%s.staff[%d]", rp, k), "%q is not in desk.staff", name)
				case s.Site != "" && site != "*" && s.Site != site:
					add(fmt.Sprintf("%s.staff[%d]", rp, k), "%s works on site %s, not %s", name, s.Site, site)
				}
			}
		}
	}
	return ps
}
