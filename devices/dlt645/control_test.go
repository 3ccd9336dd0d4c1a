package dlt645

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/estatehq/estate/devices"
	"github.com/estatehq/estate/devices/serial"
	"github.com/estatehq/estate/internal/config"
)

// The password and operator code as DL/T 645-2007 sends them (the default
// order), byte for byte: typed "02123456" and "00000001", a trip of meter
// 000000000007 holding until 2026-12-04 21:30:00. Written by hand:
//
//	68 07 00 00 00 00 00 68   start, address A0…A5 (low first), start
//	1C 10                     control code 1CH, 16 data bytes
//	35 89 67 45               PA P0 P1 P2 = 02 56 34 12, each +33H
//	34 33 33 33               C0 C1 C2 C3 = 01 00 00 00, each +33H
//	4D 33                     N1 = 1AH (跳闸) +33H, N2 reserved
//	33 63 54 37 45 59         N3…N8 = ss mm hh DD MM YY 00 30 21 04 12 26 (BCD) +33H
//	79 16                     checksum, end
const tripStandard = "68 07 00 00 00 00 00 68 1C 10 35 89 67 45 34 33 33 33 4D 33 33 63 54 37 45 59 79 16"

// The same typed codes in the order some vendors' tools use (password_order:
// as_typed): 02 12 34 56 and 00 00 00 01.
const tripAsTyped = "68 07 00 00 00 00 00 68 1C 10 35 45 67 89 33 33 33 34 4D 33 33 63 54 37 45 59 79 16"

// Direct close (N1 = 1CH, 合闸直接) in the standard order.
const directCloseStandard = "68 07 00 00 00 00 00 68 1C 10 35 89 67 45 34 33 33 33 4F 33 33 63 54 37 45 59 7B 16"

func hexFrame(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRelayPasswordOnTheWire(t *testing.T) {
	until := time.Date(2026, 12, 4, 21, 30, 0, 0, time.UTC)
	a, _ := ParseAddress("7")
	for _, c := range []struct {
		order, want string
		cmd         byte
	}{{"", tripStandard, RelayTrip}, {OrderStandard, tripStandard, RelayTrip}, {OrderAsTyped, tripAsTyped, RelayTrip},
		{OrderStandard, directCloseStandard, RelayDirectClose}} {
		pw, op, err := WireCodes("02123456", "00000001", c.order)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := AppendEncode(nil, RelayControlRequest(a, pw, op, c.cmd, until), false)
		if want := hexFrame(t, c.want); !bytes.Equal(got, want) {
			t.Errorf("order %q command %02X:\n got % X\nwant % X", c.order, c.cmd, got, want)
		}
	}
	if _, _, err := WireCodes("02123456", "00000001", "big_endian"); err == nil {
		t.Error("an unknown order is accepted")
	}
}

// relayProfiles writes the shipped prepaid profile under another name with a
// relay: block, in a profiles folder of its own; it returns the config of
// meter 7 on port using it.
func relayConfig(t *testing.T, port, relayBlock string, sw *Switches) (*config.Config, config.Device) {
	t.Helper()
	dir := t.TempDir()
	shipped, err := os.ReadFile("../../configs/profiles/dlt645-prepaid-single-phase.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// The shipped relay: block (standard order, no direct close) gives way to the test's.
	text := strings.Replace(string(shipped), "name: dlt645-prepaid-single-phase", "name: relay-test", 1)
	text = regexp.MustCompile(`(?m)^relay:\n(  .*\n)+`).ReplaceAllString(text, "") + relayBlock
	if err := os.MkdirAll(filepath.Join(dir, "profiles"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "profiles", "relay-test.yaml"), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := &config.Config{File: filepath.Join(dir, "site.yaml"), Gateway: config.Gateway{ProfilesDir: "profiles"}}
	dev := Device{Device: config.Device{ID: "meter-7", Family: "meter", Protocol: Protocol, Profile: "relay-test", Timeout: time.Second},
		Options: Options{Address: "7", Serial: &serial.Config{Port: port, Baud: 9600}, DLT645: sw}}.Config()
	cfg.Devices = []config.Device{dev}
	return cfg, dev
}

// Relay control through a real pseudo-terminal: the right password trips and
// recloses the relay, a wrong one is refused with the meter's password error;
// the byte order follows the profile, a device may override it; direct close
// is sent only where the profile allows it and works where the meter accepts it.
func TestRelayControlThroughPTY(t *testing.T) {
	sim, err := NewSimBus("")
	if err != nil {
		t.Fatal(err)
	}
	a, _ := ParseAddress("7")
	meter := &SimMeter{Addr: a, Balance: 30, Password: [4]byte{0x02, 0x56, 0x34, 0x12}} // PA P0 P1 P2 of "02123456"
	sim.Add(meter)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = sim.Run(ctx) }()

	codes := &Switches{RelayControl: true, Password: "02123456", Operator: "00000001"}
	cfg, dev := relayConfig(t, sim.Path(), "", nil)
	if _, err := RelayOf(cfg, dev); err == nil {
		t.Fatal("a device without dlt645.relay_control may be controlled")
	}
	cfg, dev = relayConfig(t, sim.Path(), "", codes)
	relay, err := RelayOf(cfg, dev)
	if err != nil || relay.Order != OrderStandard || relay.Password != [4]byte{0x02, 0x56, 0x34, 0x12} || relay.Operator != [4]byte{1, 0, 0, 0} {
		t.Fatalf("%+v %v", relay, err)
	}
	bus := NewBus(LineOf(dev), nil)
	defer bus.Close()
	until := time.Now().Add(time.Hour)
	if err := bus.ControlRelay(ctx, a, relay.Password, relay.Operator, RelayTrip, until, time.Second); err != nil {
		t.Fatalf("trip: %v", err)
	}
	if !meter.RelayOpen() {
		t.Fatal("the relay did not trip")
	}
	meter.TopUp(50) // money does not close a relay opened by command
	if !meter.RelayOpen() {
		t.Fatal("a top-up closed a relay tripped by command")
	}
	err = bus.ControlRelay(ctx, a, [4]byte{0x02, 0, 0, 0}, relay.Operator, RelayAllowClose, until, time.Second)
	var refused *ErrorReply
	if !errors.As(err, &refused) || refused.Code&ErrBitPassword == 0 || !strings.Contains(err.Error(), "password") {
		t.Fatalf("wrong password: %v", err)
	}
	// The typed order against a meter of the standard order: its password error.
	typed := *codes
	typed.PasswordOrder = OrderAsTyped
	_, tdev := relayConfig(t, sim.Path(), "", &typed)
	tr, _ := relayOf(DeviceOf(tdev), mustProfile(t, cfg, tdev))
	if err := bus.ControlRelay(ctx, a, tr.Password, tr.Operator, RelayAllowClose, until, time.Second); !errors.As(err, &refused) {
		t.Fatalf("as typed to a meter of the standard order: %v", err)
	}
	// Direct close: refused before anything is sent while the profile does not allow it.
	if err := relay.Check(RelayDirectClose, "meter-7", "relay-test"); err == nil || !strings.Contains(err.Error(), "allow_direct_close") {
		t.Fatalf("direct close without the profile's permission: %v", err)
	}
	// A profile that allows it, a meter that does not accept it: the meter's refusal.
	cfg, dev = relayConfig(t, sim.Path(), "relay: {allow_direct_close: true}\n", codes)
	relay, err = RelayOf(cfg, dev)
	if err != nil || relay.Check(RelayDirectClose, "meter-7", "relay-test") != nil {
		t.Fatalf("%+v %v", relay, err)
	}
	if err := bus.ControlRelay(ctx, a, relay.Password, relay.Operator, RelayDirectClose, until, time.Second); !errors.As(err, &refused) || refused.Code&ErrBitOther == 0 {
		t.Fatalf("direct close to a meter without it: %v", err)
	}
	sim.With(a, func(m *SimMeter) { m.AllowDirectClose = true })
	if err := bus.ControlRelay(ctx, a, relay.Password, relay.Operator, RelayDirectClose, until, time.Second); err != nil {
		t.Fatalf("direct close: %v", err)
	}
	if meter.RelayOpen() {
		t.Fatal("the relay did not close")
	}

	// A model of the typed order (its profile says so): its meters take the typed bytes.
	sim.With(a, func(m *SimMeter) { m.Password = [4]byte{0x02, 0x12, 0x34, 0x56} })
	cfg, dev = relayConfig(t, sim.Path(), "relay: {password_order: as_typed}\n", codes)
	relay, err = RelayOf(cfg, dev)
	if err != nil || relay.Order != OrderAsTyped || relay.Password != [4]byte{0x02, 0x12, 0x34, 0x56} || relay.Operator != [4]byte{0, 0, 0, 1} {
		t.Fatalf("%+v %v", relay, err)
	}
	if err := bus.ControlRelay(ctx, a, relay.Password, relay.Operator, RelayTrip, until, time.Second); err != nil || !meter.RelayOpen() {
		t.Fatalf("trip in the typed order: %v", err)
	}
	// …and a device may say standard against its profile.
	std := *codes
	std.PasswordOrder = OrderStandard
	cfg, dev = relayConfig(t, sim.Path(), "relay: {password_order: as_typed}\n", &std)
	if relay, _ = RelayOf(cfg, dev); relay.Order != OrderStandard {
		t.Fatalf("the device's order does not win: %+v", relay)
	}
}

func mustProfile(t *testing.T, cfg *config.Config, dev config.Device) *Profile {
	t.Helper()
	p, err := profileFor(cfg, dev)
	if err != nil {
		t.Fatal(err)
	}
	return p
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
	optionsOf(dev).DLT645 = &Switches{RelayControl: true, Password: "12", TimeSyncInterval: time.Second, PasswordOrder: "reversed"}
	var msgs []string
	for _, p := range validateControl(cfg, DeviceOf(dev), "devices[0]") {
		msgs = append(msgs, p.String())
	}
	all := strings.Join(msgs, "\n")
	for _, want := range []string{"devices[0].dlt645.password: required for relay_control", "devices[0].dlt645.operator", "devices[0].dlt645.time_sync_interval: must be at least 1m", "devices[0].dlt645.password_order"} {
		if !strings.Contains(all, want) {
			t.Errorf("missing %q in:\n%s", want, all)
		}
	}
}
