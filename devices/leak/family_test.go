package leak

import (
	"strings"
	"testing"
	"time"

	"github.com/estatehq/estate/devices"
)

var t0 = time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)

// The detector reports each probe's first state (dry too) and its changes,
// as flooding where water is an emergency and water_leak elsewhere, with the
// room as the source; bad values and other points say nothing.
func TestDetector(t *testing.T) {
	type ev struct {
		typ, probe string
		active     bool
	}
	val := func(p string, v float64) devices.Value { return devices.Value{Point: p, Value: v} }
	for _, tc := range []struct {
		name     string
		location string
		obs      [][]devices.Value
		want     [][]ev
	}{
		{"pump room, two probes", "pump_room", [][]devices.Value{
			{val("water_leak_1", 0), val("water_leak_2", 0), val("pump_running", 0)},
			{val("water_leak_1", 0), val("water_leak_2", 0)},
			{val("water_leak_1", 1), val("water_leak_2", 0), val("high_level", 1)},
			{val("water_leak_1", 1), val("water_leak_2", 1)},
			{{Point: "water_leak_1", Quality: devices.Bad}, val("water_leak_2", 1)}, // a bad read is not dry
			{val("water_leak_1", 0)},
		}, [][]ev{
			{{"flooding", "water_leak_1", false}, {"flooding", "water_leak_2", false}},
			nil,
			{{"flooding", "water_leak_1", true}},
			{{"flooding", "water_leak_2", true}},
			nil,
			{{"flooding", "water_leak_1", false}},
		}},
		{"one probe elsewhere", "other", [][]devices.Value{
			{val("water_leak", 1), val("battery_low", 1)},
			{val("water_leak", 1)},
		}, [][]ev{
			{{"water_leak", "", true}},
			nil,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDetector(Options{Room: "B1 水泵房", Location: tc.location})
			for i, values := range tc.obs {
				got := d.Observe(t0.Add(time.Duration(i)*time.Second), values, nil)
				if len(got) != len(tc.want[i]) {
					t.Fatalf("observation %d: %d events %+v, want %+v", i, len(got), got, tc.want[i])
				}
				for j, e := range got {
					w := tc.want[i][j]
					if e.Type != w.typ || e.Attrs["probe"] != w.probe || e.Active != w.active || e.Source != "B1 水泵房" ||
						e.Attrs["location"] != tc.location || !e.Time.Equal(t0.Add(time.Duration(i)*time.Second)) {
						t.Errorf("observation %d event %d: %+v, want %+v", i, j, e, w)
					}
				}
			}
			if got := d.Tick(t0.Add(time.Hour)); got != nil {
				t.Errorf("tick: %+v", got)
			}
		})
	}
}

// The simulated module's points on an injected clock: the script's steps in
// their windows, and Force on demand.
func TestModuleScript(t *testing.T) {
	m := &Module{Probes: []string{"water_leak_1", "water_leak_2"}, Script: []devices.ScriptStep{
		{At: 10 * time.Second, Do: "probe_2", For: 5 * time.Second},
		{At: 20 * time.Second, Do: "flood", For: 10 * time.Second},
		{At: 40 * time.Second, Do: "flood_pump_failed"},
		{At: 300 * time.Second, Do: "fault", For: time.Second},
	}}
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	key := func(v map[string]float64) string {
		var b strings.Builder
		for _, p := range []string{"water_leak_1", "water_leak_2", "high_level", "pump_running", "sensor_fault"} {
			b.WriteString(map[bool]string{true: "1", false: "0"}[v[p] != 0])
		}
		return b.String()
	}
	for _, tc := range []struct {
		s    int
		want string // probe 1, probe 2, high level, pump running, fault
	}{
		{0, "00000"}, {10, "01000"}, {14, "01000"}, {15, "00000"}, {20, "11110"}, {29, "11110"}, {30, "00000"},
		{40, "11100"}, {219, "11100"}, {220, "00000"}, {300, "00001"}, {301, "00000"},
	} {
		if got := key(m.Values(at(tc.s))); got != tc.want {
			t.Errorf("at %d s: %s, want %s", tc.s, got, tc.want)
		}
	}
	m.Force("probe_1", true)
	if got := key(m.Values(at(400))); got != "10000" {
		t.Errorf("forced probe 1: %s", got)
	}
	m.Force("probe_1", false)
	if got := key(m.Values(at(401))); got != "00000" {
		t.Errorf("probe 1 released: %s", got)
	}
}

func TestProbeSteps(t *testing.T) {
	for do, want := range map[string]bool{"probe_1": true, "probe_12": true, "probe_0": false, "probe_01": false, "probe_": false, "probe_x": false, "flood": false} {
		if got := isProbeStep(do); got != want {
			t.Errorf("isProbeStep(%q) = %v", do, got)
		}
	}
	if got := ProbesOf([]string{"di6", "water_leak_2", "pump_running", "water_leak_1"}); strings.Join(got, ",") != "water_leak_1,water_leak_2" {
		t.Errorf("ProbesOf: %v", got)
	}
}
