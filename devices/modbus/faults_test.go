package modbus

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/estatehq/estate/devices"
	"github.com/estatehq/estate/devices/serial"
	"github.com/estatehq/estate/internal/config"
)

// faultRig is one simulated slave and a driver polling it over TCP or RTU.
type faultRig struct {
	slave  *Slave
	driver *Driver
	close  func()
}

func newRig(t *testing.T, transport string, maxGap int) *faultRig {
	t.Helper()
	p := mustProfile(t, testProfile)
	gap := maxGap
	dev := Device{Device: config.Device{ID: "m", PollInterval: time.Second, Timeout: 150 * time.Millisecond}, Options: Options{SlaveID: 1, MaxGap: &gap}}
	rig := &faultRig{}
	switch transport {
	case "tcp":
		sim := NewSimulator(p, "127.0.0.1:0")
		if err := sim.Start(); err != nil {
			t.Fatal(err)
		}
		rig.slave, rig.close = sim.Slave, func() { _ = sim.Stop() }
		dev.Protocol, dev.Address = ProtocolTCP, sim.Addr()
	case "rtu":
		rig.slave = NewSlave(p)
		sim, err := NewRTUSimulator(map[byte]*Slave{1: rig.slave}, 0)
		if err != nil {
			t.Fatal(err)
		}
		rig.close = func() { _ = sim.Close() }
		dev.Protocol, dev.Serial = ProtocolRTU, &serial.Config{Port: sim.Path(), Baud: 19200}
	case "rtu-over-tcp":
		rig.slave = NewSlave(p)
		srv := &Server{RTU: true, Slaves: map[byte]*Slave{1: rig.slave}}
		ln, err := srv.Listen("127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		rig.close = func() { _ = ln.Close() }
		dev.Protocol, dev.Address = ProtocolRTUOverTCP, ln.Addr()
	}
	fill(t, rig.slave)
	rig.driver = NewDriver(dev.Config(), p, &devices.Info{ID: "m", Units: map[string]string{}})
	t.Cleanup(func() { _ = rig.driver.Close(); rig.close() })
	return rig
}

// Each fault on the request for one point (current, input register 6) gives
// one error of the right kind for that point, and every other point reads.
func TestFaultsFailOnlyTheirPoint(t *testing.T) {
	cases := []struct {
		name   string
		faults Faults
		kind   string
		rtu    bool // RTU only (a checksum)
	}{
		{"exception", Faults{Exceptions: map[uint16]byte{6: 2}}, "exception_illegal_data_address", false},
		{"slave busy", Faults{Exceptions: map[uint16]byte{6: 6}}, "exception_slave_busy", false},
		{"wrong slave", Faults{WrongSlave: true, Only: []uint16{6}}, KindWrongSlave, false},
		{"garbage", Faults{Garbage: true, Only: []uint16{6}}, KindBadFrame, false},
		{"truncated", Faults{Truncate: true, Only: []uint16{6}}, KindShortFrame, false},
		{"silent", Faults{Silent: true, Only: []uint16{6}}, KindTimeout, false},
		{"crc", Faults{CorruptCRC: true, Only: []uint16{6}}, KindCRC, true},
	}
	for _, transport := range []string{"tcp", "rtu", "rtu-over-tcp"} {
		for _, c := range cases {
			if c.rtu && transport == "tcp" {
				continue
			}
			t.Run(transport+"/"+c.name, func(t *testing.T) {
				// Exceptions are found by splitting a merged read; framing faults
				// need the point in a read of its own (no gap bridging).
				gap := 0
				if c.faults.Exceptions[6] == 2 {
					gap = 10
				}
				rig := newRig(t, transport, gap)
				rig.slave.SetFaults(c.faults)
				for poll := range 2 {
					r, err := rig.driver.Poll(context.Background())
					var pe PointErrors
					if !errors.As(err, &pe) {
						t.Fatalf("poll %d: want point errors, got %v", poll, err)
					}
					if len(pe) != 1 || pe["current"] == nil {
						t.Fatalf("poll %d: want one failed point (current), got %v", poll, pe)
					}
					if k := classify(pe["current"]).Kind; k != c.kind {
						t.Errorf("poll %d: kind %s, want %s (%v)", poll, k, c.kind, pe["current"])
					}
					for _, name := range []string{"voltage", "energy", "relay", "meterno", "alarm"} {
						if _, ok := r.Get(name); !ok {
							t.Errorf("poll %d: %s missing after a fault on current", poll, name)
						}
					}
				}
				// The fault gone, the device reads in full again (the link recovered).
				rig.slave.SetFaults(Faults{})
				r, err := rig.driver.Poll(context.Background())
				if c.faults.Exceptions == nil && err != nil {
					t.Fatalf("after the fault: %v", err)
				}
				if _, ok := r.Get("current"); !ok && c.faults.Exceptions == nil {
					t.Error("current not read after the fault cleared")
				}
			})
		}
	}
}

// A device that does not answer at all fails the poll (it counts towards
// offline) after one timeout per read at most, and without retries once known dead.
func TestSilentDeviceCostsItsTimeout(t *testing.T) {
	rig := newRig(t, "rtu", 10)
	rig.slave.SetFaults(Faults{Silent: true})
	var total time.Duration
	for i := range 6 {
		start := time.Now()
		_, err := rig.driver.Poll(context.Background())
		if i > 0 {
			total += time.Since(start)
		}
		var e *Error
		if !errors.As(err, &e) || e.Kind != KindTimeout {
			t.Fatalf("poll %d: want a timeout, got %v", i, err)
		}
	}
	// Once known dead: one timeout (150 ms) a poll, no retries, no read after
	// the first. The median would be 150 ms; allow for a busy machine.
	if avg := total / 5; avg > 400*time.Millisecond {
		t.Errorf("a poll of a dead device took %v on average, want about its timeout (150ms)", avg)
	}
}

func TestSlowAnswersWithinTimeout(t *testing.T) {
	rig := newRig(t, "tcp", 10)
	rig.slave.SetFaults(Faults{Delay: 50 * time.Millisecond})
	r, err := rig.driver.Poll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	checkReading(t, r)
}

func TestWriteNeedsEnableAndWritablePoint(t *testing.T) {
	p := mustProfile(t, `
name: w
points:
  - {name: setpoint, table: holding, address: 10, type: float32, writable: true}
  - {name: limit,    table: holding, address: 12, type: uint16, writable: true, write_function: 16}
  - {name: flag,     table: holding, address: 13, type: bool, bit: 3, writable: true}
  - {name: relay,    table: coil, address: 0, writable: true}
  - {name: relay2,   table: coil, address: 1, writable: true, write_function: 15}
  - {name: ro,       table: holding, address: 14}
`)
	sim := NewSimulator(p, "127.0.0.1:0")
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	defer sim.Stop()
	_ = sim.Set("flag", 0)
	dev := Device{Device: config.Device{ID: "w", Protocol: ProtocolTCP, Timeout: time.Second, PollInterval: time.Second}, Options: Options{Address: sim.Addr(), SlaveID: 1}}
	off := NewDriver(dev.Config(), p, &devices.Info{Units: map[string]string{}})
	defer off.Close()
	if err := off.Write(context.Background(), "setpoint", 1); !errors.Is(err, ErrWritesDisabled) {
		t.Fatalf("write on a device without writes: %v", err)
	}
	dev.Writes = true
	d := NewDriver(dev.Config(), p, &devices.Info{Units: map[string]string{}})
	defer d.Close()
	if err := d.Write(context.Background(), "ro", 1); err == nil {
		t.Error("wrote a read-only point")
	}
	regs, _ := sim.Registers(TableHolding, 13, 1)
	_ = sim.Slave.putRawForTest(13, regs[0]|0x8001)
	for name, v := range map[string]float64{"setpoint": 42.5, "limit": 300, "flag": 1, "relay": 1, "relay2": 1} {
		if err := d.Write(context.Background(), name, v); err != nil {
			t.Fatalf("write %s: %v", name, err)
		}
		if got, _ := sim.Get(name); got != v {
			t.Errorf("%s = %v after writing %v", name, got, v)
		}
	}
	if regs, _ := sim.Registers(TableHolding, 13, 1); regs[0] != 0x8009 {
		t.Errorf("flag write changed other bits: %04x", regs[0])
	}
}

// A profile's min_delay spaces the requests to its device.
func TestMinDelayBetweenRequests(t *testing.T) {
	p := mustProfile(t, `
name: slowfw
limits: {min_delay: 40ms}
points:
  - {name: a, table: holding, address: 0}
  - {name: b, table: holding, address: 10}
  - {name: c, table: holding, address: 20}
`)
	sim := NewSimulator(p, "127.0.0.1:0")
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	defer sim.Stop()
	dev := NewDevice(config.Device{ID: "s", Protocol: ProtocolTCP, Timeout: time.Second, PollInterval: time.Second}, Options{Address: sim.Addr()})
	d := NewDriver(dev, p, &devices.Info{Units: map[string]string{}})
	defer d.Close()
	start := time.Now()
	if _, err := d.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 80*time.Millisecond || d.Requests() != 3 {
		t.Errorf("3 requests with a 40 ms minimum delay took %v", took)
	}
}

// A serial gateway answers exception 10 or 11 for a meter behind it that did
// not answer: the poll fails as a silent device's does (offline, outage
// evidence), not as a degraded one's, and the exception names the kind.
func TestGatewayExceptionsMeanSilence(t *testing.T) {
	for _, tc := range []struct {
		code byte
		kind string
	}{
		{ExceptionGatewayPathUnavailable, "exception_gateway_path_unavailable"},
		{ExceptionGatewayTargetNoResponse, "exception_gateway_target_no_response"},
		{4, ""}, // a device failure is an answer: degraded, not silent
	} {
		for _, transport := range []string{"tcp", "rtu-over-tcp"} {
			t.Run(fmt.Sprintf("%s/%d", transport, tc.code), func(t *testing.T) {
				rig := newRig(t, transport, 0)
				every := map[uint16]byte{}
				for a := range uint16(1024) {
					every[a] = tc.code
				}
				rig.slave.SetFaults(Faults{Exceptions: every})
				_, err := rig.driver.Poll(context.Background())
				var e *Error
				if tc.kind == "" {
					var pe PointErrors
					if !errors.As(err, &pe) {
						t.Fatalf("exception %d: want point errors (answered), got %v", tc.code, err)
					}
					return
				}
				if !errors.As(err, &e) || e.Answered() || e.Kind != tc.kind {
					t.Fatalf("exception %d: got %v (%T), want an unanswered %s", tc.code, err, err, tc.kind)
				}
			})
		}
	}
}
