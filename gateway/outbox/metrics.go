package outbox

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the outbox's Prometheus metrics (docs/metrics.md), on the
// registry the gateway serves rather than in package globals.
type Metrics struct {
	delivered, rejected, failures prometheus.Counter
	pending, breakerOpen          prometheus.Gauge
}

// NewMetrics registers the outbox's metrics on reg; nil registers them on a
// private registry (tests, tools). Registering twice on one registry reuses
// the collectors already there.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	return &Metrics{
		delivered: register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "estate_outbox_delivered_total", Help: "Alarm actions the desk accepted."})),
		rejected: register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "estate_outbox_rejected_total", Help: "Alarm actions the desk refused for their content."})),
		pending: register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "estate_outbox_pending", Help: "Alarm actions waiting for the desk (the backlog)."})),
		breakerOpen: register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "estate_outbox_breaker_open", Help: "1 while the circuit breaker holds delivery back."})),
		failures: register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "estate_outbox_send_failures_total", Help: "Deliveries that failed and will be retried."})),
	}
}

// register registers c on reg, or returns the equal collector already there
// (a second outbox on the same registry). Any other conflict is a programming
// error, as with prometheus.MustRegister.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
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
