package modbus

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/estatehq/estate/devices"
	"github.com/estatehq/estate/internal/config"
)

const siteHead = `site: {id: s}
gateway:
  id: gw
  profiles_dir: PROFILES
  desk_url: http://127.0.0.1:1
  desk_token: 0123456789abcdef
influxdb: {url: "http://127.0.0.1:1", bucket: b}
devices:
`

func loadSite(t *testing.T, devicesYAML string) error {
	t.Helper()
	abs, _ := filepath.Abs(profilesDir)
	path := filepath.Join(t.TempDir(), "site.yaml")
	text := strings.Replace(siteHead, "PROFILES", abs, 1) + devicesYAML
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := config.Load(path, devices.Validate)
	return err
}

func TestValidateModbusDevices(t *testing.T) {
	good := `
  - {id: m1, family: meter, protocol: modbus_rtu, profile: chint-ddsu666, slave_id: 1,
     serial: {port: /dev/ttyUSB0, baud: 9600, parity: E}, poll_groups: {fast: 500ms, slow: 1m}, max_gap: 0, retries: 2}
  - {id: m2, family: meter, protocol: modbus_rtu, profile: eastron-sdm630, slave_id: 2,
     serial: {port: /dev/ttyUSB0, baud: 9600, parity: E}}
  - {id: m3, family: power, protocol: modbus_rtu_over_tcp, profile: generic-di8, address: "10.0.0.9:4001", slave_id: 7}
  - {id: m4, family: meter, protocol: modbus_tcp, profile: acrel-dtsd1352, address: "10.0.0.10:502"}
`
	if err := loadSite(t, good); err != nil {
		t.Fatalf("good site: %v", err)
	}
	bad := `
  - {id: m1, family: meter, protocol: modbus_rtu, profile: chint-ddsu666, slave_id: 1,
     serial: {port: /dev/ttyUSB0, baud: 9601, parity: X, stop_bits: 3}, poll_groups: {rapid: 1s, slow: 10ms}, max_gap: 200}
  - {id: m2, family: meter, protocol: modbus_rtu, profile: eastron-sdm630, slave_id: 1,
     serial: {port: /dev/ttyUSB0, baud: 19200, parity: N}, writes: true}
  - {id: m3, family: meter, protocol: modbus_rtu, profile: eastron-sdm630}
  - {id: m4, family: meter, protocol: modbus_rtu_over_tcp, profile: nope, address: "10.0.0.9"}
`
	err := loadSite(t, bad)
	if err == nil {
		t.Fatal("bad site loaded")
	}
	for _, want := range []string{
		"devices[0].serial.baud: 9601 is not a usual baud rate",
		`devices[0].serial.parity: "X" is not N (none), E (even) or O (odd)`,
		"devices[0].serial.stop_bits: must be 1 or 2",
		`devices[0].poll_groups.rapid: "rapid" is not a poll group`,
		"devices[0].poll_groups.slow: must be at least 100ms",
		"devices[0].max_gap: must be 0..125",
		"devices[1].slave_id: slave 1 is already device m1 on the same line",
		"devices[1].serial: port /dev/ttyUSB0 is also used by device m1 with other line settings",
		"devices[1].writes: profile eastron-sdm630 has no writable point",
		"devices[2].serial: required",
		`devices[3].address: "10.0.0.9" is not host:port`,
		`devices[3].profile: no profile "nope"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing problem %q in:\n%v", want, err)
		}
	}
	// Every problem names its line in the file.
	for _, line := range strings.Split(err.Error(), "\n") {
		if !strings.Contains(line, "site.yaml:") {
			t.Errorf("problem without a file:line: %s", line)
		}
	}
}

// The Modbus keys are this package's: decoded from the device's mapping with
// their defaults (slave_id 1), checked here (slave_id range), and located at
// their line like the common keys.
func TestModbusOptionsDecodedWithDefaults(t *testing.T) {
	abs, _ := filepath.Abs(profilesDir)
	text := strings.Replace(siteHead, "PROFILES", abs, 1) + `  - id: m1
    family: meter
    protocol: modbus_tcp
    profile: acrel-dtsd1352
    address: 127.0.0.1:502
`
	cfg, err := config.ParseWith("site.yaml", []byte(text), devices.Validate)
	if err != nil {
		t.Fatalf("valid config refused: %v", err)
	}
	d := DeviceOf(cfg.Devices[0])
	if d.SlaveID != 1 || d.Address != "127.0.0.1:502" || d.PollInterval.String() != "1s" || d.Timeout.String() != "1s" {
		t.Errorf("device defaults: %+v", d)
	}
	if _, ok := cfg.Devices[0].ProtocolOptions.(*Options); !ok {
		t.Errorf("options not kept for the driver: %T", cfg.Devices[0].ProtocolOptions)
	}
	if got := cfg.Line("devices[0].address"); got != 13 {
		t.Errorf("line of devices[0].address = %d, want 13", got)
	}
	for _, tc := range []struct{ add, want string }{
		{"    slave_id: 300\n", "site.yaml:14: devices[0].slave_id: must be between 1 and 247, got 300"},
		{"    slave_id: one\n", `site.yaml:14: devices[0].slave_id: expected a whole number, got "one"`},
		{"    serial: {port: /dev/ttyUSB0, colour: red}\n", "site.yaml:14: devices[0].serial.colour: unknown key"},
		{"    poll_groups: {fast: soon}\n", `site.yaml:14: devices[0].poll_groups.fast: expected a duration with its unit, such as 500ms, 30s, 5m or 1h, got "soon"`},
	} {
		_, err := config.ParseWith("site.yaml", []byte(text+tc.add), devices.Validate)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %q", tc.add, err, tc.want)
		}
	}
}
