package mqtt

import (
	"github.com/estatehq/estate/devices"
	"github.com/estatehq/estate/internal/config"
)

// newBehaviour returns the logic of a device's family (registered by
// devices/elevator and devices/access, the same for every transport), or nil
// when its codes are passed on as events as they come. Its options come from
// the profile, then the device's mqtt block (entrapment_after,
// held_open_after), then the family's own keys of the device.
func newBehaviour(dev config.Device, p *Profile) (devices.Behaviour, error) {
	profile := devices.Layer(map[string]any{
		"entrapment_after":    p.EntrapmentAfter,
		"held_open_after":     p.HeldOpenAfter,
		"invalid_card_burst":  p.InvalidCardBurst,
		"invalid_card_window": p.InvalidCardWindow,
	})
	var block map[string]any
	if o := devices.OptionsOf[Options](dev).MQTT; o != nil {
		block = map[string]any{"entrapment_after": o.EntrapmentAfter, "held_open_after": o.HeldOpenAfter}
	}
	return devices.NewBehaviour(dev, profile, devices.Layer(block))
}

// signals turns the codes of one message into the families' signals.
func signals(in []signal) []devices.Signal {
	out := make([]devices.Signal, len(in))
	for i, s := range in {
		out[i] = devices.Signal{Kind: s.kind, Source: s.source, Code: s.code, Text: s.text, TextZH: s.textZH, Table: s.table}
	}
	return out
}
