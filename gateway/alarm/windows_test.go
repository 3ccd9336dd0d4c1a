package alarm

import (
	"strings"
	"testing"
	"time"

	"github.com/estatehq/estate/internal/wire"
)

// A planned outage of feeder f1a from 60 s to 5 min: its silence inside the
// window opens no ticket (neither the emergency nor the offline repairs),
// every suppressed alarm says "planned outage #7"; the meters of feeder f2a
// are not covered. After the window, a feeder still silent raises its one
// emergency as usual (the offline alarms then stand behind the outage).
func TestPlannedOutageWindowMutesThenAlarmsAfter(t *testing.T) {
	h := newHarness(t, feederConfig())
	start, end := t0.Add(50*time.Second), t0.Add(5*time.Minute)
	if bad := h.eng.SetWindows([]wire.Window{
		{ID: "outage:7", Scope: wire.ScopeFeeder, Feeder: "f1a", Start: start, End: end, Cause: "planned outage #7"},
		{ID: "broken", Scope: "site", Start: start, End: end, Cause: "x"},
	}); len(bad) != 1 {
		t.Fatalf("invalid windows: %v, want the one without a known scope", bad)
	}
	cut := 60 * time.Second
	silent := func(id string, s time.Duration) bool { return strings.HasPrefix(id, "m1-") && s >= cut+3*time.Second }
	h.run(0, 4*time.Minute+50*time.Second, silent)
	if em, rep := h.tickets(wire.Emergency), h.tickets(wire.Repair); len(em)+len(rep) != 0 {
		t.Fatalf("inside the window: emergencies %+v, repairs %+v", em, rep)
	}
	muted := 0
	for _, tr := range h.trs {
		if tr.State == StateFiring && tr.Suppressed.Muted() {
			if tr.Suppressed.Kind != Window || !strings.HasPrefix(tr.Suppressed.String(), "planned outage #7") {
				t.Fatalf("suppressed by %q, want the planned outage", tr.Suppressed.String())
			}
			muted++
		}
	}
	if muted != 301 { // 300 offline alarms and the feeder's outage alarm
		t.Fatalf("%d alarms muted by the window, want 301", muted)
	}
	h.run(4*time.Minute+51*time.Second, 6*time.Minute, silent)
	em := h.tickets(wire.Emergency)
	if len(em) != 1 || !strings.Contains(em[0].Title, "f1a") {
		t.Fatalf("after the window: emergencies %+v, want the feeder's one", em)
	}
	if rep := h.tickets(wire.Repair); len(rep) != 0 {
		t.Fatalf("after the window: %d repairs, want none (the outage explains the silence)", len(rep))
	}
	if ws := h.eng.Windows(); len(ws) != 1 || ws[0].ID != "outage:7" {
		t.Fatalf("windows held: %+v", ws)
	}
}

// A buildings window mutes the outage and offline alarms of its buildings
// only, never other rules unless it mutes all.
func TestBuildingsWindowScope(t *testing.T) {
	h := newHarness(t, feederConfig())
	h.eng.SetWindows([]wire.Window{{ID: "w1", Scope: wire.ScopeBuildings, Buildings: []string{"2"}, Start: t0, End: t0.Add(time.Hour), Cause: "planned outage #8"}})
	h.run(0, 2*time.Minute, func(id string, s time.Duration) bool {
		return (id == "m2-001" || id == "m1-001") && s >= 10*time.Second
	})
	rep := h.tickets(wire.Repair)
	if len(rep) != 1 || rep[0].Device != "m1-001" {
		t.Fatalf("repairs %+v, want m1-001's only (m2-001 is in the window)", rep)
	}
	m := h.eng.windows
	if _, ok := m.Mutes(Target{ID: "m2-002", Building: "2"}, t0.Add(time.Minute)); ok {
		t.Error("an outage window muted a rule that an outage does not explain")
	}
	h.eng.SetWindows([]wire.Window{{ID: "w2", Scope: wire.ScopeDevices, Devices: []string{"m2-002"}, Start: t0, End: t0.Add(time.Hour), Cause: "order #3", Mutes: wire.MuteAll}})
	if c, ok := m.Mutes(Target{ID: "m2-002", Building: "2"}, t0.Add(time.Minute)); !ok || c.Group != "w2" || c.Metric() != "maintenance" {
		t.Errorf("a window of all alarms did not mute: %+v %v", c, ok)
	}
	if _, ok := m.Mutes(Target{ID: "m2-002", Building: "2"}, t0.Add(time.Hour)); ok {
		t.Error("a window muted at its end")
	}
}
