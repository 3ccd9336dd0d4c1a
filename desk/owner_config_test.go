package desk

import (
	"strings"
	"testing"
)

// A site's head, satisfaction threshold and targets are checked with the
// file's line and the field (issue 14 parts 3, 4, 6).
func TestOwnerSideConfigProblems(t *testing.T) {
	good := strings.Replace(deskConfig, "{id: north, timezone: Asia/Urumqi}",
		"{id: north, timezone: Asia/Urumqi, head: li, satisfaction_threshold: 4, targets: {satisfaction_rate: 0.9, households_followed_up: 30}}", 1)
	cfg, err := parseDesk("desk.yaml", good)
	if err != nil {
		t.Fatalf("valid owner options refused: %v", err)
	}
	if g := siteTargets(cfg.Desk, "north"); g.SatisfactionRate != 0.9 || g.HouseholdsFollowedUp != 30 || g.FollowUpRate != 1 || g.ComplaintRate != 0.01 {
		t.Errorf("north's targets: %+v", g)
	}
	if n := siteSatisfied(cfg.Desk, "north"); n != 4 {
		t.Errorf("north's threshold %d", n)
	}
	if n := siteSatisfied(cfg.Desk, "south"); n != 3 {
		t.Errorf("default threshold %d", n)
	}
	for _, tc := range []struct{ old, new, want string }{
		{"head: li", "head: nobody", `desk.yaml:12: desk.sites[0].head: "nobody" is not a staff member of this site`},
		{"satisfaction_threshold: 4", "satisfaction_threshold: 6", "desk.yaml:12: desk.sites[0].satisfaction_threshold: 6: use 1 to 5"},
		{"satisfaction_rate: 0.9", "satisfaction_rate: 96", "desk.yaml:12: desk.sites[0].targets.satisfaction_rate: 96: a rate is a fraction from 0 to 1"},
		{"households_followed_up: 30", "households_followed_up: -1", "desk.yaml:12: desk.sites[0].targets.households_followed_up: -1: must not be negative"},
	} {
		text := strings.Replace(good, tc.old, tc.new, 1)
		if _, err := parseDesk("desk.yaml", text); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.new, err, tc.want)
		}
	}
}
