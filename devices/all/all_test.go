package all

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/estatehq/estate/devices"
	"github.com/estatehq/estate/internal/config"
)

const site = `site: {id: s}
gateway: {id: gw, profiles_dir: ../../configs/profiles, desk_url: "http://127.0.0.1:1", desk_token: 0123456789abcdef}
influxdb: {url: "http://127.0.0.1:1", bucket: b}
mqtt: {broker: tcp://127.0.0.1:1883}
devices:
  - id: m1
    family: meter
    protocol: modbus_tcp
    profile: demo-prepaid-meter
    address: 127.0.0.1:502
`

// What a device may carry is decided by its protocol and its family, with
// every protocol registered: a block of another protocol is misplaced, a key
// that once was every device's is tolerated, a typo is unknown.
func TestDeviceKeysAcrossProtocols(t *testing.T) {
	if _, err := config.ParseWith("site.yaml", []byte(site), devices.Validate); err != nil {
		t.Fatalf("valid site: %v", err)
	}
	for _, tc := range []struct{ name, add, want string }{
		{"dlt645 options on a modbus device", "    dlt645: {time_sync: true}\n", "site.yaml:11: devices[0].dlt645: only for devices of protocol dlt645"},
		{"cjt188 options on a modbus device", "    cjt188: {valve_control: true}\n", "site.yaml:11: devices[0].cjt188: only for devices of protocol cjt188"},
		{"mqtt block on a modbus device", "    mqtt: {topic_id: x}\n", `site.yaml:11: devices[0].mqtt: only devices of protocol mqtt take an mqtt block (this one is "modbus_tcp")`},
		{"unknown key", "    colour: red\n", "site.yaml:11: devices[0].colour: unknown key"},
		{"elevator key on a meter", "    entrapment_after: 5s\n", "site.yaml:11: devices[0].entrapment_after: applies to elevators only"},
		{"access key on a meter", "    held_open_after: 5s\n", "site.yaml:11: devices[0].held_open_after: applies to access control only"},
		{"a family nobody declared", "  - {id: w1, family: metre, protocol: modbus_tcp, profile: demo-prepaid-meter, address: 127.0.0.1:502}\n",
			`site.yaml:11: devices[1].family: "metre" is not a device family (did you mean "meter"?); use one of access, elevator, fire, guardtour, leak, meter, power, water`},
		{"a rule's family", "rules:\n  - {name: r1, family: lift, point: floor, above: 1}\n",
			`site.yaml:12: rules[0].family: "lift" is not a device family`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.ParseWith("site.yaml", []byte(site+tc.add), devices.Validate)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v\nwant %q", err, tc.want)
			}
		})
	}
	// slave_id and address were keys of every device before each protocol
	// had its own: files that give them to an MQTT device still load.
	mqttDevice := "  - {id: l1, family: elevator, protocol: mqtt, profile: mqtt-elevator-gbt24476, slave_id: 1, address: 127.0.0.1:1, entrapment_after: 10s}\n"
	if _, err := config.ParseWith("site.yaml", []byte(site+mqttDevice), devices.Validate); err != nil {
		t.Errorf("an MQTT device with a Modbus key: %v", err)
	}
}

// A misspelt protocol or profile is told the name that was probably meant;
// a profile missing from profiles_dir is found among the shipped ones
// (config.SharedDir/profiles, /usr/share/estate/profiles once installed).
func TestSuggestionsAndSharedProfiles(t *testing.T) {
	for _, tc := range []struct{ name, device, want string }{
		{"protocol", "{id: m2, family: meter, protocol: modbus-tcp, profile: demo-prepaid-meter, address: 127.0.0.1:502}",
			`devices[1].protocol: unknown protocol "modbus-tcp" (did you mean "modbus_tcp"?); known: `},
		{"modbus profile", "{id: m2, family: meter, protocol: modbus_tcp, profile: eastron-sdm360, address: 127.0.0.1:502}",
			`devices[1].profile: no profile "eastron-sdm360" in ../../configs/profiles or /nonexistent/profiles (did you mean "eastron-sdm630"?)`},
		{"dlt645 profile", "{id: m2, family: meter, protocol: dlt645, profile: dlt645-prepaid-single-phse, address: '000000000001', serial: {port: /dev/null}}",
			`devices[1].profile: no profile "dlt645-prepaid-single-phse" in ../../configs/profiles or /nonexistent/profiles (did you mean "dlt645-prepaid-single-phase"?)`},
		{"mqtt profile", "{id: l1, family: elevator, protocol: mqtt, profile: mqtt-elevator-gbt2447}",
			`devices[1].profile: no MQTT profile "mqtt-elevator-gbt2447" in ../../configs/profiles or /nonexistent/profiles (did you mean "mqtt-elevator-gbt24476"?)`},
		{"fire panel template", "{id: f1, family: fire, protocol: fire_crt, profile: crt-loop-adress, serial: {port: /dev/null}}",
			`devices[1].profile: no template "crt-loop-adress" in ../../configs/profiles or /nonexistent/profiles (did you mean "crt-loop-address"?)`},
		{"nothing near", "{id: m2, family: meter, protocol: modbus_tcp, profile: vendor-x, address: 127.0.0.1:502}",
			`devices[1].profile: no profile "vendor-x" in ../../configs/profiles or /nonexistent/profiles` + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old := config.SharedDir
			config.SharedDir = "/nonexistent"
			defer func() { config.SharedDir = old }()
			_, err := config.ParseWith("site.yaml", []byte(site+"  - "+tc.device+"\n"), devices.Validate)
			if err == nil || !strings.Contains(err.Error()+"\n", tc.want) {
				t.Errorf("got %v\nwant %q", err, tc.want)
			}
		})
	}

	// The shipped profiles stand in for a profiles_dir without them: a site
	// file in a folder of its own (as /etc/estate/sites/x.yaml) finds them.
	shared, err := filepath.Abs("../../configs")
	if err != nil {
		t.Fatal(err)
	}
	old := config.SharedDir
	config.SharedDir = shared
	defer func() { config.SharedDir = old }()
	dir := t.TempDir()
	path := filepath.Join(dir, "site.yaml")
	text := strings.Replace(site, "profiles_dir: ../../configs/profiles, ", "", 1) +
		"  - {id: l1, family: elevator, protocol: mqtt, profile: mqtt-elevator-gbt24476}\n" +
		"  - {id: f1, family: fire, protocol: fire_crt, profile: crt-loop-address, serial: {port: /dev/null}}\n"
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := config.Load(path, devices.Validate); err != nil {
		t.Fatalf("profiles not found in %s/profiles: %v", shared, err)
	}
	if got, want := devices.ProfilePath(filepath.Join(dir, "profiles"), "eastron-sdm630"), filepath.Join(shared, "profiles", "eastron-sdm630.yaml"); got != want {
		t.Errorf("ProfilePath = %s, want %s", got, want)
	}
	// A profile given as a file that is not there: the shipped one of its name.
	if got, want := devices.ProfilePath("", "configs/profiles/eastron-sdm630.yaml"), filepath.Join(shared, "profiles", "eastron-sdm630.yaml"); got != want {
		t.Errorf("ProfilePath of a missing file = %s, want %s", got, want)
	}
	if got := devices.ProfilePath("", "/nowhere/vendor-x.yaml"); got != "/nowhere/vendor-x.yaml" {
		t.Errorf("ProfilePath of a missing file without a shipped one = %s", got)
	}
	// A profile of the site's own folder comes first.
	if err := os.MkdirAll(filepath.Join(dir, "profiles"), 0o755); err != nil {
		t.Fatal(err)
	}
	own := filepath.Join(dir, "profiles", "eastron-sdm630.yaml")
	if err := os.WriteFile(own, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := devices.ProfilePath(filepath.Join(dir, "profiles"), "eastron-sdm630"); got != own {
		t.Errorf("ProfilePath = %s, want the site's own %s", got, own)
	}
}
