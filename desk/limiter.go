package desk

import (
	"net"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
)

// Failed logins are limited three ways, so that guessing is slow from one
// address and from many, yet nobody can lock a colleague out from one address:
//
//   - per name and address: LoginAttempts failures per LoginWindow, then 429
//     for that name from that address (the person who mistyped, or one guesser);
//   - per address: addressFactor times as many failures, over any names (a
//     spray of names from one address);
//   - per account, from every address together: after LoginAttempts failures
//     each further attempt waits a delay that doubles with every failure, from
//     one second up to LoginWindow (guessing spread over many addresses). One
//     address alone cannot get there: its own limits stop it first.
//
// Every table is bounded (maxLimiterKeys) and forgets a key LoginWindow after
// its last failure; a full table forgets keys at random (evict). The limits are per process: with several desks an attacker
// gets the attempts of each.
type loginLimiter struct {
	mu       sync.Mutex
	max      int
	window   time.Duration
	perPair  *failureTable
	perAddr  *failureTable
	perName  *failureTable
	maxDelay time.Duration
}

// addressFactor is how many more failures an address may have than one name
// from it: an office behind one NAT has several people who mistype.
const addressFactor = 4

// maxLimiterKeys bounds each table (about 1 MB each when full).
const maxLimiterKeys = 10_000

func newLoginLimiter(max int, window time.Duration) *loginLimiter {
	return &loginLimiter{max: max, window: window, maxDelay: window,
		perPair: newFailureTable(maxLimiterKeys), perAddr: newFailureTable(maxLimiterKeys), perName: newFailureTable(maxLimiterKeys)}
}

// failures is one key's failures: how many since first, and the last.
type failures struct {
	count       int
	first, last time.Time
}

// failureTable is a bounded map of failures per key.
type failureTable struct {
	max  int
	keys map[string]*failures
	// swept is when expired keys were last dropped: once per window, so that
	// a table that never fills does not keep them for ever.
	swept time.Time
}

func newFailureTable(max int) *failureTable {
	return &failureTable{max: max, keys: map[string]*failures{}}
}

// get returns the key's failures still within window of now, nil if none.
func (t *failureTable) get(key string, now time.Time, window time.Duration) *failures {
	f := t.keys[key]
	if f != nil && now.Sub(f.last) >= window {
		delete(t.keys, key)
		return nil
	}
	return f
}

// add counts a failure; a count older than window starts again.
func (t *failureTable) add(key string, now time.Time, window time.Duration) {
	if now.Sub(t.swept) >= window {
		t.sweep(now, window)
	}
	f := t.get(key, now, window)
	if f == nil {
		if len(t.keys) >= t.max {
			t.evict(now, window)
		}
		f = &failures{first: now}
		t.keys[key] = f
	}
	if now.Sub(f.first) >= window {
		f.count, f.first = 0, now
	}
	f.count++
	f.last = now
}

// evict forgets the expired keys and, if that leaves the table more than 7/8
// full, keys at random (Go's map order) down to 7/8: a table full of live
// keys is under a spray from many addresses, and dropping an eighth at once
// keeps the cost of an insert constant on average instead of a scan each.
func (t *failureTable) evict(now time.Time, window time.Duration) {
	t.sweep(now, window)
	for k := range t.keys {
		if len(t.keys) <= t.max*7/8 {
			break
		}
		delete(t.keys, k)
	}
}

// sweep drops the keys whose last failure is a window old.
func (t *failureTable) sweep(now time.Time, window time.Duration) {
	for k, f := range t.keys {
		if now.Sub(f.last) >= window {
			delete(t.keys, k)
		}
	}
	t.swept = now
}

func (t *failureTable) len() int { return len(t.keys) }

// countLimit is how long a key with at least max failures in the window
// waits, zero when it may try.
func (l *loginLimiter) countLimit(t *failureTable, key string, max int, now time.Time) time.Duration {
	f := t.get(key, now, l.window)
	if f == nil || f.count < max || now.Sub(f.first) >= l.window {
		return 0
	}
	return l.window - now.Sub(f.first)
}

// accountDelay is how long after its last failure an account waits: nothing
// for the first max failures, then 1s, 2s, 4s … up to maxDelay.
func (l *loginLimiter) accountDelay(count int) time.Duration {
	over := count - l.max
	if over <= 0 {
		return 0
	}
	d := time.Second
	for range over - 1 {
		d *= 2
		if d >= l.maxDelay {
			return l.maxDelay
		}
	}
	return min(d, l.maxDelay)
}

// blocked returns how long the caller must wait before trying name from
// addr, zero when it may try.
func (l *loginLimiter) blocked(name, addr string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	wait := max(l.countLimit(l.perPair, name+"|"+addr, l.max, now), l.countLimit(l.perAddr, addr, l.max*addressFactor, now))
	if f := l.perName.get(name, now, l.window); f != nil {
		if left := l.accountDelay(f.count) - now.Sub(f.last); left > wait {
			wait = left
		}
	}
	return wait
}

func (l *loginLimiter) fail(name, addr string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.perPair.add(name+"|"+addr, now, l.window)
	l.perAddr.add(addr, now, l.window)
	l.perName.add(name, now, l.window)
}

// succeed forgets the name's failures: the person is in. The address keeps
// its count, so a guesser who knows one password cannot reset its limit.
func (l *loginLimiter) succeed(name, addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.perPair.keys, name+"|"+addr)
	delete(l.perName.keys, name)
}

// ipExtractor is the caller's address as the login limits count it: the
// peer's address, unless the peer is a trusted proxy, then the address its
// X-Forwarded-For names (walking back over trusted proxies only). With no
// trusted proxies, X-Forwarded-For is ignored: anyone can write it.
func ipExtractor(trusted []string) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, cidr := range trusted {
		if _, n, err := net.ParseCIDR(cidr); err == nil {
			opts = append(opts, echo.TrustIPRange(n))
		}
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}
