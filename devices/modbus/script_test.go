package modbus

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestScriptBehaviorsAndFaults(t *testing.T) {
	p := mustProfile(t, testProfile)
	sc, err := ParseScript([]byte(`
points:
  voltage: {drop: {from: 230, at: 30s}}
  current: {steps: {values: [1, 2, 3], every: 10s}}
  energy: {ramp: {from: 100, rate: 0.5, to: 110}}
  meterno: {drain: {from: 22, rate: 0.5}}
  serial: {text: SN-9}
faults:
  - {at: 10s, for: 5s, silent: true}
  - {exceptions: {6: 2}, delay: 20ms}
`), p)
	if err != nil {
		t.Fatal(err)
	}
	at := func(name string, d time.Duration) float64 { return sc.Points[name].At(d) }
	for _, c := range []struct {
		name string
		t    time.Duration
		want float64
	}{
		{"voltage", 29 * time.Second, 230}, {"voltage", 31 * time.Second, 0},
		{"current", 5 * time.Second, 1}, {"current", 25 * time.Second, 3}, {"current", 35 * time.Second, 1},
		{"energy", 10 * time.Second, 105}, {"energy", 22 * time.Second, 101},
		{"meterno", 10 * time.Second, 17}, {"meterno", time.Minute, 0},
	} {
		if got := at(c.name, c.t); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("%s at %v = %v, want %v", c.name, c.t, got, c.want)
		}
	}
	if f := sc.FaultsAt(12 * time.Second); !f.Silent || f.Delay != 20*time.Millisecond || f.Exceptions[6] != 2 {
		t.Errorf("faults at 12s: %+v", f)
	}
	if f := sc.FaultsAt(15 * time.Second); f.Silent {
		t.Error("still silent after for: 5s")
	}
	s := NewSlave(p)
	sc.Apply(s, 31*time.Second)
	if v, _ := s.Get("voltage"); v != 0 {
		t.Errorf("voltage after the drop: %v", v)
	}
	for _, bad := range []string{
		"points: {nope: {value: 1}}",
		"points: {voltage: {value: 1, ramp: {from: 1}}}",
		"points: {voltage: {text: x}}",
		"points: {voltage: {steps: {values: []}}}",
		"points: {voltage: {wobble: 1}}",
	} {
		if _, err := ParseScript([]byte(bad), p); err == nil {
			t.Errorf("script %q accepted", bad)
		}
	}
	def := DefaultScript(p)
	if err := def.Check(p); err != nil || !strings.HasPrefix(def.Points["serial"].Text, "-") && def.Points["serial"].Text == "" {
		t.Errorf("default script: %v %+v", err, def.Points["serial"])
	}
}
