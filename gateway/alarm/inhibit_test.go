package alarm

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/estatehq/estate/internal/wire"
)

// feederConfig is 300 meters on feeder 1a (building 1) and 50 on feeder 2a
// (building 2), each polled every second.
func feederConfig() string {
	var b strings.Builder
	b.WriteString("devices:\n")
	for i := range 300 {
		fmt.Fprintf(&b, "  - {id: m1-%03d, family: meter, protocol: modbus_tcp, building: \"1\"}\n", i)
	}
	for i := range 50 {
		fmt.Fprintf(&b, "  - {id: m2-%03d, family: meter, protocol: modbus_tcp, building: \"2\"}\n", i)
	}
	b.WriteString(`  - {id: inc2, family: power, protocol: modbus_tcp, building: "2"}
topology:
  outage_grace: 2m
  feeders:
    - {id: f1a, building: "1", buildings: ["1"], silent_share: 0.8, silent_within: 10s}
    - {id: f2a, building: "2", buildings: ["2"], incomer: {device: inc2, point: voltage, below: 50}}
rules:
  - {name: meter_offline, family: meter, type: offline, ticket: repair,
     message: {zh: "{unit} 电表无应答", en: "meter {device} does not answer"}}
  - {name: zero_voltage, family: meter, point: voltage, below: 1, ticket: repair, suppress_on_outage: true}
`)
	return b.String()
}

// feederSilent makes the meters of a list fall silent at the same moment: the
// gateway marks each offline after 3 failed polls, spread over one poll
// cycle, while the other feeder's meters keep answering.
func (h *harness) run(from, to time.Duration, silent func(id string, at time.Duration) bool) {
	for s := from; s <= to; s += time.Second {
		now := t0.Add(s)
		for i, d := range h.cfg.Devices {
			// Each device's poll lands at its own offset within the second.
			at := now.Add(time.Duration(i%100) * 10 * time.Millisecond)
			h.health(d.ID, silent(d.ID, s), at)
		}
		h.tick(now.Add(999 * time.Millisecond))
	}
}

func TestFeederOutageOneEmergencyNoOfflineTickets(t *testing.T) {
	h := newHarness(t, feederConfig())
	cut, back := 60*time.Second, 5*time.Minute
	dead := "m1-123" // does not come back with the power
	h.run(0, 10*time.Minute, func(id string, s time.Duration) bool {
		if !strings.HasPrefix(id, "m1-") {
			return false
		}
		// offline after 3 failed polls
		return s >= cut+3*time.Second && (s < back || id == dead)
	})
	em := h.tickets(wire.Emergency)
	if len(em) != 1 || !strings.Contains(em[0].Title, "f1a") {
		t.Fatalf("emergencies: %d %+v", len(em), em)
	}
	rep := h.tickets(wire.Repair)
	if len(rep) != 1 || rep[0].Device != dead {
		t.Fatalf("after the power came back: repairs %+v, want one for %s (still silent after the grace)", rep, dead)
	}
	suppressed := 0
	for _, tr := range h.trs {
		if tr.Rule.Name == "meter_offline" && tr.State == StateFiring && tr.Suppressed.Muted() {
			suppressed++
		}
	}
	if suppressed != 300 {
		t.Errorf("%d offline alarms recorded as suppressed, want 300", suppressed)
	}
	notes, _ := h.desk.ListNotes(t.Context(), em[0].ID)
	if len(notes) != 1 || !strings.Contains(notes[0].Body, "cleared") {
		t.Errorf("the emergency got no note when the power came back: %+v", notes)
	}
}

func TestOneSilentMeterIsACommunicationFault(t *testing.T) {
	h := newHarness(t, feederConfig())
	h.run(0, 2*time.Minute, func(id string, s time.Duration) bool { return id == "m1-007" && s >= 30*time.Second })
	if n := len(h.tickets(wire.Emergency)); n != 0 {
		t.Fatalf("%d emergencies for one silent meter", n)
	}
	rep := h.tickets(wire.Repair)
	if len(rep) != 1 || rep[0].Device != "m1-007" {
		t.Fatalf("repairs %+v, want exactly one for m1-007", rep)
	}
}

func TestIncomerAtZeroVolts(t *testing.T) {
	h := newHarness(t, feederConfig())
	h.run(0, 5*time.Second, func(string, time.Duration) bool { return false })
	h.read("inc2", t0.Add(6*time.Second), "voltage", 0.4)
	// The meters of building 2 read 0 V (their load side is dead) before they fall silent.
	for i := range 50 {
		h.read(fmt.Sprintf("m2-%03d", i), t0.Add(7*time.Second), "voltage", 0)
	}
	if em := h.tickets(wire.Emergency); len(em) != 1 || !strings.Contains(em[0].DescriptionEN, "incomer inc2") {
		t.Fatalf("emergencies %+v", em)
	}
	if n := len(h.tickets(wire.Repair)); n != 0 {
		t.Fatalf("%d zero-voltage repairs during the outage", n)
	}
}

// After a feeder's outage the gateway's poller may back off a meter that failed
// through it for longer than outage_grace: the meter is not heard from until
// then. Its silence after the grace is no evidence of a fault of its own, so it
// gets no repair; its next poll decides (here: it answers). A meter polled
// during the grace and still silent gets its repair as before.
func TestMeterNotPolledSincePowerBackGetsNoRepair(t *testing.T) {
	h := newHarness(t, feederConfig())
	cut, back := 60*time.Second, 5*time.Minute
	const slow, dead = "m1-050", "m1-123"
	grace := 2 * time.Minute
	for s := time.Duration(0); s <= 10*time.Minute; s += time.Second {
		now := t0.Add(s)
		for i, d := range h.cfg.Devices {
			if d.ID == slow && s >= back && s < back+grace+time.Minute {
				continue // backed off: not polled from the power's return until well after the grace
			}
			silent := strings.HasPrefix(d.ID, "m1-") && s >= cut+3*time.Second && (s < back || d.ID == dead)
			h.health(d.ID, silent, now.Add(time.Duration(i%100)*10*time.Millisecond))
		}
		h.tick(now.Add(999 * time.Millisecond))
	}
	rep := h.tickets(wire.Repair)
	if len(rep) != 1 || rep[0].Device != dead {
		t.Fatalf("repairs %+v, want one for %s only (%s was not polled until after the grace)", rep, dead, slow)
	}
}
