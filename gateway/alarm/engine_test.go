package alarm

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/estatehq/estate/desk/store"
	"github.com/estatehq/estate/devices"
	"github.com/estatehq/estate/internal/config"
	"github.com/estatehq/estate/internal/wire"
)

const header = `site: {id: s1, timezone: Asia/Shanghai}
gateway: {id: gw, desk_url: "http://127.0.0.1:1", desk_token: "0123456789abcdef0123"}
influxdb: {url: "http://127.0.0.1:1", bucket: "b/autogen"}
`

var t0 = time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)

func loadConfig(t testing.TB, text string) *config.Config {
	t.Helper()
	cfg, err := config.Parse("test.yaml", []byte(header+text))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg
}

// harness is an engine on a real state file whose transitions are recorded
// and whose desk actions are applied to a real ticket store, as the outbox would.
type harness struct {
	t     testing.TB
	cfg   *config.Config
	eng   *Engine
	st    *SQLiteStore
	desk  *store.SQLite
	trs   []Transition
	infos map[string]*devices.Info
	dir   string
	// links are the engine's Options.Links (nil: no groups).
	links map[string]Link
	// lastErr is the error the health observations give a silent device.
	lastErr string
	// now is when the next start happens (the engine's clock at start); t0 if zero.
	now time.Time
}

func newHarness(t testing.TB, text string) *harness {
	t.Helper()
	return newHarnessConfig(t, loadConfig(t, text))
}

func newHarnessConfig(t testing.TB, cfg *config.Config) *harness {
	t.Helper()
	return newHarnessLinks(t, cfg, nil)
}

// newHarnessLinks is a harness whose engine knows where its devices are reached.
func newHarnessLinks(t testing.TB, cfg *config.Config, links map[string]Link) *harness {
	t.Helper()
	h := &harness{t: t, cfg: cfg, infos: map[string]*devices.Info{}, dir: t.TempDir(), links: links, lastErr: "timeout"}
	var err error
	h.desk, err = store.OpenSQLite(context.Background(), filepath.Join(h.dir, "desk.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.desk.Close() })
	for _, d := range h.cfg.Devices {
		info := devices.NewInfo(h.cfg.Site.ID, d)
		info.Units["balance"] = "CNY"
		h.infos[d.ID] = info
	}
	h.start()
	return h
}

// start (re)starts the engine on the persisted state, as a gateway restart does.
func (h *harness) start() {
	h.t.Helper()
	st, err := OpenStore(filepath.Join(h.dir, "alarms.db"))
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { st.Close() })
	h.st = st
	start := t0
	if !h.now.IsZero() {
		start = h.now
	}
	h.eng, err = NewEngine(Options{Config: h.cfg, Store: st, Now: func() time.Time { return start }, Links: h.links})
	if err != nil {
		h.t.Fatal(err)
	}
}

// deliver records the transitions an engine call returned and applies their
// desk actions to the desk, as the outbox would.
func (h *harness) deliver(trs []Transition) {
	h.t.Helper()
	for _, tr := range trs {
		h.trs = append(h.trs, tr)
		for _, a := range Actions(tr, time.UTC) {
			if a.Ticket != nil && a.Ticket.Site == "" {
				h.t.Fatalf("action without site: %+v", a)
			}
			if err := a.Validate(); err != nil {
				h.t.Fatalf("invalid action %+v: %v", a, err)
			}
			site, _, _ := strings.Cut(a.AlarmKey, "/")
			_, err := h.desk.ApplyAlarmAction(context.Background(), a, store.Caller{Name: "gw", Key: "token:gw@" + site, Site: site, Request: a.IdempotencyKey}, tr.At)
			switch {
			case errors.Is(err, store.ErrNotFound):
				// The desk refuses it for good (the clearing of an alarm whose
				// ticket is another's): the outbox drops it, so does the harness.
			case err != nil:
				h.t.Fatalf("desk: %v", err)
			}
		}
	}
}

func (h *harness) health(id string, offline bool, at time.Time) {
	h.t.Helper()
	h.deliver(h.eng.ObserveHealth(id, offline, h.lastErr, at))
}

func (h *harness) tick(now time.Time) {
	h.t.Helper()
	h.deliver(h.eng.Tick(now))
}

func (h *harness) event(ev devices.Event) {
	h.t.Helper()
	h.deliver(h.eng.ObserveEvent(ev))
}

func (h *harness) read(device string, at time.Time, kv ...any) {
	h.t.Helper()
	r := devices.Reading{Device: h.infos[device], Time: at}
	for i := 0; i < len(kv); i += 2 {
		r.Values = append(r.Values, devices.Value{Point: kv[i].(string), Value: toFloat(kv[i+1])})
	}
	h.deliver(h.eng.Evaluate(r))
}

func toFloat(v any) float64 {
	switch x := v.(type) {
	case int:
		return float64(x)
	case float64:
		return x
	}
	panic(fmt.Sprintf("value %T", v))
}

func (h *harness) tickets(kind wire.Kind) []wire.Ticket {
	h.t.Helper()
	ts, err := h.desk.ListTickets(context.Background(), store.Filter{Kind: kind, Limit: 500})
	if err != nil {
		h.t.Fatal(err)
	}
	return ts
}

func (h *harness) fired(rule string) (n int) {
	for _, tr := range h.trs {
		if tr.Rule.Name == rule && tr.State == StateFiring {
			n++
		}
	}
	return n
}

const prepaidRules = `
devices:
  - {id: m1, family: meter, protocol: modbus_tcp, profile: p, building: "1", unit: "1-101", tags: [prepaid]}
  - {id: m2, family: meter, protocol: modbus_tcp, profile: p, building: "1", unit: "1-102", tags: [prepaid]}
rules:
  - name: low_balance
    tags: [prepaid]
    point: balance
    below: 10
    clear: 20
    ticket: top_up
    message: {zh: "{unit} 余额不足 {value} 元", en: "{unit} balance low: {value} {value_unit}"}
  - name: urgent_balance
    tags: [prepaid]
    point: balance
    below: 0
    inclusive: true
    clear: 20
    ticket: top_up
    priority: P2
  - name: relay_failed
    tags: [prepaid]
    type: rising
    point: energy
    only_if: {point: relay, equals: 0}
    rise_by: 0.05
    ticket: repair
`

func TestThresholdHysteresisAndTopUpClosesItself(t *testing.T) {
	h := newHarness(t, prepaidRules)
	bal := []float64{15, 11, 9.5, 9, 10.5, 12, 9.8, 19, 21}
	for i, b := range bal {
		h.read("m1", t0.Add(time.Duration(i)*time.Second), "balance", b)
	}
	if n := h.fired("low_balance"); n != 1 {
		t.Fatalf("low_balance fired %d times, want 1 (hysteresis)", n)
	}
	ts := h.tickets(wire.TopUp)
	if len(ts) != 1 || ts[0].Status != wire.Closed || ts[0].Unit != "1-101" || ts[0].Priority != "P3" {
		t.Fatalf("want one top-up reminder closed by the top-up, got %+v", ts)
	}
	if !strings.Contains(ts[0].Title, "1-101 余额不足 9.50 元") {
		t.Errorf("title %q", ts[0].Title)
	}
	notes, _ := h.desk.ListNotes(context.Background(), ts[0].ID)
	if len(notes) != 1 || !strings.Contains(notes[0].Body, "closed automatically") {
		t.Errorf("notes %+v", notes)
	}
	// The next month's low balance opens a new reminder.
	h.read("m1", t0.Add(time.Hour), "balance", 5)
	if ts := h.tickets(wire.TopUp); len(ts) != 2 || ts[0].Status != wire.New {
		t.Fatalf("a later low balance: tickets %+v", ts)
	}
}

func TestPrepaidLevels(t *testing.T) {
	h := newHarness(t, prepaidRules)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	h.read("m2", at(0), "balance", 3, "relay", 1, "energy", 100)
	h.read("m2", at(1), "balance", 0, "relay", 0, "energy", 100.01)
	h.read("m2", at(2), "balance", -1, "relay", 0, "energy", 100.02) // baseline taken at the trip
	if n := h.fired("relay_failed"); n != 0 {
		t.Fatalf("relay_failed fired on meter noise")
	}
	h.read("m2", at(60), "balance", -1, "relay", 0, "energy", 100.2)
	ts := h.tickets("")
	kinds := map[string]int{}
	for _, tk := range ts {
		kinds[string(tk.Kind)+"/"+tk.Priority]++
	}
	// One reminder per household: the urgent level raises the open reminder to P2.
	if kinds["top_up/P2"] != 1 || kinds["repair/P2"] != 1 || len(ts) != 2 {
		t.Fatalf("tickets by kind: %v", kinds)
	}
	// Repairs stay open when the condition clears: people close them.
	h.read("m2", at(70), "balance", 50, "relay", 1, "energy", 100.3)
	for _, tk := range h.tickets(wire.Repair) {
		if tk.Status != wire.New {
			t.Errorf("repair ticket %d was changed to %s by a clearing alarm", tk.ID, tk.Status)
		}
		notes, _ := h.desk.ListNotes(context.Background(), tk.ID)
		if len(notes) != 1 || !strings.Contains(notes[0].Body, "alarm cleared") {
			t.Errorf("repair notes %+v", notes)
		}
	}
}

// A for: 5m rule whose gateway restarts at minute 3 fires at minute 5, not 8.
func TestForSurvivesRestart(t *testing.T) {
	h := newHarness(t, `
devices: [{id: m1, family: meter, protocol: modbus_tcp}]
rules:
  - {name: overvoltage, family: meter, point: voltage, above: 250, clear: 245, for: 5m, ticket: repair}
`)
	for s := 0; s <= 180; s += 10 {
		h.read("m1", t0.Add(time.Duration(s)*time.Second), "voltage", 260)
	}
	h.start() // restart at minute 3
	var firedAt time.Time
	for s := 190; s <= 600 && firedAt.IsZero(); s += 10 {
		at := t0.Add(time.Duration(s) * time.Second)
		h.read("m1", at, "voltage", 260)
		if h.fired("overvoltage") > 0 {
			firedAt = at
		}
	}
	if got := firedAt.Sub(t0); got != 5*time.Minute {
		t.Fatalf("fired at minute %v, want 5", got.Minutes())
	}
	// A restart while firing neither loses the alarm nor fires it again.
	h.start()
	h.read("m1", t0.Add(6*time.Minute), "voltage", 260)
	views, _ := h.eng.Snapshot(t0.Add(6*time.Minute), time.UTC)
	if h.fired("overvoltage") != 1 || len(views) != 1 || views[0].Phase != Firing || !views[0].Ticketed {
		t.Fatalf("after a restart: fired %d, views %+v", h.fired("overvoltage"), views)
	}
	if n := len(h.tickets(wire.Repair)); n != 1 {
		t.Fatalf("%d repair tickets, want 1", n)
	}
}

// An input flapping across the threshold 100 times in 10 minutes: 1 ticket.
func TestFlappingOneTicket(t *testing.T) {
	h := newHarness(t, `
devices: [{id: sump, family: power, protocol: modbus_tcp, building: "2"}]
rules:
  - {name: water_high, family: power, point: level, above: 80, clear: 70, ticket: emergency, min_hold: 1m, max_raises_per_hour: 3}
`)
	for i := 0; i < 200; i++ { // 100 crossings up and 100 down, every 3 s
		v := 90.0
		if i%2 == 1 {
			v = 60
		}
		h.read("sump", t0.Add(time.Duration(i)*3*time.Second), "level", v)
	}
	if n := h.fired("water_high"); n > 3 {
		t.Errorf("fired %d times in 10 minutes; the cap is 3 an hour", n)
	}
	if ts := h.tickets(wire.Emergency); len(ts) != 1 {
		t.Fatalf("%d emergency tickets, want 1", len(ts))
	}
}

func TestStateEventOfflineNoData(t *testing.T) {
	h := newHarness(t, `
devices:
  - {id: door1, family: access, protocol: modbus_tcp, building: "3"}
  - {id: panel, family: fire, protocol: modbus_tcp, building: "3"}
  - {id: lift, family: elevator, protocol: modbus_tcp, building: "3"}
rules:
  - {name: door_open, family: access, point: door, in: [2, 3], for: 30s, ticket: none}
  - {name: fire, family: fire, event: fire_alarm, clear_event: reset, ticket: emergency, severity: critical,
     message: {zh: "{building}栋 火警 {source}", en: "Fire alarm in building {building}: {source}"}}
  - {name: entrapment, family: elevator, event: entrapment, clear_after: 10m, ticket: emergency}
  - {name: lift_offline, family: elevator, type: offline, ticket: repair}
  - {name: lift_silent, family: elevator, type: no_data, point: floor, no_data_for: 5m, ticket: none}
  - {name: lift_fault, family: elevator, point: fault, above: 0, ticket: repair}
`)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	h.read("door1", at(0), "door", 2)
	h.read("door1", at(20), "door", 3)
	if h.fired("door_open") != 0 {
		t.Fatal("door_open fired before for")
	}
	h.read("door1", at(31), "door", 2)
	if h.fired("door_open") != 1 {
		t.Fatal("door_open did not fire after 30 s")
	}

	ev := func(dev, typ, src string, active bool, s int) {
		h.event(devices.Event{Device: h.infos[dev], Time: at(s), Type: typ, Source: src, Active: active})
	}
	ev("panel", "fire_alarm", "loop 1 addr 5", true, 40)
	ev("panel", "fire_alarm", "loop 1 addr 5", true, 41) // repeated: updates only
	ev("panel", "fire_alarm", "loop 2 addr 9", true, 42)
	if h.fired("fire") != 2 || len(h.tickets(wire.Emergency)) != 2 {
		t.Fatalf("fire: %d firings, %d tickets", h.fired("fire"), len(h.tickets(wire.Emergency)))
	}
	ev("panel", "reset", "", true, 50)
	views, _ := h.eng.Snapshot(at(50), time.UTC)
	for _, v := range views {
		if v.Rule == "fire" {
			t.Errorf("fire alarm still listed after reset: %+v", v)
		}
	}

	ev("lift", "entrapment", "", true, 60)
	h.tick(at(60 + 9*60))
	if len(h.tickets(wire.Emergency)) != 3 {
		t.Fatal("entrapment did not open an emergency")
	}
	h.tick(at(60 + 10*60))
	views, _ = h.eng.Snapshot(at(60+10*60), time.UTC)
	for _, v := range views {
		if v.Rule == "entrapment" {
			t.Errorf("entrapment not cleared after clear_after: %+v", v)
		}
	}

	// A lift fault, then the box stops answering: offline fires, the fault stays.
	h.read("lift", at(700), "fault", 3, "floor", 5)
	h.health("lift", false, at(700))
	h.health("lift", true, at(710))
	h.tick(at(710 + 5*60))
	// no_data fired twice: once for no floor since the engine started (the
	// Tick at 10 min), once 5 min after the box went silent.
	if h.fired("lift_offline") != 1 || h.fired("lift_silent") != 2 {
		t.Fatalf("offline fired %d, no-data fired %d", h.fired("lift_offline"), h.fired("lift_silent"))
	}
	views, _ = h.eng.Snapshot(at(1100), time.UTC)
	found := false
	for _, v := range views {
		found = found || v.Rule == "lift_fault" && v.Phase == Firing
	}
	if !found {
		t.Fatal("a silent device resolved its fault alarm")
	}
	if n := len(h.tickets(wire.Repair)); n != 2 {
		t.Fatalf("%d repair tickets (fault + offline), want 2", n)
	}
}

func TestMaintenanceWindowSuppresses(t *testing.T) {
	h := newHarness(t, `
devices:
  - {id: m1, family: meter, protocol: modbus_tcp, building: "5"}
  - {id: m2, family: meter, protocol: modbus_tcp, building: "6"}
rules:
  - {name: meter_offline, family: meter, type: offline, ticket: repair}
maintenance:
  - {building: "5", reason: "switchgear replacement", start: 2026-05-01T07:00:00Z, end: 2026-05-01T09:00:00Z}
`)
	h.health("m1", true, t0)
	h.health("m2", true, t0)
	if n := len(h.tickets(wire.Repair)); n != 1 {
		t.Fatalf("%d repair tickets during maintenance of building 5, want 1 (m2)", n)
	}
	views, _ := h.eng.Snapshot(t0, time.UTC)
	var why string
	for _, v := range views {
		if v.Device == "m1" {
			why = v.Suppressed
		}
	}
	if !strings.Contains(why, "switchgear replacement") {
		t.Fatalf("m1 suppressed because %q", why)
	}
	// The window ends and m1 is still offline: ticketed then.
	h.tick(t0.Add(61 * time.Minute))
	if n := len(h.tickets(wire.Repair)); n != 2 {
		t.Fatalf("%d repair tickets after the window, want 2", n)
	}
}
