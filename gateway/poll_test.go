package gateway

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/estatehq/estate/devices"
	"github.com/estatehq/estate/devices/modbus"
	"github.com/estatehq/estate/devices/serial"
	"github.com/estatehq/estate/gateway/health"
	"github.com/estatehq/estate/gateway/scheduler"
	"github.com/estatehq/estate/internal/config"
)

const busProfile = `
name: bus-meter
limits: {max_gap: 4}
points:
  - {name: voltage, table: input, address: 0, type: float32, unit: V, group: fast}
  - {name: current, table: input, address: 2, type: float32, unit: A, group: fast}
  - {name: energy,  table: holding, address: 100, type: uint32, scale: 0.01, unit: kWh, group: slow}
`

// Three meters and a dead slave on one RTU line (a pseudo-terminal), and a
// TCP meter that is not there: the healthy ones stay online, the one with a
// failing point is degraded, the silent ones go offline, and /metrics says so.
func TestGatewayPollsBusesAndTracksHealth(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "profiles"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "profiles", "bus-meter.yaml"), []byte(busProfile), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := modbus.LoadProfile(filepath.Join(dir, "profiles", "bus-meter.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	slaves := map[byte]*modbus.Slave{1: modbus.NewSlave(p), 2: modbus.NewSlave(p)}
	for _, s := range slaves {
		_ = s.Set("voltage", 230)
		_ = s.Set("energy", 10)
	}
	slaves[2].SetFaults(modbus.Faults{Exceptions: map[uint16]byte{100: 4}})
	sim, err := modbus.NewRTUSimulator(slaves, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()

	line := &serial.Config{Port: sim.Path(), Baud: 19200, Parity: "E"}
	dev := func(id string, slave int) config.Device {
		return modbus.NewDevice(config.Device{ID: id, Family: "meter", Protocol: modbus.ProtocolRTU, Profile: "bus-meter",
			PollInterval: 100 * time.Millisecond, Timeout: 50 * time.Millisecond},
			modbus.Options{SlaveID: slave, Serial: line, PollGroups: map[string]time.Duration{"slow": 300 * time.Millisecond}})
	}
	cfg := &config.Config{
		File:     filepath.Join(dir, "site.yaml"),
		Site:     config.Site{ID: "s"},
		Gateway:  config.Gateway{ID: "gw", ProfilesDir: "profiles", OfflineAfter: 2, DeskURL: "http://127.0.0.1:1", DeskToken: "0123456789abcdef", StateDir: dir},
		InfluxDB: config.InfluxDB{URL: "http://127.0.0.1:1", Bucket: "b", BatchSize: 100, FlushInterval: time.Second, Timeout: 100 * time.Millisecond},
		Devices: []config.Device{dev("rtu-1", 1), dev("rtu-2", 2), dev("rtu-9", 9),
			modbus.NewDevice(config.Device{ID: "tcp-gone", Family: "meter", Protocol: modbus.ProtocolTCP, Profile: "bus-meter",
				PollInterval: 100 * time.Millisecond, Timeout: 50 * time.Millisecond}, modbus.Options{Address: "127.0.0.1:1", SlaveID: 1})},
	}
	cfg.ApplyDefaults()
	reg := prometheus.NewRegistry()
	g, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), WithRegisterer(reg))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stopped := make(chan struct{})
	go func() { defer close(stopped); _ = g.Run(ctx) }()

	// Run until every device has reached the state it must reach and the
	// healthy meter has had fifteen polls beside its dead neighbour: how long
	// that takes depends on the machine, not on the gateway.
	want := map[string]health.State{"rtu-1": health.Online, "rtu-2": health.Degraded, "rtu-9": health.Offline, "tcp-gone": health.Offline}
	settled := func() bool {
		for id, state := range want {
			if d, ok := g.Health().Get(id); !ok || d.State != state {
				return false
			}
		}
		d1, _ := g.Health().Get("rtu-1")
		return d1.Polls >= 15
	}
	for deadline := time.Now().Add(30 * time.Second); !settled(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			break // the checks below say what is missing
		}
	}
	cancel()
	<-stopped

	for id, state := range want {
		d, ok := g.Health().Get(id)
		if !ok || d.State != state {
			t.Errorf("%s: %+v, want %s", id, d, state)
		}
		if got := testutil.ToFloat64(healthGauge(reg, id, string(state))); got != 1 {
			t.Errorf("%s: estate_device_state{state=%q} = %v", id, state, got)
		}
	}
	d1, _ := g.Health().Get("rtu-1")
	d9, _ := g.Health().Get("rtu-9")
	t.Logf("polls: healthy %d, dead %d", d1.Polls, d9.Polls)
	if d1.Polls < 15 {
		t.Errorf("rtu-1 polled %d times beside a dead neighbour", d1.Polls)
	}
	d2, _ := g.Health().Get("rtu-2")
	if d2.FailingPoints["energy"] == "" || d2.ErrorsByKind["exception_slave_device_failure"] == 0 {
		t.Errorf("rtu-2 failing points %v, errors %v", d2.FailingPoints, d2.ErrorsByKind)
	}
	// Backoff keeps the dead slave's polls well below the healthy meter's,
	// whatever the machine's speed.
	if d9.ErrorsByKind["timeout"] == 0 || d9.Polls*3 > d1.Polls*2 {
		t.Errorf("dead slave: %d polls beside the healthy meter's %d (backoff should keep them few), errors %v", d9.Polls, d1.Polls, d9.ErrorsByKind)
	}
}

// healthGauge reads estate_device_state from the registry the gateway was given.
func healthGauge(reg prometheus.Gatherer, device, state string) prometheus.Collector {
	mfs, _ := reg.Gather()
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "x"})
	for _, mf := range mfs {
		if mf.GetName() != "estate_device_state" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["device"] == device && labels["state"] == state {
				g.Set(m.GetGauge().GetValue())
			}
		}
	}
	return g
}

// Four meters on one 9600-baud RTU line, each polled every 50 ms: twice what
// the line can carry. The scheduler keeps one transaction at a time on it,
// none fails, turns that cannot be had are skipped (counted), and every meter
// gets its fair share. How close the line comes to its wire limit is a speed,
// measured by BenchmarkRTUBusWireLimit, not asserted here: a loaded machine
// slows every turn without anything being wrong.
func TestRTUBusSharedFairly(t *testing.T) {
	p, sim := rtuBus(t)
	s := rtuBusScheduler(t, sim.Path(), p)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { defer close(done); s.Run(ctx) }()
	// Wait until each meter has had a few turns and some turns were skipped.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		st := s.Stats()
		least := uint64(1 << 63)
		for _, js := range st.Jobs {
			least = min(least, js.Runs)
		}
		if len(st.Jobs) == 4 && least >= 5 && st.Skipped > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30 s: %+v", st)
		}
	}
	cancel()
	<-done
	st := s.Stats()
	if st.Errors > 0 {
		t.Errorf("%d polls failed on a healthy line", st.Errors)
	}
	lo, hi := uint64(1<<63), uint64(0)
	for _, js := range st.Jobs {
		lo, hi = min(lo, js.Runs), max(hi, js.Runs)
	}
	if hi-lo > 2 {
		t.Errorf("unfair: %d to %d polls per meter", lo, hi)
	}
}

// BenchmarkRTUBusWireLimit reports how much of a 9600-baud line's wire limit
// the scheduler and the RTU driver use with four meters asking for more than
// it carries (wire-%, 100 = every character time in use).
func BenchmarkRTUBusWireLimit(b *testing.B) {
	p, sim := rtuBus(b)
	s := rtuBusScheduler(b, sim.Path(), p)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	b.ResetTimer()
	start := time.Now()
	go func() { defer close(done); s.Run(ctx) }()
	for s.Stats().Runs < uint64(b.N) {
		time.Sleep(5 * time.Millisecond) // between looks at the counters
	}
	cancel()
	<-done
	elapsed := time.Since(start)
	b.StopTimer()
	st := s.Stats()
	// A read of 2 registers: 8 request and 9 answer characters, plus the
	// 3.5-character silence before the next request.
	perTx := time.Duration(20.5 * float64(modbus.CharTime(rtuBaud)))
	limit := elapsed.Seconds() / perTx.Seconds()
	b.ReportMetric(100*float64(st.Runs)/limit, "wire-%")
	b.ReportMetric(float64(st.Errors), "errors")
}

const rtuBaud = 9600

// rtuBus serves four meters of one float32 point on a simulated RTU line.
func rtuBus(tb testing.TB) (*modbus.Profile, *modbus.RTUSimulator) {
	tb.Helper()
	p, err := modbus.ParseProfile("t", []byte("name: t\npoints:\n  - {name: v, table: input, address: 0, type: float32}\n"))
	if err != nil {
		tb.Fatal(err)
	}
	slaves := map[byte]*modbus.Slave{}
	for id := range byte(4) {
		slaves[id+1] = modbus.NewSlave(p)
	}
	sim, err := modbus.NewRTUSimulator(slaves, rtuBaud)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { sim.Close() })
	return p, sim
}

// rtuBusScheduler polls the four meters every 50 ms on one bus.
func rtuBusScheduler(tb testing.TB, path string, p *modbus.Profile) *scheduler.Scheduler {
	s := scheduler.New(scheduler.Options{})
	for id := 1; id <= 4; id++ {
		dev := modbus.NewDevice(config.Device{ID: fmt.Sprint("m", id), Protocol: modbus.ProtocolRTU, PollInterval: 50 * time.Millisecond,
			Timeout: 200 * time.Millisecond}, modbus.Options{SlaveID: id, Serial: &serial.Config{Port: path, Baud: rtuBaud}})
		d := modbus.NewDriver(dev, p, &devices.Info{Units: map[string]string{}})
		tb.Cleanup(func() { d.Close() })
		bus, serial := d.Bus()
		s.Add(scheduler.Job{Device: dev.ID, Name: dev.ID, Bus: bus, Serial: serial, Interval: dev.PollInterval,
			Run: func(ctx context.Context) error { _, err := d.Poll(ctx); return err }})
	}
	return s
}
