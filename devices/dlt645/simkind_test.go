package dlt645

import (
	"flag"
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

// A configured bus's meters accept what their devices are configured to
// send: the password in the order of the device's profile, direct close
// where the profile allows it.
func TestConfigureSimBusRelays(t *testing.T) {
	line := &serial.Config{Port: "var/bus-a"}
	cfg := &config.Config{File: "../../configs/site.yaml", Gateway: config.Gateway{ProfilesDir: "profiles"}}
	for _, d := range []Device{
		{Device: config.Device{ID: "m1", Protocol: Protocol, Profile: "dlt645-prepaid-single-phase"},
			Options: Options{Address: "101", Serial: line, DLT645: &Switches{RelayControl: true, Password: "02123456", Operator: "00000001"}}},
		{Device: config.Device{ID: "m2", Protocol: Protocol, Profile: "dlt645-prepaid-single-phase"},
			Options: Options{Address: "102", Serial: line, DLT645: &Switches{RelayControl: true, Password: "02123456", Operator: "00000001", PasswordOrder: OrderAsTyped}}},
		{Device: config.Device{ID: "m3", Protocol: Protocol, Profile: "dlt645-prepaid-single-phase"}, Options: Options{Address: "103", Serial: line}},
	} {
		cfg.Devices = append(cfg.Devices, d.Config())
	}
	var o SimBusOptions
	configureSimBus(cfg, cfg.Devices[0], &o)
	want := map[string][4]byte{"101": {0x02, 0x56, 0x34, 0x12}, "102": {0x02, 0x12, 0x34, 0x56}, "103": {}}
	for a, pw := range want {
		if r, ok := o.Relays[a]; !ok || r.Password != pw || r.AllowDirectClose {
			t.Errorf("meter %s: %+v (present %v), want password % X", a, r, ok, pw)
		}
	}
}

// On the command line, --password (as typed) and --allow-direct-close apply to every meter.
func TestSimBusFlagsRelay(t *testing.T) {
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	var o SimBusOptions
	done := simBusFlags(fs, &o)
	if err := fs.Parse([]string{"--meters", "2", "--password", "02123456", "--allow-direct-close"}); err != nil {
		t.Fatal(err)
	}
	if err := done(); err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"101", "102"} {
		if r := o.Relays[a]; r.Password != [4]byte{0x02, 0x56, 0x34, 0x12} || !r.AllowDirectClose {
			t.Errorf("meter %s: %+v", a, r)
		}
	}
}
