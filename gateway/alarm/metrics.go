package alarm

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/estatehq/estate/internal/promreg"
)

// Metrics are the engine's Prometheus metrics (docs/metrics.md). They live on
// the registry the gateway serves, not in package globals, so that a process
// (a test binary) can build many engines.
type Metrics struct {
	evaluations   prometheus.Counter
	suppressions  *prometheus.CounterVec
	firing        *prometheus.GaugeVec
	persistErrors prometheus.Counter
}

// NewMetrics registers the engine's metrics on reg; nil registers them on a
// private registry (tests, tools). Registering twice on one registry reuses
// the collectors already there.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	return &Metrics{
		evaluations: promreg.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "estate_alarm_evaluations_total", Help: "Rule evaluations against readings, events and health."})),
		suppressions: promreg.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "estate_alarm_suppressed_total", Help: "Alarms that fired while suppressed, by cause (outage, maintenance)."}, []string{"cause"})),
		firing: promreg.Register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "estate_alarm_firing", Help: "Alarms firing now, by whether they are suppressed."}, []string{"suppressed"})),
		persistErrors: promreg.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "estate_alarm_persist_errors_total", Help: "Alarm state writes that failed."})),
	}
}
