// Package spool is the gateway's on-disk store-and-forward log of telemetry.
//
// Every point is appended to the spool before it counts as accepted; a sender
// reads the records back, and acknowledges them once InfluxDB confirmed the
// write. The acknowledged set (the cursor) is kept in a small file replaced
// atomically, so after a crash or a power loss sending resumes where it stopped.
//
// Records live in segment files named after their first sequence number. Each
// record carries a CRC-32C; on opening, a segment torn by a crash is truncated
// to its last good record and the loss reported, never blocking start-up. When
// the spool outgrows its size limit the oldest segment is dropped (counted and
// logged with the time range it held) so that the newest data is kept.
package spool

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/estatehq/estate/internal/promreg"
)

// Metrics are the spool's counters and gauges. They live on a registry the
// caller injects (the gateway's one registry) rather than the global default,
// so that tests and two spools in one process do not share or clash.
type Metrics struct {
	bytes       prometheus.Gauge
	segments    prometheus.Gauge
	appended    prometheus.Counter
	dropped     *prometheus.CounterVec
	truncations prometheus.Counter
	fsyncs      prometheus.Counter
}

// NewMetrics registers the spool's metrics on reg; nil means a private
// registry that nobody serves. A second call on the same registry shares the
// first one's collectors.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	reg = promreg.OrPrivate(reg)
	return &Metrics{
		bytes: promreg.Register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "estate_spool_bytes", Help: "Bytes in the telemetry spool's segment files."})),
		segments: promreg.Register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "estate_spool_segments", Help: "Segment files in the telemetry spool."})),
		appended: promreg.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "estate_spool_appended_points_total", Help: "Points appended to the spool."})),
		dropped: promreg.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "estate_spool_dropped_points_total", Help: "Unsent points the spool lost, by reason (full, corrupt)."}, []string{"reason"})),
		truncations: promreg.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "estate_spool_truncated_segments_total", Help: "Segments found torn or corrupt and truncated to their last good record."})),
		fsyncs: promreg.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "estate_spool_fsyncs_total", Help: "fsync calls on spool segments."})),
	}
}

// Sync is when appended data is forced to stable storage.
type Sync string

const (
	// SyncAlways: Append returns only after an fsync covered its records
	// (concurrent appenders share one fsync). Survives power loss.
	SyncAlways Sync = "always"
	// SyncInterval: Append returns once the data is written to the operating
	// system; an fsync runs every Options.SyncInterval. Survives a crash of the
	// gateway; power loss may cost the last interval.
	SyncInterval Sync = "interval"
	// SyncNever: the operating system decides. Survives a crash of the gateway.
	SyncNever Sync = "never"
)

// Options configure a spool.
type Options struct {
	// MaxBytes bounds the segment files; beyond it the oldest segment is dropped.
	MaxBytes int64
	// SegmentBytes is the size at which a new segment file is started.
	SegmentBytes int64
	Sync         Sync
	SyncInterval time.Duration
	// Metrics is where the spool counts; nil means metrics of its own on a
	// private registry.
	Metrics *Metrics
}

func (o *Options) normalize() error {
	if o.SegmentBytes <= 0 {
		o.SegmentBytes = 16 << 20
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = 1 << 30
	}
	if o.MaxBytes < 2*o.SegmentBytes {
		return fmt.Errorf("spool: max size %d must be at least two segments (%d)", o.MaxBytes, 2*o.SegmentBytes)
	}
	switch o.Sync {
	case "":
		o.Sync = SyncInterval
	case SyncAlways, SyncInterval, SyncNever:
	default:
		return fmt.Errorf("spool: unknown sync policy %q (always, interval, never)", o.Sync)
	}
	if o.SyncInterval <= 0 {
		o.SyncInterval = time.Second
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics(nil)
	}
	return nil
}

// ErrClosed is returned by Append after Close.
var ErrClosed = errors.New("spool is closed")

// segment is one file; its fields are guarded by Spool.mu.
type segment struct {
	base    uint64 // seq of its first record (also its name)
	last    uint64 // seq of its last record; base-1 while empty
	size    int64  // bytes written, header included
	minTime int64
	maxTime int64
	path    string
}

func (g *segment) records() uint64 { return g.last + 1 - g.base }

// Spool is safe for concurrent use: many appenders, one sender reading.
type Spool struct {
	dir  string
	opts Options
	log  *slog.Logger

	mu       sync.Mutex
	segs     []*segment // oldest first; the last one is being appended to
	active   *os.File
	nextSeq  uint64
	total    int64 // bytes in all segments
	acked    ackSet
	buf      []byte // encoding buffer, reused under mu
	closed   bool
	lockFile *os.File

	// group commit for SyncAlways
	syncMu   sync.Mutex
	syncCond *sync.Cond
	syncing  bool
	synced   uint64 // highest seq known to be on stable storage
	syncErr  error

	notify chan struct{}
	stop   chan struct{}
	done   sync.WaitGroup
}

// Open opens (creating if needed) the spool in dir, recovering torn segments.
func Open(dir string, opts Options, log *slog.Logger) (*Spool, error) {
	if err := opts.normalize(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	lf, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lf.Close()
		return nil, fmt.Errorf("spool %s is in use by another process: %w", dir, err)
	}
	s := &Spool{dir: dir, opts: opts, log: log, lockFile: lf,
		notify: make(chan struct{}, 1), stop: make(chan struct{})}
	s.syncCond = sync.NewCond(&s.syncMu)
	if err := s.recover(); err != nil {
		lf.Close()
		return nil, err
	}
	if err := s.startSegment(); err != nil {
		lf.Close()
		return nil, err
	}
	s.publish()
	if opts.Sync == SyncInterval {
		s.done.Add(1)
		go s.syncLoop()
	}
	return s, nil
}

// listSegments returns the segment files of dir by base seq.
func listSegments(dir string) ([]*segment, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	var segs []*segment
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".seg")
		if !ok || e.IsDir() {
			continue
		}
		base, err := strconv.ParseUint(name, 10, 64)
		if err != nil || base == 0 {
			continue
		}
		segs = append(segs, &segment{base: base, last: base - 1, path: filepath.Join(dir, e.Name())})
	}
	sort.Slice(segs, func(i, j int) bool { return segs[i].base < segs[j].base })
	return segs, nil
}

// recover scans every segment, truncates torn ones to their last good record,
// and loads the cursor.
func (s *Spool) recover() error {
	acked, err := loadCursor(s.dir)
	if err != nil {
		s.log.Error("spool cursor unreadable", "err", err)
	}
	s.acked = acked
	segs, err := listSegments(s.dir)
	if err != nil {
		return err
	}
	next := s.acked.Through + 1
	for _, g := range segs {
		data, err := os.ReadFile(g.path)
		if err != nil {
			return fmt.Errorf("spool: read %s: %w", g.path, err)
		}
		r := scanSegment(data, g.base)
		if r.problem != nil {
			lost := int64(len(data)) - r.good
			s.log.Warn("spool segment torn or corrupt; truncated to its last good record",
				"segment", g.path, "problem", r.problem, "good_records", r.records, "bytes_cut", lost)
			s.opts.Metrics.truncations.Inc()
			if r.good < int64(segmentHeaderLen) {
				r.good = 0 // not even a header: the file goes
			}
			if err := os.Truncate(g.path, r.good); err != nil {
				return fmt.Errorf("spool: truncate %s: %w", g.path, err)
			}
		}
		if r.records == 0 {
			if err := os.Remove(g.path); err != nil {
				return fmt.Errorf("spool: remove empty %s: %w", g.path, err)
			}
			continue
		}
		g.last, g.size, g.minTime, g.maxTime = r.last, r.good, r.minTime, r.maxTime
		if g.last <= s.acked.Through {
			// Fully sent before the stop; only its removal had not happened.
			if err := os.Remove(g.path); err != nil {
				return fmt.Errorf("spool: remove sent %s: %w", g.path, err)
			}
			continue
		}
		s.segs = append(s.segs, g)
		s.total += g.size
		next = max(next, g.last+1)
	}
	s.nextSeq = max(next, 1)
	return nil
}

// startSegment begins a new segment file at nextSeq. Called with mu held (or
// before the spool is shared).
func (s *Spool) startSegment() error {
	g := &segment{base: s.nextSeq, last: s.nextSeq - 1,
		path: filepath.Join(s.dir, fmt.Sprintf("%020d.seg", s.nextSeq))}
	f, err := os.OpenFile(g.path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("spool: new segment: %w", err)
	}
	if _, err := f.Write([]byte(segmentMagic)); err != nil {
		f.Close()
		return fmt.Errorf("spool: new segment: %w", err)
	}
	if s.opts.Sync != SyncNever {
		if err := syncDir(s.dir); err != nil {
			f.Close()
			return err
		}
	}
	g.size = int64(segmentHeaderLen)
	s.segs = append(s.segs, g)
	s.total += g.size
	s.active = f
	return nil
}

// Entry is one point to append: its time and its encoded bytes.
type Entry struct {
	Time int64 // Unix nanoseconds
	Data []byte
}

// Append writes entries as consecutive records and returns the seq of the last
// one. When it returns nil the records survive a crash of the process (and,
// with SyncAlways, power loss).
func (s *Spool) Append(entries ...Entry) (uint64, error) {
	if len(entries) == 0 {
		return 0, nil
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return 0, ErrClosed
	}
	g := s.segs[len(s.segs)-1]
	if g.size > int64(segmentHeaderLen) && g.size+s.encodedLen(entries) > s.opts.SegmentBytes {
		if err := s.rollLocked(); err != nil {
			s.mu.Unlock()
			return 0, err
		}
		g = s.segs[len(s.segs)-1]
	}
	s.buf = s.buf[:0]
	seq := s.nextSeq
	for _, e := range entries {
		if len(e.Data) > MaxRecordLen {
			s.mu.Unlock()
			return 0, fmt.Errorf("spool: point of %d bytes exceeds the %d-byte record limit", len(e.Data), MaxRecordLen)
		}
		s.buf = appendRecord(s.buf, seq, e.Time, e.Data)
		seq++
	}
	if _, err := s.active.Write(s.buf); err != nil {
		// A partial write leaves a torn tail: cut it so that later records
		// are not stranded behind it.
		_ = s.active.Truncate(g.size)
		_, _ = s.active.Seek(g.size, 0)
		s.mu.Unlock()
		return 0, fmt.Errorf("spool: append: %w", err)
	}
	if g.records() == 0 {
		g.minTime, g.maxTime = entries[0].Time, entries[0].Time
	}
	for _, e := range entries {
		g.minTime, g.maxTime = min(g.minTime, e.Time), max(g.maxTime, e.Time)
	}
	g.size += int64(len(s.buf))
	s.total += int64(len(s.buf))
	last := seq - 1
	g.last = last
	s.nextSeq = seq
	s.enforceLimitLocked()
	s.publish()
	s.mu.Unlock()
	s.opts.Metrics.appended.Add(float64(len(entries)))

	select {
	case s.notify <- struct{}{}:
	default:
	}
	if s.opts.Sync == SyncAlways {
		return last, s.syncThrough(last)
	}
	return last, nil
}

func (s *Spool) encodedLen(entries []Entry) int64 {
	n := 0
	for _, e := range entries {
		n += recordHeaderLen + len(e.Data)
	}
	return int64(n)
}

// rollLocked closes the active segment (fsynced unless SyncNever) and starts the next.
func (s *Spool) rollLocked() error {
	if s.opts.Sync != SyncNever {
		s.opts.Metrics.fsyncs.Inc()
		if err := s.active.Sync(); err != nil {
			return fmt.Errorf("spool: sync segment: %w", err)
		}
		s.markSynced(s.nextSeq - 1)
	}
	if err := s.active.Close(); err != nil {
		return fmt.Errorf("spool: close segment: %w", err)
	}
	return s.startSegment()
}

// enforceLimitLocked drops the oldest segments while the spool is over its
// size limit; the active segment always stays.
func (s *Spool) enforceLimitLocked() {
	for s.total > s.opts.MaxBytes && len(s.segs) > 1 {
		g := s.segs[0]
		lost := g.records() - s.acked.count(g.base, g.last)
		s.log.Warn("spool full; dropped its oldest segment",
			"segment", filepath.Base(g.path), "points_lost", lost,
			"from", time.Unix(0, g.minTime).UTC().Format(time.RFC3339Nano),
			"to", time.Unix(0, g.maxTime).UTC().Format(time.RFC3339Nano),
			"max_bytes", s.opts.MaxBytes)
		s.opts.Metrics.dropped.WithLabelValues("full").Add(float64(lost))
		s.removeOldestLocked()
		if s.acked.add(g.base, g.last) {
			if err := saveCursor(s.dir, &s.acked, s.opts.Sync == SyncAlways); err != nil {
				s.log.Error("spool cursor not saved", "err", err)
			}
		}
	}
}

func (s *Spool) removeOldestLocked() {
	g := s.segs[0]
	if err := os.Remove(g.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		s.log.Error("spool: cannot remove segment", "segment", g.path, "err", err)
	}
	s.total -= g.size
	s.segs = s.segs[1:]
}

// syncThrough returns once seq is on stable storage; concurrent callers share
// one fsync (group commit).
func (s *Spool) syncThrough(seq uint64) error {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	for s.synced < seq {
		if s.syncing {
			s.syncCond.Wait()
			continue
		}
		s.syncing = true
		s.syncMu.Unlock()
		s.mu.Lock()
		f, target := s.active, s.nextSeq-1
		s.mu.Unlock()
		var err error
		if f != nil {
			s.opts.Metrics.fsyncs.Inc()
			err = f.Sync()
			if errors.Is(err, os.ErrClosed) {
				err = nil // rolled (and synced) or closed (and synced) meanwhile
			}
		}
		s.syncMu.Lock()
		s.syncing = false
		if err != nil {
			s.syncErr = fmt.Errorf("spool: fsync: %w", err)
			s.syncCond.Broadcast()
			return s.syncErr
		}
		s.synced = max(s.synced, target)
		s.syncCond.Broadcast()
	}
	return nil
}

func (s *Spool) markSynced(seq uint64) {
	s.syncMu.Lock()
	s.synced = max(s.synced, seq)
	s.syncCond.Broadcast()
	s.syncMu.Unlock()
}

func (s *Spool) syncLoop() {
	defer s.done.Done()
	t := time.NewTicker(s.opts.SyncInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.mu.Lock()
			if !s.closed {
				s.opts.Metrics.fsyncs.Inc()
				if err := s.active.Sync(); err != nil {
					s.log.Error("spool fsync failed", "err", err)
				}
			}
			s.mu.Unlock()
		}
	}
}

// Notify is signalled (without blocking) after every Append.
func (s *Spool) Notify() <-chan struct{} { return s.notify }

// NextSeq is the seq the next appended record will get.
func (s *Spool) NextSeq() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nextSeq
}

// Ack records that InfluxDB acknowledged seqs [from, to], persists the cursor
// and removes segments that are fully acknowledged.
func (s *Spool) Ack(from, to uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.acked.add(from, to) {
		return nil
	}
	return s.afterAckLocked()
}

func (s *Spool) afterAckLocked() error {
	for len(s.segs) > 1 && s.segs[0].last <= s.acked.Through {
		s.removeOldestLocked()
	}
	s.publish()
	if s.closed {
		return nil
	}
	return saveCursor(s.dir, &s.acked, s.opts.Sync == SyncAlways)
}

// AckSeqs acknowledges a sorted list of seqs (a batch that skipped some) with
// one cursor save.
func (s *Spool) AckSeqs(seqs []uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	changed := false
	for i := 0; i < len(seqs); {
		j := i + 1
		for j < len(seqs) && seqs[j] == seqs[j-1]+1 {
			j++
		}
		changed = s.acked.add(seqs[i], seqs[j-1]) || changed
		i = j
	}
	if !changed {
		return nil
	}
	return s.afterAckLocked()
}

// Acked reports whether seq has been acknowledged (or dropped).
func (s *Spool) Acked(seq uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.acked.has(seq)
}

// FirstUnacked is the lowest seq at or after from that is not acknowledged
// (NextSeq when everything is).
func (s *Spool) FirstUnacked(from uint64) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return min(s.acked.firstUnacked(from), s.nextSeq)
}

// Stats describe the spool at one moment.
type Stats struct {
	Bytes    int64
	Segments int
	// Backlog is the number of points not yet acknowledged.
	Backlog uint64
	// Oldest is the time of the oldest point not yet acknowledged (zero when none).
	Oldest time.Time
}

// Stats returns the spool's size and backlog.
func (s *Spool) Stats() Stats {
	s.mu.Lock()
	st := Stats{Bytes: s.total, Segments: len(s.segs)}
	var first uint64
	if len(s.segs) > 0 {
		first = s.segs[0].base
	}
	st.Backlog = backlog(&s.acked, first, s.nextSeq)
	oldest := s.acked.firstUnacked(first)
	s.mu.Unlock()
	if oldest < s.NextSeq() {
		r := s.NewReader(oldest)
		defer r.Close()
		if rec, ok, err := r.Next(); err == nil && ok {
			st.Oldest = time.Unix(0, rec.Time)
		}
	}
	return st
}

func backlog(a *ackSet, first, next uint64) uint64 {
	if next <= first {
		return 0
	}
	return (next - first) - a.count(first, next-1)
}

func (s *Spool) publish() {
	s.opts.Metrics.bytes.Set(float64(s.total))
	s.opts.Metrics.segments.Set(float64(len(s.segs)))
}

// Close syncs and closes the active segment, saves the cursor and releases the
// spool's lock. Appends after Close fail with ErrClosed.
func (s *Spool) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.stop)
	var errs []error
	if s.opts.Sync != SyncNever {
		if err := s.active.Sync(); err != nil {
			errs = append(errs, fmt.Errorf("spool: sync: %w", err))
		}
	}
	errs = append(errs, s.active.Close())
	errs = append(errs, saveCursor(s.dir, &s.acked, s.opts.Sync != SyncNever))
	s.mu.Unlock()
	s.done.Wait()
	errs = append(errs, s.lockFile.Close())
	return errors.Join(errs...)
}
