package store

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/estatehq/estate/internal/ticket"
)

func openTest(t *testing.T) *SQLite {
	t.Helper()
	st, err := OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "desk.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// Many concurrent requests for one alarm key leave exactly one open ticket:
// the unique index decides, not a check in memory.
func TestConcurrentCreatesOfOneAlarmMakeOneTicket(t *testing.T) {
	st := openTest(t)
	ctx := context.Background()
	n := ticket.NewTicket{Kind: ticket.Emergency, Title: "fire", Site: "s", AlarmKey: "s/fire/panel-1"}
	var wg sync.WaitGroup
	var mu sync.Mutex
	created := 0
	ids := map[int64]bool{}
	for range 20 {
		wg.Go(func() {
			tk, isNew, err := st.CreateTicket(ctx, n, "gw", time.Now())
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			ids[tk.ID] = true
			if isNew {
				created++
			}
		})
	}
	wg.Wait()
	if created != 1 || len(ids) != 1 {
		t.Fatalf("created %d tickets with ids %v, want exactly one", created, ids)
	}
	list, err := st.ListTickets(ctx, Filter{})
	if err != nil || len(list) != 1 || list[0].Priority != "P1" {
		t.Fatalf("list: %v %+v", err, list)
	}
}

func TestTicketsWithoutAlarmKeyAreIndependent(t *testing.T) {
	st := openTest(t)
	ctx := context.Background()
	for range 3 {
		if _, isNew, err := st.CreateTicket(ctx, ticket.NewTicket{Kind: ticket.Request, Title: "leak", Site: "s"}, "front", time.Now()); err != nil || !isNew {
			t.Fatalf("create: %v new=%v", err, isNew)
		}
	}
	list, _ := st.ListTickets(ctx, Filter{Kind: ticket.Request, Limit: 2})
	if len(list) != 2 || list[0].ID != 3 || list[0].Source != ticket.SourcePhone {
		t.Fatalf("newest first, limited: %+v", list)
	}
	older, _ := st.ListTickets(ctx, Filter{BeforeID: list[1].ID})
	if len(older) != 1 || older[0].ID != 1 {
		t.Fatalf("paging: %+v", older)
	}
	if _, err := st.GetTicket(ctx, 42); err == nil {
		t.Fatal("missing ticket found")
	}
}

func TestReadingSurvivesRoundTrip(t *testing.T) {
	st := openTest(t)
	at := time.Date(2026, 11, 24, 8, 0, 0, 123456789, time.UTC)
	tk, _, err := st.CreateTicket(context.Background(), ticket.NewTicket{Kind: ticket.TopUp, Title: "low", Site: "s",
		Building: "1", Unit: "1-101", Device: "m", Reading: &ticket.Reading{Point: "balance", Value: 9.25, Unit: "CNY", At: at}}, "gw", at)
	if err != nil {
		t.Fatal(err)
	}
	got, err := st.GetTicket(context.Background(), tk.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Reading == nil || got.Reading.Value != 9.25 || !got.Reading.At.Equal(at) || got.Building != "1" || !got.CreatedAt.Equal(at) {
		t.Fatalf("round trip: %+v %+v", got, got.Reading)
	}
}

func BenchmarkCreateTicket(b *testing.B) {
	st, err := OpenSQLite(context.Background(), filepath.Join(b.TempDir(), "desk.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	n := ticket.NewTicket{Kind: ticket.Repair, Title: "meter offline", Site: "s", Device: "m"}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := st.CreateTicket(context.Background(), n, "gw", time.Now()); err != nil {
			b.Fatal(err)
		}
	}
}
