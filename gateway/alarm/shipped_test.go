package alarm

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/estatehq/estate/devices"
	"github.com/estatehq/estate/devices/access"
	"github.com/estatehq/estate/devices/firepanel"
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
	if len(em) != 1 || !strings.Contains(em[0].Title, "火警") || !strings.Contains(em[0].DescriptionEN, "FIRE ALARM building 1: loop 1 zone 3") {
		t.Fatalf("fire emergency %+v", em)
	}
}

// The shipped water rules on a household's prepaid water meter beside its
// electricity meter: the water reminder stands apart from the power one,
// turns urgent when the valve shuts for arrears and closes itself on a
// top-up; a valve fault and a low battery are repairs; a main meter's flow
// jump and night flow are engineering notices.
func TestShippedWaterRules(t *testing.T) {
	shipped, err := config.Load("../../configs/rules/default.yaml")
	if err != nil {
		t.Fatalf("shipped rules: %v", err)
	}
	cfg := loadConfig(t, `
devices:
  - {id: m102, family: meter, protocol: modbus_tcp, building: "1", unit: "1-102", tags: [prepaid]}
  - {id: w102, family: water, protocol: modbus_tcp, building: "1", unit: "1-102"}
  - {id: wmain, family: water, protocol: modbus_tcp, building: "1"}
`)
	cfg.Rules = shipped.Rules
	h := newHarnessConfig(t, cfg)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	s := 0
	water := func(balance, valve, battery float64) {
		h.read("w102", at(s), "balance", balance, "valve", valve, "battery_low", battery)
		s += 10
	}
	for range 5 {
		h.read("m102", at(s), "balance", 8, "relay", 1, "voltage", 220, "energy_import", 1000)
		water(7, 0, 0)
	}
	tops := h.tickets(wire.TopUp)
	if len(tops) != 2 {
		t.Fatalf("top-up reminders %+v, want one for power and one for water", tops)
	}
	var w wire.Ticket
	for _, tk := range tops {
		if tk.Category == "water" {
			w = tk
		}
	}
	if w.ID == 0 || !strings.Contains(w.Title, "水表") {
		t.Fatalf("water reminder %+v", w)
	}
	water(0, 1, 0) // the valve shuts for arrears: urgent, on the same reminder
	if got := h.tickets(wire.TopUp); len(got) != 2 {
		t.Fatalf("arrears opened another reminder: %+v", got)
	}
	if got, _ := h.desk.GetTicket(context.Background(), w.ID); got.Priority != "P2" {
		t.Errorf("arrears left the water reminder at %s", got.Priority)
	}
	water(30, 0, 0) // topped up
	if got, _ := h.desk.GetTicket(context.Background(), w.ID); got.Status != wire.Closed {
		t.Errorf("water reminder %s after the top-up", got.Status)
	}
	for range 8 {
		water(30, 3, 1) // a valve fault for 80 s; a low battery is not yet 10 minutes old
	}
	for range 60 {
		water(30, 0, 1)
	}
	repairs := map[string]bool{}
	for _, tk := range h.tickets(wire.Repair) {
		repairs[tk.Title] = true
	}
	if len(repairs) != 2 || !repairs["1栋 1-102 水表阀门故障"] || !repairs["1栋 1-102 水表电池欠压, 请更换电池"] {
		t.Fatalf("repairs %v", repairs)
	}

	h.event(devices.Event{Device: h.infos["wmain"], Time: at(s), Type: "flow_jump", Source: "meter 1", Active: true, Text: "flow 9.00 m³/h against 2.00 m³/h usual in the last 2h0m0s"})
	h.event(devices.Event{Device: h.infos["wmain"], Time: at(s), Type: "night_flow", Source: "meter 1", Active: true, Text: "water ran all night"})
	notices := 0
	for _, tk := range h.tickets(wire.Repair) {
		if tk.Priority == "P3" && strings.Contains(tk.Title, "总水表") {
			notices++
		}
	}
	if notices != 2 {
		t.Errorf("%d engineering notices for the main meter, want 2", notices)
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

// The shipped elevator rules speak each language whole: a fault named by
// its code table reads 运行中门锁断开 in the Chinese title and "Door lock
// disconnected during running" in the English description, and an
// entrapment says why in both.
func TestShippedElevatorRulesInBothLanguages(t *testing.T) {
	shipped, err := config.Load("../../configs/rules/default.yaml")
	if err != nil {
		t.Fatalf("shipped rules: %v", err)
	}
	cfg := loadConfig(t, `
devices:
  - {id: lift-a, family: elevator, protocol: mqtt, building: "2"}
  - {id: lift-b, family: elevator, protocol: mqtt, building: "2"}
`)
	cfg.Rules = shipped.Rules
	h := newHarnessConfig(t, cfg)
	h.event(devices.Event{Device: h.infos["lift-a"], Time: t0, Type: "fault", Source: "car", Active: true,
		Text: "Door lock disconnected during running", TextZH: "运行中门锁断开", Attrs: map[string]string{"code": "Err42"}})
	rep := h.tickets(wire.Repair)
	if len(rep) != 1 || rep[0].Title != "2栋 电梯 lift-a 故障: 运行中门锁断开" || rep[0].TitleEN != "building 2: elevator lift-a fault: Door lock disconnected during running" ||
		!strings.Contains(rep[0].DescriptionEN, "building 2: elevator lift-a fault: Door lock disconnected during running") ||
		strings.Contains(rep[0].Description, "Door lock") {
		t.Fatalf("fault repair %+v", rep)
	}
	h.event(devices.Event{Device: h.infos["lift-a"], Time: t0.Add(time.Second), Type: "entrapment", Source: "car", Active: true,
		Text: "alarm button pressed", TextZH: "轿厢报警按钮被按下"})
	em := h.tickets(wire.Emergency)
	if len(em) != 1 || em[0].Title != "2栋 电梯 lift-a 困人: 轿厢报警按钮被按下" ||
		!strings.Contains(em[0].DescriptionEN, "people trapped in elevator lift-a: alarm button pressed") || strings.Contains(em[0].Title, "alarm button") {
		t.Fatalf("entrapment emergency %+v", em)
	}
	// Words without a Chinese version read as they are in both.
	h.event(devices.Event{Device: h.infos["lift-b"], Time: t0.Add(3 * time.Second), Type: "fault", Source: "car", Active: true, Text: "Err99"})
	if rep := h.tickets(wire.Repair); len(rep) != 2 || !slices.ContainsFunc(rep, func(tk wire.Ticket) bool { return tk.Title == "2栋 电梯 lift-b 故障: Err99" }) {
		t.Fatalf("second fault %+v", rep)
	}
}

// A rule's own title has its English twin in title_en; a rule with a title
// but no title_en gives none (its one title is shown in both languages).
func TestTitleEN(t *testing.T) {
	tr := Transition{Rule: &config.Rule{Name: "low", Title: "{unit} 余额不足 {value} 元", TitleEN: "{unit}: balance low, {value} CNY",
		Message: config.Message{ZH: "余额不足", EN: "low"}}, Device: &devices.Info{ID: "m1", Unit: "1-101", Units: map[string]string{}}, Value: 9.5, At: t0}
	if got := tr.TitleEN(nil); got != "1-101: balance low, 9.50 CNY" {
		t.Errorf("title_en: %q", got)
	}
	tr.Rule.TitleEN = ""
	if got := tr.TitleEN(nil); got != "" {
		t.Errorf("a title without title_en: %q", got)
	}
	tr.Rule.Title = ""
	if got := tr.TitleEN(nil); got != "low" {
		t.Errorf("no title: %q", got)
	}
}

// An alarm's history line: the rule's messages, else its titles.
func TestSummary(t *testing.T) {
	dev := &devices.Info{ID: "m1", Unit: "1-101", Building: "1", Units: map[string]string{"balance": "CNY"}}
	for _, tc := range []struct {
		rule   config.Rule
		zh, en string
	}{
		{config.Rule{Name: "low", Message: config.Message{ZH: "{unit} 余额 {value} 元", EN: "{unit}: balance {value} CNY"}}, "1-101 余额 9.50 元", "1-101: balance 9.50 CNY"},
		{config.Rule{Name: "low", Title: "{building}栋 {unit} 余额不足", TitleEN: "{unit}: balance low"}, "1栋 1-101 余额不足", "1-101: balance low"},
		{config.Rule{Name: "low", Title: "{building}栋 {unit} 余额不足"}, "1栋 1-101 余额不足", "m1: low (balance = 9.50 CNY)"},
		{config.Rule{Name: "low"}, "m1: low (balance = 9.50 CNY)", "m1: low (balance = 9.50 CNY)"},
	} {
		r := tc.rule
		zh, en := Transition{Rule: &r, Device: dev, Point: "balance", Value: 9.5, At: t0}.Summary(nil)
		if zh != tc.zh || en != tc.en {
			t.Errorf("%+v: %q / %q, want %q / %q", r, zh, en, tc.zh, tc.en)
		}
	}
}

// A source's place is said in each language (3号门 / door 3, 1回路 23号 /
// loop 1 address 23) while the alarm's key, which dedups it, keeps the
// source's identity: the same event without a Chinese name has the same key.
func TestShippedRulesSayTheSourceInEachLanguage(t *testing.T) {
	shipped, err := config.Load("../../configs/rules/default.yaml")
	if err != nil {
		t.Fatalf("shipped rules: %v", err)
	}
	cfg := loadConfig(t, `
devices:
  - {id: door1, family: access, protocol: mqtt, building: "3"}
  - {id: fp1, family: fire, protocol: gbt26875, building: "1", address: "127.0.0.1:9030"}
`)
	cfg.Rules = shipped.Rules
	h := newHarnessConfig(t, cfg)
	h.event(devices.Event{Device: h.infos["door1"], Time: t0, Type: "door_forced", Source: "door 3", SourceZH: access.Words.ZH("door 3"), Active: true})
	views, _ := h.eng.Snapshot(t0, time.UTC)
	if len(views) != 1 || views[0].Key != "s1/door_forced/door1/door 3" || views[0].MessageZH != "3栋 门被强行打开: 3号门" ||
		views[0].MessageEN != "door forced open in building 3: door 3" || views[0].Source != "door 3" || views[0].SourceZH != "3号门" {
		t.Fatalf("forced door %+v", views)
	}
	fire := devices.Event{Device: h.infos["fp1"], Time: t0, Type: "fire_alarm", Source: "loop 1 address 23", Active: true, Text: "3层东走廊"}
	named := fire
	named.SourceZH = firepanel.Words.ZH(fire.Source)
	h.event(named)
	em := h.tickets(wire.Emergency)
	if len(em) != 1 || em[0].AlarmKey != "s1/fire_alarm/fp1/loop 1 address 23" || em[0].Title != "1栋 火警: 1回路 23号 3层东走廊" ||
		em[0].TitleEN != "FIRE ALARM building 1: loop 1 address 23 3层东走廊" ||
		!strings.HasPrefix(em[0].Description, "1栋 火警: 1回路 23号 3层东走廊\n") ||
		!strings.HasPrefix(em[0].DescriptionEN, "FIRE ALARM building 1: loop 1 address 23 3层东走廊\n") || strings.Contains(em[0].DescriptionEN, "回路") {
		t.Fatalf("fire emergency %+v", em)
	}
	// The same fire without the Chinese name is the same alarm: no second ticket.
	fire.Time = t0.Add(time.Second)
	h.event(fire)
	if em := h.tickets(wire.Emergency); len(em) != 1 {
		t.Fatalf("the unnamed event made another alarm: %+v", em)
	}
	if views, _ := h.eng.Snapshot(t0, time.UTC); !slices.ContainsFunc(views, func(v View) bool {
		return v.Key == "s1/fire_alarm/fp1/loop 1 address 23" && v.MessageZH == "1栋 火警: 1回路 23号 3层东走廊"
	}) {
		t.Errorf("the fire's Chinese message after the unnamed repeat: %+v", views)
	}
	// A source with no Chinese name is said as it is in both.
	h.event(devices.Event{Device: h.infos["fp1"], Time: t0.Add(2 * time.Second), Type: "fire_alarm", Source: "3F东走廊", Active: true})
	if em := h.tickets(wire.Emergency); len(em) != 2 || !slices.ContainsFunc(em, func(tk wire.Ticket) bool { return tk.Title == "1栋 火警: 3F东走廊 " }) {
		t.Fatalf("a zone as printed: %+v", em)
	}
}
