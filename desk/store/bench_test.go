package store

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/estatehq/estate/internal/testenv"
	"github.com/estatehq/estate/internal/wire"
)

// benchTickets is how many tickets the list benchmarks run against:
// ESTATE_BENCH_TICKETS, default 1,000,000 (the target in docs/testing.md, "desk over HTTP").
func benchTickets(b *testing.B) int {
	n := 1_000_000
	if v := os.Getenv("ESTATE_BENCH_TICKETS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			b.Fatalf("ESTATE_BENCH_TICKETS=%q", v)
		}
	}
	return n
}

func benchStores(b *testing.B) map[string]*Store {
	out := map[string]*Store{}
	st, err := Open(context.Background(), SQLiteDialect, filepath.Join(b.TempDir(), "desk.db"), Policy{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	out[SQLiteDialect] = st
	if os.Getenv("ESTATE_TEST_POSTGRES_URL") != "" {
		pg, err := Open(context.Background(), PostgresDialect, testenv.PostgreSQL(b), Policy{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { pg.Close() })
		out[PostgresDialect] = pg
	}
	return out
}

// BenchmarkCreateTicket measures ticket creations per second: each one is a
// transaction with its audit entry, deadlines and event.
func BenchmarkCreateTicket(b *testing.B) {
	for name, st := range benchStores(b) {
		b.Run(name, func(b *testing.B) {
			n := wire.NewTicket{Kind: wire.Repair, Title: "meter offline", Site: "s", Device: "m"}
			b.ReportAllocs()
			start := time.Now()
			for b.Loop() {
				if _, _, err := st.CreateTicket(context.Background(), n, "gw", time.Now()); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "tickets/s")
		})
	}
}

// BenchmarkCreateTicketParallel is creations per second from 8 concurrent callers.
func BenchmarkCreateTicketParallel(b *testing.B) {
	for name, st := range benchStores(b) {
		b.Run(name, func(b *testing.B) {
			n := wire.NewTicket{Kind: wire.Repair, Title: "meter offline", Site: "s", Device: "m"}
			b.SetParallelism(4) // × GOMAXPROCS callers
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, _, err := st.CreateTicket(context.Background(), n, "gw", time.Now()); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "tickets/s")
		})
	}
}

// seed fills the tickets table with n tickets in one statement per 100,000
// rows: ten sites, all kinds and statuses, searchable titles.
func seed(b *testing.B, st *Store, n int) {
	b.Helper()
	ctx := context.Background()
	series := `WITH RECURSIVE seq(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM seq WHERE i < ?) `
	from := `FROM seq`
	if st.dialect == PostgresDialect {
		series, from = ``, `FROM generate_series(?::bigint, ?::bigint) AS seq(i)`
	}
	now := time.Now().UnixNano()
	for lo := 1; lo <= n; lo += 100_000 {
		hi := min(lo+99_999, n)
		q := series + `INSERT INTO tickets (kind, priority, status, title, description, site, unit, device, source, created_by, created_at, updated_at)
			SELECT CASE i % 5 WHEN 0 THEN 'emergency' WHEN 1 THEN 'repair' WHEN 2 THEN 'top_up' WHEN 3 THEN 'request' ELSE 'complaint' END,
			'P2', CASE i % 7 WHEN 0 THEN 'new' WHEN 1 THEN 'dispatched' WHEN 2 THEN 'on_site' WHEN 3 THEN 'resolved' WHEN 4 THEN 'followed_up' WHEN 5 THEN 'cancelled' ELSE 'closed' END,
			'meter ' || i || ' offline in building ' || (i % 40), 'seeded', 'site-' || (i % 10), '', 'm' || i, 'phone', 'bench', ?, ? ` + from
		args := []any{lo, hi, now, now}
		if st.dialect == PostgresDialect {
			args = []any{now, now, lo, hi}
		}
		if _, err := st.db.ExecContext(ctx, st.q(q), args...); err != nil {
			b.Fatalf("seed: %v", err)
		}
	}
	if st.dialect == PostgresDialect {
		if _, err := st.db.ExecContext(ctx, `ANALYZE tickets`); err != nil {
			b.Fatal(err)
		}
	} else if _, err := st.db.ExecContext(ctx, `ANALYZE`); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkListTickets measures one page (50 tickets) of the usual lists with
// ESTATE_BENCH_TICKETS tickets in the store, reporting p50 and p99.
func BenchmarkListTickets(b *testing.B) {
	n := benchTickets(b)
	stores := benchStores(b)
	for _, name := range []string{SQLiteDialect, PostgresDialect} {
		st := stores[name]
		if st == nil {
			continue
		}
		start := time.Now()
		seed(b, st, n)
		b.Logf("%s: seeded %d tickets in %s", name, n, time.Since(start).Round(time.Millisecond))
		filters := []struct {
			name string
			f    Filter
		}{
			{"newest", Filter{Limit: 50}},
			{"site", Filter{Site: "site-3", Limit: 50}},
			{"site_status", Filter{Site: "site-3", Status: wire.New, Limit: 50}},
			{"open_kind_page_deep", Filter{Open: true, Kind: wire.Repair, BeforeID: int64(n / 2), Limit: 50}},
			{"search_common", Filter{Search: "building 7", Limit: 50}},
			{"search_rare", Filter{Search: "meter 99999 offline", Limit: 50}},
		}
		for _, fc := range filters {
			b.Run(name+"/"+fc.name, func(b *testing.B) {
				var took []time.Duration
				for b.Loop() {
					t0 := time.Now()
					if _, err := st.ListTickets(context.Background(), fc.f); err != nil {
						b.Fatal(err)
					}
					took = append(took, time.Since(t0))
				}
				reportPercentiles(b, took)
			})
		}
	}
}

func reportPercentiles(b *testing.B, took []time.Duration) {
	slices.Sort(took)
	at := func(p float64) float64 {
		return float64(took[min(len(took)-1, int(p*float64(len(took))))].Microseconds()) / 1000
	}
	b.ReportMetric(at(0.50), "p50-ms")
	b.ReportMetric(at(0.99), "p99-ms")
}
