package outbox

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/estatehq/estate/internal/promreg"
)

// Metrics are the outbox's Prometheus metrics (docs/metrics.md), on the
// registry the gateway serves rather than in package globals.
type Metrics struct {
	delivered, rejected, failures, deadLettered prometheus.Counter
	pending, breakerOpen, dead                  prometheus.Gauge
}

// NewMetrics registers the outbox's metrics on reg; nil registers them on a
// private registry (tests, tools). Registering twice on one registry reuses
// the collectors already there.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	return &Metrics{
		delivered: promreg.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "estate_outbox_delivered_total", Help: "Alarm actions the desk accepted."})),
		rejected: promreg.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "estate_outbox_rejected_total", Help: "Alarm actions the desk refused for their content."})),
		pending: promreg.Register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "estate_outbox_pending", Help: "Alarm actions waiting for the desk (the backlog)."})),
		breakerOpen: promreg.Register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "estate_outbox_breaker_open", Help: "1 while the circuit breaker holds delivery back."})),
		failures: promreg.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "estate_outbox_send_failures_total", Help: "Deliveries that failed and will be retried."})),
		deadLettered: promreg.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "estate_outbox_dead_lettered_total", Help: "Alarm actions moved to the dead letter after the desk refused them outbox_max_attempts times."})),
		dead: promreg.Register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "estate_outbox_dead", Help: "Alarm actions in the dead letter, waiting for estate outbox retry."})),
	}
}
