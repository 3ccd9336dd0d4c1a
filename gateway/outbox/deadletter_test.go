package outbox_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/estatehq/estate/gateway/deskclient"
	"github.com/estatehq/estate/gateway/outbox"
	"github.com/estatehq/estate/gateway/statedb"
	"github.com/estatehq/estate/internal/wire"
)

// fakeDesk answers alarm actions: the status refuse returns for a key (0:
// accept), and every key it applied, with how often.
type fakeDesk struct {
	mu      sync.Mutex
	refuse  map[string]int // idempotency key → status; -1 hangs up without answering
	all     int            // status for every key (0: per key)
	tries   map[string]int
	applied map[string]int
	order   []string
}

func newFakeDesk(t *testing.T) (*fakeDesk, *httptest.Server) {
	d := &fakeDesk{refuse: map[string]int{}, tries: map[string]int{}, applied: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var a wire.AlarmAction
		if err := json.NewDecoder(r.Body).Decode(&a); err != nil {
			http.Error(w, `{"error":"bad json"}`, http.StatusBadRequest)
			return
		}
		d.mu.Lock()
		defer d.mu.Unlock()
		d.tries[a.IdempotencyKey]++
		code := d.refuse[a.IdempotencyKey]
		if d.all != 0 {
			code = d.all
		}
		if code == -1 {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		if code != 0 {
			w.WriteHeader(code)
			_, _ = w.Write([]byte(`{"error":"database says no"}`))
			return
		}
		d.applied[a.IdempotencyKey]++
		d.order = append(d.order, a.IdempotencyKey)
		_ = json.NewEncoder(w).Encode(wire.AlarmActionResult{Created: a.Action == wire.ActionOpen,
			Replayed: d.applied[a.IdempotencyKey] > 1})
	}))
	t.Cleanup(srv.Close)
	return d, srv
}

func (d *fakeDesk) get(f func(d *fakeDesk) int) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return f(d)
}

// fastOutbox is an outbox on a fresh state file with short waits.
func fastOutbox(t *testing.T, url string, reg prometheus.Registerer) (*outbox.Outbox, *sql.DB) {
	t.Helper()
	db, err := statedb.Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ob := outbox.New(db, outbox.Options{Sender: deskclient.New(url, gatewayToken), Log: quiet,
		Metrics: outbox.NewMetrics(reg), MaxAttempts: 3, RetryBase: 100 * time.Millisecond, RetryMax: 300 * time.Millisecond,
		BreakerBase: 5 * time.Millisecond, Poll: 20 * time.Millisecond})
	return ob, db
}

func runOutbox(t *testing.T, ob *outbox.Outbox) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		ob.Run(ctx, func(a wire.AlarmAction, _ wire.AlarmActionResult) { t.Logf("delivered %s", a.IdempotencyKey) })
	}()
	t.Cleanup(func() { cancel(); <-done })
}

func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		var sum float64
		for _, m := range mf.GetMetric() {
			sum += m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
		return sum
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// One action the desk refuses with 500 while it accepts the others: the
// others are delivered, the refused one ends in the dead letter after
// MaxAttempts refusals with the later action of its alarm behind it, and a
// retry sends both, in order, once the desk accepts them: each key applied once.
func TestPoisonedActionGoesToTheDeadLetterAndRetryDeliversIt(t *testing.T) {
	desk, srv := newFakeDesk(t)
	poisoned := openAction("s1/r/poison", 0)
	follower := wire.AlarmAction{IdempotencyKey: "s1/r/poison@1/clear", AlarmKey: "s1/r/poison", Action: wire.ActionClear, Note: "cleared"}
	desk.refuse[poisoned.IdempotencyKey] = http.StatusInternalServerError
	reg := prometheus.NewRegistry()
	ob, db := fastOutbox(t, srv.URL, reg)
	others := []wire.AlarmAction{openAction("s1/r/d1", 1), openAction("s1/r/d2", 2), openAction("s1/r/d3", 3)}
	for _, a := range append([]wire.AlarmAction{poisoned, follower}, others...) {
		if err := ob.Add(a); err != nil {
			t.Fatal(err)
		}
	}
	runOutbox(t, ob)

	waitFor(t, "the poisoned action in the dead letter, the others delivered", 20*time.Second, func() bool {
		return ob.Dead() == 1 && ob.Pending() == 1
	})
	for _, a := range others {
		if n := desk.get(func(d *fakeDesk) int { return d.applied[a.IdempotencyKey] }); n != 1 {
			t.Errorf("%s applied %d times, want 1 (it must not wait behind the poisoned action)", a.IdempotencyKey, n)
		}
	}
	if n := desk.get(func(d *fakeDesk) int { return d.tries[poisoned.IdempotencyKey] }); n != 3 {
		t.Errorf("the poisoned action was tried %d times, want MaxAttempts = 3", n)
	}
	if n := desk.get(func(d *fakeDesk) int { return d.tries[follower.IdempotencyKey] }); n != 0 {
		t.Errorf("the clear of the poisoned alarm was sent %d times before its open", n)
	}
	if ob.Pending() != 1 { // the follower, behind the dead action
		t.Errorf("pending %d, want 1", ob.Pending())
	}
	if g, c := gauge(t, reg, "estate_outbox_dead"), gauge(t, reg, "estate_outbox_dead_lettered_total"); g != 1 || c != 1 {
		t.Errorf("estate_outbox_dead %v, estate_outbox_dead_lettered_total %v", g, c)
	}
	entries, err := outbox.List(context.Background(), db, false)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if len(entries) != 2 || entries[0].State(now) != "dead" || entries[0].Refusals != 3 || entries[0].LastError == "" ||
		entries[1].State(now) != "behind #"+strconv.FormatInt(entries[0].ID, 10) {
		t.Fatalf("list: %+v", entries)
	}
	dead, _ := outbox.List(context.Background(), db, true)
	if len(dead) != 1 || dead[0].Key != poisoned.IdempotencyKey {
		t.Fatalf("dead letter: %+v", dead)
	}

	// Retrying while the desk still refuses: back in the dead letter after
	// MaxAttempts more refusals once the desk accepted another action.
	if err := outbox.Retry(context.Background(), db, dead[0].ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the retried action refused again", 20*time.Second, func() bool {
		return desk.get(func(d *fakeDesk) int { return d.tries[poisoned.IdempotencyKey] }) > 3
	})
	later := openAction("s1/r/d4", 4)
	if err := ob.Add(later); err != nil {
		t.Fatal(err)
	}
	others = append(others, later)
	waitFor(t, "the second round of refusals", 20*time.Second, func() bool {
		return desk.get(func(d *fakeDesk) int { return d.tries[poisoned.IdempotencyKey] }) >= 6 && ob.Dead() == 1 &&
			ob.Pending() == 1
	})
	if err := outbox.Retry(context.Background(), db, seqOf(t, db, others[0].IdempotencyKey)); err == nil {
		t.Error("retrying a delivered action succeeded")
	}

	// The desk is fixed; the operator retries (from another connection, as
	// `estate outbox retry` does while the gateway runs).
	desk.mu.Lock()
	delete(desk.refuse, poisoned.IdempotencyKey)
	desk.mu.Unlock()
	if n, err := outbox.RetryAll(context.Background(), db); err != nil || n != 1 {
		t.Fatalf("retry all: %d %v", n, err)
	}
	waitFor(t, "the retried action and its follower delivered", 20*time.Second, func() bool { return ob.Pending() == 0 && ob.Dead() == 0 })
	desk.mu.Lock()
	defer desk.mu.Unlock()
	for _, a := range append([]wire.AlarmAction{poisoned, follower}, others...) {
		if desk.applied[a.IdempotencyKey] != 1 {
			t.Errorf("%s applied %d times, want exactly once", a.IdempotencyKey, desk.applied[a.IdempotencyKey])
		}
	}
	last := desk.order[len(desk.order)-2:]
	if last[0] != poisoned.IdempotencyKey || last[1] != follower.IdempotencyKey {
		t.Errorf("the alarm's actions arrived as %v, want open then clear", last)
	}
	if g := gauge(t, reg, "estate_outbox_dead"); g != 0 {
		t.Errorf("estate_outbox_dead %v after the retry", g)
	}
}

// A desk that refuses everything is down, not poisoned: with 500 (nothing
// accepted, so nothing proves the action is the problem) or 503 (an outage,
// which never counts), no action reaches the dead letter however often it is refused.
func TestDeskRefusingEverythingDeadLettersNothing(t *testing.T) {
	for _, code := range []int{http.StatusInternalServerError, http.StatusServiceUnavailable, http.StatusBadGateway} {
		t.Run(http.StatusText(code), func(t *testing.T) {
			desk, srv := newFakeDesk(t)
			desk.all = code
			ob, _ := fastOutbox(t, srv.URL, nil)
			for i, key := range []string{"s1/r/a", "s1/r/b"} {
				if err := ob.Add(openAction(key, i)); err != nil {
					t.Fatal(err)
				}
			}
			runOutbox(t, ob)
			// Each action refused more than MaxAttempts (3) times.
			waitFor(t, "many refusals", 30*time.Second, func() bool {
				return desk.get(func(d *fakeDesk) int {
					if code == http.StatusInternalServerError { // each waits for its own retry: both are tried
						return min(d.tries["s1/r/a@1/open"], d.tries["s1/r/b@1/open"])
					}
					return d.tries["s1/r/a@1/open"] // an outage: the breaker tries the oldest
				}) > 4
			})
			if ob.Dead() != 0 || ob.Pending() != 2 {
				t.Fatalf("dead %d pending %d: a desk outage moved actions to the dead letter", ob.Dead(), ob.Pending())
			}
		})
	}
}

func seqOf(t *testing.T, db *sql.DB, key string) int64 {
	t.Helper()
	var seq int64
	if err := db.QueryRow(`SELECT seq FROM actions WHERE idem = ?`, key).Scan(&seq); err != nil {
		t.Fatal(err)
	}
	return seq
}

// An action on which the desk dies (it hangs up without answering) while it
// accepts the others: the others are delivered, the action counts a failure
// each time the desk accepted something since its previous one, and ends in
// the dead letter; it never holds the others back.
func TestActionTheDeskHangsUpOnGoesToTheDeadLetter(t *testing.T) {
	desk, srv := newFakeDesk(t)
	poisoned := openAction("s1/r/poison", 0)
	desk.refuse[poisoned.IdempotencyKey] = -1
	ob, _ := fastOutbox(t, srv.URL, nil)
	if err := ob.Add(poisoned); err != nil {
		t.Fatal(err)
	}
	runOutbox(t, ob)
	// Other alarms keep firing while the poisoned action is retried.
	var added []string
	waitFor(t, "the action the desk hangs up on in the dead letter", 30*time.Second, func() bool {
		a := openAction("s1/r/other"+strconv.Itoa(len(added)), len(added))
		if err := ob.Add(a); err != nil {
			t.Fatal(err)
		}
		added = append(added, a.IdempotencyKey)
		time.Sleep(30 * time.Millisecond)
		return ob.Dead() == 1
	})
	waitFor(t, "every other action delivered", 20*time.Second, func() bool { return ob.Pending() == 0 })
	desk.mu.Lock()
	defer desk.mu.Unlock()
	for _, k := range added {
		if desk.applied[k] != 1 {
			t.Errorf("%s applied %d times, want once", k, desk.applied[k])
		}
	}
	if desk.tries[poisoned.IdempotencyKey] <= 3 {
		t.Errorf("tried %d times: dead-lettered before MaxAttempts counted failures", desk.tries[poisoned.IdempotencyKey])
	}
}
