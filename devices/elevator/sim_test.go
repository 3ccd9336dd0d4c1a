package elevator

import (
	"testing"
	"time"

	"github.com/estatehq/estate/devices"
)

// TestSimulatorDrivesMonitor runs the simulated car for five minutes of
// one-second steps into a Monitor: the car keeps to its floors and moves one
// floor a step with doors shut, and the script's entrapment and fault are
// raised (and cleared) at their times, and nothing else is.
func TestSimulatorDrivesMonitor(t *testing.T) {
	sim := &Simulator{Lowest: 1, Highest: 8, Script: []devices.ScriptStep{
		{At: 60 * time.Second, Do: "entrapment", For: 50 * time.Second},
		{At: 150 * time.Second, Do: "fault", For: 40 * time.Second},
	}}
	m := NewMonitor(20 * time.Second)
	t0 := time.Date(2026, 1, 1, 8, 0, 0, 0, time.UTC)
	var got []string
	prevFloor := 1.0
	floors := map[float64]bool{}
	for s := 0; s < 300; s++ {
		now := t0.Add(time.Duration(s) * time.Second)
		v, code := sim.Step(now)
		var vals []devices.Value
		for k, x := range v {
			vals = append(vals, devices.Value{Point: k, Value: x, Quality: devices.Good})
		}
		fault := Fault{Code: code, Clear: code == "0"}
		for _, e := range m.Observe(now, vals, []Fault{fault}) {
			sign := "-"
			if e.Active {
				sign = "+"
			}
			got = append(got, e.Type+sign+"@"+(now.Sub(t0)).String())
		}
		f := v[PointFloor]
		if f < 1 || f > 8 || f-prevFloor > 1 || prevFloor-f > 1 {
			t.Fatalf("step %d: floor %v after %v", s, f, prevFloor)
		}
		if v[PointRunning] == 1 && v[PointDoorOpen] == 1 {
			t.Fatalf("step %d: running with doors open", s)
		}
		prevFloor = f
		floors[f] = true
	}
	want := []string{"entrapment+@1m20s", "entrapment-@1m50s", "fault+@2m30s", "fault-@3m10s"}
	if len(got) != len(want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("events %v, want %v", got, want)
		}
	}
	if len(floors) < 5 {
		t.Errorf("the car visited only floors %v", floors)
	}
}
