package mqtt

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/estatehq/estate/devices/access"
	"github.com/estatehq/estate/devices/elevator"
)

// CodeTables names the code tables of the profile's subscriptions, in order.
func (p *Profile) CodeTables() []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range p.Subscriptions {
		for _, c := range s.Codes {
			if !seen[c.Table] {
				seen[c.Table] = true
				out = append(out, c.Table)
			}
		}
	}
	return out
}

// RunElevatorSim publishes a simulated car through pub every period until ctx
// ends: its state every step, its fault code when it changes.
func RunElevatorSim(ctx context.Context, pub *Publisher, sim *elevator.Simulator, every time.Duration, log *slog.Logger) error {
	tables := pub.profile.CodeTables()
	fault := ""
	return simLoop(ctx, every, func(now time.Time) error {
		values, code := sim.Step(now)
		if err := pub.State(ctx, values); err != nil {
			return err
		}
		if code != fault && len(tables) > 0 {
			if err := pub.Code(ctx, tables[0], code, ""); err != nil {
				return err
			}
			if code != "0" || fault != "" {
				log.Info("simulated elevator fault code", "code", code)
			}
			fault = code
		}
		return nil
	}, log)
}

// RunAccessSim publishes a simulated door through pub every period until ctx
// ends: the door's points, and the controller's codes for what happened.
func RunAccessSim(ctx context.Context, pub *Publisher, sim *access.Simulator, every time.Duration, log *slog.Logger) error {
	tables := pub.profile.CodeTables()
	return simLoop(ctx, every, func(now time.Time) error {
		values, signals := sim.Step(now)
		if len(tables) > 0 {
			for _, sg := range signals {
				code, ok := pub.profile.CodeFor(tables[0], sg)
				if !ok {
					return fmt.Errorf("code table %s has no code for %s", tables[0], sg)
				}
				if err := pub.Code(ctx, tables[0], code, "1"); err != nil {
					return err
				}
			}
		}
		if pub.profile.points()[access.PointDoorOpen] {
			return pub.State(ctx, values)
		}
		return nil // the profile maps no points: the controller speaks through codes alone
	}, log)
}

// points is the set of point names the profile maps.
func (p *Profile) points() map[string]bool {
	out := map[string]bool{}
	for _, s := range p.Subscriptions {
		for _, pt := range s.Points {
			out[pt.Name] = true
		}
	}
	return out
}

// simLoop steps a simulator until ctx ends. A failed publish (the broker
// away) is logged once per outage and the simulator goes on, as a device would.
func simLoop(ctx context.Context, every time.Duration, step func(time.Time) error, log *slog.Logger) error {
	if every <= 0 {
		every = time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	failing := false
	for {
		err := step(time.Now())
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil && !failing:
			log.Warn("simulated device cannot publish; retrying", "err", err)
			failing = true
		case err == nil && failing:
			log.Info("simulated device publishing again")
			failing = false
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
