package scheduler

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// timing runs a timing-sensitive check up to three times: a machine busy with
// other tests can stall any one run, a scheduling bug fails all three.
func timing(t *testing.T, check func() error) {
	t.Helper()
	var err error
	for i := range 3 {
		if err = check(); err == nil {
			return
		}
		t.Logf("attempt %d: %v", i+1, err)
	}
	t.Error(err)
}

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
	timing(t, func() error { return serialAndBounded(t) })
}

func serialAndBounded(t *testing.T) error {
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
		t.Fatalf("serial bus ran %d transactions at once", rtu.max)
	}
	if tcp.max > 2 {
		t.Fatalf("TCP polls in flight: max %d, over the bound 2", tcp.max)
	}
	if tcp.max != 2 {
		return fmt.Errorf("TCP polls in flight: max %d, want the bound 2", tcp.max)
	}
	return nil
}

// An overloaded serial bus serves its devices in turn and skips (and counts)
// the turns it cannot make, instead of queueing them.
func TestOverloadedBusIsFairAndSkips(t *testing.T) {
	timing(t, func() error { return overloaded(t) })
}

func overloaded(t *testing.T) error {
	s := New(Options{})
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
	if total := st.Runs; total > 55 {
		t.Fatalf("%d polls ran in 1 s of a bus that fits 50", total)
	}
	if hi-lo > 2 {
		return fmt.Errorf("unfair: runs per device between %d and %d", lo, hi)
	}
	if st.Skipped == 0 {
		return errors.New("no skipped turns counted on a bus loaded twice over")
	}
	return nil
}

func TestFailingDeviceBacksOff(t *testing.T) {
	timing(t, func() error { return backsOff(t) })
}

func backsOff(t *testing.T) error {
	s := New(Options{BackoffAfter: 2, MaxBackoff: 160 * time.Millisecond})
	var dead, alive atomic.Int64
	s.Add(Job{Device: "dead", Name: "dead", Bus: "rtu:b", Serial: true, Interval: 10 * time.Millisecond,
		Run: func(context.Context) error { dead.Add(1); return errors.New("timeout") }})
	s.Add(Job{Device: "alive", Name: "alive", Bus: "rtu:b", Serial: true, Interval: 10 * time.Millisecond,
		Run: func(context.Context) error { alive.Add(1); return nil }})
	run(t, s, time.Second)
	if d := dead.Load(); d > 15 {
		t.Fatalf("dead device polled %d times in 1 s; backoff should keep it near 8", d)
	}
	if a := alive.Load(); a < 80 {
		return fmt.Errorf("its neighbour polled only %d times", a)
	}
	return nil
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

func TestJitterIsSmallAndMeasured(t *testing.T) {
	timing(t, func() error { return jitter(t) })
}

func jitter(t *testing.T) error {
	s := New(Options{})
	for i := range 20 {
		s.Add(Job{Device: fmt.Sprint("d", i), Name: fmt.Sprint("d", i), Bus: fmt.Sprint("tcp:", i),
			Interval: 50 * time.Millisecond, Run: func(context.Context) error { return nil }})
	}
	run(t, s, time.Second)
	st := s.Stats()
	t.Logf("jitter mean %v p50 %v p99 %v max %v over %d polls", st.JitterMean, st.JitterP50, st.JitterP99, st.JitterMax, st.Runs)
	if st.Runs < 300 || st.JitterMax <= 0 {
		return fmt.Errorf("only %d runs", st.Runs)
	}
	if st.JitterP99 > 25*time.Millisecond {
		return fmt.Errorf("jitter p50 %v p99 %v max %v", st.JitterP50, st.JitterP99, st.JitterMax)
	}
	return nil
}
