// Package health tracks whether each device answers: online, degraded (it
// answers but some points fail), offline (N polls in a row failed), the last
// success, and error counts per kind. Offline is a fact about the link, not
// the building. The states and counters are also on /metrics.
package health

import (
	"errors"
	"maps"
	"net"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/estatehq/estate/internal/promreg"
)

// State of one device's link.
type State string

const (
	Unknown  State = "unknown" // not polled yet
	Online   State = "online"
	Degraded State = "degraded" // answers, but some points fail
	Offline  State = "offline"
)

// States lists every state, for gauges that have one series per state.
var States = []State{Unknown, Online, Degraded, Offline}

// Metrics are the tracker's gauges and counters, on a registry the caller
// injects (the gateway's one registry) rather than the global default.
type Metrics struct {
	state         *prometheus.GaugeVec
	errors        *prometheus.CounterVec
	lastSuccess   *prometheus.GaugeVec
	failingPoints *prometheus.GaugeVec
	consecutive   *prometheus.GaugeVec
}

// NewMetrics registers the tracker's metrics on reg; nil means a private
// registry that nobody serves. A second call on the same registry shares the
// first one's collectors.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	reg = promreg.OrPrivate(reg)
	return &Metrics{
		state: promreg.Register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "estate_device_state", Help: "1 for the device's current health state (unknown, online, degraded, offline), 0 for the others."},
			[]string{"device", "state"})),
		errors: promreg.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "estate_device_errors_total", Help: "Failed requests and points, by device and kind (timeout, crc, exception_illegal_data_address, …)."},
			[]string{"device", "kind"})),
		lastSuccess: promreg.Register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "estate_device_last_success_timestamp_seconds", Help: "When the device last answered a poll (Unix time)."},
			[]string{"device"})),
		failingPoints: promreg.Register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "estate_device_failing_points", Help: "Points of the device that failed in its last poll."},
			[]string{"device"})),
		consecutive: promreg.Register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "estate_device_consecutive_failures", Help: "Polls in a row that the device did not answer."},
			[]string{"device"})),
	}
}

// Device is one device's health.
type Device struct {
	ID    string `json:"id"`
	State State  `json:"state"`
	// LastSeen is the last time the device answered a poll.
	LastSeen            time.Time `json:"last_seen"`
	ConsecutiveFailures int       `json:"consecutive_failures"`
	Polls               uint64    `json:"polls"`
	Errors              uint64    `json:"errors"`
	LastError           string    `json:"last_error,omitempty"`
	// ErrorsByKind counts failed polls and points by kind of failure.
	ErrorsByKind map[string]uint64 `json:"errors_by_kind,omitempty"`
	// FailingPoints holds the error of each point that failed in the last
	// poll of its group.
	FailingPoints map[string]string `json:"failing_points,omitempty"`
}

// Change is what one observation changed.
type Change struct {
	State        State
	StateChanged bool
	// NewlyFailing lists points that failed now and did not before (or with
	// another kind of error); Recovered the points that answered again.
	NewlyFailing []PointFailure
	Recovered    []string
}

// PointFailure is one point's failure.
type PointFailure struct {
	Point string
	Kind  string
	Err   error
}

// Tracker holds the health of every device; safe for concurrent use.
type Tracker struct {
	offlineAfter int
	m            *Metrics

	mu      sync.Mutex
	devices map[string]*Device
	// series holds each device's gauges, looked up once: a poll sets them
	// without hashing label values (a thousand devices polled every second
	// made the lookups a tenth of the gateway's CPU).
	series map[string]*deviceSeries
}

// deviceSeries is one device's exported gauges.
type deviceSeries struct {
	state                                   []prometheus.Gauge
	lastSuccess, failingPoints, consecutive prometheus.Gauge
	lastState                               State
	lastFailing, lastConsecutive            int
	lastSeen                                time.Time
	exported                                bool
}

// NewTracker marks a device offline after offlineAfter consecutive failed
// polls and exports every device's health on reg (nil: a private registry).
func NewTracker(offlineAfter int, reg prometheus.Registerer) *Tracker {
	return &Tracker{offlineAfter: max(1, offlineAfter), m: NewMetrics(reg), devices: map[string]*Device{},
		series: map[string]*deviceSeries{}}
}

// pointErrors is an error of a poll in which the device answered but some
// points failed (devices/modbus.PointErrors has this method).
type pointErrors interface {
	FailedPoints() map[string]error
}

// Kind names the kind of a failure for counters: what the error says of itself
// (ErrorKind() string, as devices/modbus errors do), a timeout, or "error".
func Kind(err error) string {
	var k interface{ ErrorKind() string }
	if errors.As(err, &k) {
		return k.ErrorKind()
	}
	var ne net.Error
	if errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		return "timeout"
	}
	return "error"
}

// Observe records one poll's outcome and returns the device's state and whether
// this poll changed it (so that callers log transitions, not every failure).
func (t *Tracker) Observe(id string, err error, at time.Time) (State, bool) {
	c := t.ObservePoll(id, err, at, nil)
	return c.State, c.StateChanged
}

// ObservePoll records one poll's outcome. good lists the points the poll read
// well (nil with a nil error: all of the device's); they stop failing. A nil error is a good
// poll; an error listing failed points (FailedPoints) is a poll the device
// answered with some points failing; any other error is a failed poll, and
// after offlineAfter of them in a row the device is offline. A device that
// answers is degraded while any of its points fails, online otherwise.
func (t *Tracker) ObservePoll(id string, err error, at time.Time, good []string) Change {
	t.mu.Lock()
	defer t.mu.Unlock()
	d, ok := t.devices[id]
	if !ok {
		d = &Device{ID: id, State: Unknown, ErrorsByKind: map[string]uint64{}, FailingPoints: map[string]string{}}
		t.devices[id] = d
	}
	before := d.State
	d.Polls++
	var c Change
	var pe pointErrors
	switch {
	case err == nil || errors.As(err, &pe):
		d.LastSeen, d.ConsecutiveFailures = at, 0
		if err == nil || good != nil {
			c.Recovered = d.clearPoints(good)
		}
		if err != nil {
			d.Errors++
			d.LastError = err.Error()
			failed := pe.FailedPoints()
			for _, name := range sortedKeys(failed) {
				perr := failed[name]
				kind := Kind(perr)
				d.ErrorsByKind[kind]++
				t.m.errors.WithLabelValues(id, kind).Inc()
				msg := kind + ": " + perr.Error()
				if d.FailingPoints[name] != msg {
					c.NewlyFailing = append(c.NewlyFailing, PointFailure{Point: name, Kind: kind, Err: perr})
				}
				d.FailingPoints[name] = msg
			}
		}
		d.State = Online
		if len(d.FailingPoints) > 0 {
			d.State = Degraded
		}
	default:
		d.Errors++
		d.ConsecutiveFailures++
		d.LastError = err.Error()
		kind := Kind(err)
		d.ErrorsByKind[kind]++
		t.m.errors.WithLabelValues(id, kind).Inc()
		if d.ConsecutiveFailures >= t.offlineAfter {
			d.State = Offline
		}
	}
	c.State = d.State
	c.StateChanged = d.State != before && !(before == Unknown && d.State == Online)
	t.export(d)
	return c
}

// clearPoints removes the given points (all when nil) from the failing ones.
func (d *Device) clearPoints(points []string) []string {
	var rec []string
	if points == nil {
		rec = sortedKeys(d.FailingPoints)
		clear(d.FailingPoints)
		return rec
	}
	for _, p := range points {
		if _, ok := d.FailingPoints[p]; ok {
			delete(d.FailingPoints, p)
			rec = append(rec, p)
		}
	}
	return rec
}

func (t *Tracker) export(d *Device) {
	ds := t.series[d.ID]
	if ds == nil {
		ds = &deviceSeries{
			lastSuccess:   t.m.lastSuccess.WithLabelValues(d.ID),
			failingPoints: t.m.failingPoints.WithLabelValues(d.ID),
			consecutive:   t.m.consecutive.WithLabelValues(d.ID),
		}
		for _, s := range States {
			ds.state = append(ds.state, t.m.state.WithLabelValues(d.ID, string(s)))
		}
		t.series[d.ID] = ds
	}
	// Only what changed is set: most polls change nothing but the time.
	if !ds.exported || ds.lastState != d.State {
		for i, s := range States {
			v := 0.0
			if s == d.State {
				v = 1
			}
			ds.state[i].Set(v)
		}
		ds.lastState = d.State
	}
	if !d.LastSeen.IsZero() && !d.LastSeen.Equal(ds.lastSeen) {
		ds.lastSuccess.Set(float64(d.LastSeen.UnixNano()) / 1e9)
		ds.lastSeen = d.LastSeen
	}
	if !ds.exported || ds.lastFailing != len(d.FailingPoints) {
		ds.failingPoints.Set(float64(len(d.FailingPoints)))
		ds.lastFailing = len(d.FailingPoints)
	}
	if !ds.exported || ds.lastConsecutive != d.ConsecutiveFailures {
		ds.consecutive.Set(float64(d.ConsecutiveFailures))
		ds.lastConsecutive = d.ConsecutiveFailures
	}
	ds.exported = true
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (d *Device) clone() Device {
	c := *d
	c.ErrorsByKind = maps.Clone(d.ErrorsByKind)
	c.FailingPoints = maps.Clone(d.FailingPoints)
	return c
}

// Snapshot returns every device's health, sorted by id.
func (t *Tracker) Snapshot() []Device {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]Device, 0, len(t.devices))
	for _, d := range t.devices {
		out = append(out, d.clone())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Get returns one device's health.
func (t *Tracker) Get(id string) (Device, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	d, ok := t.devices[id]
	if !ok {
		return Device{}, false
	}
	return d.clone(), true
}
