package dlt645

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/estatehq/estate/internal/promreg"
)

// metrics are the DL/T 645 driver's, registered on the registry the gateway
// passes (devices.Env.Metrics). Every line and bus of a process shares the
// collectors of one registry: registering them again finds the first ones.
type metrics struct {
	transactions   *prometheus.CounterVec
	strayFrames    *prometheus.CounterVec
	timeBroadcasts *prometheus.CounterVec
	sweepSeconds   *prometheus.HistogramVec
	frameErrors    *prometheus.CounterVec
	discardedBytes prometheus.Counter
}

// newMetrics registers the metrics on reg; nil means a private registry that
// nobody serves (tests, commissioning commands).
func newMetrics(reg prometheus.Registerer) *metrics {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	return &metrics{
		transactions: promreg.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "estate_dlt645_transactions_total",
			Help: "DL/T 645 request/reply exchanges, by result (ok, refused, timeout, link_error).",
		}, []string{"result"})),
		strayFrames: promreg.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "estate_dlt645_stray_frames_total",
			Help: "Whole DL/T 645 frames received that did not answer the request (echo, wrong_address, wrong_function).",
		}, []string{"kind"})),
		timeBroadcasts: promreg.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "estate_dlt645_time_broadcasts_total",
			Help: "Clock-setting broadcasts (0x08) sent on DL/T 645 lines, by result.",
		}, []string{"result"})),
		// The scheduler polls each meter on its own turn; a sweep is the
		// line's busy time to read every meter once: the sum of each meter's
		// latest poll, observed when every meter of the line has had one.
		sweepSeconds: promreg.Register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "estate_dlt645_sweep_seconds",
			Help:    "Time a DL/T 645 line is busy reading every meter on it once (the sum of each meter's latest poll).",
			Buckets: prometheus.ExponentialBuckets(0.1, 2, 10),
		}, []string{"port"})),
		frameErrors: promreg.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "estate_dlt645_frame_errors_total",
			Help: "DL/T 645 frames received that did not decode, by kind (checksum, framing, length).",
		}, []string{"kind"})),
		discardedBytes: promreg.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "estate_dlt645_discarded_bytes_total",
			Help: "Bytes skipped on DL/T 645 lines while re-synchronising on a start byte.",
		})),
	}
}
