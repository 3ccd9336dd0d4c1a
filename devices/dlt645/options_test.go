package dlt645

import (
	"strings"
	"testing"

	"github.com/estatehq/estate/devices"
	"github.com/estatehq/estate/internal/config"
)

const meterSite = `site: {id: s}
gateway: {id: gw, profiles_dir: ../../configs/profiles, desk_url: "http://127.0.0.1:1", desk_token: 0123456789abcdef}
influxdb: {url: "http://127.0.0.1:1", bucket: b}
devices:
  - id: m1
    family: meter
    protocol: dlt645
    profile: dlt645-prepaid-single-phase
    address: "000000000101"
    serial: {port: /dev/ttyUSB0}
`

// A DL/T 645 meter's timeout defaults to 500 ms (the protocol's timing), a
// Modbus device's to 1 s; a timeout the file gives is kept.
func TestDefaultTimeoutByProtocol(t *testing.T) {
	cfg, err := config.ParseWith("site.yaml", []byte(meterSite), devices.Validate)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Devices[0].Timeout.String(); got != "500ms" {
		t.Errorf("dlt645 default timeout %s, want 500ms", got)
	}
	cfg, err = config.ParseWith("site.yaml", []byte(meterSite+"    timeout: 1s\n"), devices.Validate)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Devices[0].Timeout.String(); got != "1s" {
		t.Errorf("explicit timeout %s, want 1s", got)
	}
}

// The dlt645 block's password may come from the environment, as before.
func TestControlPasswordFromEnvironment(t *testing.T) {
	text := meterSite + "    dlt645: {relay_control: true, password: \"${TEST_METER_PASSWORD}\", operator: \"00000001\"}\n"
	_, err := config.ParseWith("site.yaml", []byte(text), devices.Validate)
	if err == nil || !strings.Contains(err.Error(), "site.yaml:11: devices[0].dlt645.password: environment variable TEST_METER_PASSWORD is not set") ||
		strings.Contains(err.Error(), "required for relay_control") {
		t.Fatalf("unset password: %v", err)
	}
	t.Setenv("TEST_METER_PASSWORD", "02123456")
	cfg, err := config.ParseWith("site.yaml", []byte(text), devices.Validate)
	if err != nil {
		t.Fatal(err)
	}
	cfg.File, cfg.Gateway.ProfilesDir = "../../configs/site.yaml", "profiles"
	relay, err := RelayOf(cfg, cfg.Devices[0])
	if err != nil || relay.Password != [4]byte{0x02, 0x56, 0x34, 0x12} { // PA, then P0 P1 P2 low first
		t.Errorf("password % X, %v", relay.Password, err)
	}
}
