package cjt188

import (
	"testing"
	"time"
)

func samples(from time.Time, step time.Duration, flows ...float64) []FlowSample {
	out := make([]FlowSample, len(flows))
	for i, f := range flows {
		out[i] = FlowSample{At: from.Add(time.Duration(i) * step), Flow: f}
	}
	return out
}

func repeat(v float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func TestFlowJump(t *testing.T) {
	w := FlowWatch{} // defaults: 2h baseline, ×3 and at least 1 m³/h above
	t0 := testTime
	steady := samples(t0, 10*time.Minute, repeat(2, 12)...) // 2 m³/h for two hours
	at := t0.Add(2 * time.Hour)
	for _, tc := range []struct {
		name  string
		hist  []FlowSample
		flow  float64
		known bool
		jump  bool
	}{
		{"no history", nil, 50, false, false},
		{"too short a history", samples(t0.Add(110*time.Minute), time.Minute, repeat(2, 10)...), 50, false, false},
		{"steady", steady, 2.5, true, false},
		{"a jump", steady, 7, true, true},
		{"three times but less than min_jump above", samples(t0, 10*time.Minute, repeat(0.2, 12)...), 0.9, true, false},
		{"a spike among the samples does not move the median", append(samples(t0, 10*time.Minute, repeat(2, 11)...), FlowSample{At: at.Add(-time.Minute), Flow: 40}), 7, true, true},
		{"a new level that held for the last hour is the pattern", append(samples(t0, 10*time.Minute, repeat(2, 5)...), samples(t0.Add(50*time.Minute), 10*time.Minute, repeat(7, 7)...)...), 8, true, false},
	} {
		v := FlowJump(w, tc.hist, FlowSample{At: at, Flow: tc.flow})
		if v.Known != tc.known || v.Jump != tc.jump {
			t.Errorf("%s: %+v, want known %v jump %v", tc.name, v, tc.known, tc.jump)
		}
	}
}

func TestNightFlow(t *testing.T) {
	loc := time.FixedZone("CST", 8*3600)
	w := FlowWatch{Night: "01:00-05:00", NightMinFlow: 0.05}
	night := time.Date(2026, 12, 3, 1, 0, 0, 0, loc)
	for _, tc := range []struct {
		name  string
		hist  []FlowSample
		now   time.Time
		known bool
		ran   bool
	}{
		{"ran all night", samples(night, 15*time.Minute, repeat(0.4, 17)...), night.Add(5 * time.Hour), true, true},
		{"stopped at 03:00", samples(night, 15*time.Minute, append(repeat(0.4, 8), append([]float64{0}, repeat(0.4, 8)...)...)...), night.Add(5 * time.Hour), true, false},
		{"the night has not ended: the night before is judged", samples(night, 15*time.Minute, repeat(0.4, 9)...), night.Add(2 * time.Hour), false, false},
		{"a gap of two hours", append(samples(night, 15*time.Minute, repeat(0.4, 4)...), samples(night.Add(3*time.Hour), 15*time.Minute, repeat(0.4, 9)...)...), night.Add(5 * time.Hour), false, false},
		{"later in the day, the same night", samples(night, 15*time.Minute, repeat(0.4, 17)...), night.Add(14 * time.Hour), true, true},
	} {
		v := NightFlow(w, tc.hist, tc.now, loc)
		if v.Known != tc.known || v.Ran != tc.ran {
			t.Errorf("%s: %+v, want known %v ran %v", tc.name, v, tc.known, tc.ran)
		}
	}
	// A night across midnight starts the evening before.
	v := NightFlow(FlowWatch{Night: "23:00-05:00"}, samples(night.Add(-2*time.Hour), 30*time.Minute, repeat(1, 13)...), night.Add(4*time.Hour), loc)
	if !v.Known || !v.Ran || !v.From.Equal(night.Add(-2*time.Hour)) {
		t.Errorf("23:00-05:00: %+v", v)
	}
}

// The watcher raises a jump once and clears it when the flow is back, and
// reports a night that ran once, clearing it after a night that stopped.
func TestFlowWatcherEvents(t *testing.T) {
	loc := time.FixedZone("CST", 8*3600)
	f := newFlowWatcher(FlowWatch{}, loc)
	at := time.Date(2026, 12, 3, 8, 0, 0, 0, loc)
	var kinds []string
	feed := func(flow float64, n int) {
		for range n {
			for _, e := range f.observe(FlowSample{At: at, Flow: flow}) {
				state := "clear"
				if e.active {
					state = "raise"
				}
				kinds = append(kinds, e.kind+" "+state)
			}
			at = at.Add(10 * time.Minute)
		}
	}
	feed(2, 13)
	feed(9, 2)
	feed(2, 1)
	want := []string{"flow_jump raise", "flow_jump clear"}
	if len(kinds) != 2 || kinds[0] != want[0] || kinds[1] != want[1] {
		t.Fatalf("events %v, want %v", kinds, want)
	}
	kinds = nil
	feed(0.5, 6*24) // a day at 0.5 m³/h: the night ran
	feed(0, 6*24)   // a day at zero: the night stopped
	if len(kinds) != 2 || kinds[0] != "night_flow raise" || kinds[1] != "night_flow clear" {
		t.Fatalf("events %v", kinds)
	}
	if len(f.hist) > 26*6+1 {
		t.Errorf("keeps %d samples", len(f.hist))
	}
}
