package points

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/estatehq/estate/devices/access"
	"github.com/estatehq/estate/devices/elevator"
	"github.com/estatehq/estate/devices/leak"
)

func TestLookup(t *testing.T) {
	for _, tc := range []struct {
		name, zh, en, unit string
		states             int
	}{
		{"balance", "剩余金额", "Balance", "CNY", 0},
		{"relay", "继电器", "Relay", "", 2},
		{"voltage_l1", "A 相电压", "Voltage L1", "V", 0},
		{"voltage_l3_l1", "CA 线电压", "Voltage L3–L1", "V", 0},
		{"power_total", "总有功功率", "Active power (total)", "", 0},
		{"energy_total", "总有功电能", "Active energy (total)", "kWh", 0},
		{"reactive_power_l2", "B 相无功功率", "Reactive power L2", "", 0},
		{"power_factor_total", "总功率因数", "Power factor (total)", "", 0},
		{"current_neutral", "零线电流", "Current (neutral)", "A", 0},
		{"current_sum", "电流之和", "Current (sum)", "A", 0},
		{"voltage_avg", "平均电压", "Voltage (average)", "V", 0},
		{"di5", "开关量 5", "Digital input 5", "", 2},
		{"water_leak_2", "水浸探头 2", "Leak probe 2", "", 2},
		{"alarm_level_1", "报警金额 1", "Alarm level 1", "CNY", 0}, // its own entry, not alarm_level + 1
		{"direction", "运行方向", "Direction", "", 3},
	} {
		p, ok := Lookup(tc.name)
		if !ok || p.ZH != tc.zh || p.EN != tc.en || p.Unit != tc.unit || len(p.States) != tc.states {
			t.Errorf("%s: %+v %v, want %s / %s %q with %d states", tc.name, p, ok, tc.zh, tc.en, tc.unit, tc.states)
		}
	}
	if p, ok := Lookup("no_such_point"); ok {
		t.Errorf("unknown point found: %+v", p)
	}
	// Unknown points read as written; the profile's unit wins over the catalogue's.
	if p := Describe("no_such_point", "bar"); p.ZH != "no_such_point" || p.EN != "no_such_point" || p.Unit != "bar" {
		t.Errorf("unknown: %+v", p)
	}
	if p := Describe("power_total", "W"); p.Unit != "W" || p.ZH != "总有功功率" {
		t.Errorf("power_total in W: %+v", p)
	}
	// The states of a point are words for its values.
	if p, _ := Lookup("relay"); p.States["0"].ZH != "跳闸" || p.States["1"].EN != "Closed" {
		t.Errorf("relay states: %+v", p.States)
	}
}

// Every point of every shipped profile, and every point a device family
// writes itself, has its names in the catalogue: a new profile's points
// do not reach the console as bare identifiers.
func TestEveryShippedPointIsNamed(t *testing.T) {
	files, err := filepath.Glob("../../configs/profiles/*.yaml")
	if err != nil || len(files) < 10 {
		t.Fatalf("profiles: %v %d", err, len(files))
	}
	var names []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var doc any
		if err := yaml.Unmarshal(data, &doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		names = append(names, pointNames(doc, false)...)
	}
	names = append(names, elevator.PointFloor, elevator.PointDirection, elevator.PointRunning, elevator.PointDoorOpen,
		elevator.PointDoorZone, elevator.PointPassenger, elevator.PointAlarmButton, elevator.PointServiceMode,
		elevator.PointEntrapment, elevator.PointFaultCode, leak.PointWater, leak.PointPumpRunning, leak.PointHighLevel,
		leak.PointSensorFault, access.PointDoorOpen, access.PointLocked, access.PointTamper)
	slices.Sort(names)
	names = slices.Compact(names)
	if len(names) < 80 {
		t.Fatalf("only %d point names found in the profiles", len(names))
	}
	for _, n := range names {
		if _, ok := Lookup(n); !ok {
			t.Errorf("point %q of a shipped profile or family has no names in points.yaml", n)
		}
	}
}

// pointNames are the names in the lists under a "points" key (name:, or
// point: where a code table feeds a point), at any depth of a profile.
func pointNames(v any, inPoints bool) []string {
	var out []string
	switch x := v.(type) {
	case map[string]any:
		if inPoints {
			for _, k := range []string{"name", "point"} {
				if s, ok := x[k].(string); ok {
					out = append(out, s)
				}
			}
		}
		for k, c := range x {
			out = append(out, pointNames(c, k == "points")...)
		}
	case []any:
		for _, c := range x {
			out = append(out, pointNames(c, inPoints)...)
		}
	}
	return out
}

func TestCatalogueChecked(t *testing.T) {
	for _, bad := range []string{
		"points: {x: {zh: 甲}}",
		"points: {x: {zh: 甲, en: A, states: {on: {zh: 开, en: On}}}}",
		"points: {x: {zh: 甲, en: A, colour: red}}",
	} {
		if _, err := parse([]byte(bad)); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}
