package dlt645

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/estatehq/estate/devices"
)

// Relay control through a real pseudo-terminal: the right password trips and
// recloses the relay, a wrong one is refused with the meter's password error.
func TestRelayControlThroughPTY(t *testing.T) {
	sim, err := NewSimBus("")
	if err != nil {
		t.Fatal(err)
	}
	a, _ := ParseAddress("7")
	meter := &SimMeter{Addr: a, Balance: 30, Password: [4]byte{0x02, 0x12, 0x34, 0x56}}
	sim.Add(meter)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = sim.Run(ctx) }()

	_, devs, _ := testConfig(sim.Path(), "7")
	dev := devs[0]
	if _, _, err := RelayCredentials(dev); err == nil {
		t.Fatal("a device without dlt645.relay_control may be controlled")
	}
	optionsOf(dev).DLT645 = &Switches{RelayControl: true, Password: "02123456", Operator: "00000001"}
	password, operator, err := RelayCredentials(dev)
	if err != nil {
		t.Fatal(err)
	}
	bus := NewBus(LineOf(dev), nil)
	defer bus.Close()
	until := time.Now().Add(time.Hour)
	if err := bus.ControlRelay(ctx, a, password, operator, RelayTrip, until, time.Second); err != nil {
		t.Fatalf("trip: %v", err)
	}
	if !meter.RelayOpen() {
		t.Fatal("the relay did not trip")
	}
	meter.TopUp(50) // money does not close a relay opened by command
	if !meter.RelayOpen() {
		t.Fatal("a top-up closed a relay tripped by command")
	}
	err = bus.ControlRelay(ctx, a, [4]byte{0x02, 0, 0, 0}, operator, RelayAllowClose, until, time.Second)
	var refused *ErrorReply
	if !errors.As(err, &refused) || refused.Code&ErrBitPassword == 0 || !strings.Contains(err.Error(), "password") {
		t.Fatalf("wrong password: %v", err)
	}
	if err := bus.ControlRelay(ctx, a, password, operator, RelayAllowClose, until, time.Second); err != nil {
		t.Fatalf("allow close: %v", err)
	}
	if meter.RelayOpen() {
		t.Fatal("the relay did not close")
	}
}

// The line sets the meters' clocks only when every meter on it allows it.
func TestTimeSyncOnlyWhenEveryMeterAllows(t *testing.T) {
	ctx := t.Context()
	sim := serveMeters(t, ctx, "1", "2")
	a1, _ := ParseAddress("1")
	a2, _ := ParseAddress("2")

	start := func(allowSecond bool) (stop func()) {
		cfg, devs, infos := testConfig(sim.Path(), "1", "2")
		cfg.Site.Timezone = "Asia/Shanghai"
		optionsOf(devs[0]).DLT645 = &Switches{TimeSync: true}
		if allowSecond {
			optionsOf(devs[1]).DLT645 = &Switches{TimeSync: true, TimeSyncInterval: time.Hour}
		}
		ds := openDrivers(t, devices.Env{Config: cfg}, devs, infos)
		runCtx, cancelRun := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); runScheduled(runCtx, ds, &recordingSink{}) }()
		return func() {
			cancelRun()
			<-done
			for _, d := range ds {
				_ = d.Close()
			}
		}
	}
	// A line where one meter does not allow it: several sweeps, no broadcast.
	stop := start(false)
	before := sim.Requests()
	eventually(t, "a few sweeps", func() bool { return sim.Requests() >= before+10 })
	stop()
	if !sim.ClockSet(a1).IsZero() || !sim.ClockSet(a2).IsZero() {
		t.Fatal("clocks set although one meter of the line does not allow it")
	}
	stop = start(true)
	eventually(t, "both clocks set", func() bool { return !sim.ClockSet(a1).IsZero() && !sim.ClockSet(a2).IsZero() })
	stop()
	shanghai, _ := time.LoadLocation("Asia/Shanghai")
	want := time.Now().In(shanghai)
	for _, a := range []Address{a1, a2} {
		if got := sim.ClockSet(a); got.Hour() != want.Hour() || got.Day() != want.Day() {
			t.Errorf("meter %s clock set to %v, want the site's local time %v", a, got, want)
		}
	}
}

func TestControlOptionsValidated(t *testing.T) {
	cfg, devs, _ := testConfig("/dev/null", "7")
	dev := devs[0]
	optionsOf(dev).DLT645 = &Switches{RelayControl: true, Password: "12", TimeSyncInterval: time.Second}
	var msgs []string
	for _, p := range validateControl(cfg, DeviceOf(dev), "devices[0]") {
		msgs = append(msgs, p.String())
	}
	all := strings.Join(msgs, "\n")
	for _, want := range []string{"devices[0].dlt645.password: required for relay_control", "devices[0].dlt645.operator", "devices[0].dlt645.time_sync_interval: must be at least 1m"} {
		if !strings.Contains(all, want) {
			t.Errorf("missing %q in:\n%s", want, all)
		}
	}
}
