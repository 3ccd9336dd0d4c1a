package cjt188

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/estatehq/estate/internal/promreg"
)

// metrics are the CJ/T 188 driver's, registered on the registry the gateway
// passes (devices.Env.Metrics); every line of a process shares them.
type metrics struct {
	transactions   *prometheus.CounterVec
	strayFrames    *prometheus.CounterVec
	frameErrors    *prometheus.CounterVec
	discardedBytes prometheus.Counter
	sweepSeconds   *prometheus.HistogramVec
}

// newMetrics registers the metrics on reg; nil means a private registry
// (tests, commissioning commands).
func newMetrics(reg prometheus.Registerer) *metrics {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	return &metrics{
		transactions: promreg.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "estate_cjt188_transactions_total",
			Help: "CJ/T 188 request/reply exchanges, by result (ok, refused, timeout, link_error).",
		}, []string{"result"})),
		strayFrames: promreg.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "estate_cjt188_stray_frames_total",
			Help: "Whole CJ/T 188 frames received that did not answer the request (echo, wrong_address, wrong_function).",
		}, []string{"kind"})),
		frameErrors: promreg.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "estate_cjt188_frame_errors_total",
			Help: "CJ/T 188 frames received that did not decode, by kind (checksum, framing).",
		}, []string{"kind"})),
		discardedBytes: promreg.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "estate_cjt188_discarded_bytes_total",
			Help: "Bytes skipped on CJ/T 188 lines while re-synchronising on a start byte.",
		})),
		sweepSeconds: promreg.Register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "estate_cjt188_sweep_seconds",
			Help:    "Time a CJ/T 188 line is busy reading every meter on it once (the sum of each meter's latest poll).",
			Buckets: prometheus.ExponentialBuckets(0.1, 2, 10),
		}, []string{"port"})),
	}
}
