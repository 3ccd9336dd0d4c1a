package telemetry

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/estatehq/estate/gateway/spool"
)

// StatusFile is the name, in the spool folder, of the writer's last published
// state; `estate status` reads it.
const StatusFile = "status.json"

// Status is what `estate status` shows about telemetry.
type Status struct {
	Updated       time.Time `json:"updated"`
	InfluxDBUp    bool      `json:"influxdb_up"`
	LastWrite     time.Time `json:"last_write,omitzero"`
	LastError     string    `json:"last_error,omitempty"`
	LastErrorAt   time.Time `json:"last_error_at,omitzero"`
	Accepted      uint64    `json:"accepted"`
	Written       uint64    `json:"written"`
	DeadLettered  uint64    `json:"dead_lettered"`
	BacklogPoints uint64    `json:"backlog_points"`
	SpoolBytes    int64     `json:"spool_bytes"`
	Oldest        time.Time `json:"oldest_unsent,omitzero"`
	PID           int       `json:"pid"`
}

// ReadStatus reads the status file of a spool folder.
func ReadStatus(spoolDir string) (Status, error) {
	var st Status
	path := filepath.Join(spoolDir, StatusFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return st, fmt.Errorf("telemetry status: %w", err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("telemetry status %s: %w", path, err)
	}
	return st, nil
}

type statusTracker struct {
	path                            string
	accepted, written, deadLettered atomic.Uint64

	mu          sync.Mutex
	up          bool
	lastWrite   time.Time
	lastError   string
	lastErrorAt time.Time
}

func newStatusTracker(path string) *statusTracker { return &statusTracker{path: path, up: true} }

func (t *statusTracker) setUp(up bool) { t.mu.Lock(); t.up = up; t.mu.Unlock() }

func (t *statusTracker) setWritten(at time.Time) { t.mu.Lock(); t.lastWrite = at; t.mu.Unlock() }

func (t *statusTracker) setError(err error) {
	t.mu.Lock()
	t.lastError, t.lastErrorAt = err.Error(), time.Now()
	t.mu.Unlock()
}

func (t *statusTracker) addError(err error) { t.setError(err) }

// save writes the status file atomically (a reader never sees half of it).
func (t *statusTracker) save(sp spool.Stats) {
	t.mu.Lock()
	st := Status{Updated: time.Now(), InfluxDBUp: t.up, LastWrite: t.lastWrite,
		LastError: t.lastError, LastErrorAt: t.lastErrorAt,
		Accepted: t.accepted.Load(), Written: t.written.Load(), DeadLettered: t.deadLettered.Load(),
		BacklogPoints: sp.Backlog, SpoolBytes: sp.Bytes, Oldest: sp.Oldest, PID: os.Getpid()}
	t.mu.Unlock()
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return
	}
	tmp := t.path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return
	}
	if err := os.Rename(tmp, t.path); err != nil {
		_ = os.Remove(tmp)
	}
}
