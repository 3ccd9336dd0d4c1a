package alarm

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/estatehq/estate/devices"
	"github.com/estatehq/estate/internal/config"
	"github.com/estatehq/estate/internal/wire"
)

func TestImbalance(t *testing.T) {
	for _, tc := range []struct {
		name string
		vals []float64
		pct  float64
		mean float64
		ok   bool
	}{
		{"balanced", []float64{100, 100, 100}, 0, 100, true},
		{"one phase high", []float64{120, 90, 90}, 20, 100, true}, // |120−100|/100
		{"one phase low", []float64{100, 100, 70}, 20, 90, true},  // |70−90|/90 = 22.2 … see below
		{"two phases", []float64{50, 50}, 0, 50, true},
		{"no load", []float64{0, 0, 0}, 0, 0, false},
		{"nothing", nil, 0, 0, false},
		{"negative mean", []float64{-1, -2, -3}, 0, -2, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "one phase low" {
				tc.pct = 20.0 / 90 * 100
			}
			pct, mean, ok := Imbalance(tc.vals)
			if ok != tc.ok || ok && (math.Abs(pct-tc.pct) > 1e-9 || math.Abs(mean-tc.mean) > 1e-9) {
				t.Fatalf("Imbalance(%v) = %g %%, mean %g, %v; want %g %%, %g, %v", tc.vals, pct, mean, ok, tc.pct, tc.mean, tc.ok)
			}
		})
	}
}

func f(v float64) *float64 { return &v }

// A deviation rule's band per GB/T 12325, judged point by point.
func TestJudgeDeviation(t *testing.T) {
	three := compile(&config.Rule{Name: "d", Type: config.RuleDeviation, Points: []string{"voltage_l1", "voltage_l2", "voltage_l3"},
		Nominal: f(220), BelowPct: f(7), AbovePct: f(7)})
	single := compile(&config.Rule{Name: "d1", Type: config.RuleDeviation, Points: []string{"voltage"},
		Nominal: f(220), BelowPct: f(10), AbovePct: f(7)})
	unit := func(string) string { return "V" }
	for _, tc := range []struct {
		name   string
		r      *rule
		kv     []any
		active bool
		point  string
		ok     bool
	}{
		{"all within", three, []any{"voltage_l1", 221.0, "voltage_l2", 219.0, "voltage_l3", 230.0}, false, "voltage_l3", true},
		{"l2 low by 8 %", three, []any{"voltage_l1", 221.0, "voltage_l2", 202.4, "voltage_l3", 230.0}, true, "voltage_l2", true},
		{"at the limit is within", three, []any{"voltage_l1", 235.4, "voltage_l2", 220.0, "voltage_l3", 220.0}, false, "voltage_l1", true},
		{"l3 high", three, []any{"voltage_l1", 220.0, "voltage_l2", 220.0, "voltage_l3", 236.0}, true, "voltage_l3", true},
		{"only one phase in the reading", three, []any{"voltage_l2", 200.0}, true, "voltage_l2", true},
		{"no phase in the reading", three, []any{"current_l1", 10.0}, false, "", false},
		{"single phase 9 % low is within", single, []any{"voltage", 200.2}, false, "voltage", true},
		{"single phase 11 % low", single, []any{"voltage", 195.0}, true, "voltage", true},
		{"single phase 8 % high", single, []any{"voltage", 237.6}, true, "voltage", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rd := devices.Reading{}
			for i := 0; i < len(tc.kv); i += 2 {
				rd.Values = append(rd.Values, devices.Value{Point: tc.kv[i].(string), Value: tc.kv[i+1].(float64)})
			}
			m, ok := tc.r.judge(&rd, false, unit)
			if ok != tc.ok || ok && (m.active != tc.active || m.point != tc.point) {
				t.Fatalf("judge = %+v, %v; want active %v on %q, %v", m, ok, tc.active, tc.point, tc.ok)
			}
		})
	}
}

// The shipped power-quality rules on a three-phase incomer (eastron-sdm630
// point names) and a single-phase one: a power factor below 0.9 (signed
// leading) for 15 minutes is a repair; a phase 8 % low for 5 minutes and a
// 25 % current imbalance for 15 minutes are P3 notices; light load is not
// judged for imbalance.
func TestShippedPowerQuality(t *testing.T) {
	shipped, err := config.Load("../../configs/rules/default.yaml")
	if err != nil {
		t.Fatalf("shipped rules: %v", err)
	}
	cfg := loadConfig(t, `
devices:
  - {id: inc-1, family: meter, protocol: modbus_tcp, profile: eastron-sdm630, building: "1", tags: [incomer]}
  - {id: inc-2, family: meter, protocol: modbus_tcp, profile: chint-ddsu666, building: "2", tags: [incomer]}
`)
	cfg.Rules = shipped.Rules
	h := newHarnessConfig(t, cfg)
	h.infos["inc-1"].Units["voltage_l2"] = "V"
	at := func(m float64) time.Time { return t0.Add(time.Duration(m * float64(time.Minute))) }
	for m := 0.0; m <= 16; m += 0.5 {
		h.read("inc-1", at(m), "power_factor_total", -0.85, "voltage_l1", 221.0, "voltage_l2", 202.0, "voltage_l3", 219.0,
			"current_l1", 50.0, "current_l2", 30.0, "current_l3", 40.0)
		h.read("inc-2", at(m), "voltage", 219.0, "power_factor", 0.97)
	}
	byRule := map[string]wire.Ticket{}
	for _, tk := range h.tickets(wire.Repair) {
		_, rest, _ := strings.Cut(tk.AlarmKey, "/")
		rule, _, _ := strings.Cut(rest, "/")
		byRule[rule] = tk
	}
	if len(byRule) != 3 {
		t.Fatalf("repairs %v, want power factor, voltage deviation and imbalance of inc-1", byRule)
	}
	if tk := byRule["incomer_power_factor_low"]; tk.Priority != "P2" || tk.Category != "power_quality" || !strings.Contains(tk.Title, "0.85") {
		t.Errorf("power factor repair %+v", tk)
	}
	if tk := byRule["incomer_voltage_deviation"]; tk.Priority != "P3" || !strings.Contains(tk.Description, "voltage_l2 -8.18 %") ||
		tk.Reading == nil || tk.Reading.Point != "voltage_l2" || tk.Reading.Value != 202 {
		t.Errorf("voltage deviation notice %+v (reading %+v)", tk, tk.Reading)
	}
	if tk := byRule["incomer_current_imbalance"]; tk.Priority != "P3" || !strings.Contains(tk.Title, "25.00%") {
		t.Errorf("imbalance notice %+v", tk)
	}
	// At light load the imbalance is not judged; it clears.
	for m := 17.0; m <= 33; m += 0.5 {
		h.read("inc-1", at(m), "power_factor_total", 0.95, "voltage_l1", 221.0, "voltage_l2", 220.0, "voltage_l3", 219.0,
			"current_l1", 5.0, "current_l2", 1.0, "current_l3", 3.0)
	}
	for _, rule := range []string{"incomer_power_factor_low", "incomer_voltage_deviation", "incomer_current_imbalance"} {
		if n := resolved(h, "s1/"+rule+"/inc-1"); n != 1 {
			t.Errorf("%s resolved %d times, want 1", rule, n)
		}
	}
}
