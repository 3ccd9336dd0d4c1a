package store

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/estatehq/estate/desk/ticket"
	"github.com/estatehq/estate/internal/testenv"
	"github.com/estatehq/estate/internal/wire"
)

// A desk database written by the walking skeleton (no migrations table, the
// first schema) upgrades in place and keeps its tickets and their alarm keys.
func TestSkeletonDatabaseUpgrades(t *testing.T) {
	path := filepath.Join(t.TempDir(), "desk.db")
	old, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	body, err := migrations.ReadFile("migrations/sqlite/001_tickets.sql")
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range splitStatements(string(body)) {
		if _, err := old.Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := old.Exec(`INSERT INTO tickets (kind, priority, status, title, site, alarm_key, source, created_by, created_at, updated_at)
		VALUES ('top_up', 'P3', 'new', 'low balance', 's', 's/low/m1', 'device_alarm', 'gw', 1, 1)`); err != nil {
		t.Fatal(err)
	}
	old.Close()

	st, err := OpenSQLite(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	got, created, err := st.CreateTicket(ctx, wire.NewTicket{Kind: wire.TopUp, Title: "again", Site: "s", AlarmKey: "s/low/m1"}, "gw", time.Now())
	if err != nil || created || got.ID != 1 || got.Title != "low balance" {
		t.Fatalf("old ticket after upgrade: %+v created=%v %v", got, created, err)
	}
	if _, err := st.Transition(ctx, 1, ticket.Change{Action: ticket.Resolve, Resolution: "balance back"}, "gw", time.Now()); err != nil {
		t.Fatalf("lifecycle on an old ticket: %v", err)
	}
	// Opening again applies nothing twice.
	again, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	again.Close()
}

// A database of before migration 007 (alarm keys unique across sites, alarm
// actions keyed globally, gateway ids bound to nothing) upgrades on both
// dialects: its open ticket keeps its key on its own site, its applied alarm
// actions are still replayed on their site (and only there), and its
// gateways' rows are claimed by the next heartbeat of their site.
func TestSiteIsolationMigrationUpgrades(t *testing.T) {
	for _, b := range []struct {
		name string
		dsn  func(t *testing.T) string
	}{
		{SQLiteDialect, func(t *testing.T) string { return filepath.Join(t.TempDir(), "desk.db") }},
		{PostgresDialect, func(t *testing.T) string { return testenv.PostgreSQL(t) }},
	} {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			dsn := b.dsn(t)
			old, err := open(ctx, b.name, dsn, Policy{}, 6)
			if err != nil {
				t.Fatal(err)
			}
			fire := wire.NewTicket{Kind: wire.Emergency, Title: "fire", Site: "site-b", AlarmKey: "site-b/fire/p1"}
			// The old desk's open ticket, written with the columns of its
			// schema (today's CreateTicket writes columns of later migrations).
			var tk wire.Ticket
			if err := old.db.QueryRowContext(ctx, old.q(`INSERT INTO tickets (kind, priority, status, title, site, alarm_key, source, created_by, created_at, updated_at)
				VALUES ('emergency', 'P1', 'new', 'fire', 'site-b', 'site-b/fire/p1', 'device_alarm', 'gw-b', ?, ?) RETURNING id`), nanos(t0), nanos(t0)).Scan(&tk.ID); err != nil {
				t.Fatal(err)
			}
			for _, q := range []string{
				`INSERT INTO alarm_actions (idempotency_key, alarm_key, action, ticket_id, applied_at) VALUES ('k1', 'site-b/fire/p1', 'open', ?, 1)`,
				`INSERT INTO gateway_status (gateway, site, received_at, status) VALUES ('gw-b-1', 'site-b', 1, '{"gateway":"gw-b-1","site":"site-b"}')`,
			} {
				if _, err := old.db.ExecContext(ctx, old.q(q), []any{tk.ID}[:strings.Count(q, "?")]...); err != nil {
					t.Fatal(err)
				}
			}
			old.Close()

			st, err := Open(ctx, b.name, dsn, Policy{})
			if err != nil {
				t.Fatalf("upgrade: %v", err)
			}
			defer st.Close()
			if got, created, err := st.CreateTicket(ctx, fire, "gw-b", t0); err != nil || created || got.ID != tk.ID {
				t.Errorf("old open ticket on its site: %+v %v %v", got, created, err)
			}
			other := fire
			other.Site, other.AlarmKey = "site-a", "site-b/fire/p1"
			if got, created, err := st.CreateTicket(ctx, other, "old-desk", t0); err != nil || !created || got.Site != "site-a" {
				t.Errorf("same key on another site is another ticket: %+v %v %v", got, created, err)
			}
			note := wire.AlarmAction{IdempotencyKey: "k1", AlarmKey: "site-b/fire/p1", Action: wire.ActionNote, Note: "again"}
			r, err := st.ApplyAlarmAction(ctx, note, Caller{Name: "gw-b", Key: "token:gw-b@site-b", Site: "site-b", Request: "any"}, t0)
			if err != nil || !r.Replayed || r.Ticket.ID != tk.ID {
				t.Errorf("old key on its site: %+v %v", r, err)
			}
			r, err = st.ApplyAlarmAction(ctx, wire.AlarmAction{IdempotencyKey: "k1", AlarmKey: "site-a/fire/p9", Action: wire.ActionOpen,
				Ticket: &wire.NewTicket{Kind: wire.Emergency, Title: "fire a", Site: "site-a", AlarmKey: "site-a/fire/p9"}},
				Caller{Name: "gw-a", Key: "token:gw-a@site-a", Site: "site-a", Request: "r"}, t0)
			if err != nil || r.Replayed || !r.Created || r.Ticket.Site != "site-a" {
				t.Errorf("old key of site B used on site A: %+v %v", r, err)
			}
			hb := wire.GatewayStatus{Gateway: "gw-b-1", Site: "site-b"}
			if err := st.SaveGatewayStatus(ctx, wire.GatewayStatus{Gateway: "gw-b-1", Site: "site-a"}, "token:gw-a@site-a", t0); !errors.Is(err, ErrConflict) {
				t.Errorf("old gateway row taken from another site: %v", err)
			}
			if err := st.SaveGatewayStatus(ctx, hb, "token:gw-b@site-b", t0); err != nil {
				t.Errorf("old gateway row claimed on its site: %v", err)
			}
			if err := st.SaveGatewayStatus(ctx, hb, "token:gw-b2@site-b", t0); !errors.Is(err, ErrConflict) {
				t.Errorf("claimed gateway row taken by another token: %v", err)
			}
			if err := st.SaveGatewayStatus(ctx, hb, "token:gw-b2@site-b", t0.Add(GatewayClaimLapse+time.Minute)); err != nil {
				t.Errorf("a gateway id silent for a day, reported by another token of its site: %v", err)
			}
			if err := st.SaveGatewayStatus(ctx, wire.GatewayStatus{Gateway: "gw-b-1", Site: "site-a"}, "token:gw-a@site-a", t0.Add(3*GatewayClaimLapse)); !errors.Is(err, ErrConflict) {
				t.Errorf("a silent gateway id moved to another site: %v", err)
			}
		})
	}
}
