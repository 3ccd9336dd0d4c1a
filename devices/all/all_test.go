package all

import (
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
			`site.yaml:11: devices[1].family: "metre" is not a device family; use one of access, elevator, fire, leak, meter, power, water`},
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
