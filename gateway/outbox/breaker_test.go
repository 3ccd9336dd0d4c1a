package outbox

import (
	"testing"
	"time"
)

func TestBreaker(t *testing.T) {
	now := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	type step struct {
		op        string // fail, ok, wait
		at        time.Duration
		wantDelay time.Duration
		wantState breakerState
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"short pauses below the threshold, then open with doubling waits", []step{
			{"fail", 0, 500 * time.Millisecond, closed},
			{"fail", time.Second, 500 * time.Millisecond, closed},
			{"fail", 2 * time.Second, time.Second, open},
			{"wait", 2500 * time.Millisecond, 500 * time.Millisecond, open},
			{"wait", 3 * time.Second, 0, halfOpen},
			{"fail", 3 * time.Second, 2 * time.Second, open},
			{"wait", 5 * time.Second, 0, halfOpen},
			{"fail", 5 * time.Second, 4 * time.Second, open},
		}},
		{"a success closes it and resets the waits", []step{
			{"fail", 0, 500 * time.Millisecond, closed},
			{"fail", 0, 500 * time.Millisecond, closed},
			{"fail", 0, time.Second, open},
			{"wait", time.Second, 0, halfOpen},
			{"ok", time.Second, 0, closed},
			{"fail", 2 * time.Second, 500 * time.Millisecond, closed},
		}},
		{"the wait is capped", []step{
			{"fail", 0, 500 * time.Millisecond, closed}, {"fail", 0, 500 * time.Millisecond, closed},
			{"fail", 0, time.Second, open}, {"fail", 0, 2 * time.Second, open}, {"fail", 0, 4 * time.Second, open},
			{"fail", 0, 8 * time.Second, open}, {"fail", 0, 16 * time.Second, open}, {"fail", 0, 30 * time.Second, open},
			{"fail", 0, 30 * time.Second, open},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newBreaker()
			b.jitter = func() float64 { return 0.5 } // no jitter: factor 1.0
			for i, s := range tc.steps {
				var got time.Duration
				switch s.op {
				case "fail":
					got = b.failure(now.Add(s.at))
				case "ok":
					b.success()
				case "wait":
					got = b.wait(now.Add(s.at))
				}
				if got != s.wantDelay || b.state != s.wantState {
					t.Fatalf("step %d %s: delay %s state %s, want %s %s", i, s.op, got, b.state, s.wantDelay, s.wantState)
				}
			}
		})
	}
}

func TestBreakerJitterBounds(t *testing.T) {
	for _, j := range []float64{0, 0.999} {
		b := newBreaker()
		b.jitter = func() float64 { return j }
		b.failures = 2
		d := b.failure(time.Now())
		if d < 800*time.Millisecond || d > 1200*time.Millisecond {
			t.Errorf("jitter %g: first open wait %s outside 1 s ± 20 %%", j, d)
		}
	}
}
