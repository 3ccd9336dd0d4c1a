package store

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

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

// loadFixture makes a database of the previous release from its dump in
// testdata (see the files' first lines for how they were made).
func loadFixture(t *testing.T, dialect, dsn string) {
	t.Helper()
	ctx := context.Background()
	body, err := os.ReadFile(filepath.Join("testdata", dialect+"-008.sql"))
	if err != nil {
		t.Fatal(err)
	}
	switch dialect {
	case SQLiteDialect:
		db, err := sql.Open("sqlite", "file:"+dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		for _, stmt := range splitStatements(string(body)) {
			if _, err := db.ExecContext(ctx, stmt); err != nil {
				t.Fatalf("fixture: %v\n%s", err, stmt)
			}
		}
	case PostgresDialect:
		// A dump sets search_path for its session: it gets a connection of its own.
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, string(body)); err != nil {
			t.Fatalf("fixture: %v", err)
		}
	}
}

// schemaOf describes a database's schema as text, one line per table,
// column, index, constraint or trigger, to compare two databases.
func schemaOf(t *testing.T, st *Store) []string {
	t.Helper()
	var qs []string
	switch st.dialect {
	case SQLiteDialect:
		qs = []string{`SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name`}
	case PostgresDialect:
		qs = []string{
			`SELECT table_name, column_name, ordinal_position, data_type, is_nullable, COALESCE(column_default, ''), is_identity
				FROM information_schema.columns WHERE table_schema = 'public' ORDER BY table_name, ordinal_position`,
			`SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY tablename, indexname`,
			`SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint
				WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2`,
			`SELECT tgrelid::regclass::text, tgname, pg_get_triggerdef(oid) FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1, 2`,
			`SELECT extname FROM pg_extension ORDER BY 1`,
			`SELECT p.proname, pg_get_function_identity_arguments(p.oid) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
				LEFT JOIN pg_depend d ON d.objid = p.oid AND d.deptype = 'e'
				WHERE n.nspname = 'public' AND d.objid IS NULL ORDER BY 1, 2`,
		}
	}
	var out []string
	for _, q := range qs {
		for _, row := range tableRows(t, st.db, q) {
			out = append(out, strings.Join(strings.Fields(row), " "))
		}
	}
	return out
}

// tablesAndColumns lists a database's tables and their columns (the shadow
// tables of SQLite's full-text index left out: the index keeps them).
func tablesAndColumns(t *testing.T, st *Store) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	q := `SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public' ORDER BY table_name, ordinal_position`
	if st.dialect == SQLiteDialect {
		q = `SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p
			WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name NOT LIKE 'tickets_search%' ORDER BY m.name, p.cid`
	}
	rows, err := st.db.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var table, col string
		if err := rows.Scan(&table, &col); err != nil {
			t.Fatal(err)
		}
		out[table] = append(out[table], col)
	}
	return out
}

// A database made by the previous release (migration 008, kept as a dump in
// testdata) upgrades with today's migrations, whatever they are: every row
// it had reads back the same through the columns it had, the desk works on
// it, and its schema is the schema of a fresh database, on both stores.
func TestUpgradeFromPreviousRelease(t *testing.T) {
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
			loadFixture(t, b.name, dsn)
			// What the old database holds, read before the upgrade.
			old, err := open(ctx, b.name, dsn, Policy{}, 8) // applies nothing: the fixture is at 008
			if err != nil {
				t.Fatal(err)
			}
			oldTables := tablesAndColumns(t, old)
			before := map[string][]string{}
			for table, cols := range oldTables {
				if table == "schema_migrations" {
					continue
				}
				before[table] = tableRows(t, old.db, `SELECT `+strings.Join(cols, ", ")+` FROM `+table+` ORDER BY `+strings.Join(cols, ", "))
			}
			if len(before["tickets"]) != 2 || len(before["residents"]) != 2 {
				t.Fatalf("the fixture did not load: %d tickets, %d residents", len(before["tickets"]), len(before["residents"]))
			}
			old.Close()

			st, err := Open(ctx, b.name, dsn, Policy{})
			if err != nil {
				t.Fatalf("upgrade from the previous release: %v", err)
			}
			defer st.Close()
			latest, _ := LatestVersion(b.name)
			var version int
			st.db.QueryRow(`SELECT MAX(version) FROM schema_migrations`).Scan(&version)
			if version != latest {
				t.Errorf("schema version %d after the upgrade, want %d", version, latest)
			}
			t.Logf("upgraded from 008 to %03d", version)
			now := tablesAndColumns(t, st)
			for table, cols := range oldTables {
				if table == "schema_migrations" {
					continue
				}
				for _, c := range cols {
					if !slices.Contains(now[table], c) {
						t.Fatalf("%s.%s is gone after the upgrade: say here where its data went and check it there", table, c)
					}
				}
				after := tableRows(t, st.db, `SELECT `+strings.Join(cols, ", ")+` FROM `+table+` ORDER BY `+strings.Join(cols, ", "))
				if strings.Join(after, "\n") != strings.Join(upgradedRows(table, before[table]), "\n") {
					t.Errorf("%s changed in the upgrade:\nbefore %v\nafter  %v", table, before[table], after)
				}
			}

			// The desk reads and acts on the old records.
			tk, err := st.GetTicket(ctx, 1)
			if err != nil || tk.Title != "3号楼电梯困人" || tk.AcknowledgedAt == nil {
				t.Errorf("old emergency: %+v %v", tk, err)
			}
			// 013: every old ticket is owned by whoever created it.
			for _, id := range []int64{1, 2} {
				if old, err := st.GetTicket(ctx, id); err != nil || old.Owner == "" || old.Owner != old.CreatedBy {
					t.Errorf("old ticket %d: owner %q, created by %q: %v", id, old.Owner, old.CreatedBy, err)
				}
			}
			if audit, err := st.Audit(ctx, 1); err != nil || len(audit) < 3 {
				t.Errorf("old audit trail: %+v %v", audit, err)
			}
			if cs, err := st.Comments(ctx, 1); err != nil || len(cs) != 2 || cs[0].Body != "维保 10 分钟到场" {
				t.Errorf("old comment: %+v %v", cs, err)
			}
			u, err := st.GetUnit(ctx, "site-a", "3-1201")
			if err != nil || len(u.Residents) != 2 || u.Residents[0].Name != "王芳" || len(u.Meters) != 1 {
				t.Errorf("old household: %+v %v", u, err)
			}
			tops, err := st.TopUps(ctx, "site-a", t0)
			if err != nil || len(tops) != 1 || tops[0].Reminders != 1 || tops[0].LastReminder.Answer != "今晚充值" {
				t.Errorf("old top-up list: %+v %v", tops, err)
			}
			if _, err := st.Transition(ctx, 1, ticket.Change{Action: ticket.Dispatch, Assignee: "li", Team: "engineering"}, "chen", t0); err != nil {
				t.Errorf("lifecycle on an old ticket: %v", err)
			}
			if _, created, err := st.CreateTicket(ctx, wire.NewTicket{Kind: wire.TopUp, Title: "again", Site: "site-a",
				AlarmKey: "site-a/low_balance/meter-3-1201", Unit: "3-1201"}, "gw-a", t0); err != nil || created {
				t.Errorf("old open top-up still holds its alarm key: created=%v %v", created, err)
			}
			if found, err := st.ListTickets(ctx, Filter{Site: "site-a", Search: "电梯困人", Limit: 10}); err != nil || len(found) != 1 {
				t.Errorf("old ticket found by search: %d %v", len(found), err)
			}

			// The schema is a fresh database's.
			fresh, err := Open(ctx, b.name, b.dsn(t), Policy{})
			if err != nil {
				t.Fatal(err)
			}
			defer fresh.Close()
			got, want := schemaOf(t, st), schemaOf(t, fresh)
			for _, line := range want {
				if !slices.Contains(got, line) {
					t.Errorf("the upgraded database lacks: %s", line)
				}
			}
			for _, line := range got {
				if !slices.Contains(want, line) {
					t.Errorf("the upgraded database has what a fresh one has not: %s", line)
				}
			}
		})
	}
}

// upgradedRows is what the rows of a table of the previous release must read
// after today's migrations: unchanged, but for the changes a migration makes
// on purpose, each named here with its migration.
func upgradedRows(table string, rows []string) []string {
	out := slices.Clone(rows)
	for i, r := range out {
		// 009: one open top-up reminder per household and kind of meter; the
		// reminders of before were all for electricity meters (category meter).
		if table == "tickets" && strings.Contains(r, "|kind=top_up|") {
			out[i] = strings.Replace(r, "|category=|", "|category=meter|", 1)
		}
	}
	return out
}
