package alarm

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/estatehq/estate/gateway/outbox"
	"github.com/estatehq/estate/gateway/statedb"
)

// SQLiteStore keeps alarm state in the alarms table of the gateway's state
// file (gateway/statedb): one row per alarm that has state. Commit writes the
// rows of a Batch and its desk actions to the outbox table of the same file in
// one transaction, so that a crash cannot record a transition without its
// ticket, nor queue a ticket for a transition it forgets.
type SQLiteStore struct {
	db  *sql.DB
	own bool
}

// NewSQLiteStore is the alarm state in a state file opened by statedb; Close
// leaves db open: its owner closes it.
func NewSQLiteStore(db *sql.DB) *SQLiteStore { return &SQLiteStore{db: db} }

// OpenStore opens (creating) a state file at path on its own (tests, tools);
// Close closes it. DB gives the file to an outbox.
func OpenStore(path string) (*SQLiteStore, error) {
	db, err := statedb.Open(path)
	if err != nil {
		return nil, fmt.Errorf("alarm state: %w", err)
	}
	return &SQLiteStore{db: db, own: true}, nil
}

// DB is the state file.
func (s *SQLiteStore) DB() *sql.DB { return s.db }

// Close closes the state file if OpenStore opened it.
func (s *SQLiteStore) Close() error {
	if !s.own {
		return nil
	}
	return s.db.Close()
}

// Load returns every saved alarm.
func (s *SQLiteStore) Load() ([]Alarm, error) {
	rows, err := s.db.QueryContext(context.Background(), `SELECT key, state FROM alarms ORDER BY key`)
	if err != nil {
		return nil, fmt.Errorf("load alarms: %w", err)
	}
	defer rows.Close()
	var out []Alarm
	for rows.Next() {
		var key, state string
		if err := rows.Scan(&key, &state); err != nil {
			return nil, fmt.Errorf("load alarms: %w", err)
		}
		var a Alarm
		if err := json.Unmarshal([]byte(state), &a); err != nil {
			return nil, fmt.Errorf("load alarm %s: corrupt state: %w", key, err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// Commit writes the batch's alarm rows and outbox actions in one transaction.
func (s *SQLiteStore) Commit(b Batch) error {
	ctx := context.Background()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("alarm state: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	now := time.Now()
	for _, a := range b.Save {
		data, err := json.Marshal(a)
		if err != nil {
			return fmt.Errorf("encode alarm %s: %w", a.Key, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO alarms (key, state, updated) VALUES (?, ?, ?)
			ON CONFLICT(key) DO UPDATE SET state = excluded.state, updated = excluded.updated`,
			a.Key, string(data), now.UnixNano()); err != nil {
			return fmt.Errorf("save alarm %s: %w", a.Key, err)
		}
	}
	for _, key := range b.Delete {
		if _, err := tx.ExecContext(ctx, `DELETE FROM alarms WHERE key = ?`, key); err != nil {
			return fmt.Errorf("delete alarm %s: %w", key, err)
		}
	}
	for _, a := range b.Actions {
		if err := outbox.Insert(ctx, tx, a, now); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("alarm state: commit: %w", err)
	}
	return nil
}
