package cjt188

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/estatehq/estate/devices"
	"github.com/estatehq/estate/devices/serial"
	"github.com/estatehq/estate/internal/config"
)

// A configured bus carries every CJ/T 188 meter of the configuration on its
// device's port, at the port's line settings.
func TestConfigureSimBus(t *testing.T) {
	bus := &serial.Config{Port: "var/water-a", Baud: 1200}
	meter := func(id, protocol, addr string, line *serial.Config) config.Device {
		return Device{Device: config.Device{ID: id, Protocol: protocol}, Options: Options{Address: addr, Serial: line}}.Config()
	}
	cfg := &config.Config{Devices: []config.Device{
		meter("w1", Protocol, "101", bus),
		meter("w2", Protocol, "102", &serial.Config{Port: "var/water-b"}),
		meter("w3", Protocol, "103", &serial.Config{Port: "var/water-a"}),
		meter("x", "dlt645", "104", &serial.Config{Port: "var/water-a"}),
	}}
	var o SimBusOptions
	configureSimBus(cfg, cfg.Devices[0], &o)
	if o.Link != "var/water-a" || !slices.Equal(o.Meters, []string{"101", "103"}) || o.Settings.Baud != 1200 || o.Settings.Parity != DefaultParity {
		t.Errorf("options %+v", o)
	}
}

// The kind runs from a configuration as the demo runs it: its meters on a
// linked pseudo-terminal, a scripted battery fault applied and lifted.
func TestConfiguredSimulatorServes(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(dir, "water-bus")
	dev := testDevice(link, "101", nil)
	cfg := &config.Config{File: "../../configs/test.yaml", Gateway: config.Gateway{ProfilesDir: "profiles"}, Devices: []config.Device{dev},
		Simulators: []config.Simulator{{Kind: "water_meter_bus", Device: dev.ID}}}
	var o SimBusOptions
	configureSimBus(cfg, dev, &o)
	o.InitialBalance, o.Faults = 12, []SimFault{{At: 100 * time.Millisecond, Do: "battery_low", For: time.Second}}
	if ps := validateSimBus(cfg, &dev, &o, "simulators[0]"); len(ps) > 0 {
		t.Fatal(ps)
	}
	ctx, cancel := context.WithCancel(context.Background())
	wait, err := startSimBus(ctx, devices.SimEnv{}, &o)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = wait() }()
	d := openDriver(t, testEnv(dev), dev)
	raised := false
	deadline := time.Now().Add(20 * time.Second)
	for {
		r, err := d.Poll(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if b := value(t, r, "balance"); b > 12 || b < 11.9 {
			t.Fatalf("balance %v", b)
		}
		low := value(t, r, "battery_low") == 1
		if raised && !low {
			break // raised, then lifted
		}
		raised = raised || low
		if time.Now().After(deadline) {
			t.Fatalf("battery fault raised %v, never lifted", raised)
		}
	}
	bad := SimBusOptions{Faults: []SimFault{{Do: "flood"}, {Do: "top_up"}}}
	if ps := validateSimBus(cfg, &dev, &bad, "simulators[0]"); len(ps) != 2 {
		t.Errorf("problems %v", ps)
	}
}
