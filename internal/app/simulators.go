package app

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"sync"

	"github.com/estatehq/estate/internal/config"
)

// simulatorKind is one kind of simulated device the demo can serve. Each kind
// lives in its own file (sim_<kind>.go) and registers itself in init.
type simulatorKind struct {
	// validate reports problems of one simulators[i] entry (path "simulators[i]").
	validate func(cfg *config.Config, sim config.Simulator, path string) []config.Problem
	// start serves the simulator until ctx ends; the returned function waits
	// for it to have stopped.
	start func(ctx context.Context, cfg *config.Config, sim config.Simulator, log *slog.Logger) (wait func(), err error)
}

var simulatorKinds = map[string]simulatorKind{}

func registerSimulator(kind string, k simulatorKind) { simulatorKinds[kind] = k }

func simulatorKindNames() []string {
	names := make([]string, 0, len(simulatorKinds))
	for n := range simulatorKinds {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func validateSimulators(cfg *config.Config) []config.Problem {
	var ps []config.Problem
	for i, s := range cfg.Simulators {
		path := fmt.Sprintf("simulators[%d]", i)
		k, ok := simulatorKinds[s.Kind]
		if !ok {
			ps = append(ps, cfg.Problemf(path+".kind", "%q is not a simulator; use one of %v", s.Kind, simulatorKindNames()))
			continue
		}
		if k.validate != nil {
			ps = append(ps, k.validate(cfg, s, path)...)
		}
	}
	return ps
}

// StartSimulators serves the configured simulated devices until ctx ends or
// the returned function, which stops them and waits, is called.
func StartSimulators(ctx context.Context, cfg *config.Config, log *slog.Logger) (wait func(), err error) {
	var waits []func()
	waitAll := func() {
		var wg sync.WaitGroup
		for _, w := range slices.Backward(waits) {
			wg.Go(w)
		}
		wg.Wait()
	}
	ctx, cancel := context.WithCancel(ctx)
	for _, sc := range cfg.Simulators {
		w, err := simulatorKinds[sc.Kind].start(ctx, cfg, sc, log)
		if err != nil {
			cancel()
			waitAll()
			return nil, fmt.Errorf("simulator %s for %s: %w", sc.Kind, sc.Device, err)
		}
		waits = append(waits, w)
	}
	return func() { cancel(); waitAll() }, nil
}
