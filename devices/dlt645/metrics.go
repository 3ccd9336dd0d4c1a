package dlt645

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
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
		transactions: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "estate_dlt645_transactions_total",
			Help: "DL/T 645 request/reply exchanges, by result (ok, refused, timeout, link_error).",
		}, []string{"result"})),
		strayFrames: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "estate_dlt645_stray_frames_total",
			Help: "Whole DL/T 645 frames received that did not answer the request (echo, wrong_address, wrong_function).",
		}, []string{"kind"})),
		timeBroadcasts: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "estate_dlt645_time_broadcasts_total",
			Help: "Clock-setting broadcasts (0x08) sent on DL/T 645 lines, by result.",
		}, []string{"result"})),
		// The scheduler polls each meter on its own turn; a sweep is the
		// line's busy time to read every meter once: the sum of each meter's
		// latest poll, observed when every meter of the line has had one.
		sweepSeconds: register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "estate_dlt645_sweep_seconds",
			Help:    "Time a DL/T 645 line is busy reading every meter on it once (the sum of each meter's latest poll).",
			Buckets: prometheus.ExponentialBuckets(0.1, 2, 10),
		}, []string{"port"})),
		frameErrors: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "estate_dlt645_frame_errors_total",
			Help: "DL/T 645 frames received that did not decode, by kind (checksum, framing, length).",
		}, []string{"kind"})),
		discardedBytes: register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "estate_dlt645_discarded_bytes_total",
			Help: "Bytes skipped on DL/T 645 lines while re-synchronising on a start byte.",
		})),
	}
}

// register registers c on reg, or returns the collector already registered
// under its name (a second line, bus or gateway on the same registry).
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
