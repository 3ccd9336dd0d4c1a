package mqtt

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

const testMQTTSection = `broker: tcp://127.0.0.1:1
queue_size: 8
max_payload: 256
queue_bytes: 1024
device_rate: 10
device_burst: 20`

// drain processes everything queued, as the decoding goroutine would.
func drain(s *Streamer, sink *recorder) {
	for {
		select {
		case in := <-s.queue:
			s.process(in, sink)
		default:
			return
		}
	}
}

func TestStreamerRoutesAndFilters(t *testing.T) {
	s := newTestStreamer(t, testConfig(t, testMQTTSection, threeDevices("r-")))
	want := map[string]byte{
		"estate/s1/elevator/+/state": 1, "estate/s1/elevator/+/floor": 1, "estate/s1/elevator/+/status": 1,
		"estate/s1/access/+/state": 1, "estate/s1/access/+/event": 1, "estate/s1/access/+/status": 1,
		"zk/s1/+/rtlog": 1, "spBv1.0/s1/NBIRTH/+": 1, "spBv1.0/s1/NDEATH/+": 1,
	}
	got := s.Filters()
	if len(got) != len(want) {
		t.Fatalf("filters %v, want %v", got, want)
	}
	for f, q := range want {
		if got[f] != q {
			t.Errorf("filter %s qos %d, want %d", f, got[f], q)
		}
	}
	if _, d := s.resolve("estate/s1/access/r-ctl-405419896/event"); d == nil || d.cfg.ID != "r-door-1" {
		t.Errorf("topic_id not routed to its device: %v", d)
	}
	if _, d := s.resolve("estate/s1/access/r-door-1/event"); d != nil {
		t.Errorf("device id routed although its topic_id differs")
	}
}

func TestStreamerDecodesIntoSink(t *testing.T) {
	s := newTestStreamer(t, testConfig(t, testMQTTSection, threeDevices("d-")))
	sink := newRecorder()
	now := time.Now()
	s.receive(now, "estate/s1/elevator/d-lift-1/state", []byte(`{"floor":3,"running":false,"door":"closed","door_zone":false,"passenger":true,"entrapment":true,"fault_code":"Err41"}`))
	s.receive(now, "estate/s1/elevator/d-lift-1/floor", []byte("4"))
	s.receive(now, "estate/s1/access/d-ctl-405419896/event", []byte(`{"event":{"reason":38,"door":2}}`))
	s.receive(now, "zk/s1/d-zk-1/rtlog", []byte(`{"event":100,"door":1}`))
	drain(s, sink)
	if v, ok := sink.value("d-lift-1", "floor"); !ok || v != 4 {
		t.Errorf("floor %v %v", v, ok)
	}
	if v, ok := sink.value("d-lift-1", "fault_code"); !ok || v != 41 {
		t.Errorf("fault_code %v %v", v, ok)
	}
	e, ok := sink.event("d-lift-1", "entrapment", true)
	if !ok || e.Attrs["floor"] != "3" || e.Attrs["occupancy"] != "occupied" || e.Device.Building != "2" {
		t.Errorf("entrapment %+v %v", e, ok)
	}
	// The code table's words in both languages: the Chinese alarm message shows TextZH.
	if e, ok := sink.event("d-lift-1", "fault", true); !ok || e.Text != "Safety circuit disconnected" || e.TextZH != "安全回路断开" {
		t.Errorf("fault %+v", e)
	}
	if e, ok := sink.event("d-door-1", "door_forced", true); !ok || e.Source != "door 2" || e.Text != "Forced open" || e.TextZH != "门被强行打开" {
		t.Errorf("door_forced %+v", e)
	}
	if _, ok := sink.event("d-zk-1", "tamper", true); !ok {
		t.Errorf("zkteco tamper missing: %+v", sink.events)
	}
	// Publishing brought the devices online.
	if err, ok := sink.health["d-lift-1"]; !ok || err != nil {
		t.Errorf("lift health %v %v", err, ok)
	}
	if _, ok := sink.event("d-lift-1", EventOffline, false); !ok {
		t.Errorf("no presence event for the lift")
	}
	if u := sink.readings[0].Device.Units; u == nil {
		t.Errorf("no units")
	}
}

func TestStreamerPresence(t *testing.T) {
	s := newTestStreamer(t, testConfig(t, testMQTTSection, threeDevices("p-")))
	sink := newRecorder()
	t0 := time.Now()
	s.receive(t0, "estate/s1/elevator/p-lift-1/status", []byte("online"))
	s.receive(t0, "spBv1.0/s1/NBIRTH/p-zk-1", []byte{0x08, 0x01}) // Sparkplug payloads are protobuf: not read
	drain(s, sink)
	if _, ok := sink.event("p-zk-1", EventOffline, false); !ok {
		t.Fatal("birth did not bring the panel online")
	}
	s.receive(t0.Add(time.Second), "estate/s1/elevator/p-lift-1/status", []byte("offline"))
	s.receive(t0.Add(time.Second), "spBv1.0/s1/NDEATH/p-zk-1", nil)
	s.receive(t0.Add(time.Second), "estate/s1/elevator/p-lift-1/status", []byte("sideways"))
	drain(s, sink)
	for _, id := range []string{"p-lift-1", "p-zk-1"} {
		if e, ok := sink.event(id, EventOffline, true); !ok || sink.health[id] == nil {
			t.Errorf("%s not offline: %+v %v", id, e, sink.health[id])
		}
	}
	if got := testutil.ToFloat64(s.m.bad.WithLabelValues("p-lift-1", reasonWrongType)); got != 1 {
		t.Errorf("bad status counted %v", got)
	}
	// The access controller never spoke: offline once its silence (60s) has passed.
	s.report(t0.Add(61*time.Second), sink)
	if _, ok := sink.event("p-door-1", EventOffline, true); !ok {
		t.Errorf("silent controller not offline")
	}
}

func TestStreamerBadInputCounted(t *testing.T) {
	s := newTestStreamer(t, testConfig(t, testMQTTSection, threeDevices("b-")))
	sink := newRecorder()
	now := time.Now()
	// The streamer's metrics are its own (a private registry): no other test counts there.
	count := func(dev, reason string) float64 {
		return testutil.ToFloat64(s.m.bad.WithLabelValues(dev, reason))
	}

	s.receive(now, "estate/s1/elevator/b-lift-99/state", []byte(`{"floor":1}`))           // no such device
	s.receive(now, "estate/s1/elevator/b-lift-1/state", []byte(strings.Repeat("x", 300))) // over max_payload 256
	s.receive(now, "estate/s1/elevator/b-lift-1/state", []byte(`{"floor":`))              // malformed
	s.receive(now, "estate/s1/elevator/b-lift-1/state", []byte(`{"floor":"high","passenger":true}`))
	drain(s, sink)
	if got := count(unknownDevice, reasonUnknownTopic); got != 1 {
		t.Errorf("unknown topic counted %v", got)
	}
	if got := count("b-lift-1", reasonOversized); got != 1 {
		t.Errorf("oversized counted %v", got)
	}
	if got := count("b-lift-1", reasonMalformed); got != 1 {
		t.Errorf("malformed counted %v", got)
	}
	if got := count("b-lift-1", reasonWrongType); got != 1 {
		t.Errorf("wrong type counted %v", got)
	}
	if v, ok := sink.value("b-lift-1", "passenger"); !ok || v != 1 {
		t.Errorf("the good point of a message with a bad one was lost")
	}

	// A flood from the door controller: its burst (20) passes, the rest is
	// dropped and counted for it alone; the queue (8) overflows first.
	for i := 0; i < 100; i++ {
		s.receive(now, "estate/s1/access/b-ctl-405419896/state", []byte(`{"door_open":false}`))
	}
	if got := count("b-door-1", reasonQueueFull); got != 12 {
		t.Errorf("queue overflow counted %v, want 12 (burst 20 - queue 8)", got)
	}
	if got := count("b-door-1", reasonFlood); got != 80 {
		t.Errorf("flood counted %v, want 80", got)
	}
	// The elevator, publishing at its normal rate, is not held back by the flood.
	drain(s, sink)
	s.receive(now, "estate/s1/elevator/b-lift-1/state", []byte(`{"floor":9}`))
	drain(s, sink)
	if v, _ := sink.value("b-lift-1", "floor"); v != 9 {
		t.Errorf("elevator message lost during another device's flood")
	}
	if s.queuedBytes.Load() != 0 {
		t.Errorf("queued bytes %d after draining", s.queuedBytes.Load())
	}
}

func TestStreamerTimers(t *testing.T) {
	s := newTestStreamer(t, testConfig(t, testMQTTSection, threeDevices("t-")))
	sink := newRecorder()
	t0 := time.Now()
	s.receive(t0, "estate/s1/elevator/t-lift-1/state", []byte(`{"floor":3,"running":false,"door":"closed","door_zone":false,"passenger":true}`))
	s.receive(t0, "estate/s1/access/t-ctl-405419896/event", []byte(`{"event":{"reason":1,"door":1}}`))
	s.receive(t0, "estate/s1/access/t-ctl-405419896/event", []byte(`{"event":{"reason":23,"door":1}}`))
	drain(s, sink)
	if len(sink.events) != 2 { // two presence events; nothing else yet
		t.Fatalf("events before the limits: %+v", sink.events)
	}
	s.tick(t0.Add(1100*time.Millisecond), sink)
	if _, ok := sink.event("t-lift-1", "entrapment", true); !ok {
		t.Errorf("inferred entrapment not raised after entrapment_after (1s)")
	}
	if _, ok := sink.event("t-door-1", "door_held", true); !ok {
		t.Errorf("door not held open after held_open_after (1s)")
	}
}
