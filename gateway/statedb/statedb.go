// Package statedb is the gateway's one state file, state-<gateway id>.db
// under gateway.state_dir: the alarm engine's state (table alarms, written by
// gateway/alarm) and the ticket outbox (table actions, delivered by
// gateway/outbox) in one SQLite database. One file is what lets an alarm
// transition and the desk actions it causes commit in one transaction: a crash
// can lose both or neither, never the ticket of a recorded alarm, and it cannot
// queue a ticket twice for one episode.
//
// Before this file existed the two tables lived in alarms-<id>.db and
// outbox-<id>.db, kept consistent by write order; OpenGateway moves their rows
// into the new file once, and renames them aside (.migrated).
//
// Schema is the file as first released; later changes are Upgrades, applied
// in order when a file is opened and recorded in PRAGMA user_version, so that
// a state file written by any earlier version opens with every column.
package statedb

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Schema is the state file's tables. The alarms and actions tables have the
// columns of the two files they replace, so that migrating is a copy.
const Schema = `
CREATE TABLE IF NOT EXISTS alarms (
	key     TEXT PRIMARY KEY,
	state   TEXT NOT NULL,    -- the alarm as JSON (gateway/alarm.Alarm)
	updated INTEGER NOT NULL
);
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

// Upgrades are the schema changes since Schema, in order; upgrade i brings a
// file to user_version i+1. Append only: a released upgrade is never edited,
// because files out there already carry it.
var Upgrades = []string{
	// 1: the outbox's attempt limit and dead letter (gateway/outbox). strikes
	// counts the desk's retryable refusals of this action (not outages: those
	// say nothing about the action); next_try is when it may be sent again
	// (unix ns; 0 = now); first_strike is the first refusal; dead is when it
	// moved to the dead letter (NULL: not dead), where it waits for
	// `estate outbox retry`; last_failed and last_error are the last failure
	// (whether the desk accepted others since tells an action the desk fails
	// on from an outage), last_error also for the operator.
	`ALTER TABLE actions ADD COLUMN strikes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE actions ADD COLUMN next_try INTEGER NOT NULL DEFAULT 0;
ALTER TABLE actions ADD COLUMN first_strike INTEGER;
ALTER TABLE actions ADD COLUMN dead INTEGER;
ALTER TABLE actions ADD COLUMN last_error TEXT;
ALTER TABLE actions ADD COLUMN last_failed INTEGER;
CREATE INDEX IF NOT EXISTS actions_open_by_alarm ON actions(alarm_key, seq) WHERE done IS NULL;
CREATE INDEX IF NOT EXISTS actions_dead ON actions(seq) WHERE dead IS NOT NULL AND done IS NULL;`,
	// 2: what the desk orders (gateway/orders): each command it handed the
	// gateway, by the desk's id, so that it runs once even across restarts
	// (state: queued, sending, done; outcome and detail once done; acked
	// when the desk has recorded the result), and the maintenance windows
	// of the last answer, so that a restart while the desk is unreachable
	// keeps them.
	`CREATE TABLE IF NOT EXISTS commands (
	id       INTEGER PRIMARY KEY,
	body     TEXT NOT NULL,
	state    TEXT NOT NULL,
	received INTEGER NOT NULL,
	outcome  TEXT,
	detail   TEXT,
	done     INTEGER,
	acked    INTEGER
);
CREATE TABLE IF NOT EXISTS windows (
	id   TEXT PRIMARY KEY,
	body TEXT NOT NULL
);`,
}

// upgrade applies the Upgrades a file lacks, each in a transaction with its
// user_version, so that a crash leaves a file at one version or the next. An
// `estate outbox` command and the gateway may open the file at once: the
// version is read inside the write transaction (busy_timeout waits for the
// other), and a file already upgraded is left alone.
func upgrade(ctx context.Context, db *sql.DB) error {
	for {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		// A write first, so that the transaction holds the write lock before it reads the version.
		if _, err := tx.ExecContext(ctx, `UPDATE alarms SET key = key WHERE 0`); err != nil {
			_ = tx.Rollback()
			return err
		}
		var version int
		if err := tx.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&version); err != nil {
			_ = tx.Rollback()
			return err
		}
		if version >= len(Upgrades) {
			return tx.Rollback()
		}
		if _, err := tx.ExecContext(ctx, Upgrades[version]); err != nil {
			_ = tx.Rollback()
			return fmt.Errorf("upgrade to version %d: %w", version+1, err)
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, version+1)); err != nil {
			_ = tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
}

// Version is the schema version a file opened by Open has (len(Upgrades)).
func Version(ctx context.Context, db *sql.DB) (int, error) {
	var v int
	err := db.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&v)
	return v, err
}

// Path is the state file of a gateway.
func Path(dir, gatewayID string) string { return filepath.Join(dir, "state-"+gatewayID+".db") }

// Open opens (creating) a state file at path.
//
// WAL with synchronous(FULL): a commit is on disk before it counts, as the
// outbox's exactly-once delivery needs. The alarm state used to be written
// with synchronous(NORMAL) in its own file; sharing the outbox's durability is
// what one transaction costs, and the engine commits once per evaluation, not
// once per alarm.
func Open(path string) (*sql.DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("state file: %w", err)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=synchronous(FULL)")
	if err != nil {
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	// One connection: the engine's commits and the outbox's delivery take
	// turns, and SQLite never answers "database is locked" to ourselves.
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(Schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	if err := upgrade(context.Background(), db); err != nil {
		db.Close()
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	return db, nil
}
