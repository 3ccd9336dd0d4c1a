// Package telemetry writes readings to InfluxDB through influxdb-client-go's
// v2 write API: batched by size and age, gzip-compressed, buffered in memory
// while InfluxDB is unreachable and written once it is back.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/influxdata/influxdb-client-go/v2/api"
	influxhttp "github.com/influxdata/influxdb-client-go/v2/api/http"
	"github.com/influxdata/influxdb-client-go/v2/api/write"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/estatehq/estate/devices"
	"github.com/estatehq/estate/internal/config"
)

var (
	pointsWritten = promauto.NewCounter(prometheus.CounterOpts{
		Name: "estate_telemetry_points_written_total", Help: "Points acknowledged by InfluxDB."})
	pointsDropped = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "estate_telemetry_points_dropped_total", Help: "Points given up, by reason."}, []string{"reason"})
	writeErrors = promauto.NewCounter(prometheus.CounterOpts{
		Name: "estate_telemetry_write_errors_total", Help: "Failed write requests to InfluxDB."})
	bufferedPoints = promauto.NewGauge(prometheus.GaugeOpts{
		Name: "estate_telemetry_buffered_points", Help: "Points waiting to be written."})
)

// Writer batches points and writes them to InfluxDB. Add never blocks the
// pollers; Run does the writing and, when its context ends, flushes what is pending.
type Writer struct {
	cfg    config.InfluxDB
	log    *slog.Logger
	client influxdb2.Client
	api    api.WriteAPIBlocking

	in chan *write.Point
	// pending is owned by Run's goroutine.
	pending []*write.Point
	// backlog mirrors len(pending)+len(in) for other goroutines.
	backlog atomic.Int64
}

// New returns a writer for the configured InfluxDB; it does not connect yet.
func New(cfg config.InfluxDB, log *slog.Logger) *Writer {
	opts := influxdb2.DefaultOptions().
		SetUseGZip(true).
		SetHTTPRequestTimeout(uint(max(1, cfg.Timeout.Round(time.Second)/time.Second))).
		SetPrecision(time.Nanosecond)
	client := influxdb2.NewClientWithOptions(cfg.URL, cfg.Token, opts)
	return &Writer{
		cfg: cfg, log: log, client: client,
		api: client.WriteAPIBlocking(cfg.Org, cfg.Bucket),
		in:  make(chan *write.Point, cfg.BatchSize*4),
	}
}

// Backlog is how many points wait to be written.
func (w *Writer) Backlog() int { return int(w.backlog.Load()) }

// AddReading queues one reading: one point of its family's measurement with a
// field per good value and the reading's quality.
func (w *Writer) AddReading(r devices.Reading) {
	w.add(ReadingPoint(r))
}

// ReadingPoint is the InfluxDB point of a reading (schema in the README).
func ReadingPoint(r devices.Reading) *write.Point {
	d := r.Device
	p := influxdb2.NewPointWithMeasurement(d.Family).
		AddTag("site", d.Site).AddTag("device", d.ID).AddTag("model", d.Model).
		SetTime(r.Time)
	if d.Building != "" {
		p.AddTag("building", d.Building)
	}
	if d.Unit != "" {
		p.AddTag("unit", d.Unit)
	}
	quality := devices.Good
	for _, v := range r.Values {
		if v.Quality != devices.Good {
			quality = devices.Bad
			continue
		}
		p.AddField(v.Point, v.Value)
	}
	p.AddField("quality", quality.String())
	return p
}

// AddAlarm records an alarm transition in the alarm measurement.
func (w *Writer) AddAlarm(d *devices.Info, rule, state, severity string, value float64, at time.Time) {
	p := influxdb2.NewPointWithMeasurement("alarm").
		AddTag("site", d.Site).AddTag("device", d.ID).AddTag("rule", rule).AddTag("severity", severity).
		AddField("state", state).AddField("value", value).SetTime(at)
	if d.Building != "" {
		p.AddTag("building", d.Building)
	}
	w.add(p)
}

// AddEvent records a device event in the event measurement.
func (w *Writer) AddEvent(e devices.Event) {
	d := e.Device
	p := influxdb2.NewPointWithMeasurement("event").
		AddTag("site", d.Site).AddTag("device", d.ID).AddTag("type", e.Type).
		AddField("active", e.Active).AddField("source", e.Source).SetTime(e.Time)
	if d.Building != "" {
		p.AddTag("building", d.Building)
	}
	if e.Text != "" {
		p.AddField("text", e.Text)
	}
	w.add(p)
}

func (w *Writer) add(p *write.Point) {
	select {
	case w.in <- p:
	default:
		// The writer is far behind; holding more would only exhaust memory.
		pointsDropped.WithLabelValues("queue_full").Inc()
	}
}

// Run writes batches until ctx ends, then flushes what is pending (bounded by
// the write timeout) and closes the client.
func (w *Writer) Run(ctx context.Context) error {
	defer w.client.Close()
	tick := time.NewTicker(w.cfg.FlushInterval)
	defer tick.Stop()
	var (
		down      bool      // InfluxDB failed the last write
		downSince time.Time // first failure of this outage
		nextTry   time.Time
		backoff   = time.Second
	)
	flush := func(now time.Time) {
		for len(w.pending) > 0 {
			n := min(len(w.pending), w.cfg.BatchSize)
			err := w.write(ctx, w.pending[:n])
			if err == nil {
				pointsWritten.Add(float64(n))
				w.pending = w.pending[n:]
				if down {
					w.log.Info("InfluxDB reachable again; writing the buffered points",
						"url", w.cfg.URL, "outage", time.Since(downSince).Round(time.Second), "buffered", len(w.pending)+n)
					down, backoff = false, time.Second
				}
				continue
			}
			writeErrors.Inc()
			if isBadData(err) {
				// Not an outage: the server refused these points. Retrying would
				// fail forever and hold back everything behind them.
				w.log.Error("InfluxDB refused a batch; dropping it", "points", n, "err", err)
				pointsDropped.WithLabelValues("refused").Add(float64(n))
				w.pending = w.pending[n:]
				continue
			}
			if !down {
				// Once per outage: the recovery line closes it.
				down, downSince = true, now
				w.log.Error("InfluxDB unreachable; buffering telemetry and retrying",
					"url", w.cfg.URL, "err", err, "buffered", len(w.pending))
			}
			nextTry = now.Add(backoff)
			backoff = min(backoff*2, 30*time.Second)
			return
		}
	}
	for {
		select {
		case p := <-w.in:
			w.append(p)
			if len(w.pending) >= w.cfg.BatchSize && !down {
				flush(time.Now())
			}
		case now := <-tick.C:
			if len(w.pending) > 0 && !now.Before(nextTry) {
				flush(now)
			}
		case <-ctx.Done():
			return w.drain()
		}
		w.backlog.Store(int64(len(w.pending) + len(w.in)))
		bufferedPoints.Set(float64(w.backlog.Load()))
	}
}

func (w *Writer) append(p *write.Point) {
	if len(w.pending) >= w.cfg.MaxBufferedPoints {
		// Memory is bounded: the oldest points go first (the disk spool of the
		// telemetry issue replaces this buffer).
		drop := len(w.pending) - w.cfg.MaxBufferedPoints + 1
		w.pending = w.pending[drop:]
		pointsDropped.WithLabelValues("buffer_full").Add(float64(drop))
	}
	w.pending = append(w.pending, p)
}

// drain writes everything queued and pending once more at shutdown.
func (w *Writer) drain() error {
	for {
		select {
		case p := <-w.in:
			w.append(p)
			continue
		default:
		}
		break
	}
	ctx, cancel := context.WithTimeout(context.Background(), w.cfg.Timeout)
	defer cancel()
	total := len(w.pending)
	for len(w.pending) > 0 {
		n := min(len(w.pending), w.cfg.BatchSize)
		if err := w.write(ctx, w.pending[:n]); err != nil {
			pointsDropped.WithLabelValues("shutdown").Add(float64(len(w.pending)))
			return fmt.Errorf("telemetry: %d points not written at shutdown: %w", len(w.pending), err)
		}
		pointsWritten.Add(float64(n))
		w.pending = w.pending[n:]
	}
	if total > 0 {
		w.log.Info("telemetry flushed", "points", total)
	}
	bufferedPoints.Set(0)
	return nil
}

func (w *Writer) write(ctx context.Context, pts []*write.Point) error {
	ctx, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
	defer cancel()
	if err := w.api.WritePoint(ctx, pts...); err != nil {
		return fmt.Errorf("write %d points to %s: %w", len(pts), w.cfg.Bucket, err)
	}
	return nil
}

// isBadData tells a refused batch (4xx other than 429 and auth problems, which
// an operator fixes while we keep buffering) from an outage.
func isBadData(err error) bool {
	var he *influxhttp.Error
	if !errors.As(err, &he) {
		return false
	}
	switch {
	case he.StatusCode == 429, he.StatusCode == 401, he.StatusCode == 403, he.StatusCode == 404:
		return false
	case he.StatusCode >= 400 && he.StatusCode < 500:
		return true
	}
	return false
}
