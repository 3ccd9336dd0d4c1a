package desk

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/estatehq/estate/desk/store"
	"github.com/estatehq/estate/internal/wire"
)

// countingStore counts the event reads that reach the database.
type countingStore struct {
	*store.Store
	reads atomic.Int64
}

func (c *countingStore) Events(ctx context.Context, after int64, site string, limit int) ([]store.Event, error) {
	c.reads.Add(1)
	return c.Store.Events(ctx, after, site, limit)
}

func eventIDs(evs []store.Event) []int64 {
	out := make([]int64, len(evs))
	for i, e := range evs {
		out[i] = e.ID
	}
	return out
}

// A desk's streams share one read of the database per wake-up: 50 consoles
// woken by one commit cost one query, each getting its site's events; a
// console further behind than the desk keeps is served from the database,
// with the same events.
func TestFeedSharesReads(t *testing.T) {
	st := openIsoStore(t, store.SQLiteDialect, filepath.Join(t.TempDir(), "desk.db"))
	cs := &countingStore{Store: st}
	h := newHub()
	f := newFeed(cs, h)
	ctx := context.Background()
	create := func(site string, n int) {
		for i := range n {
			if _, _, err := st.CreateTicket(ctx, wire.NewTicket{Kind: wire.Repair, Title: fmt.Sprint(site, i), Site: site}, "t", time.Now()); err != nil {
				t.Fatal(err)
			}
		}
		h.publish()
	}
	create("site-a", 2)
	start, err := st.LastEventID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if evs, err := f.after(ctx, start, "", 100, h.generation(), time.Hour); err != nil || len(evs) != 0 {
		t.Fatalf("nothing after the last event: %v %v", evs, err)
	}
	create("site-a", 3)
	create("site-b", 2)
	wantA, _ := st.Events(ctx, start, "site-a", 100)
	wantAll, _ := st.Events(ctx, start, "", 100)
	reads := cs.reads.Load()
	gen := h.generation()
	var wg sync.WaitGroup
	for i := range 50 {
		site, want := "site-a", wantA
		if i%2 == 1 {
			site, want = "", wantAll
		}
		wg.Go(func() {
			got, err := f.after(ctx, start, site, 100, gen, time.Hour)
			if err != nil || !slices.Equal(eventIDs(got), eventIDs(want)) {
				t.Errorf("site %q: %v (%v), want %v", site, eventIDs(got), err, eventIDs(want))
			}
		})
	}
	wg.Wait()
	if n := cs.reads.Load() - reads; n != 1 {
		t.Errorf("50 streams woken by one publication read the database %d times, want 1", n)
	}

	// The desk keeps 3 events: a stream 7 behind reads the database.
	f.maxEvents = 3
	create("site-a", 4)
	got, err := f.after(ctx, start, "site-a", 100, h.generation(), time.Hour)
	want, _ := st.Events(ctx, start, "site-a", 100)
	if err != nil || !slices.Equal(eventIDs(got), eventIDs(want)) || len(want) != 7 {
		t.Errorf("behind the kept events: %v (%v), want %v", eventIDs(got), err, eventIDs(want))
	}
	// Limits apply from memory as from the database.
	last3 := want[len(want)-3].ID - 1
	if got, _ := f.after(ctx, last3, "", 2, h.generation(), time.Hour); len(got) != 2 || got[0].ID != last3+1 {
		t.Errorf("two after %d: %v", last3, eventIDs(got))
	}
}

type sessionCountingStore struct {
	*store.Store
	reads atomic.Int64
}

func (c *sessionCountingStore) Session(ctx context.Context, tokenHash string, now time.Time) (store.Session, error) {
	c.reads.Add(1)
	return c.Store.Session(ctx, tokenHash, now)
}

// Streams of one session woken by every commit ask the store about it at
// most once a second; a logout on this desk is believed at once, one on
// another desk within the second.
func TestStreamSessionChecksAreBounded(t *testing.T) {
	st := &sessionCountingStore{Store: openIsoStore(t, store.SQLiteDialect, filepath.Join(t.TempDir(), "desk.db"))}
	clk := &clock{now: time.Date(2026, 11, 24, 2, 0, 0, 0, time.UTC)}
	cfg := isoConfig()
	a := newAuthenticator(cfg, st, clk.Now)
	ctx := context.Background()
	staff := cfg.Staff[0]
	for _, tok := range []string{"s1", "s2"} {
		if err := st.CreateSession(ctx, tok, store.Session{Staff: staff.Name, Fingerprint: fingerprint(staff.PasswordHash)}, clk.Now(), clk.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	p := Principal{Name: staff.Name, Role: staff.Role, Site: staff.Site, session: "s1"}
	for range 100 {
		if !a.stillValid(ctx, p) {
			t.Fatal("a live session refused")
		}
	}
	if n := st.reads.Load(); n != 1 {
		t.Errorf("100 wake-ups within a second read the session %d times, want 1", n)
	}
	clk.Advance(time.Second)
	a.stillValid(ctx, p)
	if n := st.reads.Load(); n != 2 {
		t.Errorf("a second later: %d reads, want 2", n)
	}
	// Logged out on another desk: seen once the second is over.
	if err := st.DeleteSession(ctx, "s1"); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Second)
	if a.stillValid(ctx, p) {
		t.Error("a session deleted by another desk still valid a second later")
	}
	// Logged out on this desk: at once.
	p2 := p
	p2.session = "s2"
	if !a.stillValid(ctx, p2) {
		t.Fatal("s2 refused")
	}
	if err := st.DeleteSession(ctx, "s2"); err != nil {
		t.Fatal(err)
	}
	a.forgetChecked("s2")
	if a.stillValid(ctx, p2) {
		t.Error("a session logged out on this desk still valid")
	}
}
