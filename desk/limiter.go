package desk

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/estatehq/estate/desk/store"
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
// Failures are counted by a failureCounter: in the process's memory on
// SQLite (one desk), in the database on PostgreSQL (store.LoginFailures), so
// that with several desks behind a load balancer the limits are the same
// whichever desk a guess reaches. The memory tables are bounded
// (maxLimiterKeys) and forget a key LoginWindow after its last failure; a
// full table forgets keys at random (evict). The database's table forgets a
// key a window after its last failure too (store.AddLoginFailure).
type loginLimiter struct {
	max      int
	window   time.Duration
	maxDelay time.Duration
	counts   failureCounter
}

// failureCounter keeps failures per key: "pair:<name>|<addr>",
// "addr:<addr>", "name:<name>".
type failureCounter interface {
	get(ctx context.Context, keys []string, now time.Time, window time.Duration) (map[string]failures, error)
	add(ctx context.Context, keys []string, now time.Time, window time.Duration) error
	forget(ctx context.Context, keys []string) error
}

// addressFactor is how many more failures an address may have than one name
// from it: an office behind one NAT has several people who mistype.
const addressFactor = 4

// maxLimiterKeys bounds each table (about 1 MB each when full).
const maxLimiterKeys = 10_000

func newLoginLimiter(max int, window time.Duration) *loginLimiter {
	return newLoginLimiterOn(max, window, newMemoryFailures())
}

func newLoginLimiterOn(max int, window time.Duration, counts failureCounter) *loginLimiter {
	return &loginLimiter{max: max, window: window, maxDelay: window, counts: counts}
}

func pairKey(name, addr string) string { return "pair:" + name + "|" + addr }
func addrKey(addr string) string       { return "addr:" + addr }
func nameKey(name string) string       { return "name:" + name }

// failures is one key's failures: how many since first, and the last.
type failures struct {
	count       int
	first, last time.Time
}

// memoryFailures counts in the process's memory: three bounded tables.
type memoryFailures struct {
	mu      sync.Mutex
	perPair *failureTable
	perAddr *failureTable
	perName *failureTable
}

func newMemoryFailures() *memoryFailures {
	return &memoryFailures{perPair: newFailureTable(maxLimiterKeys), perAddr: newFailureTable(maxLimiterKeys), perName: newFailureTable(maxLimiterKeys)}
}

func (m *memoryFailures) table(key string) (*failureTable, string) {
	switch {
	case strings.HasPrefix(key, "pair:"):
		return m.perPair, key[len("pair:"):]
	case strings.HasPrefix(key, "addr:"):
		return m.perAddr, key[len("addr:"):]
	}
	return m.perName, strings.TrimPrefix(key, "name:")
}

func (m *memoryFailures) get(_ context.Context, keys []string, now time.Time, window time.Duration) (map[string]failures, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]failures{}
	for _, k := range keys {
		t, key := m.table(k)
		if f := t.get(key, now, window); f != nil {
			out[k] = *f
		}
	}
	return out, nil
}

func (m *memoryFailures) add(_ context.Context, keys []string, now time.Time, window time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, k := range keys {
		t, key := m.table(k)
		t.add(key, now, window)
	}
	return nil
}

func (m *memoryFailures) forget(_ context.Context, keys []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, k := range keys {
		t, key := m.table(k)
		delete(t.keys, key)
	}
	return nil
}

// sharedFailures counts in the database, for every desk on it.
type sharedFailures struct{ st sharedLimits }

// sharedLimits is the part of the store that counts failed logins for all desks.
type sharedLimits interface {
	LoginFailures(ctx context.Context, keys []string, now time.Time, window time.Duration) (map[string]store.LoginFailure, error)
	AddLoginFailure(ctx context.Context, keys []string, now time.Time, window time.Duration) error
	ForgetLoginFailures(ctx context.Context, keys []string) error
}

func (s sharedFailures) get(ctx context.Context, keys []string, now time.Time, window time.Duration) (map[string]failures, error) {
	got, err := s.st.LoginFailures(ctx, keys, now, window)
	if err != nil {
		return nil, err
	}
	out := make(map[string]failures, len(got))
	for k, f := range got {
		out[k] = failures{count: f.Count, first: f.First, last: f.Last}
	}
	return out, nil
}

func (s sharedFailures) add(ctx context.Context, keys []string, now time.Time, window time.Duration) error {
	return s.st.AddLoginFailure(ctx, keys, now, window)
}

func (s sharedFailures) forget(ctx context.Context, keys []string) error {
	return s.st.ForgetLoginFailures(ctx, keys)
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
func (l *loginLimiter) countLimit(f failures, ok bool, max int, now time.Time) time.Duration {
	if !ok || f.count < max || now.Sub(f.first) >= l.window {
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
func (l *loginLimiter) blocked(ctx context.Context, name, addr string, now time.Time) (time.Duration, error) {
	pair, byAddr, byName := pairKey(name, addr), addrKey(addr), nameKey(name)
	got, err := l.counts.get(ctx, []string{pair, byAddr, byName}, now, l.window)
	if err != nil {
		return 0, fmt.Errorf("login limits: %w", err)
	}
	fp, okp := got[pair]
	fa, oka := got[byAddr]
	wait := max(l.countLimit(fp, okp, l.max, now), l.countLimit(fa, oka, l.max*addressFactor, now))
	if f, ok := got[byName]; ok {
		if left := l.accountDelay(f.count) - now.Sub(f.last); left > wait {
			wait = left
		}
	}
	return wait, nil
}

func (l *loginLimiter) fail(ctx context.Context, name, addr string, now time.Time) error {
	return l.counts.add(ctx, []string{pairKey(name, addr), addrKey(addr), nameKey(name)}, now, l.window)
}

// succeed forgets the name's failures: the person is in. The address keeps
// its count, so a guesser who knows one password cannot reset its limit.
func (l *loginLimiter) succeed(ctx context.Context, name, addr string) error {
	return l.counts.forget(ctx, []string{pairKey(name, addr), nameKey(name)})
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
