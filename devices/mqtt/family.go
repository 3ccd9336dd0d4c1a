package mqtt

import (
	"time"

	"github.com/estatehq/estate/devices"
	"github.com/estatehq/estate/devices/access"
	"github.com/estatehq/estate/devices/elevator"
	"github.com/estatehq/estate/internal/config"
)

// behaviour is a device family's logic over what its devices publish: timers
// and state machines that turn points and codes into events.
type behaviour interface {
	observe(now time.Time, values []devices.Value, signals []signal) []devices.Event
	tick(now time.Time) []devices.Event
}

// newBehaviour returns the logic of a device's family, or nil when its codes
// are passed on as events as they come.
func newBehaviour(dev config.Device, p *Profile) behaviour {
	switch dev.Family {
	case "elevator":
		after := p.EntrapmentAfter
		if dev.MQTT != nil && dev.MQTT.EntrapmentAfter > 0 {
			after = dev.MQTT.EntrapmentAfter
		}
		return elevatorBehaviour{elevator.NewMonitor(after)}
	case "access":
		held := p.HeldOpenAfter
		if dev.MQTT != nil && dev.MQTT.HeldOpenAfter > 0 {
			held = dev.MQTT.HeldOpenAfter
		}
		return accessBehaviour{access.NewController(access.Limits{HeldOpenAfter: held,
			BurstCount: p.InvalidCardBurst, BurstWindow: p.InvalidCardWindow})}
	}
	return nil
}

type elevatorBehaviour struct{ m *elevator.Monitor }

func (b elevatorBehaviour) observe(now time.Time, values []devices.Value, signals []signal) []devices.Event {
	var faults []elevator.Fault
	var other []devices.Event
	for _, s := range signals {
		switch s.kind {
		case "fault", "unknown":
			faults = append(faults, elevator.Fault{Code: s.code, Text: s.text, Table: s.table})
		case "fault_clear":
			faults = append(faults, elevator.Fault{Code: s.code, Table: s.table, Clear: true})
		default:
			other = append(other, passOn(now, s))
		}
	}
	return append(other, b.m.Observe(now, values, faults)...)
}

func (b elevatorBehaviour) tick(now time.Time) []devices.Event { return b.m.Tick(now) }

type accessBehaviour struct{ c *access.Controller }

func (b accessBehaviour) observe(now time.Time, values []devices.Value, signals []signal) []devices.Event {
	var sigs []access.Signal
	for _, s := range signals {
		sigs = append(sigs, access.Signal{Type: s.kind, Source: s.source, Code: s.code, Text: s.text})
	}
	return b.c.Observe(now, values, sigs)
}

func (b accessBehaviour) tick(now time.Time) []devices.Event { return b.c.Tick(now) }

// passOn is a code turned into an event as it is, for families without logic
// of their own.
func passOn(now time.Time, s signal) devices.Event {
	return devices.Event{Time: now, Type: s.kind, Source: s.source, Active: true, Text: s.text,
		Attrs: map[string]string{"code": s.code, "table": s.table}}
}
