package elevator

import (
	"strings"
	"testing"
	"time"

	"github.com/estatehq/estate/devices"
)

func vals(kv ...any) []devices.Value {
	var out []devices.Value
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, devices.Value{Point: kv[i].(string), Value: float64(kv[i+1].(int)), Quality: devices.Good})
	}
	return out
}

// render is a compact form of events for comparing: type+ or type- with a reason or code.
func render(evs []devices.Event) string {
	var parts []string
	for _, e := range evs {
		sign := "-"
		if e.Active {
			sign = "+"
		}
		detail := e.Attrs["reason"]
		if e.Type == EventFault {
			detail = e.Attrs["code"]
		}
		parts = append(parts, e.Type+sign+"("+detail+")")
	}
	return strings.Join(parts, " ")
}

func TestEntrapment(t *testing.T) {
	trapped := vals(PointPassenger, 1, PointRunning, 0, PointDoorOpen, 0, PointDoorZone, 0, PointFloor, 5, PointDirection, 0)
	type step struct {
		at     int // seconds
		values []devices.Value
		want   string
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"explicit flag raises at once and clears", []step{
			{0, vals(PointEntrapment, 1, PointPassenger, 1), "entrapment+(reported by the monitoring box)"},
			{1, vals(PointEntrapment, 1), ""},
			{2, vals(PointEntrapment, 0, PointPassenger, 0), "entrapment-(reported by the monitoring box)"},
		}},
		{"stopped outside the door zone for longer than the limit", []step{
			{0, trapped, ""},
			{29, nil, ""},
			{30, nil, "entrapment+(car stopped outside the door zone with a passenger inside)"},
			{31, nil, ""},
			{40, vals(PointDoorOpen, 1), "entrapment-(car stopped outside the door zone with a passenger inside)"},
		}},
		{"a short stop is not an entrapment", []step{
			{0, trapped, ""},
			{10, vals(PointRunning, 1), ""},
			{50, nil, ""},
		}},
		{"doors not opening in the door zone", []step{
			{0, vals(PointPassenger, 1, PointRunning, 0, PointDoorOpen, 0, PointDoorZone, 1), ""},
			{30, nil, "entrapment+(doors not opening with a passenger inside)"},
		}},
		{"alarm button held", []step{
			{0, vals(PointAlarmButton, 1), ""},
			{30, nil, "entrapment+(alarm button pressed)"},
			{31, vals(PointAlarmButton, 0), "entrapment-(alarm button pressed)"},
		}},
		{"inspection mode suppresses inference", []step{
			{0, append(trapped, vals(PointServiceMode, 1)...), ""},
			{60, nil, ""},
		}},
		{"explicit flag during suspicion", []step{
			{0, trapped, ""},
			{5, vals(PointEntrapment, 1), "entrapment+(reported by the monitoring box)"},
		}},
		{"empty car stopped is fine", []step{
			{0, vals(PointPassenger, 0, PointRunning, 0, PointDoorOpen, 0, PointDoorZone, 0), ""},
			{60, nil, ""},
		}},
		{"unknown occupancy infers nothing", []step{
			{0, vals(PointRunning, 0, PointDoorOpen, 0, PointDoorZone, 0), ""},
			{60, nil, ""},
		}},
	}
	t0 := time.Date(2026, 1, 1, 8, 0, 0, 0, time.UTC)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMonitor(30 * time.Second)
			for i, s := range tc.steps {
				now := t0.Add(time.Duration(s.at) * time.Second)
				var evs []devices.Event
				if s.values != nil {
					evs = m.Observe(now, s.values, nil)
				} else {
					evs = m.Tick(now)
				}
				if got := render(evs); got != s.want {
					t.Fatalf("step %d at %ds: %q, want %q", i, s.at, got, s.want)
				}
			}
		})
	}
}

func TestEntrapmentAttrs(t *testing.T) {
	m := NewMonitor(0)
	evs := m.Observe(time.Now(), vals(PointFloor, -1, PointDirection, -1, PointPassenger, 1, PointEntrapment, 1), nil)
	if len(evs) != 1 {
		t.Fatalf("events %v", evs)
	}
	a := evs[0].Attrs
	if a["floor"] != "-1" || a["direction"] != "down" || a["occupancy"] != "occupied" || evs[0].Source != "car" {
		t.Fatalf("attrs %v source %q", a, evs[0].Source)
	}
}

func TestFaults(t *testing.T) {
	m := NewMonitor(time.Minute)
	now := time.Now()
	steps := []struct {
		fault Fault
		want  string
	}{
		{Fault{Code: "0", Clear: true}, ""},
		{Fault{Code: "Err41", Text: "Safety circuit disconnected", Table: "monarch-nice3000"}, "fault+(Err41)"},
		{Fault{Code: "Err41", Text: "Safety circuit disconnected"}, ""},
		{Fault{Code: "Err48", Text: "Door open fault"}, "fault-(Err41) fault+(Err48)"},
		{Fault{Code: "Err99"}, "fault-(Err48) fault+(Err99)"},
		{Fault{Code: "0", Clear: true}, "fault-(Err99)"},
		{Fault{Code: "0", Clear: true}, ""},
	}
	for i, s := range steps {
		got := render(m.Observe(now, nil, []Fault{s.fault}))
		if got != s.want {
			t.Fatalf("step %d (%s): %q, want %q", i, s.fault.Code, got, s.want)
		}
	}
	evs := m.Observe(now, nil, []Fault{{Code: "Err77", Table: "t"}})
	if !strings.Contains(evs[0].Text, "Err77") || !strings.Contains(evs[0].Text, "not in the t table") || !strings.Contains(evs[0].TextZH, "不在代码表 t 中") {
		t.Fatalf("unknown code text %q / %q", evs[0].Text, evs[0].TextZH)
	}
	// The table's Chinese words travel with the event.
	evs = m.Observe(now, nil, []Fault{{Code: "Err42", Text: "Door lock disconnected during running", TextZH: "运行中门锁断开", Table: "monarch-nice3000"}})
	if len(evs) != 2 || evs[1].TextZH != "运行中门锁断开" || evs[1].Text != "Door lock disconnected during running" {
		t.Fatalf("Err42: %+v", evs)
	}
}

// A controller read without a code table (a Modbus register) faults by its
// fault_code point: a number raises that code, 0 clears it; a message that
// also carries the table's code is judged by the code alone.
func TestFaultFromPoint(t *testing.T) {
	m := NewMonitor(time.Minute)
	now := time.Now()
	code := func(v float64) []devices.Value {
		return []devices.Value{{Point: PointFaultCode, Value: v, Quality: devices.Good}}
	}
	if got := render(m.Observe(now, code(0), nil)); got != "" {
		t.Fatalf("no fault: %q", got)
	}
	evs := m.Observe(now, code(42), nil)
	if render(evs) != "fault+(42)" || evs[0].Text != "fault code 42" || evs[0].TextZH != "故障代码 42" {
		t.Fatalf("fault 42: %q %+v", render(evs), evs)
	}
	if got := render(m.Observe(now, code(42), nil)); got != "" {
		t.Fatalf("42 again: %q", got)
	}
	if got := render(m.Observe(now, code(0), nil)); got != "fault-(42)" {
		t.Fatalf("cleared: %q", got)
	}
	if got := render(m.Observe(now, code(41), []Fault{{Code: "Err41", Text: "Safety circuit disconnected", Table: "monarch-nice3000"}})); got != "fault+(Err41)" {
		t.Fatalf("point and table code: %q", got)
	}
}
