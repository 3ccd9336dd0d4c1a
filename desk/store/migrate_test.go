package store

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/estatehq/estate/desk/ticket"
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
