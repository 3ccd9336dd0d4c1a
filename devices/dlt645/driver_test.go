package dlt645

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/estatehq/estate/devices"
	"github.com/estatehq/estate/internal/config"
)

// recordingSink keeps what a streamer reports.
type recordingSink struct {
	mu       sync.Mutex
	readings []devices.Reading
	events   []devices.Event
	health   map[string]error
}

func (s *recordingSink) Reading(r devices.Reading) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.readings = append(s.readings, r)
}

func (s *recordingSink) Event(e devices.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, e)
}

func (s *recordingSink) Health(device string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.health == nil {
		s.health = map[string]error{}
	}
	s.health[device] = err
}

// last returns the newest reading of a device.
func (s *recordingSink) last(device string) (devices.Reading, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.readings) - 1; i >= 0; i-- {
		if s.readings[i].Device.ID == device {
			return s.readings[i], true
		}
	}
	return devices.Reading{}, false
}

func testConfig(port string, addrs ...string) (*config.Config, []config.Device, []*devices.Info) {
	cfg := &config.Config{File: "../../configs/test.yaml", Gateway: config.Gateway{ProfilesDir: "profiles"}}
	var devs []config.Device
	var infos []*devices.Info
	for _, a := range addrs {
		d := config.Device{ID: "meter-" + a, Family: "meter", Protocol: Protocol, Profile: "dlt645-prepaid-single-phase",
			Address: a, PollInterval: 100 * time.Millisecond, Timeout: 300 * time.Millisecond,
			Serial: &config.Serial{Port: port, Baud: 9600}}
		cfg.Devices = append(cfg.Devices, d)
		devs = append(devs, d)
		infos = append(infos, devices.NewInfo("test", d))
	}
	return cfg, devs, infos
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The driver reads a bus of simulated prepaid meters through a real
// pseudo-terminal with devices/serial: balances run down and a relay trips, a
// silent meter is reported unhealthy while its neighbours answer, an
// identifier a meter lacks is asked once, and a meter that comes back with a
// higher power-failure count yields the outage evidence.
func TestSweepThroughPTY(t *testing.T) {
	bus, err := NewSimBus("")
	if err != nil {
		t.Fatal(err)
	}
	a1, _ := ParseAddress("000000000101")
	a2, _ := ParseAddress("000000000102")
	a3, _ := ParseAddress("000000000103")
	bus.Add(&SimMeter{Addr: a1, Balance: 1, DrainPerSecond: 2, Alarm1: 10, Alarm2: 5, PowerFailures: 3})
	bus.Add(&SimMeter{Addr: a2, Balance: 50, Silent: true})
	bus.Add(&SimMeter{Addr: a3, Balance: 80, DrainPerSecond: 0.1, Alarm1: 10, Alarm2: 5,
		Unsupported: map[DI]bool{0x02800002: true}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	simDone := make(chan error, 1)
	go func() { simDone <- bus.Run(ctx) }()

	cfg, devs, infos := testConfig(bus.Path(), "000000000101", "000000000102", "000000000103")
	for i, d := range devs {
		if ps := validate(cfg, d, "devices"); len(ps) > 0 {
			t.Fatalf("device %d: %v", i, ps)
		}
	}
	st, err := openStream(devices.Env{Config: cfg}, devs, infos)
	if err != nil {
		t.Fatal(err)
	}
	sink := &recordingSink{}
	runDone := make(chan error, 1)
	go func() { runDone <- st.Run(ctx, sink) }()

	eventually(t, "meter 101 to trip", func() bool {
		r, ok := sink.last("meter-000000000101")
		relay, ok2 := r.Get("relay")
		return ok && ok2 && relay == 0
	})
	r, _ := sink.last("meter-000000000101")
	if v, _ := r.Get("balance"); v != 0 {
		t.Errorf("balance of a tripped meter = %v, want 0", v)
	}
	if v, ok := r.Get("current"); !ok || v != 0 {
		t.Errorf("current after trip = %v %v", v, ok)
	}
	if v, ok := r.Get("alarm_level_1"); !ok || v != 10 {
		t.Errorf("alarm level 1 = %v %v", v, ok)
	}
	if v, ok := r.Get("energy_import"); !ok || v <= 0 {
		t.Errorf("energy = %v %v", v, ok)
	}
	if v, ok := r.Get("voltage"); !ok || v < 200 || v > 240 {
		t.Errorf("voltage = %v %v", v, ok)
	}

	eventually(t, "meter 103 to be read a few times", func() bool {
		sink.mu.Lock()
		defer sink.mu.Unlock()
		n := 0
		for _, r := range sink.readings {
			if r.Device.ID == "meter-000000000103" {
				n++
			}
		}
		return n >= 4
	})
	r3, _ := sink.last("meter-000000000103")
	if _, ok := r3.Get("frequency"); ok {
		t.Error("meter 103 has no frequency; the point must be left out")
	}
	if v, ok := r3.Get("balance"); !ok || v < 70 || v > 80 {
		t.Errorf("meter 103 balance %v %v", v, ok)
	}
	sink.mu.Lock()
	silentErr := sink.health["meter-000000000102"]
	okErr := sink.health["meter-000000000103"]
	sink.mu.Unlock()
	if silentErr == nil || okErr != nil {
		t.Errorf("health: silent meter %v, answering meter %v", silentErr, okErr)
	}

	// Meter 101 loses power (silent), then comes back with its count up.
	bus.With(a1, func(m *SimMeter) { m.Silent = true })
	eventually(t, "meter 101 silent", func() bool {
		sink.mu.Lock()
		defer sink.mu.Unlock()
		return sink.health["meter-000000000101"] != nil
	})
	bus.With(a1, func(m *SimMeter) { m.Silent = false; m.PowerFailures++ })
	eventually(t, "the outage evidence", func() bool {
		sink.mu.Lock()
		defer sink.mu.Unlock()
		return len(sink.events) > 0
	})
	sink.mu.Lock()
	ev := sink.events[0]
	sink.mu.Unlock()
	if ev.Type != "power_restored" || ev.Attrs["power_failures"] != "4" || ev.Attrs["was_silent"] != "true" {
		t.Errorf("event %+v", ev)
	}
	r, _ = sink.last("meter-000000000101")
	if v, ok := r.Get(PointPowerFailuresNew); !ok || v != 1 {
		t.Errorf("%s = %v %v", PointPowerFailuresNew, v, ok)
	}

	cancel()
	if err := <-runDone; err != nil {
		t.Fatal(err)
	}
	if err := <-simDone; err != nil {
		t.Fatal(err)
	}
}

// A block read that the meter does not support falls back to single reads,
// and an unsupported identifier is asked once, not every poll.
func TestUnsupportedRemembered(t *testing.T) {
	bus, err := NewSimBus("")
	if err != nil {
		t.Fatal(err)
	}
	a, _ := ParseAddress("1")
	bus.Add(&SimMeter{Addr: a, Balance: 30, Unsupported: map[DI]bool{0x0201FF00: true, 0x02800002: true}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = bus.Run(ctx) }()
	cfg, devs, infos := testConfig(bus.Path(), "1")
	cfg.Devices[0].Profile = "dlt645-prepaid-single-phase"
	st, err := openStream(devices.Env{Config: cfg}, devs, infos)
	if err != nil {
		t.Fatal(err)
	}
	l := st.(*Streamer).lines[0]
	m := l.meters[0]
	sink := &recordingSink{}
	for range 3 {
		l.poll(ctx, m, sink)
	}
	before := bus.Requests()
	l.poll(ctx, m, sink)
	perPoll := bus.Requests() - before
	if perPoll != m.Requests()-1 {
		t.Errorf("a poll made %d requests; the plan has %d reads of which 1 (frequency) is known unsupported", perPoll, m.Requests())
	}
	for _, rd := range m.reads {
		if rd.block && rd.di == 0x0201FF00 {
			t.Error("the refused block is still planned")
		}
	}
	r, _ := sink.last(devs[0].ID)
	if v, ok := r.Get("voltage"); !ok || v < 200 {
		t.Errorf("voltage read singly after the block was refused: %v %v", v, ok)
	}
}

// Follow-up frames: a meter that splits a block over several frames.
func TestFollowUpThroughPTY(t *testing.T) {
	bus, err := NewSimBus("")
	if err != nil {
		t.Fatal(err)
	}
	bus.MaxValueBytes = 5
	a, _ := ParseAddress("7")
	bus.Add(&SimMeter{Addr: a, EnergyKWh: 317.76})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = bus.Run(ctx) }()
	b := NewBus(lineOf(config.Device{Serial: &config.Serial{Port: bus.Path(), Baud: 9600}}))
	defer b.Close()
	v, err := b.Read(ctx, a, 0x0001FF00, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// The simulated meter has the total and two tariffs: 3 energies of 4
	// bytes, split over 3 frames of at most 5 value bytes.
	if len(v) != 12 {
		t.Fatalf("block of %d bytes, want 3 energies of 4", len(v))
	}
	total, _ := Items[0x00010000].Format.Decode(v[:4])
	if total != 317.76 {
		t.Fatalf("total %v", total)
	}
	got, err := b.ReadAddress(ctx, time.Second)
	if err != nil || got != a {
		t.Fatalf("read address: %v %v", got, err)
	}
}
