package elevator

import (
	"time"

	"github.com/estatehq/estate/devices"
	"github.com/estatehq/estate/internal/config"
)

// Family is the family name of elevators in configs.
const Family = "elevator"

// DefaultEntrapmentAfter is how long an inferred entrapment must last when
// neither the device nor its profile says.
const DefaultEntrapmentAfter = 30 * time.Second

// Options are the elevator family's own keys of a device, for any transport
// (an MQTT monitoring box, a Modbus-polled controller).
type Options struct {
	// EntrapmentAfter is how long a car may hold a passenger stopped with
	// doors shut, or its alarm button pressed, before an entrapment is raised.
	EntrapmentAfter time.Duration `yaml:"entrapment_after"`
}

func init() {
	devices.RegisterFamily(Family, devices.Family{
		Options:   func() any { return &Options{EntrapmentAfter: DefaultEntrapmentAfter} },
		Misplaced: "applies to elevators only",
		Validate: func(cfg *config.Config, opts any, path string) []config.Problem {
			if o := opts.(*Options); o.EntrapmentAfter <= 0 {
				return []config.Problem{cfg.Problemf(path+".entrapment_after", "must be positive")}
			}
			return nil
		},
		New: func(opts any) devices.Behaviour {
			return behaviour{NewMonitor(opts.(*Options).EntrapmentAfter)}
		},
	})
}

// behaviour adapts a Monitor to devices.Behaviour: fault codes are named
// faults, other codes pass on as events as they come.
type behaviour struct{ m *Monitor }

func (b behaviour) Observe(now time.Time, values []devices.Value, signals []devices.Signal) []devices.Event {
	var faults []Fault
	var other []devices.Event
	for _, s := range signals {
		switch s.Kind {
		case "fault", "unknown":
			faults = append(faults, Fault{Code: s.Code, Text: s.Text, TextZH: s.TextZH, Table: s.Table})
		case "fault_clear":
			faults = append(faults, Fault{Code: s.Code, Table: s.Table, Clear: true})
		default:
			other = append(other, devices.PassOn(now, s))
		}
	}
	return append(other, b.m.Observe(now, values, faults)...)
}

func (b behaviour) Tick(now time.Time) []devices.Event { return b.m.Tick(now) }
