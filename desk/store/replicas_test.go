package store

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/estatehq/estate/desk/ticket"
	"github.com/estatehq/estate/internal/wire"
)

// Two desks on one database write events at once; a console reading "after
// the last id I saw" over and over gets every event exactly once, ids rising.
// On PostgreSQL ids come from a sequence and transactions commit in any
// order: without the lock of flushEvents a reader passes an id whose
// transaction has not committed yet and skips it for ever.
func TestEventIDsFollowCommitOrder(t *testing.T) {
	forEachStore(t, func(t *testing.T, b backend) {
		desks := []*Store{b.open(t, Policy{}), b.open(t, Policy{})}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		const writers, perWriter = 8, 25 // each writes a creation and an acknowledgement
		want := writers * perWriter * 2
		var wg sync.WaitGroup
		for w := range writers {
			st := desks[w%2]
			wg.Go(func() {
				for i := range perWriter {
					tk, _, err := st.CreateTicket(ctx, wire.NewTicket{Kind: wire.Repair, Title: fmt.Sprintf("w%d-%d", w, i), Site: "s"}, "gw", time.Now())
					if err != nil {
						t.Error(err)
						return
					}
					if _, err := st.Transition(ctx, tk.ID, ticket.Change{Action: ticket.Acknowledge}, "amy", time.Now()); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		seen := map[int64]bool{}
		var after int64
		reader := desks[1]
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		finished := false
		for len(seen) < want {
			evs, err := reader.Events(ctx, after, "", 7) // small pages: many reads while writers commit
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range evs {
				if e.ID <= after || seen[e.ID] {
					t.Fatalf("event %d after %d: out of order or twice", e.ID, after)
				}
				seen[e.ID], after = true, e.ID
			}
			if len(evs) == 0 {
				if finished {
					break
				}
				select {
				case <-done:
					finished = true // one more read after the last commit
				default:
				}
			}
		}
		<-done
		if len(seen) != want {
			all, _ := reader.Events(ctx, 0, "", 1000)
			t.Fatalf("the reader saw %d of %d events (%d in the table): an id became visible after a higher one", len(seen), want, len(all))
		}
	})
}

// A desk listening on PostgreSQL hears of the events another desk commits,
// with the id of the newest; on SQLite there is nothing to listen to.
func TestListenEventsAcrossDesks(t *testing.T) {
	forEachStore(t, func(t *testing.T, b backend) {
		a, other := b.open(t, Policy{}), b.open(t, Policy{})
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		woken := make(chan int64, 100)
		listening := make(chan error, 1)
		go func() { listening <- a.ListenEvents(ctx, func(id int64) { woken <- id }) }()
		if b.name == SQLiteDialect {
			if err := <-listening; err != nil {
				t.Fatal(err)
			}
			return
		}
		// wake(0) says the listener is connected: from then on nothing is missed.
		select {
		case id := <-woken:
			if id != 0 {
				t.Fatalf("first wake-up %d, want 0 (connected)", id)
			}
		case <-ctx.Done():
			t.Fatal("the listener never connected")
		}
		tk, _, err := other.CreateTicket(ctx, wire.NewTicket{Kind: wire.Repair, Title: "leak", Site: "s"}, "gw", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		evs, err := other.Events(ctx, 0, "", 10)
		if err != nil || len(evs) != 1 || evs[0].TicketID != tk.ID {
			t.Fatalf("events %v %v", evs, err)
		}
		select {
		case id := <-woken:
			if id != evs[0].ID {
				t.Errorf("announced %d, want %d", id, evs[0].ID)
			}
		case <-ctx.Done():
			t.Fatal("the other desk's event was never announced")
		}
		cancel()
		if err := <-listening; err != nil {
			t.Fatal(err)
		}
	})
}

// Failed logins counted by one desk are seen by another on the same
// database, with the memory limiter's rules: a count restarts a window after
// it began, a key is forgotten a window after its last failure.
func TestLoginFailuresShared(t *testing.T) {
	forEachStore(t, func(t *testing.T, b backend) {
		a, other := b.open(t, Policy{}), b.open(t, Policy{})
		ctx := context.Background()
		w := time.Minute
		keys := []string{"pair:amy|192.0.2.1", "addr:192.0.2.1", "name:amy"}
		for i := range 3 {
			if err := a.AddLoginFailure(ctx, keys, t0.Add(time.Duration(i)*time.Second), w); err != nil {
				t.Fatal(err)
			}
		}
		got, err := other.LoginFailures(ctx, keys, t0.Add(3*time.Second), w)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			if f := got[k]; f.Count != 3 || !f.First.Equal(t0) || !f.Last.Equal(t0.Add(2*time.Second)) {
				t.Errorf("%s: %+v", k, f)
			}
		}
		// A window after the first failure the count starts again.
		if err := other.AddLoginFailure(ctx, keys[:1], t0.Add(w), w); err != nil {
			t.Fatal(err)
		}
		got, _ = a.LoginFailures(ctx, keys, t0.Add(w), w)
		if f := got[keys[0]]; f.Count != 1 || !f.First.Equal(t0.Add(w)) {
			t.Errorf("restarted count: %+v", f)
		}
		// A window after their last failure the others are gone.
		got, _ = a.LoginFailures(ctx, keys, t0.Add(2*time.Second+w), w)
		if _, ok := got[keys[1]]; ok {
			t.Errorf("an expired key is still counted: %+v", got)
		}
		if err := a.ForgetLoginFailures(ctx, keys[:1]); err != nil {
			t.Fatal(err)
		}
		got, _ = other.LoginFailures(ctx, keys, t0.Add(w), w)
		if _, ok := got[keys[0]]; ok {
			t.Errorf("forgotten key still counted: %+v", got)
		}
		// The table keeps nothing a window old: the next failure sweeps it.
		if err := a.AddLoginFailure(ctx, []string{"name:bob"}, t0.Add(10*w), w); err != nil {
			t.Fatal(err)
		}
		var rows int
		if err := a.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM login_failures`).Scan(&rows); err != nil || rows != 1 {
			t.Errorf("%d rows left (%v), want 1", rows, err)
		}
	})
}

// A listener whose connection PostgreSQL ends (a restart, a failover, an
// administrator's pg_terminate_backend) connects again, says so with wake(0)
// (the caller reads the table for what it missed meanwhile) and hears the
// next commits; the error is reported.
func TestListenEventsReconnects(t *testing.T) {
	b := backends(t)[1]
	a, other := b.open(t, Policy{}), b.open(t, Policy{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	woken := make(chan int64, 100)
	lost := make(chan error, 10)
	a.OnListenError(func(err error) { lost <- err })
	go func() { _ = a.ListenEvents(ctx, func(id int64) { woken <- id }) }()
	next := func(what string) int64 {
		t.Helper()
		select {
		case id := <-woken:
			return id
		case <-ctx.Done():
			t.Fatalf("no wake-up: %s", what)
			return 0
		}
	}
	if id := next("connected"); id != 0 {
		t.Fatalf("first wake-up %d, want 0", id)
	}
	res, err := other.db.ExecContext(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND query LIKE 'LISTEN %' AND pid <> pg_backend_pid()`)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("terminated %d listening backends, want 1", n)
	}
	if id := next("reconnected"); id != 0 {
		t.Fatalf("wake-up %d after the lost connection, want 0 (reconnected)", id)
	}
	select {
	case err := <-lost:
		t.Logf("reported: %v", err)
	default:
		t.Error("the lost connection was not reported")
	}
	if _, _, err := other.CreateTicket(ctx, wire.NewTicket{Kind: wire.Repair, Title: "after", Site: "s"}, "gw", time.Now()); err != nil {
		t.Fatal(err)
	}
	if id := next("the commit after reconnecting"); id == 0 {
		t.Error("announced id 0 for a commit")
	}
}
