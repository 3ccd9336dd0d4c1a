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
package statedb

import (
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
	return db, nil
}
