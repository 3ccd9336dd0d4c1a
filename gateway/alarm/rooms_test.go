package alarm

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/estatehq/estate/desk/ticket"
	"github.com/estatehq/estate/devices"
	"github.com/estatehq/estate/internal/config"
	"github.com/estatehq/estate/internal/wire"
)

// The grouping decision, step by step on an injected clock: sensors of one
// room join one incident, a sensor that dries and gets wet again is no news,
// the incident clears after keep_for with every sensor dry, and water after
// that is a new episode.
func TestDecideRoom(t *testing.T) {
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	type step struct {
		obs     RoomObservation
		want    RoomDecision
		phase   Phase
		sensors string // ids of the wet sensors, in order
	}
	wet := func(s string, sec int) RoomObservation { return RoomObservation{Sensor: s, Wet: true, At: at(sec)} }
	dry := func(s string, sec int) RoomObservation { return RoomObservation{Sensor: s, At: at(sec)} }
	tick := func(sec int) RoomObservation { return RoomObservation{At: at(sec)} }
	for _, tc := range []struct {
		name   string
		timing Timing
		steps  []step
	}{
		{"two sensors, one incident, then a second episode", Timing{KeepFor: 2 * time.Minute}, []step{
			{wet("a", 0), RoomOpened, Firing, "a"},
			{wet("a", 5), RoomNone, Firing, "a"}, // the same sensor again
			{wet("b", 10), RoomJoined, Firing, "a b"},
			{dry("a", 20), RoomLeft, Firing, "b"},
			{wet("a", 25), RoomNone, Firing, "a b"}, // listed already: no new note
			{dry("a", 30), RoomLeft, Firing, "b"},
			{dry("b", 40), RoomClearing, Firing, ""},
			{tick(100), RoomNone, Firing, ""},      // keep_for not yet
			{wet("b", 120), RoomNone, Firing, "b"}, // water again while clearing: the same incident
			{dry("b", 130), RoomClearing, Firing, ""},
			{tick(250), RoomResolved, Inactive, ""},
			{dry("a", 260), RoomNone, Inactive, ""},
			{wet("b", 300), RoomOpened, Firing, "b"}, // a new episode
		}},
		{"for: a sensor that joins while pending is in the opening evidence", Timing{For: 10 * time.Second}, []step{
			{wet("a", 0), RoomPending, Pending, "a"},
			{wet("b", 3), RoomNone, Pending, "a b"},
			{tick(10), RoomOpened, Firing, "a b"},
			{wet("c", 11), RoomJoined, Firing, "a b c"},
		}},
		{"a drop that dries before for opens nothing and forgets its sensors", Timing{For: 10 * time.Second}, []step{
			{wet("a", 0), RoomPending, Pending, "a"},
			{dry("a", 4), RoomNone, Inactive, ""},
			{tick(20), RoomNone, Inactive, ""},
			{wet("b", 30), RoomPending, Pending, "b"},
		}},
		{"a device's reset dries all its probes, not the others", Timing{}, []step{
			{wet("m1/water_leak_1", 0), RoomOpened, Firing, "m1/water_leak_1"},
			{wet("m1/water_leak_2", 1), RoomJoined, Firing, "m1/water_leak_1 m1/water_leak_2"},
			{wet("m10", 2), RoomJoined, Firing, "m1/water_leak_1 m1/water_leak_2 m10"},
			{RoomObservation{Sensor: "m1", Reset: true, At: at(3)}, RoomLeft, Firing, "m10"},
			{RoomObservation{Reset: true, At: at(4)}, RoomResolved, Inactive, ""},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var st RoomState
			for i, s := range tc.steps {
				var dec RoomDecision
				st, _, dec = DecideRoom(st, s.obs, tc.timing)
				var ids []string
				for _, x := range st.Sensors {
					if x.Wet {
						ids = append(ids, x.ID)
					}
				}
				if dec != s.want || st.Phase != s.phase || strings.Join(ids, " ") != s.sensors {
					t.Fatalf("step %d (%+v): %s, %q, wet %q; want %s, %q, wet %q", i, s.obs, dec, st.Phase, ids, s.want, s.phase, s.sensors)
				}
			}
		})
	}
}

// DecideRoom does not change the state it is given (the engine undoes a
// failed commit with its copy).
func TestDecideRoomLeavesItsInput(t *testing.T) {
	st := RoomState{Sensors: []RoomSensor{{ID: "a", Since: t0, Wet: true}}}
	st.Phase, st.FiredAt = Firing, t0
	_, _, _ = DecideRoom(st, RoomObservation{Sensor: "a", At: t0.Add(time.Second)}, Timing{})
	if !st.Sensors[0].Wet {
		t.Fatal("the input's sensors were changed")
	}
}

const leakSite = `
devices:
  - {id: leak-a, family: leak, protocol: modbus_tcp, building: "1", floor: B1, room: "B1 水泵房", location: pump_room}
  - {id: leak-b, family: leak, protocol: mqtt, building: "1", floor: B1, room: "B1 水泵房", location: pump_room}
  - {id: leak-pit, family: leak, protocol: mqtt, building: "1", floor: B2, room: "1号梯底坑", location: lift_pit}
  - {id: leak-b2, family: leak, protocol: mqtt, building: "2", floor: B1, room: "B1 水泵房", location: pump_room}
`

func leakHarness(t *testing.T) *harness {
	t.Helper()
	shipped, err := config.Load("../../configs/rules/default.yaml")
	if err != nil {
		t.Fatalf("shipped rules: %v", err)
	}
	cfg := loadConfig(t, leakSite)
	cfg.Rules = shipped.Rules
	return newHarnessConfig(t, cfg)
}

func flood(h *harness, dev, probe, room string, wet bool, at time.Time) {
	h.t.Helper()
	ev := devices.Event{Device: h.infos[dev], Time: at, Type: "flooding", Source: room, Active: wet, Attrs: map[string]string{}}
	if probe != "" {
		ev.Attrs["probe"] = probe
	}
	h.event(ev)
}

// Two sensors of one pump room open one P1 flooding emergency whose
// evidence lists them; a later sensor adds a note; another room, or the same
// room name in another building, is another incident; once the room is dry
// for keep_for and the ticket closed, new water opens a new ticket.
func TestFloodingOneIncidentPerRoom(t *testing.T) {
	h := leakHarness(t)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	flood(h, "leak-a", "water_leak_1", "B1 水泵房", true, at(0))
	flood(h, "leak-a", "water_leak_2", "B1 水泵房", true, at(1))
	flood(h, "leak-b", "", "B1 水泵房", true, at(2))
	em := h.tickets(wire.Emergency)
	if len(em) != 1 {
		t.Fatalf("%d emergencies for one room, want 1: %+v", len(em), em)
	}
	tk := em[0]
	if tk.Priority != "P1" || tk.Category != "flooding" || tk.Building != "1" || tk.Unit != "B1 水泵房" || tk.Device != "leak-a" ||
		!strings.Contains(tk.Title, "水浸") || tk.AlarmKey != "s1/flooding/1/B1 水泵房" {
		t.Fatalf("ticket %+v", tk)
	}
	if !strings.Contains(tk.Description, "leak-a/water_leak_1") {
		t.Errorf("description does not name the first sensor: %q", tk.Description)
	}
	notes := h.notes(tk.ID)
	for _, want := range []string{"leak-a/water_leak_2", "leak-b"} {
		if !strings.Contains(notes, "传感器 "+want+" 也检测到水") {
			t.Errorf("no note that %s joined: %s", want, notes)
		}
	}
	if got := h.fired("flooding"); got != 1 {
		t.Errorf("flooding fired %d times, want once", got)
	}

	// Another room, and a room of the same name in another building.
	flood(h, "leak-pit", "", "1号梯底坑", true, at(5))
	flood(h, "leak-b2", "", "B1 水泵房", true, at(6))
	if em := h.tickets(wire.Emergency); len(em) != 3 {
		t.Fatalf("%d emergencies for three rooms, want 3", len(em))
	}

	// The pump room dries: one sensor, then the rest; keep_for 2m.
	flood(h, "leak-a", "water_leak_1", "B1 水泵房", false, at(60))
	flood(h, "leak-a", "water_leak_2", "B1 水泵房", false, at(61))
	h.tick(at(100))
	flood(h, "leak-b", "", "B1 水泵房", false, at(110))
	h.tick(at(200))
	h.tick(at(231))
	if n := resolved(h, "s1/flooding/1/B1 水泵房"); n != 1 {
		t.Fatalf("pump room resolved %d times, want 1", n)
	}
	if notes := h.notes(tk.ID); !strings.Contains(notes, "告警已恢复") {
		t.Errorf("no clearing note: %s", notes)
	}
	if st := h.ticket(tk.ID).Status; st == wire.Closed {
		t.Fatalf("an emergency was closed by its alarm")
	}
	h.closeTicket(tk.ID)

	// A second episode: a new ticket.
	flood(h, "leak-b", "", "B1 水泵房", true, at(400))
	var n int
	for _, e := range h.tickets(wire.Emergency) {
		if e.AlarmKey == "s1/flooding/1/B1 水泵房" {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("%d tickets for the pump room after a second episode, want 2", n)
	}

	// A restart keeps the open incident and its sensors: a sensor seen
	// before is no news, a new one joins.
	h.now = at(410)
	h.start()
	flood(h, "leak-b", "", "B1 水泵房", true, at(411))
	flood(h, "leak-a", "water_leak_1", "B1 水泵房", true, at(412))
	if got := h.fired("flooding"); got != 4 {
		t.Errorf("flooding fired %d times in all, want 4 (pump room twice, pit, building 2)", got)
	}
	views, _ := h.eng.Snapshot(at(413), time.UTC)
	for _, v := range views {
		if v.Key == "s1/flooding/1/B1 水泵房" && !strings.Contains(v.MessageZH, "leak-a/water_leak_1") {
			t.Errorf("evidence after the restart: %q", v.MessageZH)
		}
	}
}

func resolved(h *harness, key string) (n int) {
	for _, tr := range h.trs {
		if tr.Key == key && tr.State == StateResolved {
			n++
		}
	}
	return n
}

func (h *harness) notes(id int64) string {
	h.t.Helper()
	ns, err := h.desk.ListNotes(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	var b strings.Builder
	for _, n := range ns {
		b.WriteString(n.Body + "\n")
	}
	return b.String()
}

func (h *harness) ticket(id int64) wire.Ticket {
	h.t.Helper()
	tk, err := h.desk.GetTicket(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	return tk
}

// closeTicket ends a ticket as people would (here: cancelled as handled).
func (h *harness) closeTicket(id int64) {
	h.t.Helper()
	if _, err := h.desk.Transition(context.Background(), id, ticket.Change{Action: ticket.Cancel, Note: "pumped out"}, "test", t0); err != nil {
		h.t.Fatal(err)
	}
}
