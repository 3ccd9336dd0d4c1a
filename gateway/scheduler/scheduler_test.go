package scheduler

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// The tests run the scheduler inside a testing/synctest bubble: time is
// virtual, advancing only when every goroutine of the bubble waits, so a job
// that sleeps 5 ms takes exactly 5 ms and the counts below are exact, however
// busy the machine is.

func run(t *testing.T, s *Scheduler, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	s.Run(ctx)
}

// concurrency tracks how many calls are inside at once.
type concurrency struct {
	mu       sync.Mutex
	now, max int
}

func (c *concurrency) enter() {
	c.mu.Lock()
	c.now++
	c.max = max(c.max, c.now)
	c.mu.Unlock()
}
func (c *concurrency) leave() { c.mu.Lock(); c.now--; c.mu.Unlock() }

func TestSerialBusOneAtATimeTCPBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New(Options{MaxConcurrent: 2})
		var rtu, tcp concurrency
		for i := range 3 {
			s.Add(Job{Device: fmt.Sprint("rtu", i), Name: fmt.Sprint("rtu", i), Bus: "rtu:/dev/ttyUSB0", Serial: true,
				Interval: 30 * time.Millisecond, Run: func(context.Context) error {
					rtu.enter()
					defer rtu.leave()
					time.Sleep(5 * time.Millisecond)
					return nil
				}})
		}
		for i := range 6 {
			s.Add(Job{Device: fmt.Sprint("tcp", i), Name: fmt.Sprint("tcp", i), Bus: fmt.Sprint("tcp:", i),
				Interval: 30 * time.Millisecond, Run: func(context.Context) error {
					tcp.enter()
					defer tcp.leave()
					time.Sleep(10 * time.Millisecond)
					return nil
				}})
		}
		run(t, s, 500*time.Millisecond)
		if rtu.max != 1 {
			t.Errorf("serial bus ran %d transactions at once", rtu.max)
		}
		if tcp.max != 2 {
			t.Errorf("TCP polls in flight: max %d, want the bound 2", tcp.max)
		}
	})
}

// An overloaded serial bus serves its devices in turn and skips (and counts)
// the turns it cannot make, instead of queueing them.
func TestOverloadedBusIsFairAndSkips(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := prometheus.NewRegistry()
		s := New(Options{Metrics: reg})
		var runs [4]atomic.Int64
		for i := range 4 {
			s.Add(Job{Device: fmt.Sprint("d", i), Name: fmt.Sprint("d", i), Bus: "rtu:bus", Serial: true,
				Interval: 40 * time.Millisecond, Run: func(context.Context) error {
					runs[i].Add(1)
					time.Sleep(20 * time.Millisecond) // 4 × 20 ms of work every 40 ms: twice the bus
					return nil
				}})
		}
		run(t, s, time.Second)
		st := s.Stats()
		lo, hi := runs[0].Load(), runs[0].Load()
		for i := range runs {
			lo, hi = min(lo, runs[i].Load()), max(hi, runs[i].Load())
		}
		// 1 s of a bus that fits one 20 ms poll at a time: 50 polls.
		if st.Runs < 49 || st.Runs > 51 { // the poll due at the deadline may start or not
			t.Errorf("%d polls ran in 1 s of a bus that fits 50", st.Runs)
		}
		if hi-lo > 1 {
			t.Errorf("unfair: runs per device between %d and %d", lo, hi)
		}
		if st.Skipped == 0 {
			t.Error("no skipped turns counted on a bus loaded twice over")
		}
		var skipped float64
		for i := range 4 {
			skipped += testutil.ToFloat64(s.m.overruns.WithLabelValues(fmt.Sprint("d", i)))
		}
		if uint64(skipped) != st.Skipped {
			t.Errorf("estate_poll_skipped_total sums to %v, the stats say %d", skipped, st.Skipped)
		}
		if busy := testutil.ToFloat64(s.m.busBusy.WithLabelValues("rtu:bus")); busy < 0.97 || busy > 1.021 {
			t.Errorf("estate_bus_busy_seconds_total{bus=rtu:bus} = %v, want the whole second", busy)
		}
	})
}

func TestFailingDeviceBacksOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New(Options{BackoffAfter: 2, MaxBackoff: 160 * time.Millisecond})
		var dead, alive atomic.Int64
		s.Add(Job{Device: "dead", Name: "dead", Bus: "rtu:b", Serial: true, Interval: 10 * time.Millisecond,
			Run: func(context.Context) error { dead.Add(1); return errors.New("timeout") }})
		s.Add(Job{Device: "alive", Name: "alive", Bus: "rtu:b", Serial: true, Interval: 10 * time.Millisecond,
			Run: func(context.Context) error { alive.Add(1); return nil }})
		run(t, s, time.Second)
		// 10, 10, 20, 40, 80, then every 160 ms: 0 10 20 40 80 160 320 480 640 800 960.
		if d := dead.Load(); d < 8 || d > 12 {
			t.Errorf("dead device polled %d times in 1 s; backoff should keep it near 10", d)
		}
		if a := alive.Load(); a < 99 {
			t.Errorf("its neighbour polled only %d times in 1 s at 10 ms", a)
		}
	})
}

func TestBackoffSteps(t *testing.T) {
	iv := time.Second
	for _, c := range []struct {
		failures int
		want     time.Duration
	}{{0, iv}, {1, iv}, {2, 2 * iv}, {3, 4 * iv}, {6, 32 * iv}, {7, time.Minute}, {100, time.Minute}} {
		if got := backoff(iv, c.failures, 2, time.Minute); got != c.want {
			t.Errorf("after %d failures: %v, want %v", c.failures, got, c.want)
		}
	}
	if got := backoff(2*time.Minute, 5, 2, time.Minute); got != 2*time.Minute {
		t.Errorf("backoff shortened an interval above the cap: %v", got)
	}
}

// Independent buses start on time; a poll that waits for another on its bus
// starts late by exactly that poll's length, and the delay is measured.
func TestJitterIsSmallAndMeasured(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New(Options{})
		for i := range 20 {
			s.Add(Job{Device: fmt.Sprint("d", i), Name: fmt.Sprint("d", i), Bus: fmt.Sprint("tcp:", i),
				Interval: 50 * time.Millisecond, Run: func(context.Context) error { return nil }})
		}
		run(t, s, time.Second)
		st := s.Stats()
		if st.Runs < 400 || st.JitterMax != 0 {
			t.Errorf("independent buses: %d runs, jitter max %v; want 20 a 50 ms for 1 s, on time", st.Runs, st.JitterMax)
		}

		s = New(Options{})
		for _, name := range []string{"a", "b"} {
			s.Add(Job{Device: name, Name: name, Bus: "rtu:shared", Serial: true, Interval: 50 * time.Millisecond,
				Run: func(context.Context) error { time.Sleep(5 * time.Millisecond); return nil }})
		}
		run(t, s, time.Second)
		st = s.Stats()
		t.Logf("jitter mean %v p50 %v p99 %v max %v over %d polls", st.JitterMean, st.JitterP50, st.JitterP99, st.JitterMax, st.Runs)
		if st.JitterMax != 5*time.Millisecond || st.JitterMean < 2*time.Millisecond || st.JitterMean > 3*time.Millisecond {
			t.Errorf("two 5 ms polls due together: jitter mean %v max %v, want every second poll 5 ms late", st.JitterMean, st.JitterMax)
		}
	})
}

// Two schedulers on one registry (a gateway runs again) share its collectors.
func TestSecondSchedulerOnOneRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	a, b := New(Options{Metrics: reg}), New(Options{Metrics: reg})
	if a.m.busBusy != b.m.busBusy {
		t.Error("the second scheduler did not reuse the registered collectors")
	}
	a.m.startDelay.Observe(0.001)
	if n, err := testutil.GatherAndCount(reg, "estate_poll_start_delay_seconds"); err != nil || n != 1 {
		t.Errorf("estate_poll_start_delay_seconds on the registry: %d series, %v", n, err)
	}
}
