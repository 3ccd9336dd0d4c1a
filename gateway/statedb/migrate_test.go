package statedb

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"
)

// The two files of earlier versions, created by their own schema's SQL (as
// gateway/alarm/store.go and gateway/outbox/outbox.go wrote them before the
// state file), with their pragmas.
const (
	oldAlarmsSchema = `CREATE TABLE IF NOT EXISTS alarms (key TEXT PRIMARY KEY, state TEXT NOT NULL, updated INTEGER NOT NULL)`
	oldOutboxSchema = `
CREATE TABLE IF NOT EXISTS actions (
	seq        INTEGER PRIMARY KEY AUTOINCREMENT,
	idem       TEXT NOT NULL UNIQUE,
	alarm_key  TEXT NOT NULL,
	body       TEXT NOT NULL,
	enqueued   INTEGER NOT NULL,
	attempts   INTEGER NOT NULL DEFAULT 0,
	done       INTEGER,          -- when the desk applied or refused it
	outcome    TEXT              -- delivered, rejected: reason
);
CREATE INDEX IF NOT EXISTS actions_pending ON actions(seq) WHERE done IS NULL;
`
)

func oldFile(t *testing.T, path, pragmas, schema string, rows ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&"+pragmas)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range append([]string{schema}, rows...) {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// writeOldFiles is an installation of the version before the state file: a
// firing alarm (its suppression cause as text), a pending one, one delivered
// outbox action and two pending ones whose order must survive.
func writeOldFiles(t *testing.T, dir string) {
	oldFile(t, filepath.Join(dir, "alarms-gw.db"), "_pragma=synchronous(NORMAL)", oldAlarmsSchema,
		`INSERT INTO alarms VALUES ('s1/meter_offline/m1', '{"key":"s1/meter_offline/m1","rule":"meter_offline","device":"m1","phase":"firing","fired_at":"2026-05-01T08:00:00Z","value":0,"suppressed":"power outage on feeder b1: 30 of 30 devices went silent together while other devices answer"}', 1)`,
		`INSERT INTO alarms VALUES ('s1/hot/m2', '{"key":"s1/hot/m2","rule":"hot","device":"m2","phase":"pending","pending_since":"2026-05-01T08:00:00Z","value":70}', 2)`)
	oldFile(t, filepath.Join(dir, "outbox-gw.db"), "_pragma=synchronous(FULL)", oldOutboxSchema,
		`INSERT INTO actions (idem, alarm_key, body, enqueued, attempts, done, outcome) VALUES ('a@1/open', 'a', '{}', 1, 1, 5, 'delivered')`,
		`INSERT INTO actions (idem, alarm_key, body, enqueued, attempts) VALUES ('b@1/open', 'b', '{"n":1}', 2, 3)`,
		`INSERT INTO actions (idem, alarm_key, body, enqueued) VALUES ('b@1/clear', 'b', '{"n":2}', 3)`)
}

func TestMigrateOldFilesIntoOneStateFile(t *testing.T) {
	dir := t.TempDir()
	writeOldFiles(t, dir)
	ctx := context.Background()
	db, err := OpenGateway(ctx, dir, "gw", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	var alarms int
	var state string
	if err := db.QueryRow(`SELECT count(*) FROM alarms`).Scan(&alarms); err != nil || alarms != 2 {
		t.Fatalf("alarms moved: %d %v", alarms, err)
	}
	if err := db.QueryRow(`SELECT state FROM alarms WHERE key = 's1/meter_offline/m1'`).Scan(&state); err != nil ||
		state == "" {
		t.Fatalf("alarm state: %q %v", state, err)
	}
	rows, err := db.Query(`SELECT seq, idem, attempts, coalesce(outcome, '') FROM actions ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var seq, attempts int
		var idem, outcome string
		if err := rows.Scan(&seq, &idem, &attempts, &outcome); err != nil {
			t.Fatal(err)
		}
		got = append(got, idem)
		if idem == "b@1/open" && (seq != 2 || attempts != 3) || idem == "a@1/open" && outcome != "delivered" {
			t.Errorf("action %s moved as seq %d, attempts %d, outcome %q", idem, seq, attempts, outcome)
		}
	}
	rows.Close()
	if len(got) != 3 || got[0] != "a@1/open" || got[1] != "b@1/open" || got[2] != "b@1/clear" {
		t.Fatalf("actions moved in order %v", got)
	}
	// A new action goes after the moved ones (AUTOINCREMENT carried on).
	if _, err := db.Exec(`INSERT INTO actions (idem, alarm_key, body, enqueued) VALUES ('c@1/open', 'c', '{}', 4)`); err != nil {
		t.Fatal(err)
	}
	var seq int
	if err := db.QueryRow(`SELECT seq FROM actions WHERE idem = 'c@1/open'`).Scan(&seq); err != nil || seq != 4 {
		t.Fatalf("new action seq %d %v", seq, err)
	}

	for _, name := range []string{"alarms-gw.db", "outbox-gw.db"} {
		if _, err := os.Stat(filepath.Join(dir, name)); !os.IsNotExist(err) {
			t.Errorf("%s still in place: %v", name, err)
		}
		if _, err := os.Stat(filepath.Join(dir, name+MigratedSuffix)); err != nil {
			t.Errorf("%s not renamed aside: %v", name, err)
		}
	}
	if _, err := os.Stat(Path(dir, "gw") + ".migrating"); !os.IsNotExist(err) {
		t.Errorf("temporary file left: %v", err)
	}

	// A second start finds nothing to migrate and keeps what is there.
	db.Close()
	db2, err := OpenGateway(ctx, dir, "gw", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	var n int
	if err := db2.QueryRow(`SELECT count(*) FROM actions`).Scan(&n); err != nil || n != 4 {
		t.Fatalf("after a restart: %d actions %v", n, err)
	}
}

// Only one old file (an installation whose outbox was never created, say):
// its rows move, and the state file has the other table empty.
func TestMigrateOneOldFile(t *testing.T) {
	dir := t.TempDir()
	oldFile(t, filepath.Join(dir, "outbox-gw.db"), "_pragma=synchronous(FULL)", oldOutboxSchema,
		`INSERT INTO actions (idem, alarm_key, body, enqueued) VALUES ('b@1/open', 'b', '{}', 2)`)
	db, err := OpenGateway(context.Background(), dir, "gw", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var actions, alarms int
	if err := db.QueryRow(`SELECT (SELECT count(*) FROM actions), (SELECT count(*) FROM alarms)`).Scan(&actions, &alarms); err != nil ||
		actions != 1 || alarms != 0 {
		t.Fatalf("actions %d alarms %d %v", actions, alarms, err)
	}
}

// A state file already there (a crash after it was renamed into place, before
// the old files were renamed aside): nothing is copied twice, the old files
// are renamed aside.
func TestMigrateLeavesAnExistingStateFile(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(Path(dir, "gw"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO actions (idem, alarm_key, body, enqueued) VALUES ('b@1/open', 'b', '{"n":1}', 2)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	writeOldFiles(t, dir)
	db, err = OpenGateway(context.Background(), dir, "gw", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM actions`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d actions, want the state file's 1: %v", n, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "outbox-gw.db"+MigratedSuffix)); err != nil {
		t.Errorf("old outbox not renamed aside: %v", err)
	}
}

// An old file that is not a database: the start fails, nothing is renamed,
// no state file appears, and the next start tries again.
func TestMigrateFailureLeavesOldFilesInCharge(t *testing.T) {
	dir := t.TempDir()
	writeOldFiles(t, dir)
	if err := os.WriteFile(filepath.Join(dir, "alarms-gw.db"), []byte("not a database, and long enough to be read as one"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "alarms-gw.db-wal")); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	if _, err := OpenGateway(context.Background(), dir, "gw", nil); err == nil {
		t.Fatal("a corrupt old file was migrated")
	}
	for _, p := range []string{Path(dir, "gw"), Path(dir, "gw") + ".migrating", filepath.Join(dir, "outbox-gw.db"+MigratedSuffix)} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s exists after a failed migration", p)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "outbox-gw.db")); err != nil {
		t.Errorf("old outbox moved by a failed migration: %v", err)
	}
}

// A state file written before the outbox's dead letter (Schema alone,
// user_version 0) opens with the new columns, its actions pending as they
// were, and a second open changes nothing.
func TestUpgradeExistingStateFile(t *testing.T) {
	path := Path(t.TempDir(), "gw")
	oldFile(t, path, "_pragma=synchronous(FULL)", Schema,
		`INSERT INTO actions (idem, alarm_key, body, enqueued, attempts) VALUES ('b@1/open', 'b', '{}', 2, 7)`,
		`INSERT INTO actions (idem, alarm_key, body, enqueued, attempts, done, outcome) VALUES ('a@1/open', 'a', '{}', 1, 1, 5, 'delivered')`)
	for range 2 {
		db, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		v, err := Version(context.Background(), db)
		if err != nil || v != len(Upgrades) {
			t.Fatalf("version %d, want %d (%v)", v, len(Upgrades), err)
		}
		var attempts, strikes, nextTry int
		var dead sql.NullInt64
		if err := db.QueryRow(`SELECT attempts, strikes, next_try, dead FROM actions WHERE idem = 'b@1/open'`).
			Scan(&attempts, &strikes, &nextTry, &dead); err != nil {
			t.Fatal(err)
		}
		if attempts != 7 || strikes != 0 || nextTry != 0 || dead.Valid {
			t.Errorf("upgraded action: attempts %d strikes %d next_try %d dead %v", attempts, strikes, nextTry, dead)
		}
		db.Close()
	}
}

// Two processes opening an old file at once (the gateway and `estate
// outbox list`): both open it, the upgrade is applied once.
func TestUpgradeConcurrentOpens(t *testing.T) {
	path := Path(t.TempDir(), "gw")
	oldFile(t, path, "_pragma=synchronous(FULL)", Schema)
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			db, err := Open(path)
			if err == nil {
				db.Close()
			}
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
