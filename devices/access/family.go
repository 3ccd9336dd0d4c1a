package access

import (
	"time"

	"github.com/estatehq/estate/devices"
	"github.com/estatehq/estate/internal/config"
)

// Family is the family name of access control (doors) in configs.
const Family = "access"

// Defaults when neither the device nor its profile says.
const (
	DefaultHeldOpenAfter     = time.Minute
	DefaultInvalidCardBurst  = 5
	DefaultInvalidCardWindow = time.Minute
)

// Options are the access family's own keys of a device, for any transport.
type Options struct {
	// HeldOpenAfter is how long a door may stand open before it is held open.
	HeldOpenAfter time.Duration `yaml:"held_open_after"`
	// InvalidCardBurst invalid cards within InvalidCardWindow raise invalid_card_burst.
	InvalidCardBurst  int           `yaml:"invalid_card_burst"`
	InvalidCardWindow time.Duration `yaml:"invalid_card_window"`
}

func init() {
	devices.RegisterFamily(Family, devices.Family{
		Options: func() any {
			return &Options{HeldOpenAfter: DefaultHeldOpenAfter, InvalidCardBurst: DefaultInvalidCardBurst,
				InvalidCardWindow: DefaultInvalidCardWindow}
		},
		Misplaced: "applies to access control only",
		Validate: func(cfg *config.Config, opts any, path string) []config.Problem {
			o := opts.(*Options)
			var ps []config.Problem
			if o.HeldOpenAfter <= 0 {
				ps = append(ps, cfg.Problemf(path+".held_open_after", "must be positive"))
			}
			if o.InvalidCardBurst < 1 {
				ps = append(ps, cfg.Problemf(path+".invalid_card_burst", "must be at least 1"))
			}
			if o.InvalidCardWindow <= 0 {
				ps = append(ps, cfg.Problemf(path+".invalid_card_window", "must be positive"))
			}
			return ps
		},
		New: func(opts any) devices.Behaviour {
			o := opts.(*Options)
			return behaviour{NewController(Limits{HeldOpenAfter: o.HeldOpenAfter,
				BurstCount: o.InvalidCardBurst, BurstWindow: o.InvalidCardWindow})}
		},
	})
}

// behaviour adapts a Controller to devices.Behaviour.
type behaviour struct{ c *Controller }

func (b behaviour) Observe(now time.Time, values []devices.Value, signals []devices.Signal) []devices.Event {
	var sigs []Signal
	for _, s := range signals {
		sigs = append(sigs, Signal{Type: s.Kind, Source: s.Source, Code: s.Code, Text: s.Text, TextZH: s.TextZH})
	}
	return b.c.Observe(now, values, sigs)
}

func (b behaviour) Tick(now time.Time) []devices.Event { return b.c.Tick(now) }
