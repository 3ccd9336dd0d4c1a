package desk

import (
	"slices"
	"strconv"

	"github.com/estatehq/estate/desk/deskconfig"
	"github.com/estatehq/estate/desk/store"
)

// checkSiteOwnerSide checks a site's head, satisfaction threshold and
// targets (issue 14 parts 3, 4 and 6).
func checkSiteOwnerSide(d deskconfig.Config, s deskconfig.Site, p string, add func(path, format string, args ...any)) {
	if s.Head != "" && !slices.ContainsFunc(d.Staff, func(st deskconfig.Staff) bool { return st.Name == s.Head && (st.Site == "" || st.Site == s.ID) }) {
		add(p+".head", "%q is not a staff member of this site: the head owns its important complaints", s.Head)
	}
	if n := s.SatisfactionThreshold; n != 0 && (n < 1 || n > 5) {
		add(p+".satisfaction_threshold", "%d: use 1 to 5 (a follow-up below it reopens the ticket); default %d", n, store.DefaultSatisfied)
	}
	g := s.Targets
	for _, r := range []struct {
		name string
		v    float64
	}{{"follow_up_rate", g.FollowUpRate}, {"satisfaction_rate", g.SatisfactionRate}, {"complaint_rate", g.ComplaintRate},
		{"on_time", g.OnTime}, {"reopen_rate", g.ReopenRate}} {
		if r.v < 0 || r.v > 1 {
			add(p+".targets."+r.name, "%g: a rate is a fraction from 0 to 1 (0.96 for 96 %%)", r.v)
		}
	}
	if g.HouseholdsFollowedUp < 0 {
		add(p+".targets.households_followed_up", "%d: must not be negative", g.HouseholdsFollowedUp)
	}
}

// siteConfig is a site's desk.sites entry; ok is false when it has none.
func siteEntry(d deskconfig.Config, site string) (deskconfig.Site, bool) {
	for _, s := range d.Sites {
		if s.ID == site {
			return s, true
		}
	}
	return deskconfig.Site{}, false
}

// siteTargets are a site's targets: the configured ones over the defaults.
func siteTargets(d deskconfig.Config, site string) store.Targets {
	t := store.DefaultTargets
	s, _ := siteEntry(d, site)
	g := s.Targets
	set := func(dst *float64, v float64) {
		if v > 0 {
			*dst = v
		}
	}
	set(&t.FollowUpRate, g.FollowUpRate)
	set(&t.SatisfactionRate, g.SatisfactionRate)
	set(&t.ComplaintRate, g.ComplaintRate)
	set(&t.OnTime, g.OnTime)
	set(&t.ReopenRate, g.ReopenRate)
	if g.HouseholdsFollowedUp > 0 {
		t.HouseholdsFollowedUp = g.HouseholdsFollowedUp
	}
	return t
}

// siteSatisfied is a site's satisfaction threshold.
func siteSatisfied(d deskconfig.Config, site string) int {
	if s, _ := siteEntry(d, site); s.SatisfactionThreshold != 0 {
		return s.SatisfactionThreshold
	}
	return store.DefaultSatisfied
}

// targetRows are the report's owner-side figures and its targets as CSV
// rows of section, item, value: a figure with nothing to count is empty
// (the console shows "—"), and so is its verdict.
func targetRows(r store.Report) [][]string {
	rows := [][]string{
		{"households", "registered", strconv.Itoa(r.Households)}, {"households", "followed_up", strconv.Itoa(r.HouseholdsFollowedUp)},
		{"satisfaction", "threshold", strconv.Itoa(r.SatisfactionThreshold)}, {"satisfaction", "satisfied", strconv.Itoa(r.Satisfied)},
		{"rework", "resolved_once", strconv.Itoa(r.EverResolved)}, {"rework", "reopened", strconv.Itoa(r.Reopened)},
	}
	for _, g := range r.Targets {
		name := g.Name
		if g.Step != "" {
			name += "/" + string(g.Step)
		}
		value, met := "", ""
		if g.Value != nil {
			value = strconv.FormatFloat(*g.Value, 'f', 3, 64)
		}
		if g.Met != nil {
			met = strconv.FormatBool(*g.Met)
		}
		rows = append(rows, []string{"target_value", name, value}, []string{"target", name, g.Op + " " + strconv.FormatFloat(g.Target, 'f', 3, 64)},
			[]string{"target_met", name, met})
	}
	return rows
}
