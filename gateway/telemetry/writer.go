// Package telemetry writes readings, alarm transitions and device events to
// InfluxDB so that none is lost: every point is first appended to the on-disk
// spool (gateway/spool) and counts as accepted only then; the writer sends
// from the spool in batches (by size and age, gzip, a bounded number of writes
// in flight) through influxdb-client-go's write API, and acknowledges spooled
// points only after InfluxDB confirmed them. Outages, 429s and 5xx are retried
// with backoff (honouring Retry-After); a 413 splits the batch; any other 4xx
// is a bad point, which goes to a dead-letter file with the server's message
// while the rest of its batch is written.
//
// After an outage (or a restart with a backlog) the backlog is replayed oldest
// first at a bounded rate on one lane while live points flow on another.
package telemetry

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/influxdata/influxdb-client-go/v2/api"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/estatehq/estate/devices"
	"github.com/estatehq/estate/gateway/spool"
	"github.com/estatehq/estate/internal/config"
	"github.com/estatehq/estate/internal/promreg"
)

// Metrics are the writer's counters and gauges, on a registry the caller
// injects (the gateway's one registry) rather than the global default.
type Metrics struct {
	pointsAccepted     prometheus.Counter
	pointsWritten      prometheus.Counter
	pointsRetried      prometheus.Counter
	pointsDeadLettered prometheus.Counter
	pointsDropped      *prometheus.CounterVec
	writeErrors        *prometheus.CounterVec
	writeLatency       prometheus.Histogram
	backlogPoints      prometheus.Gauge
	oldestAge          prometheus.Gauge
	influxUp           prometheus.Gauge
	lastWrite          prometheus.Gauge
}

// NewMetrics registers the writer's metrics on reg; nil means a private
// registry that nobody serves. A second call on the same registry shares the
// first one's collectors.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	reg = promreg.OrPrivate(reg)
	return &Metrics{
		pointsAccepted: promreg.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "estate_telemetry_points_accepted_total", Help: "Points appended to the spool (accepted for delivery)."})),
		pointsWritten: promreg.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "estate_telemetry_points_written_total", Help: "Points acknowledged by InfluxDB."})),
		pointsRetried: promreg.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "estate_telemetry_points_retried_total", Help: "Points in write attempts that failed and were retried."})),
		pointsDeadLettered: promreg.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "estate_telemetry_points_dead_lettered_total", Help: "Points InfluxDB refused as bad, moved to the dead-letter file."})),
		pointsDropped: promreg.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "estate_telemetry_points_dropped_total", Help: "Points lost before they were spooled, by reason (the spool's own losses are estate_spool_dropped_points_total)."}, []string{"reason"})),
		writeErrors: promreg.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "estate_telemetry_write_errors_total", Help: "Failed write requests to InfluxDB, by kind (network, 429, 5xx, 413, 4xx, auth)."}, []string{"kind"})),
		writeLatency: promreg.Register(reg, prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "estate_telemetry_write_duration_seconds", Help: "Duration of write requests to InfluxDB, failed ones included.",
			Buckets: prometheus.ExponentialBuckets(0.002, 2, 13)})),
		backlogPoints: promreg.Register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "estate_telemetry_backlog_points", Help: "Spooled points not yet acknowledged by InfluxDB."})),
		oldestAge: promreg.Register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "estate_telemetry_oldest_unsent_age_seconds", Help: "Age of the oldest spooled point not yet acknowledged (0 when none)."})),
		influxUp: promreg.Register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "estate_telemetry_influxdb_up", Help: "1 while InfluxDB accepts writes, 0 while writes fail."})),
		lastWrite: promreg.Register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "estate_telemetry_last_write_timestamp_seconds", Help: "Unix time of the last write InfluxDB acknowledged."})),
	}
}

// Option configures a Writer at New.
type Option func(*options)

type options struct {
	reg prometheus.Registerer
}

// WithRegisterer registers the writer's metrics, and its spool's, on reg
// instead of a private registry that nobody serves.
func WithRegisterer(reg prometheus.Registerer) Option {
	return func(o *options) { o.reg = reg }
}

// Writer accepts points into the spool and sends them to InfluxDB. Add*
// methods are safe for concurrent use and never wait for InfluxDB; Run does
// the sending.
type Writer struct {
	cfg    config.InfluxDB
	log    *slog.Logger
	client influxdb2.Client
	api    api.WriteAPIBlocking
	spool  *spool.Spool
	dead   *deadLetter
	status *statusTracker
	m      *Metrics

	encBuf sync.Pool // *[]byte, encoding buffers

	errMu      sync.Mutex
	lastAddErr time.Time
}

// New opens the spool (recovering it after a crash) and the dead-letter file;
// it does not connect to InfluxDB yet.
func New(cfg config.InfluxDB, log *slog.Logger, opts ...Option) (*Writer, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	// Both on one registry, private when none was given: one nil would
	// otherwise make two private registries.
	reg := promreg.OrPrivate(o.reg)
	sp, err := spool.Open(cfg.Spool.Dir, spool.Options{
		Metrics:      spool.NewMetrics(reg),
		MaxBytes:     int64(cfg.Spool.MaxSizeMB) << 20,
		SegmentBytes: int64(cfg.Spool.SegmentSizeMB) << 20,
		Sync:         spool.Sync(cfg.Spool.Fsync),
		SyncInterval: cfg.Spool.FsyncInterval,
	}, log.With("part", "spool"))
	if err != nil {
		return nil, fmt.Errorf("telemetry: %w", err)
	}
	m := NewMetrics(reg)
	dead, err := openDeadLetter(cfg.Spool.DeadLetterFile, cfg.Spool.Fsync != string(spool.SyncNever))
	if err != nil {
		sp.Close()
		return nil, fmt.Errorf("telemetry: %w", err)
	}
	copts := influxdb2.DefaultOptions().
		SetUseGZip(true).
		SetHTTPRequestTimeout(uint(max(1, cfg.Timeout.Round(time.Second)/time.Second))).
		SetPrecision(time.Nanosecond).
		SetMaxRetries(0) // retries are ours: they must not lose track of the spool cursor
	client := influxdb2.NewClientWithOptions(cfg.URL, cfg.Token, copts)
	w := &Writer{
		cfg: cfg, log: log, client: client,
		api:    client.WriteAPIBlocking(cfg.Org, cfg.Bucket),
		spool:  sp,
		dead:   dead,
		status: newStatusTracker(filepath.Join(cfg.Spool.Dir, StatusFile)),
		m:      m,
	}
	w.encBuf.New = func() any { b := make([]byte, 0, 512); return &b }
	m.influxUp.Set(1)
	return w, nil
}

// Backlog is how many spooled points InfluxDB has not acknowledged yet; the
// gateway reports it to the desk on its heartbeat.
func (w *Writer) Backlog() int { return int(w.spool.Stats().Backlog) }

// AddReading accepts one reading (one point, schema in AppendReading).
func (w *Writer) AddReading(r devices.Reading) {
	bp := w.encBuf.Get().(*[]byte)
	*bp = AppendReading((*bp)[:0], r)
	w.accept(r.Time, *bp)
	w.encBuf.Put(bp)
}

// AddAlarm accepts an alarm transition for the alarm measurement.
func (w *Writer) AddAlarm(d *devices.Info, rule, state, severity, zh, en string, value float64, at time.Time) {
	bp := w.encBuf.Get().(*[]byte)
	*bp = AppendAlarm((*bp)[:0], d, rule, state, severity, zh, en, value, at)
	w.accept(at, *bp)
	w.encBuf.Put(bp)
}

// AddEvent accepts a device event for the event measurement.
func (w *Writer) AddEvent(e devices.Event) {
	bp := w.encBuf.Get().(*[]byte)
	*bp = AppendEvent((*bp)[:0], e)
	w.accept(e.Time, *bp)
	w.encBuf.Put(bp)
}

// accept appends one encoded point to the spool. Only a failing disk loses a
// point here; that is counted and logged (at most once a minute).
func (w *Writer) accept(at time.Time, line []byte) {
	if _, err := w.spool.Append(spool.Entry{Time: at.UnixNano(), Data: line}); err != nil {
		w.m.pointsDropped.WithLabelValues("spool_error").Inc()
		w.status.addError(err)
		w.errMu.Lock()
		if time.Since(w.lastAddErr) > time.Minute {
			w.lastAddErr = time.Now()
			w.log.Error("cannot spool telemetry; points are being lost", "err", err)
		}
		w.errMu.Unlock()
		return
	}
	w.m.pointsAccepted.Inc()
	w.status.accepted.Add(1)
}
