package alarm

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// SQLiteStore keeps alarm state in a SQLite file (WAL): one row per alarm
// that has state, written before the engine moves on.
type SQLiteStore struct {
	db *sql.DB
}

// OpenStore opens (creating) the alarm state database at path.
func OpenStore(path string) (*SQLiteStore, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("alarm state: %w", err)
	}
	// WAL with synchronous(NORMAL): a commit survives the process being killed;
	// a power cut may lose the last changes, which then re-fire into the outbox
	// and the desk, whose idempotency keys and alarm keys deduplicate them. The
	// outbox itself syncs fully.
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=synchronous(NORMAL)")
	if err != nil {
		return nil, fmt.Errorf("alarm state %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`CREATE TABLE IF NOT EXISTS alarms (key TEXT PRIMARY KEY, state TEXT NOT NULL, updated INTEGER NOT NULL)`); err != nil {
		db.Close()
		return nil, fmt.Errorf("alarm state %s: %w", path, err)
	}
	return &SQLiteStore{db: db}, nil
}

// Close closes the database.
func (s *SQLiteStore) Close() error { return s.db.Close() }

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

// Save writes one alarm's state.
func (s *SQLiteStore) Save(a *Alarm) error {
	data, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("encode alarm %s: %w", a.Key, err)
	}
	_, err = s.db.Exec(`INSERT INTO alarms (key, state, updated) VALUES (?, ?, ?)
		ON CONFLICT(key) DO UPDATE SET state = excluded.state, updated = excluded.updated`,
		a.Key, string(data), time.Now().UnixNano())
	if err != nil {
		return fmt.Errorf("save alarm %s: %w", a.Key, err)
	}
	return nil
}

// Delete forgets an alarm that has no state left.
func (s *SQLiteStore) Delete(key string) error {
	if _, err := s.db.Exec(`DELETE FROM alarms WHERE key = ?`, key); err != nil {
		return fmt.Errorf("delete alarm %s: %w", key, err)
	}
	return nil
}
