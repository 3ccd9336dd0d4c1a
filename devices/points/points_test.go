package points

import (
	"strings"
	"testing"
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

// A profile's own words win over the catalogue's, word by word.
func TestNamesOver(t *testing.T) {
	relay, _ := Lookup("relay")
	for _, tc := range []struct {
		names      Names
		zh, en, s1 string
	}{
		{Names{}, "继电器", "Relay", "合闸"},
		{Names{Label: "电闸", LabelEN: "Breaker"}, "电闸", "Breaker", "合闸"},
		{Names{Label: "电闸"}, "电闸", "电闸", "合闸"},
		{Names{States: map[string]State{"1": {ZH: "通电", EN: "On"}}}, "继电器", "Relay", "通电"},
	} {
		p := tc.names.Over(relay)
		if p.ZH != tc.zh || p.EN != tc.en || p.States["1"].ZH != tc.s1 {
			t.Errorf("%+v over relay: %+v", tc.names, p)
		}
	}
	if err := (Names{States: map[string]State{"on": {ZH: "开", EN: "On"}}}).Check(); err == nil {
		t.Error("a state value that is not a number passed")
	}
	if err := (Names{States: map[string]State{"1": {ZH: "开"}}}).Check(); err == nil {
		t.Error("a state without English passed")
	}
	type pt struct {
		name  string
		names Names
	}
	pts := []pt{{"a", Names{}}, {"b", Names{Label: "乙"}}, {"c", Names{States: map[string]State{"x": {ZH: "甲", EN: "A"}}}}}
	got := NamesOf(pts, func(p pt) string { return p.name }, func(p pt) Names { return p.names })
	if len(got) != 2 || got["b"].Label != "乙" {
		t.Errorf("NamesOf: %+v", got)
	}
	if err := CheckNames(pts, func(p pt) string { return p.name }, func(p pt) Names { return p.names }); err == nil || !strings.Contains(err.Error(), "points[2] (c): states") {
		t.Errorf("CheckNames: %v", err)
	}
}
