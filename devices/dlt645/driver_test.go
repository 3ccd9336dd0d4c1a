package dlt645

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/estatehq/estate/devices"
	"github.com/estatehq/estate/devices/serial"
	"github.com/estatehq/estate/gateway/scheduler"
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

// optionsOf is a test device's options, to change in place.
func optionsOf(dev config.Device) *Options { return dev.ProtocolOptions.(*Options) }

func testConfig(port string, addrs ...string) (*config.Config, []config.Device, []*devices.Info) {
	cfg := &config.Config{File: "../../configs/test.yaml", Gateway: config.Gateway{ProfilesDir: "profiles"}}
	var devs []config.Device
	var infos []*devices.Info
	for _, a := range addrs {
		d := Device{Device: config.Device{ID: "meter-" + a, Family: "meter", Protocol: Protocol, Profile: "dlt645-prepaid-single-phase",
			PollInterval: 100 * time.Millisecond, Timeout: 300 * time.Millisecond},
			Options: Options{Address: a, Serial: &serial.Config{Port: port, Baud: 9600}}}.Config()
		cfg.Devices = append(cfg.Devices, d)
		devs = append(devs, d)
		infos = append(infos, devices.NewInfo("test", d))
	}
	return cfg, devs, infos
}

// openDrivers opens one driver per meter as the gateway does (the
// protocol's Open), and closes them when the test ends.
func openDrivers(t testing.TB, env devices.Env, devs []config.Device, infos []*devices.Info) []*Driver {
	t.Helper()
	var ds []*Driver
	for i, dev := range devs {
		d, err := open(env, dev, infos[i])
		if err != nil {
			t.Fatal(err)
		}
		ds = append(ds, d.(*Driver))
	}
	t.Cleanup(func() {
		for _, d := range ds {
			_ = d.Close()
		}
	})
	return ds
}

// pollInto polls once and reports to the sink what the gateway's pollOnce
// would: health, the events found, the reading of a meter that answered.
func pollInto(ctx context.Context, d *Driver, sink *recordingSink) error {
	r, err := d.Poll(ctx)
	if ctx.Err() != nil {
		return nil
	}
	sink.Health(d.m.cfg.ID, err)
	for _, e := range d.TakeEvents() {
		sink.Event(e)
	}
	if err == nil {
		sink.Reading(r)
	}
	return err
}

// runScheduled polls the meters on gateway/scheduler until ctx ends, one job
// per meter on its line's bus, as the gateway does.
func runScheduled(ctx context.Context, ds []*Driver, sink *recordingSink) {
	s := scheduler.New(scheduler.Options{})
	for _, d := range ds {
		bus, serialLine := d.Bus()
		s.Add(scheduler.Job{Device: d.m.cfg.ID, Name: d.m.cfg.ID, Bus: bus, Serial: serialLine, Interval: d.m.cfg.PollInterval,
			Run: func(ctx context.Context) error {
				pollCtx, cancel := context.WithTimeout(ctx, d.PollTimeout())
				defer cancel()
				return pollInto(pollCtx, d, sink)
			}})
	}
	s.Run(ctx)
}

// eventually polls cond until it holds (or fails the test after 10 s).
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
	reg := prometheus.NewRegistry()
	ds := openDrivers(t, devices.Env{Config: cfg, Metrics: reg}, devs, infos)
	if ds[0].line != ds[1].line || ds[1].line != ds[2].line {
		t.Fatal("meters on one port do not share its line")
	}
	for _, d := range ds {
		if bus, serialLine := d.Bus(); bus != "dlt645:"+bus0(ds) || !serialLine {
			t.Fatalf("Bus() = %q %v", bus, serialLine)
		}
	}
	sink := &recordingSink{}
	runDone := make(chan struct{})
	go func() { defer close(runDone); runScheduled(ctx, ds, sink) }()

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
	// The reading of that poll says the count rose by one (the event comes
	// first, and the next polls say 0 again: look for it among them).
	eventually(t, "the reading with "+PointPowerFailuresNew+" = 1", func() bool {
		sink.mu.Lock()
		defer sink.mu.Unlock()
		for _, r := range sink.readings {
			if v, ok := r.Get(PointPowerFailuresNew); ok && v == 1 && r.Device.ID == "meter-000000000101" {
				return true
			}
		}
		return false
	})

	cancel()
	<-runDone
	if err := <-simDone; err != nil {
		t.Fatal(err)
	}
	// The line's metrics are on the registry the gateway passed.
	if n := testutil.CollectAndCount(ds[0].line.m.sweepSeconds); n != 1 {
		t.Errorf("estate_dlt645_sweep_seconds: %d series, want one for the port", n)
	}
	if ok := testutil.ToFloat64(ds[0].line.m.transactions.WithLabelValues("ok")); ok < 10 {
		t.Errorf("estate_dlt645_transactions_total{result=ok} = %v", ok)
	}
	if n, err := testutil.GatherAndCount(reg, "estate_dlt645_transactions_total", "estate_dlt645_sweep_seconds"); err != nil || n < 3 {
		t.Errorf("DL/T 645 metrics on the injected registry: %d series, %v", n, err)
	}
}

func bus0(ds []*Driver) string { return ds[0].line.port }

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
	d := openDrivers(t, devices.Env{Config: cfg}, devs, infos)[0]
	m := d.m
	sink := &recordingSink{}
	for range 3 {
		_ = pollInto(ctx, d, sink)
	}
	before := bus.Requests()
	_ = pollInto(ctx, d, sink)
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
	b := NewBus(lineOf(Device{Options: Options{Serial: &serial.Config{Port: bus.Path(), Baud: 9600}}}), nil)
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

// The meters of one port share one line, opened once; the last driver to
// close closes the port and forgets the line.
func TestLineSharedAndReleased(t *testing.T) {
	ctx := t.Context()
	sim := serveMeters(t, ctx, "1", "2")
	cfg, devs, infos := testConfig(sim.Path(), "1", "2")
	var ds []*Driver
	for i, dev := range devs {
		d, err := open(devices.Env{Config: cfg}, dev, infos[i])
		if err != nil {
			t.Fatal(err)
		}
		ds = append(ds, d.(*Driver))
	}
	l := ds[0].line
	linesMu.Lock()
	shared := lines[sim.Path()] == l && l.refs == 2 && ds[1].line == l
	linesMu.Unlock()
	if !shared {
		t.Fatal("the two meters of one port do not share one line")
	}
	sink := &recordingSink{}
	for _, d := range ds {
		if err := pollInto(ctx, d, sink); err != nil {
			t.Fatal(err)
		}
	}
	if l.bus.port == nil {
		t.Fatal("the line is not open after polls")
	}
	if err := ds[0].Close(); err != nil {
		t.Fatal(err)
	}
	if l.bus.port == nil {
		t.Fatal("the first Close closed the line its neighbour still uses")
	}
	if err := pollInto(ctx, ds[1], sink); err != nil {
		t.Fatalf("the remaining meter: %v", err)
	}
	if err := ds[1].Close(); err != nil {
		t.Fatal(err)
	}
	linesMu.Lock()
	_, still := lines[sim.Path()]
	linesMu.Unlock()
	if still || l.bus.port != nil {
		t.Fatal("the last Close left the line open")
	}
	if err := ds[1].Close(); err != nil {
		t.Fatalf("a second Close: %v", err)
	}
}

// A sweep is the line's busy time to read every meter once: observed when
// the last meter of a round is polled, as the sum of each meter's latest poll.
func TestSweepIsEveryMeterOnce(t *testing.T) {
	reg := prometheus.NewRegistry()
	mt := newMetrics(reg)
	a, b := &meter{}, &meter{}
	l := &line{port: "/dev/ttyS9", m: mt, meters: []*meter{a, b}, busy: map[*meter]time.Duration{}, swept: map[*meter]bool{}}
	obs := func() (uint64, float64) {
		h := &dto.Metric{}
		if err := mt.sweepSeconds.WithLabelValues("/dev/ttyS9").(prometheus.Histogram).Write(h); err != nil {
			t.Fatal(err)
		}
		return h.GetHistogram().GetSampleCount(), h.GetHistogram().GetSampleSum()
	}
	l.swept1(a, 100*time.Millisecond)
	l.swept1(a, 120*time.Millisecond) // polled again before b: its latest time counts
	if n, _ := obs(); n != 0 {
		t.Fatalf("a sweep observed before every meter was polled")
	}
	l.swept1(b, 200*time.Millisecond)
	if n, sum := obs(); n != 1 || sum < 0.3199 || sum > 0.3201 {
		t.Fatalf("sweeps %d, sum %v s; want one of 0.32 s", n, sum)
	}
	l.swept1(b, 210*time.Millisecond)
	l.swept1(a, 100*time.Millisecond)
	if n, sum := obs(); n != 2 || sum < 0.6299 || sum > 0.6301 {
		t.Fatalf("sweeps %d, sum %v s; want a second of 0.31 s", n, sum)
	}
	// A second line (or gateway) on the same registry shares the collectors.
	if newMetrics(reg).sweepSeconds != mt.sweepSeconds {
		t.Fatal("metrics registered twice on one registry are not shared")
	}
}

// A poll's budget covers every planned read at the meter's timeout: the
// prepaid profile's dozen reads at 2400 baud outlast four timeouts.
func TestPollTimeoutCoversEveryRead(t *testing.T) {
	cfg, devs, infos := testConfig("/dev/null", "1")
	optionsOf(devs[0]).Serial.Baud = 2400
	devs[0].Timeout = 500 * time.Millisecond
	d := openDrivers(t, devices.Env{Config: cfg}, devs, infos)[0]
	if got, min := d.PollTimeout(), time.Duration(d.Requests())*devs[0].Timeout; got < min || got <= 4*devs[0].Timeout {
		t.Fatalf("PollTimeout %v for %d reads of %v", got, d.Requests(), devs[0].Timeout)
	}
}

// serveMeters serves meters of 30 yuan at the given addresses on a simulated
// bus until ctx ends.
func serveMeters(t *testing.T, ctx context.Context, addrs ...string) *SimBus {
	t.Helper()
	sim, err := NewSimBus("")
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		addr, err := ParseAddress(a)
		if err != nil {
			t.Fatal(err)
		}
		sim.Add(&SimMeter{Addr: addr, Balance: 30})
	}
	go func() { _ = sim.Run(ctx) }()
	return sim
}
