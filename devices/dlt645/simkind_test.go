package dlt645

import (
	"slices"
	"testing"

	"github.com/estatehq/estate/devices/serial"
	"github.com/estatehq/estate/internal/config"
)

// A configured bus carries every DL/T 645 meter of the configuration on its
// device's port, at the port's line settings.
func TestConfigureSimBus(t *testing.T) {
	bus := &serial.Config{Port: "var/bus-a", Baud: 1200}
	meter := func(id, protocol, addr string, line *serial.Config) config.Device {
		return Device{Device: config.Device{ID: id, Protocol: protocol}, Options: Options{Address: addr, Serial: line}}.Config()
	}
	cfg := &config.Config{Devices: []config.Device{
		meter("m1", Protocol, "101", bus),
		meter("m2", Protocol, "102", &serial.Config{Port: "var/bus-b"}),
		meter("m3", Protocol, "103", &serial.Config{Port: "var/bus-a"}),
		meter("x", "modbus_rtu", "104", &serial.Config{Port: "var/bus-a"}),
	}}
	var o SimBusOptions
	configureSimBus(cfg, cfg.Devices[0], &o)
	if o.Link != "var/bus-a" || !slices.Equal(o.Meters, []string{"101", "103"}) || o.Settings.Baud != 1200 || o.Settings.Parity != DefaultParity {
		t.Errorf("options %+v", o)
	}
	var none SimBusOptions
	configureSimBus(cfg, config.Device{ID: "y", Protocol: Protocol}, &none) // no serial: reported by its check
	if none.Link != "" || none.Meters != nil {
		t.Errorf("without a serial line: %+v", none)
	}
}
