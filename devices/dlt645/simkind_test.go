package dlt645

import (
	"slices"
	"testing"

	"github.com/estatehq/estate/internal/config"
)

// A configured bus carries every DL/T 645 meter of the configuration on its
// device's port, at the port's line settings.
func TestConfigureSimBus(t *testing.T) {
	bus := &config.Serial{Port: "var/bus-a", Baud: 1200}
	cfg := &config.Config{Devices: []config.Device{
		{ID: "m1", Protocol: Protocol, Address: "101", Serial: bus},
		{ID: "m2", Protocol: Protocol, Address: "102", Serial: &config.Serial{Port: "var/bus-b"}},
		{ID: "m3", Protocol: Protocol, Address: "103", Serial: &config.Serial{Port: "var/bus-a"}},
		{ID: "x", Protocol: "modbus_rtu", Address: "104", Serial: &config.Serial{Port: "var/bus-a"}},
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
