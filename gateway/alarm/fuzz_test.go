package alarm

import (
	"testing"
	"time"

	"github.com/estatehq/estate/devices"
	"github.com/estatehq/estate/internal/config"
)

// FuzzRules: whatever the rules section says, the configuration either is
// refused with problems or yields an engine that evaluates readings, events
// and health without panicking.
func FuzzRules(f *testing.F) {
	for _, seed := range []string{
		"rules: [{name: r, point: balance, below: 10, clear: 20, ticket: top_up}]",
		"rules: [{name: r, point: relay, in: [0, 2], for: 1m, keep_for: 30s, min_hold: 1m, max_raises_per_hour: 2}]",
		"rules: [{name: r, type: rising, point: energy, only_if: {point: relay, equals: 0}, rise_by: 0.1}]",
		"rules: [{name: r, event: fire_alarm, clear_event: reset, clear_after: 1h, message: {zh: \"{source}\", en: \"{text}\"}}]",
		"rules: [{name: r, type: no_data, no_data_for: 1m}, {name: o, type: offline}]",
		"rules: [{name: r, type: outage}]\ntopology: {feeders: [{id: f, devices: [m1], incomer: {device: m1, point: voltage, below: 5}}]}",
		"rules: [{name: r, point: x, above: 1, title: \"{bogus}\"}]",
		"rules: [{name: r, event: flooding, group_by: source, keep_for: 1m, clear_event: reset, clear_after: 2m, ticket: emergency}]",
		"rules: [{name: r, event: flooding, group_by: source, for: 30s, ticket: emergency}]",
		"rules: [{name: r, type: deviation, points: [voltage, x], nominal: 220, below_pct: 10, above_pct: 7, ticket: repair}]",
		"rules: [{name: r, type: imbalance, points: [voltage, x, balance], above: 20, clear: 10, min_mean: 1, ticket: repair}]",
		"rules: [{name: r, points: [voltage, x], abs: true, below: 0.9, clear: 0.92, only_if: {point: relay, equals: 1}}]",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, rules string) {
		cfg, err := config.Parse("fuzz.yaml", []byte(header+"devices: [{id: m1, family: meter, protocol: modbus_tcp}]\n"+rules))
		if err != nil {
			return
		}
		eng, err := NewEngine(Options{Config: cfg, Now: func() time.Time { return t0 }})
		if err != nil {
			t.Fatal(err)
		}
		info := devices.NewInfo("s1", cfg.Devices[0])
		for i, v := range []float64{0, 30, -1, 5, 1e9} {
			at := t0.Add(time.Duration(i) * time.Minute)
			eng.Evaluate(devices.Reading{Device: info, Time: at, Values: []devices.Value{
				{Point: "balance", Value: v}, {Point: "relay", Value: float64(i % 2)}, {Point: "energy", Value: v},
				{Point: "voltage", Value: v}, {Point: "x", Value: v}}})
			eng.ObserveEvent(devices.Event{Device: info, Time: at, Type: "fire_alarm", Source: "z", Active: i%2 == 0})
			eng.ObserveEvent(devices.Event{Device: info, Time: at, Type: "flooding", Source: "B1", Active: i%3 != 2,
				Attrs: map[string]string{"probe": []string{"", "water_leak_1", "water_leak_2"}[i%3]}})
			if i == 3 {
				eng.ObserveEvent(devices.Event{Device: info, Time: at, Type: "reset", Active: true})
			}
			eng.ObserveHealth("m1", i%2 == 1, "timeout", at)
			for _, tr := range eng.Tick(at.Add(30 * time.Second)) {
				Actions(tr, time.UTC)
			}
		}
		eng.Snapshot(t0, time.UTC)
	})
}
