package cjt188

import (
	"context"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/estatehq/estate/devices"
	"github.com/estatehq/estate/devices/serial"
	"github.com/estatehq/estate/gateway/scheduler"
	"github.com/estatehq/estate/internal/config"
)

var testTime = time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)

// prepaidProfile is the shipped profile of a household prepaid water meter.
var prepaidProfile = func() string {
	b, err := os.ReadFile("../../configs/profiles/cjt188-prepaid-water.yaml")
	if err != nil {
		panic(err)
	}
	return string(b)
}()

func mustProfile(t testing.TB, text string) *Profile {
	t.Helper()
	p, err := ParseProfile("test", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func testDevice(port, addr string, sw *Switches) config.Device {
	return Device{Device: config.Device{ID: "water-" + addr, Family: Family, Protocol: Protocol, Profile: "cjt188-prepaid-water",
		PollInterval: 100 * time.Millisecond, Timeout: 300 * time.Millisecond},
		Options: Options{Address: addr, Serial: &serial.Config{Port: port, Baud: 9600}, CJT188: sw}}.Config()
}

func testEnv(devs ...config.Device) devices.Env {
	cfg := &config.Config{File: "../../configs/test.yaml", Gateway: config.Gateway{ProfilesDir: "profiles"}, Devices: devs}
	return devices.Env{Config: cfg}
}

// openDriver opens a meter's driver as the gateway does (the protocol's Open).
func openDriver(t testing.TB, env devices.Env, dev config.Device) *Driver {
	t.Helper()
	d, err := open(env, dev, devices.NewInfo("test", dev))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d.(*Driver)
}

// serveMeters starts a simulated bus with the meters until the test ends.
func serveMeters(t *testing.T, meters ...*SimMeter) *SimBus {
	t.Helper()
	return serveMetersAt(t, serial.Settings{}, meters...)
}

// serveMetersAt is serveMeters with replies paced at the line's settings.
func serveMetersAt(t *testing.T, line serial.Settings, meters ...*SimMeter) *SimBus {
	t.Helper()
	sim, err := NewSimBus("")
	if err != nil {
		t.Fatal(err)
	}
	sim.Settings = line
	for _, m := range meters {
		sim.Add(m)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = sim.Run(ctx) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
	return sim
}

func addr(t testing.TB, s string) Address {
	t.Helper()
	a, err := ParseAddress(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func value(t *testing.T, r devices.Reading, point string) float64 {
	t.Helper()
	v, ok := r.Get(point)
	if !ok {
		t.Fatalf("reading has no good %s: %+v", point, r.Values)
	}
	return v
}

// Two meters on one line, read through a pseudo-terminal: their volumes,
// remaining amounts, valves and batteries; a meter drawing water runs its
// balance down and shuts its valve at zero; faults show in the status word.
func TestPollPrepaidMetersOnOneLine(t *testing.T) {
	a, b := &SimMeter{Addr: addr(t, "101"), Volume: 12.34, SettlementVolume: 10, Balance: 0.5, Flow: 1, Speed: 3600, PricePerM3: 4},
		&SimMeter{Addr: addr(t, "102"), Volume: 3, Balance: 80, PurchaseCount: 2, LastPurchase: 50, TotalPurchased: 100}
	sim := serveMeters(t, a, b)
	da, db := testDevice(sim.Path(), "101", nil), testDevice(sim.Path(), "102", nil)
	env := testEnv(da, db)
	drvA, drvB := openDriver(t, env, da), openDriver(t, env, db)
	if ka, _ := drvA.Bus(); ka != "cjt188:"+sim.Path() {
		t.Errorf("bus key %s", ka)
	}
	ctx := context.Background()

	r, err := drvB.Poll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for point, want := range map[string]float64{"volume": 3, "balance": 80, "purchase_count": 2, "last_purchase": 50,
		"total_purchased": 100, "valve": ValveStateOpen, "battery_low": 0} {
		if v := value(t, r, point); v != want {
			t.Errorf("meter 102 %s = %v, want %v", point, v, want)
		}
	}
	// Meter 101 spends 4 yuan an hour of use, an hour a second: 0.5 yuan
	// lasts an eighth of a second, then its valve shuts for arrears.
	deadline := time.Now().Add(10 * time.Second)
	for {
		r, err = drvA.Poll(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if v, _ := r.Get("valve"); v == ValveStateClosed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the valve never closed: %+v", r.Values)
		}
	}
	if bal := value(t, r, "balance"); bal != 0 {
		t.Errorf("balance %v after the valve closed for arrears", bal)
	}
	if vol := value(t, r, "volume"); vol < 12.45 || vol > 12.47 {
		t.Errorf("volume %v: 0.5 yuan at 4 yuan/m³ is 0.125 m³ on top of 12.34", vol)
	}
	// The household stops drawing as it tops up, so the balance stays at 20.
	sim.With(a.Addr, func(m *SimMeter) { m.Flow = 0; m.TopUp(20) })
	sim.With(b.Addr, func(m *SimMeter) { m.ValveFault, m.BatteryLow = true, true })
	r, _ = drvB.Poll(ctx)
	if value(t, r, "valve") != ValveStateFault || value(t, r, "battery_low") != 1 {
		t.Errorf("faults not in the status word: %+v", r.Values)
	}
	r, _ = drvA.Poll(ctx)
	if value(t, r, "valve") != ValveStateOpen || value(t, r, "balance") != 20 || value(t, r, "purchase_count") != 1 {
		t.Errorf("after a top-up: %+v", r.Values)
	}

	// A silent meter is an error of the poll, which counts towards offline.
	sim.With(b.Addr, func(m *SimMeter) { m.Silent = true })
	if _, err := drvB.Poll(ctx); !errors.Is(err, ErrTimeout) {
		t.Errorf("silent meter: %v", err)
	}
}

// The valve is controlled only where the device allows it, with the
// meter's password where it wants one; a meter in arrears keeps it shut.
func TestValveControl(t *testing.T) {
	m := &SimMeter{Addr: addr(t, "7"), Balance: 10, Password: []byte{0x12, 0x34}}
	sim := serveMeters(t, m)
	ctx := context.Background()
	locked := testDevice(sim.Path(), "7", nil)
	if err := openDriver(t, testEnv(locked), locked).Valve(ctx, ValveClose); err == nil {
		t.Fatal("valve closed on a device that does not allow it")
	}

	wrong := testDevice(sim.Path(), "7", &Switches{ValveControl: true, Password: "1235"})
	var refused *ErrorReply
	if err := openDriver(t, testEnv(wrong), wrong).Valve(ctx, ValveClose); !errors.As(err, &refused) {
		t.Fatalf("wrong password: %v", err)
	}
	dev := testDevice(sim.Path(), "7", &Switches{ValveControl: true, Password: "1234"})
	d := openDriver(t, testEnv(dev), dev)
	if err := d.Valve(ctx, ValveClose); err != nil {
		t.Fatal(err)
	}
	sim.With(m.Addr, func(m *SimMeter) {
		if !m.ValveClosed() {
			t.Error("valve open after close")
		}
		m.TopUp(5) // a remote close holds over a top-up
		if !m.ValveClosed() {
			t.Error("a top-up opened a valve closed by command")
		}
	})
	if err := d.Valve(ctx, ValveOpen); err != nil {
		t.Fatal(err)
	}
	sim.With(m.Addr, func(m *SimMeter) { m.Balance = 0 })
	if err := d.Valve(ctx, ValveClose); err != nil {
		t.Fatal(err)
	}
	if err := d.Valve(ctx, ValveOpen); !errors.As(err, &refused) {
		t.Errorf("opened a valve in arrears: %v", err)
	}
}

// Read and write address on a line with one meter, and discovery of three
// meters that answer a broadcast at once.
func TestAddressesAndDiscovery(t *testing.T) {
	one := &SimMeter{Addr: addr(t, "78330011223344"), Type: TypeHotWater}
	sim := serveMeters(t, one)
	bus := NewBus(serial.Settings{Port: sim.Path(), Baud: 9600, DataBits: 8, Parity: 'E', StopBits: 1}, nil)
	defer bus.Close()
	ctx := context.Background()
	a, typ, err := bus.ReadAddress(ctx, 200*time.Millisecond)
	if err != nil || a != one.Addr || typ != TypeHotWater {
		t.Fatalf("read address: %s %02X %v", a, typ, err)
	}
	to := addr(t, "78330011223399")
	if err := bus.WriteAddress(ctx, TypeAny, Broadcast, to, 200*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if a, _, err := bus.ReadAddress(ctx, 200*time.Millisecond); err != nil || a != to {
		t.Fatalf("after write address: %s %v", a, err)
	}

	// Three meters: 201 and 301 share A0 (01), 202 does not.
	many := serveMeters(t, &SimMeter{Addr: addr(t, "201")}, &SimMeter{Addr: addr(t, "301")}, &SimMeter{Addr: addr(t, "202")})
	// A fast line: 201 probes each wait their whole timeout for a second reply.
	mb := NewBus(serial.Settings{Port: many.Path(), Baud: 115200, DataBits: 8, Parity: 'E', StopBits: 1}, nil)
	defer mb.Close()
	if _, _, err := mb.ReadAddress(ctx, 100*time.Millisecond); !errors.Is(err, ErrCollision) {
		t.Fatalf("read address of three meters: %v", err)
	}
	probes := 0
	found, err := mb.Discover(ctx, 50*time.Millisecond, func(Address, int, error) { probes++ })
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, f := range found {
		got[f.Addr.String()] = true
	}
	if len(found) != 3 || !got["00000000000201"] || !got["00000000000301"] || !got["00000000000202"] {
		t.Errorf("found %v", found)
	}
	if probes != 1+100+100 {
		t.Errorf("%d probes; want the broadcast, 100 for A0 and 100 for A1 under A0 = 01", probes)
	}
}

// A meter that wants its identifiers high byte first is read so, and its
// replies are recognised either way.
func TestHighFirstOrder(t *testing.T) {
	sim := serveMeters(t, &SimMeter{Addr: addr(t, "5"), Volume: 7, Balance: 9})
	bus := NewBus(serial.Settings{Port: sim.Path(), Baud: 9600, DataBits: 8, Parity: 'E', StopBits: 1}, nil)
	defer bus.Close()
	for _, o := range []Order{LowFirst, HighFirst} {
		v, err := bus.Read(context.Background(), TypeColdWater, addr(t, "5"), DIPurchase, o, 200*time.Millisecond)
		if err != nil {
			t.Fatalf("%s: %v", o, err)
		}
		if bal, _ := formats["XXXXXX.XX"].Decode(v[9:]); bal != 9 {
			t.Errorf("%s: balance %v", o, bal)
		}
	}
}

func TestValidate(t *testing.T) {
	good := testDevice("/dev/ttyUSB0", "101", &Switches{ValveControl: true, FlowWatch: &FlowWatch{Night: "23:00-05:00"}})
	dup := testDevice("/dev/ttyUSB0", "101", nil)
	dup.ID = "dup"
	bad := Device{Device: config.Device{ID: "bad", Family: Family, Protocol: Protocol, Profile: "nope"},
		Options: Options{Address: "12x", CJT188: &Switches{Password: "xyz", FlowWatch: &FlowWatch{Night: "25:00-01:00", JumpFactor: 0.5}}}}.Config()
	cfg := testEnv(good, dup, bad).Config
	var msgs []string
	for i, d := range cfg.Devices {
		for _, p := range validate(cfg, d, "devices["+string(rune('0'+i))+"]") {
			msgs = append(msgs, p.Field+": "+p.Msg)
		}
	}
	want := []string{"devices[1].address", "devices[2].cjt188.password", "devices[2].cjt188.flow_watch.jump_factor",
		"devices[2].cjt188.flow_watch.night", "devices[2].address", "devices[2].serial", "devices[2].profile"}
	if len(msgs) != len(want) {
		t.Fatalf("problems:\n%v", msgs)
	}
	for i, w := range want {
		if len(msgs[i]) < len(w) || msgs[i][:len(w)] != w {
			t.Errorf("problem %d: %s, want %s…", i, msgs[i], w)
		}
	}
}

func TestProfileProblems(t *testing.T) {
	for _, tc := range []struct{ name, text string }{
		{"protocol", "name: x\nprotocol: dlt645\npoints: [{name: v, di: '901F', format: volume}]\n"},
		{"meter type", "name: x\nprotocol: cjt188\nmeter_type: 0x30\npoints: [{name: v, di: '901F', format: volume}]\n"},
		{"di", "name: x\nprotocol: cjt188\npoints: [{name: v, di: '901', format: volume}]\n"},
		{"format", "name: x\nprotocol: cjt188\npoints: [{name: v, di: '901F', format: float}]\n"},
		{"field on a volume", "name: x\nprotocol: cjt188\npoints: [{name: v, di: '901F', format: volume, field: valve}]\n"},
		{"flow_from", "name: x\nprotocol: cjt188\nflow_from: w\npoints: [{name: v, di: '901F', format: volume}]\n"},
		{"di_order", "name: x\nprotocol: cjt188\ndi_order: middle\npoints: [{name: v, di: '901F', format: volume}]\n"},
		{"twice", "name: x\nprotocol: cjt188\npoints: [{name: v, di: '901F', format: volume}, {name: v, di: '901F', offset: 5, format: volume}]\n"},
	} {
		if _, err := ParseProfile("t", []byte(tc.text)); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
}

// The derived flow is the volume's rise over the window, in m³/h.
func TestDerivedFlow(t *testing.T) {
	p := mustProfile(t, prepaidProfile)
	dev := DeviceOf(testDevice("x", "1", nil))
	m := newMeter(dev, devices.NewInfo("s", dev.Config()), Address{1}, p, time.UTC)
	at := testTime
	reading := func(vol float64) devices.Reading {
		r := devices.Reading{Time: at, Values: []devices.Value{{Point: "volume", Value: vol, Quality: devices.Good}}}
		m.derive(&r)
		return r
	}
	if _, ok := reading(10).Get(PointFlow); ok {
		t.Error("a flow from one volume")
	}
	at = at.Add(time.Minute)
	if f, _ := reading(10.02).Get(PointFlow); f < 1.199 || f > 1.201 {
		t.Errorf("0.02 m³ in a minute: %v m³/h, want 1.2", f)
	}
	at = at.Add(10 * time.Minute) // past the window: the rise of the last 5 minutes only
	if f, _ := reading(10.12).Get(PointFlow); f < 0.599 || f > 0.601 {
		t.Errorf("0.1 m³ in ten minutes: %v m³/h, want 0.6", f)
	}
	at = at.Add(time.Minute)
	if _, ok := reading(1).Get(PointFlow); ok {
		t.Error("a flow across a register reset")
	}
}

// Three meters of one port polled by gateway/scheduler as the gateway polls
// them: one line, one transaction at a time (the bus key), every meter read
// on its interval with no timeout from two requests on the wire at once.
func TestScheduledMetersShareTheLine(t *testing.T) {
	ms := []*SimMeter{{Addr: addr(t, "101"), Balance: 30, Flow: 0.6}, {Addr: addr(t, "102"), Balance: 30}, {Addr: addr(t, "103"), Balance: 30}}
	// Paced replies: two requests on the wire at once would collide.
	sim := serveMetersAt(t, serial.Settings{Baud: 9600, DataBits: 8, Parity: 'E', StopBits: 1}, ms...)
	reg := prometheus.NewRegistry()
	var ds []*Driver
	var devs []config.Device
	for _, a := range []string{"101", "102", "103"} {
		devs = append(devs, testDevice(sim.Path(), a, nil))
	}
	env := testEnv(devs...)
	env.Metrics = reg
	for _, d := range devs {
		ds = append(ds, openDriver(t, env, d))
	}
	if ds[0].line != ds[1].line || ds[1].line != ds[2].line {
		t.Fatal("meters on one port do not share its line")
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := scheduler.New(scheduler.Options{})
	var mu sync.Mutex
	polls, fails := map[string]int{}, 0
	for _, d := range ds {
		bus, serialLine := d.Bus()
		s.Add(scheduler.Job{Device: d.m.cfg.ID, Name: d.m.cfg.ID, Bus: bus, Serial: serialLine, Interval: d.m.cfg.PollInterval,
			Run: func(ctx context.Context) error {
				pctx, cancel := context.WithTimeout(ctx, d.PollTimeout())
				defer cancel()
				_, err := d.Poll(pctx)
				mu.Lock()
				defer mu.Unlock()
				if ctx.Err() == nil {
					polls[d.m.cfg.ID]++
					if err != nil {
						fails++
					}
				}
				return err
			}})
	}
	done := make(chan struct{})
	go func() { defer close(done); s.Run(ctx) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		enough := polls["water-101"] >= 5 && polls["water-102"] >= 5 && polls["water-103"] >= 5
		mu.Unlock()
		if enough {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("polls %v", polls)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-done
	if fails > 0 {
		t.Errorf("%d polls failed on a shared line: %v", fails, polls)
	}
	if n := testutil.ToFloat64(ds[0].line.m.transactions.WithLabelValues("ok")); n < 30 {
		t.Errorf("%v transactions ok, want two per poll", n)
	}
	if got := testutil.CollectAndCount(reg, "estate_cjt188_sweep_seconds"); got != 1 {
		t.Errorf("sweep histogram series: %d", got)
	}
}

// A main meter with a flow watch: the polls' derived flow feeds the watch
// (the readings' own times are its clock), and a burst after two steady
// hours comes out of TakeEvents as a flow_jump event of the device.
func TestMainMeterFlowJumpEvent(t *testing.T) {
	p := mustProfile(t, prepaidProfile)
	dev := DeviceOf(testDevice("x", "9", &Switches{FlowWatch: &FlowWatch{}}))
	m := newMeter(dev, devices.NewInfo("s", dev.Config()), Address{9}, p, time.UTC)
	d := &Driver{m: m}
	at, vol := testTime, 1000.0
	poll := func(flow float64) {
		r := devices.Reading{Device: m.info, Time: at, Values: []devices.Value{{Point: "volume", Value: vol, Quality: devices.Good}}}
		d.events = append(d.events, m.derive(&r)...)
		at = at.Add(time.Minute)
		vol += flow / 60
	}
	for range 150 {
		poll(2) // 2 m³/h for two and a half hours
	}
	if es := d.TakeEvents(); len(es) != 0 {
		t.Fatalf("events from a steady flow: %+v", es)
	}
	for range 7 {
		poll(12) // a burst: after the 5-minute window the derived flow is 12 m³/h
	}
	es := d.TakeEvents()
	if len(es) != 1 || es[0].Type != "flow_jump" || !es[0].Active || es[0].Device != m.info {
		t.Fatalf("events %+v", es)
	}
}
