package elevator

import (
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/estatehq/estate/devices"
	"github.com/estatehq/estate/internal/config"
)

// The family's options come in layers: its default, then what the transport
// gives (a profile, an mqtt block), then the device's own key.
func TestEntrapmentAfterLayers(t *testing.T) {
	node := func(text string) *yaml.Node {
		var doc yaml.Node
		if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
			t.Fatal(err)
		}
		return doc.Content[0]
	}
	after := func(dev config.Device, layers ...*yaml.Node) time.Duration {
		t.Helper()
		b, err := devices.NewBehaviour(dev, layers...)
		if err != nil {
			t.Fatal(err)
		}
		return b.(behaviour).m.EntrapmentAfter
	}
	dev := config.Device{ID: "l1", Family: Family}
	if got := after(dev); got != DefaultEntrapmentAfter {
		t.Errorf("default %s", got)
	}
	profile := devices.Layer(map[string]any{"entrapment_after": 20 * time.Second, "held_open_after": time.Minute})
	if got := after(dev, profile, devices.Layer(map[string]any{"entrapment_after": time.Duration(0)})); got != 20*time.Second {
		t.Errorf("profile layer (a zero value does not override): %s", got)
	}
	dev.Node = node("{id: l1, family: elevator, protocol: modbus_tcp, address: x, entrapment_after: 3s}")
	if got := after(dev, profile); got != 3*time.Second {
		t.Errorf("device key over profile: %s", got)
	}
	if b, _ := devices.NewBehaviour(config.Device{Family: "meter"}); b != nil {
		t.Error("a meter has no family logic")
	}
}
