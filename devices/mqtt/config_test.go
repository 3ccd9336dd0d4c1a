package mqtt

import (
	"strings"
	"testing"

	"github.com/estatehq/estate/devices"
	"github.com/estatehq/estate/internal/config"
)

// The broker section and the devices' mqtt blocks are this package's; they
// were checked by internal/config before each protocol owned its options.

const mqttBase = `site: {id: s1}
gateway: {id: gw1, desk_url: "http://127.0.0.1:9", desk_token: test-gateway-token-0123, profiles_dir: ../../configs/profiles}
influxdb: {url: "http://127.0.0.1:9", bucket: test/autogen}
`

// plainProtocol is a protocol without options of its own, for a device of
// another protocol that carries an mqtt block.
const plainProtocol = "test_plain"

func init() {
	devices.Register(plainProtocol, devices.Protocol{})
	devices.DeclareFamily("meter") // the meters of the tests, whose package is not linked here
}

// parse loads configuration text as `estate check` does.
func parse(text string) (*config.Config, error) {
	return config.ParseWith("site.yaml", []byte(text), devices.Validate)
}

func TestMQTTConfig(t *testing.T) {
	tests := []struct {
		name string
		text string
		want []string // problems expected, as "line: field: start of message"
	}{
		{"defaults", mqttBase + "mqtt: {broker: tcp://127.0.0.1:1883}\n", nil},
		{"an mqtt device needs a broker", mqttBase + "devices:\n  - {id: l1, family: elevator, protocol: mqtt, profile: mqtt-elevator-gbt24476}\n",
			[]string{"mqtt.broker: required"}},
		{"bad values", mqttBase + `mqtt:
  broker: http://x
  qos: 3
  password: secret-but-no-user
  queue_size: -1
  max_payload: 8
  device_rate: -2
  status_topic: a/+/b
  device_status_topic: a/b
`, []string{"mqtt.broker: \"http://x\" is not a broker URL", "mqtt.qos: must be 0, 1 or 2", "mqtt.username: required when a password",
			"mqtt.queue_size: must be between", "mqtt.max_payload: must be between", "mqtt.device_rate: must be positive",
			"mqtt.status_topic: \"a/+/b\" must not contain wildcards", "mqtt.device_status_topic: must contain {device}"}},
		{"tls files must exist and pair", mqttBase + "mqtt:\n  broker: ssl://b:8883\n  tls: {ca_file: /nonexistent/ca.pem, cert_file: /nonexistent/c.pem}\n",
			[]string{"mqtt.tls.ca_file: cannot read", "mqtt.tls.cert_file: cannot read", "mqtt.tls: cert_file and key_file go together"}},
		{"embedded broker on loopback with users", mqttBase + `mqtt:
  broker: tcp://127.0.0.1:11883
  embedded:
    listen: 0.0.0.0:11883
    users:
      - {username: a, password: short, role: admin}
      - {username: a, password: long-enough, role: device}
`, []string{"mqtt.embedded.listen: the embedded broker is for the demo", "mqtt.embedded.users[0].password: must be at least 8",
			"mqtt.embedded.users[0].role: \"admin\" is not a broker role", "mqtt.embedded.users[1].username: \"a\" is given twice"}},
		// A block on a device of another protocol is misplaced, and no more is
		// said of it; the block's own checks run on MQTT devices.
		{"device mqtt block", mqttBase + `mqtt: {broker: tcp://127.0.0.1:1883}
devices:
  - {id: l1, family: meter, protocol: test_plain, mqtt: {topic_id: "a/b", entrapment_after: 5s}}
  - {id: l0, family: access, protocol: mqtt, profile: mqtt-access-uhppote, mqtt: {topic_id: "a/b", entrapment_after: 5s}}
  - {id: d1, family: access, protocol: mqtt, profile: mqtt-access-uhppote, mqtt: {held_open_after: -1s}}
`, []string{"devices[0].mqtt: only devices of protocol mqtt", "devices[1].mqtt.topic_id: \"a/b\" must be one topic level",
			"devices[1].mqtt.entrapment_after: applies to elevators only", "devices[2].mqtt.held_open_after: must not be negative"}},
		{"family keys of any transport", mqttBase + `mqtt: {broker: tcp://127.0.0.1:1883}
devices:
  - {id: l1, family: elevator, protocol: mqtt, profile: mqtt-elevator-gbt24476, entrapment_after: -5s}
  - {id: d1, family: access, protocol: mqtt, profile: mqtt-access-uhppote, entrapment_after: 5s}
`, []string{"devices[0].entrapment_after: must be positive", "devices[1].entrapment_after: applies to elevators only"}},
		{"unknown key", mqttBase + "mqtt: {broker: tcp://127.0.0.1:1883, keepalive: 5s}\n", []string{"keepalive: unknown key"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := parse(tc.text)
			var got []string
			if ps, ok := err.(config.Problems); ok {
				for _, p := range ps {
					got = append(got, p.String())
				}
			} else if err != nil {
				t.Fatal(err)
			}
			all := strings.Join(got, "\n")
			for _, w := range tc.want {
				if !strings.Contains(all, w) {
					t.Errorf("missing problem %q in:\n%s", w, all)
				}
			}
			if len(tc.want) == 0 && len(got) > 0 {
				t.Errorf("unexpected problems:\n%s", all)
			}
			if len(tc.want) > 0 && len(got) != len(tc.want) {
				t.Errorf("%d problems, want %d:\n%s", len(got), len(tc.want), all)
			}
			if tc.name == "defaults" {
				m, err := SettingsOf(cfg)
				if err != nil {
					t.Fatal(err)
				}
				if m.ClientID != "estate-gw1" || *m.QoS != 1 || !*m.CleanSession || m.QueueSize != 10000 || m.MaxPayload != 65536 ||
					m.StatusTopic != "estate/{site}/gateway/{gateway}/status" {
					t.Errorf("defaults: %+v", m)
				}
			}
		})
	}
}

// Without the protocols' validator, the mqtt section is nobody's: unknown.
func TestMQTTSectionUnknownToConfigAlone(t *testing.T) {
	_, err := config.Parse("site.yaml", []byte(mqttBase+"mqtt: {broker: tcp://127.0.0.1:1883}\n"))
	if err == nil || !strings.Contains(err.Error(), "site.yaml:4: mqtt: unknown key") {
		t.Fatalf("mqtt section without devices.Validate: %v", err)
	}
}

func TestMQTTProblemsHaveLines(t *testing.T) {
	_, err := parse(mqttBase + "mqtt:\n  broker: tcp://127.0.0.1:1883\n  qos: 5\n")
	if err == nil || !strings.Contains(err.Error(), "site.yaml:6: mqtt.qos:") {
		t.Fatalf("problem not located at its line: %v", err)
	}
}
