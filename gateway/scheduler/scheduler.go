// Package scheduler runs device polls on their intervals.
//
// Jobs that share a bus (the devices of one RS-485 line, or behind one TCP
// address) run one at a time in one worker, in order of when they are due, so
// that a bus carries one transaction at a time and every device gets its
// turn. Buses run side by side, and at most MaxConcurrent jobs of buses that
// are not serial lines (Modbus TCP devices) are in flight at once.
//
// A turn that cannot start within its own interval (the bus was busy with
// others, or the job's previous poll ran long) is skipped and counted, never
// queued: a slow bus drops polls instead of building a backlog. A device whose
// polls keep failing is polled less often (exponential backoff up to
// MaxBackoff), so that a dead device costs its bus one timeout now and then,
// not one per interval. How late each poll starts (jitter) is measured.
//
// Time is the time package's (time.Now, timers), so tests run the scheduler
// in a testing/synctest bubble, where it is virtual and exact.
package scheduler

import (
	"context"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/estatehq/estate/internal/promreg"
)

// metrics are the scheduler's, on the registry of Options.Metrics.
type metrics struct {
	overruns   *prometheus.CounterVec
	startDelay prometheus.Histogram
	busBusy    *prometheus.CounterVec
}

// newMetrics registers the scheduler's metrics on reg (nil: a private
// registry). A gateway makes a scheduler each time it runs, so a second
// scheduler on one registry shares the collectors of the first.
func newMetrics(reg prometheus.Registerer) *metrics {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	return &metrics{
		overruns: promreg.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "estate_poll_skipped_total", Help: "Poll turns skipped because the previous poll or the bus ran past them, by device."},
			[]string{"device"})),
		startDelay: promreg.Register(reg, prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "estate_poll_start_delay_seconds", Help: "How late polls start against their schedule (jitter).",
			Buckets: []float64{.0001, .0005, .001, .002, .005, .01, .02, .05, .1, .25, .5, 1}})),
		busBusy: promreg.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "estate_bus_busy_seconds_total", Help: "Time each bus spent in polls."}, []string{"bus"})),
	}
}

// Job is one poll that repeats.
type Job struct {
	// Device owns the job; backoff after failures is per device.
	Device string
	// Name identifies the job in stats ("meter-1/fast").
	Name string
	// Bus: jobs with the same bus run one at a time. Empty: a bus of its own.
	Bus string
	// Serial marks a serial line; other buses count against MaxConcurrent.
	Serial bool
	// Interval between the starts of two polls.
	Interval time.Duration
	// Run polls once. An error counts towards the device's backoff.
	Run func(ctx context.Context) error
}

// Options tune a scheduler.
type Options struct {
	// MaxConcurrent bounds the polls of non-serial buses in flight (Modbus
	// TCP connections in use). Default 64.
	MaxConcurrent int
	// BackoffAfter is how many failed polls in a row start the backoff. Default 2.
	BackoffAfter int
	// MaxBackoff caps the interval of a failing device. Default 1 minute.
	MaxBackoff time.Duration
	// Metrics is where the scheduler registers its metrics; nil means a
	// private registry that nobody serves.
	Metrics prometheus.Registerer
}

// Scheduler runs jobs until its context ends.
type Scheduler struct {
	opts  Options
	m     *metrics
	sem   chan struct{}
	buses map[string]*bus
	order []string

	mu       sync.Mutex
	failures map[string]int // device → failed polls in a row
	stats    map[string]*jobStats
	jitter   []time.Duration // ring of the latest start delays
	jitterN  int
}

type jobStats struct {
	runs, skipped, errors uint64
}

// New returns a scheduler with no jobs.
func New(opts Options) *Scheduler {
	if opts.MaxConcurrent <= 0 {
		opts.MaxConcurrent = 64
	}
	if opts.BackoffAfter <= 0 {
		opts.BackoffAfter = 2
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = time.Minute
	}
	return &Scheduler{opts: opts, m: newMetrics(opts.Metrics), sem: make(chan struct{}, opts.MaxConcurrent), buses: map[string]*bus{},
		failures: map[string]int{}, stats: map[string]*jobStats{}, jitter: make([]time.Duration, 0, jitterRing)}
}

const jitterRing = 8192

type bus struct {
	name   string
	serial bool
	jobs   []*entry
	busy   prometheus.Counter // estate_bus_busy_seconds_total of this bus
}

type entry struct {
	job     Job
	due     time.Time
	lastRun time.Time
	stats   *jobStats
}

// Add adds a job; call before Run.
func (s *Scheduler) Add(j Job) {
	if j.Bus == "" {
		j.Bus = "job:" + j.Name
	}
	b, ok := s.buses[j.Bus]
	if !ok {
		b = &bus{name: j.Bus, serial: j.Serial}
		s.buses[j.Bus] = b
		s.order = append(s.order, j.Bus)
	}
	st := &jobStats{}
	s.stats[j.Name] = st
	b.jobs = append(b.jobs, &entry{job: j, stats: st})
}

// Run starts every bus's worker and returns when ctx ends and they stopped.
func (s *Scheduler) Run(ctx context.Context) {
	var wg sync.WaitGroup
	start := time.Now()
	for i, name := range s.order {
		b := s.buses[name]
		// Spread the first polls of independent buses over a short window so
		// that a thousand TCP devices do not all connect in the same
		// millisecond; jobs on one bus start back to back.
		offset := time.Duration(0)
		if n := len(s.order); n > 1 {
			offset = min(time.Second, minInterval(b)) * time.Duration(i) / time.Duration(n)
		}
		for _, e := range b.jobs {
			e.due = start.Add(offset)
		}
		b.busy = s.m.busBusy.WithLabelValues(b.name)
		wg.Go(func() { s.runBus(ctx, b) })
	}
	wg.Wait()
}

func minInterval(b *bus) time.Duration {
	m := time.Duration(1<<63 - 1)
	for _, e := range b.jobs {
		m = min(m, e.job.Interval)
	}
	return m
}

// next picks the job due first; ties go to the one that ran least recently,
// so that an overloaded bus serves its devices round-robin.
func (b *bus) next() *entry {
	var best *entry
	for _, e := range b.jobs {
		if best == nil || e.due.Before(best.due) || e.due.Equal(best.due) && e.lastRun.Before(best.lastRun) {
			best = e
		}
	}
	return best
}

func (s *Scheduler) runBus(ctx context.Context, b *bus) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	for {
		e := b.next()
		if wait := time.Until(e.due); wait > 0 {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				return
			case <-timer.C:
			}
		} else if ctx.Err() != nil {
			return
		}
		if !b.serial {
			select {
			case s.sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
		}
		now := time.Now()
		iv := e.job.Interval
		if late := now.Sub(e.due); late >= iv {
			// Turns that could not start within their interval are skipped.
			missed := int64(late / iv)
			e.due = e.due.Add(time.Duration(missed) * iv)
			s.mu.Lock()
			e.stats.skipped += uint64(missed)
			s.mu.Unlock()
			s.m.overruns.WithLabelValues(e.job.Device).Add(float64(missed))
		}
		delay := now.Sub(e.due)
		s.recordJitter(delay)
		err := e.job.Run(ctx)
		end := time.Now()
		if !b.serial {
			<-s.sem
		}
		b.busy.Add(end.Sub(now).Seconds())
		e.lastRun = now
		step := s.afterRun(e, err)
		e.due = e.due.Add(step)
		if ctx.Err() != nil {
			return
		}
	}
}

// afterRun counts the poll and returns how far the job's next turn is: its
// interval, stretched while its device keeps failing.
func (s *Scheduler) afterRun(e *entry, err error) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	e.stats.runs++
	dev := e.job.Device
	if err == nil {
		s.failures[dev] = 0
		return e.job.Interval
	}
	e.stats.errors++
	s.failures[dev]++
	return backoff(e.job.Interval, s.failures[dev], s.opts.BackoffAfter, s.opts.MaxBackoff)
}

// backoff is the interval after failures polls failed in a row: the job's
// own until after failures reaches after, then doubling up to limit.
func backoff(iv time.Duration, failures, after int, limit time.Duration) time.Duration {
	if failures < after {
		return iv
	}
	step := iv
	for range min(failures-after+1, 16) {
		if step >= limit {
			break
		}
		step *= 2
	}
	return max(iv, min(step, limit))
}

func (s *Scheduler) recordJitter(d time.Duration) {
	s.m.startDelay.Observe(d.Seconds())
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.jitter) < jitterRing {
		s.jitter = append(s.jitter, d)
	} else {
		s.jitter[s.jitterN%jitterRing] = d
	}
	s.jitterN++
}

// Stats sums up what the scheduler did.
type Stats struct {
	Runs, Skipped, Errors uint64
	// Jitter is how late polls started, over the latest (up to 8192) polls.
	JitterMean, JitterP50, JitterP99, JitterMax time.Duration
	// Jobs has the counts of each job by name.
	Jobs map[string]JobStats
}

// JobStats are one job's counts.
type JobStats struct{ Runs, Skipped, Errors uint64 }

// Stats returns the counts so far.
func (s *Scheduler) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{Jobs: map[string]JobStats{}}
	for name, js := range s.stats {
		st.Runs += js.runs
		st.Skipped += js.skipped
		st.Errors += js.errors
		st.Jobs[name] = JobStats{Runs: js.runs, Skipped: js.skipped, Errors: js.errors}
	}
	if n := len(s.jitter); n > 0 {
		js := slices.Clone(s.jitter)
		sort.Slice(js, func(i, j int) bool { return js[i] < js[j] })
		var sum time.Duration
		for _, d := range js {
			sum += d
		}
		st.JitterMean = sum / time.Duration(n)
		st.JitterP50 = js[n/2]
		st.JitterP99 = js[min(n-1, n*99/100)]
		st.JitterMax = js[n-1]
	}
	return st
}
