package modbus

import (
	"context"
	"testing"
	"time"

	"github.com/estatehq/estate/devices"
	"github.com/estatehq/estate/devices/serial"
	"github.com/estatehq/estate/internal/config"
)

const testProfile = `
name: test-meter
limits: {max_registers_per_read: 60, max_gap: 4}
points:
  - {name: voltage, table: input, address: 0, type: float32, unit: V}
  - {name: current, table: input, address: 6, type: float32, unit: A}
  - {name: energy,  table: holding, address: 100, type: uint32, scale: 0.01, unit: kWh, group: slow}
  - {name: relay,   table: coil, address: 3}
  - {name: serial,  table: holding, address: 200, type: string, length: 4, group: slow}
  - {name: meterno, table: holding, address: 210, type: bcd, length: 2, group: slow}
  - {name: alarm,   table: discrete, address: 10}
`

func mustProfile(t testing.TB, text string) *Profile {
	t.Helper()
	p, err := ParseProfile("test", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func fill(t testing.TB, s *Slave) {
	t.Helper()
	for name, v := range map[string]float64{"voltage": 231.5, "current": 4.25, "energy": 1234.56, "relay": 1, "meterno": 12345678, "alarm": 1} {
		if err := s.Set(name, v); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SetText("serial", "SN1234"); err != nil {
		t.Fatal(err)
	}
}

func checkReading(t *testing.T, r devices.Reading) {
	t.Helper()
	want := map[string]float64{"voltage": 231.5, "current": 4.25, "energy": 1234.56, "relay": 1, "meterno": 12345678, "alarm": 1}
	for name, w := range want {
		v, ok := r.Get(name)
		if !ok || v < w-1e-3 || v > w+1e-3 {
			t.Errorf("%s = %v (ok %v), want %v", name, v, ok, w)
		}
	}
}

func TestTCPEndToEnd(t *testing.T) {
	p := mustProfile(t, testProfile)
	sim := NewSimulator(p, "127.0.0.1:0")
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	defer sim.Stop()
	fill(t, sim.Slave)
	dev := NewDevice(config.Device{ID: "m1", Protocol: ProtocolTCP, PollInterval: time.Second, Timeout: time.Second}, Options{Address: sim.Addr(), SlaveID: 1})
	d := NewDriver(dev, p, &devices.Info{ID: "m1", Units: map[string]string{}})
	defer d.Close()
	r, err := d.Poll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	checkReading(t, r)
	if got := d.Texts()["serial"]; got != "SN1234" {
		t.Errorf("serial text %q", got)
	}
	// The text travels in the reading too (to InfluxDB as a string field),
	// and is no number for the alarm rules.
	found := false
	for _, v := range r.Values {
		if v.Point == "serial" {
			found = v.IsText && v.Text == "SN1234" && v.Quality == devices.Good
		}
	}
	if _, isNumber := r.Get("serial"); !found || isNumber {
		t.Errorf("serial in the reading: found %v, a number %v", found, isNumber)
	}
}

func TestRTUOnPTYEndToEnd(t *testing.T) {
	p := mustProfile(t, testProfile)
	s1, s2 := NewSlave(p), NewSlave(p)
	fill(t, s1)
	fill(t, s2)
	_ = s2.Set("voltage", 100)
	sim, err := NewRTUSimulator(map[byte]*Slave{1: s1, 2: s2}, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	mk := func(id int) *Driver {
		dev := NewDevice(config.Device{ID: "m", Protocol: ProtocolRTU, PollInterval: time.Second, Timeout: 500 * time.Millisecond},
			Options{SlaveID: id, Serial: &serial.Config{Port: sim.Path(), Baud: 9600, Parity: "E"}})
		return NewDriver(dev, p, &devices.Info{ID: "m", Units: map[string]string{}})
	}
	d1, d2 := mk(1), mk(2)
	defer d1.Close()
	defer d2.Close()
	for range 3 {
		r, err := d1.Poll(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		checkReading(t, r)
		r, err = d2.Poll(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if v, _ := r.Get("voltage"); v != 100 {
			t.Errorf("slave 2 voltage %v", v)
		}
	}
}
