package alarm

import (
	"strings"
	"testing"
	"time"

	"github.com/estatehq/estate/devices"
	"github.com/estatehq/estate/internal/config"
	"github.com/estatehq/estate/internal/wire"
)

// The shipped rule set (configs/rules/default.yaml) on a prepaid meter running
// down to a trip with a failed relay, and on a fire panel.
func TestShippedRules(t *testing.T) {
	shipped, err := config.Load("../../configs/rules/default.yaml")
	if err != nil {
		t.Fatalf("shipped rules: %v", err)
	}
	cfg := loadConfig(t, `
devices:
  - {id: m101, family: meter, protocol: modbus_tcp, building: "1", unit: "1-101", tags: [prepaid]}
  - {id: fp1, family: fire, protocol: modbus_tcp, building: "1"}
`)
	cfg.Rules = shipped.Rules
	h := newHarnessConfig(t, cfg)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	s := 0
	read := func(balance, relay, volt, energy float64) {
		h.read("m101", at(s), "balance", balance, "relay", relay, "voltage", volt, "energy_import", energy)
		s += 10
	}
	read(15, 1, 220, 1000)
	for range 4 {
		read(8, 1, 220, 1000.5) // below level 1 for 40 s: reminder
	}
	read(4, 1, 220, 1001)  // level 2: urgent
	read(-0.5, 0, 0, 1001) // tripped
	read(-0.5, 0, 0, 1001.01)
	read(-0.5, 0, 0, 1001.3) // still rising: relay failed
	kinds := map[string]int{}
	for _, tk := range h.tickets("") {
		kinds[string(tk.Kind)+"/"+tk.Priority]++
	}
	if kinds["top_up/P2"] != 1 || kinds["repair/P2"] != 1 || len(kinds) != 2 {
		t.Fatalf("tickets by kind/priority: %v (want one reminder raised to urgent, one relay repair; no zero-voltage repair while tripped)", kinds)
	}
	for _, tk := range h.tickets(wire.TopUp) {
		if !strings.Contains(tk.Title, "1-101") {
			t.Errorf("title %q does not name the unit", tk.Title)
		}
	}
	read(50, 1, 220, 1001.3) // topped up: both reminders close themselves
	for _, tk := range h.tickets(wire.TopUp) {
		if tk.Status != wire.Closed {
			t.Errorf("reminder %d is %s after the top-up", tk.ID, tk.Status)
		}
	}

	h.event(devices.Event{Device: h.infos["fp1"], Time: at(s), Type: "fire_alarm", Source: "loop 1 zone 3", Active: true})
	em := h.tickets(wire.Emergency)
	if len(em) != 1 || !strings.Contains(em[0].Title, "火警") || !strings.Contains(em[0].Description, "FIRE ALARM building 1: loop 1 zone 3") {
		t.Fatalf("fire emergency %+v", em)
	}
}

// A fire alarm whose device clock was never set arrives (devices/firepanel)
// with its time of receipt and the problem in its text: the shipped rule's
// {text} carries the note onto the emergency ticket.
func TestShippedFireAlarmTicketNotesTheTimeProblem(t *testing.T) {
	shipped, err := config.Load("../../configs/rules/default.yaml")
	if err != nil {
		t.Fatalf("shipped rules: %v", err)
	}
	cfg := loadConfig(t, "devices:\n  - {id: fp1, family: fire, protocol: gbt26875, building: \"2\", address: \"127.0.0.1:9030\"}\n")
	cfg.Rules = shipped.Rules
	h := newHarnessConfig(t, cfg)
	note := "时间标签无效(00 00 00 00 00 00)，按接收时间记录 / time tag is not a date (00 00 00 00 00 00): time of receipt used"
	h.event(devices.Event{Device: h.infos["fp1"], Time: t0, Type: "fire_alarm", Source: "system 1 component 1023", Active: true,
		Text: "3层东走廊 (" + note + ")", Attrs: map[string]string{"time_problem": note}})
	em := h.tickets(wire.Emergency)
	if len(em) != 1 || !strings.Contains(em[0].Description, note) || !strings.Contains(em[0].Description, "3层东走廊") {
		t.Fatalf("fire emergency %+v", em)
	}
}
