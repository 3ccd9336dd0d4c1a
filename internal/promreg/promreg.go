// Package promreg registers a package's metrics on an injected
// prometheus.Registerer instead of the global default registry, so that a
// process serves one registry it chose and a test builds as many instances as
// it likes, each on a registry of its own.
package promreg

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// OrPrivate is reg, or a fresh registry that nobody serves when reg is nil
// (tests, commissioning commands): the metrics still count, they are just not
// exported.
func OrPrivate(reg prometheus.Registerer) prometheus.Registerer {
	if reg == nil {
		return prometheus.NewRegistry()
	}
	return reg
}

// Register registers c on reg and returns it. When an identical collector is
// already there (a second instance of a part on the process's one registry,
// such as two gateways in one test, or one streamer per broker) it returns the
// registered one instead, so that both instances count into the same series
// rather than one of them panicking or counting into a collector nobody
// exports. Any other registration error is a programming error (two parts
// disagreeing on a metric's help or labels) and panics, as MustRegister does.
func Register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		panic(err)
	}
	return c
}
