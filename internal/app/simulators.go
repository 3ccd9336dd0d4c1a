package app

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"

	"github.com/estatehq/estate/devices"
	"github.com/estatehq/estate/internal/config"
)

// StartSimulators serves the configured simulated devices (the simulators:
// section, each entry a kind that a device family registered with
// devices.RegisterSimulator) until ctx ends or the returned function, which
// stops them and waits, is called. A simulator that stops on its own is
// logged; the others go on.
func StartSimulators(ctx context.Context, cfg *config.Config, log *slog.Logger) (wait func(), err error) {
	return startSimulators(ctx, cfg, devices.SimEnv{Log: log})
}

// startSimulators is StartSimulators in env (the demo passes its broker's
// Subscribed).
func startSimulators(ctx context.Context, cfg *config.Config, env devices.SimEnv) (wait func(), err error) {
	log := env.Logger()
	sims, ps := devices.ConfiguredSimulators(cfg, nil)
	if len(ps) > 0 {
		return nil, config.Problems(ps)
	}
	var waits []func()
	waitAll := func() {
		var wg sync.WaitGroup
		for _, w := range slices.Backward(waits) {
			wg.Go(w)
		}
		wg.Wait()
	}
	ctx, cancel := context.WithCancel(ctx)
	for _, s := range sims {
		w, err := s.Start(ctx, env)
		if err != nil {
			cancel()
			waitAll()
			return nil, fmt.Errorf("simulator %s for %s: %w", s.Kind, s.Device, err)
		}
		// Waiting at once, so that a simulator that stops is logged when it does.
		stopped := make(chan struct{})
		go func() {
			defer close(stopped)
			if err := w(); err != nil {
				log.Error("simulated device stopped", "kind", s.Kind, "device", s.Device, "err", err)
			}
		}()
		waits = append(waits, func() { <-stopped })
	}
	return func() { cancel(); waitAll() }, nil
}
