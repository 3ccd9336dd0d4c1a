package outbox

import (
	"math/rand/v2"
	"time"
)

// breakerState is the circuit breaker in front of the desk.
type breakerState string

const (
	closed   breakerState = "closed"    // deliver
	open     breakerState = "open"      // the desk failed repeatedly: wait, do not call
	halfOpen breakerState = "half_open" // the wait is over: one trial call decides
)

// breaker stops a retry storm while the desk is down: after threshold
// consecutive failures it opens and waits, doubling the wait on every failed
// trial up to max, with jitter so that many gateways do not retry in step.
type breaker struct {
	threshold int
	base, max time.Duration
	jitter    func() float64 // in [0, 1)

	state    breakerState
	failures int
	opens    int
	until    time.Time
}

func newBreaker() *breaker {
	return &breaker{threshold: 3, base: 500 * time.Millisecond, max: 30 * time.Second, jitter: rand.Float64, state: closed}
}

// wait is how long to hold off before the next call (0: call now).
func (b *breaker) wait(now time.Time) time.Duration {
	if b.state == open {
		if now.Before(b.until) {
			return b.until.Sub(now)
		}
		b.state = halfOpen
	}
	return 0
}

// success closes the breaker.
func (b *breaker) success() {
	b.state, b.failures, b.opens = closed, 0, 0
}

// failure counts a failed call and returns the delay before the next one.
func (b *breaker) failure(now time.Time) time.Duration {
	b.failures++
	if b.state == closed && b.failures < b.threshold {
		return b.base // a short pause: one lost answer is not an outage
	}
	b.opens++
	d := b.base << min(b.opens, 16)
	if d > b.max || d <= 0 {
		d = b.max
	}
	d = time.Duration(float64(d) * (0.8 + 0.4*b.jitter())) // ±20 %
	b.state, b.until = open, now.Add(d)
	return d
}
