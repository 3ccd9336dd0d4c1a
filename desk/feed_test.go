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
