package mqtt

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/estatehq/estate/internal/config"
)

// A configured MQTT simulator publishes as its device would: under its topic
// id, on the configured broker, as the embedded broker's device user if
// there is one.
func TestConfigureLink(t *testing.T) {
	const section = "{broker: \"tcp://broker:1883\", username: gw, password: gw-pass"
	build := func(text string) *config.Config {
		cfg := &config.Config{File: "/etc/estate/site.yaml", Site: config.Site{ID: "north"},
			Gateway: config.Gateway{ProfilesDir: "profiles"}}
		if err := cfg.SetSection(Section, text); err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	base := func() *config.Config { return build(section + "}") }
	withEmbedded := build(section + ", embedded: {users: [{username: gw, password: gw-pass, role: gateway}, {username: devs, password: devs-pass, role: device}]}}")
	for _, tc := range []struct {
		name string
		cfg  *config.Config
		dev  config.Device
		want SimLink
	}{
		{"the gateway's account", base(), config.Device{ID: "lift-1", Profile: "mqtt-elevator"},
			SimLink{Device: "lift-1", Profile: filepath.Join("/etc/estate/profiles", "mqtt-elevator.yaml"), Broker: "tcp://broker:1883",
				ClientID: "sim-north-lift-1", Username: "gw", Password: "gw-pass", Site: "north", TopicID: "lift-1", Every: time.Second}},
		{"the embedded broker's device user, a topic id", withEmbedded,
			config.Device{ID: "door-1", Profile: "mqtt-access", ProtocolOptions: &Options{MQTT: &DeviceOptions{TopicID: "405419896"}}},
			SimLink{Device: "door-1", Profile: filepath.Join("/etc/estate/profiles", "mqtt-access.yaml"), Broker: "tcp://broker:1883",
				ClientID: "sim-north-door-1", Username: "devs", Password: "devs-pass", Site: "north", TopicID: "405419896", Every: time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := configureLink(tc.cfg, tc.dev); got != tc.want {
				t.Errorf("link\n%+v\nwant\n%+v", got, tc.want)
			}
		})
	}
}
