package access

import (
	"strings"
	"testing"
	"time"

	"github.com/estatehq/estate/devices"
)

// TestSimulatorDrivesController runs the simulated door for three minutes
// into a Controller: normal traffic raises nothing, and each scripted trouble
// is raised at its time.
func TestSimulatorDrivesController(t *testing.T) {
	sim := &Simulator{Script: []devices.ScriptStep{
		{At: 40 * time.Second, Do: "forced", For: 8 * time.Second},
		{At: 70 * time.Second, Do: "held", For: 45 * time.Second},
		{At: 120 * time.Second, Do: "invalid_burst"},
		{At: 150 * time.Second, Do: "tamper"},
	}}
	c := NewController(Limits{HeldOpenAfter: 30 * time.Second, BurstCount: 5, BurstWindow: time.Minute})
	t0 := time.Date(2026, 1, 1, 8, 0, 0, 0, time.UTC)
	var got []string
	for s := 0; s < 180; s++ {
		now := t0.Add(time.Duration(s) * time.Second)
		v, signals := sim.Step(now)
		var vals []devices.Value
		for _, k := range []string{PointLocked, PointDoorOpen, PointTamper} {
			vals = append(vals, devices.Value{Point: k, Value: v[k], Quality: devices.Good})
		}
		var sigs []Signal
		for _, sg := range signals {
			sigs = append(sigs, Signal{Type: sg})
		}
		for _, e := range c.Observe(now, vals, sigs) {
			sign := "-"
			if e.Active {
				sign = "+"
			}
			got = append(got, e.Type+sign+"@"+now.Sub(t0).String())
		}
	}
	want := "door_forced+@40s door_forced-@48s door_held+@1m40s door_held-@1m55s invalid_card_burst+@2m4s tamper+@2m30s tamper-@2m50s"
	if strings.Join(got, " ") != want {
		t.Fatalf("events\n got %s\nwant %s", strings.Join(got, " "), want)
	}
}
