// Package store keeps the desk's tickets. SQLite (modernc.org/sqlite, pure Go,
// WAL) is the default; the schema's unique index on open alarm keys is what
// guarantees at most one open ticket per alarm, whatever the callers retry.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/estatehq/estate/internal/ticket"
)

// ErrNotFound is returned for a ticket that does not exist.
var ErrNotFound = errors.New("not found")

// SQLite is a ticket store in one SQLite file.
type SQLite struct {
	db *sql.DB
}

const schema = `
CREATE TABLE IF NOT EXISTS tickets (
	id            INTEGER PRIMARY KEY AUTOINCREMENT,
	kind          TEXT NOT NULL,
	priority      TEXT NOT NULL,
	status        TEXT NOT NULL,
	title         TEXT NOT NULL,
	description   TEXT NOT NULL DEFAULT '',
	site          TEXT NOT NULL,
	building      TEXT NOT NULL DEFAULT '',
	floor         TEXT NOT NULL DEFAULT '',
	unit          TEXT NOT NULL DEFAULT '',
	device        TEXT NOT NULL DEFAULT '',
	alarm_key     TEXT NOT NULL DEFAULT '',
	source        TEXT NOT NULL,
	reading_point TEXT,
	reading_value REAL,
	reading_unit  TEXT,
	reading_at    INTEGER,
	created_by    TEXT NOT NULL,
	created_at    INTEGER NOT NULL,
	updated_at    INTEGER NOT NULL
);
-- At most one open ticket per alarm: retries and restarts cannot duplicate.
CREATE UNIQUE INDEX IF NOT EXISTS tickets_open_alarm
	ON tickets(alarm_key) WHERE alarm_key <> '' AND status NOT IN ('closed', 'cancelled');
CREATE INDEX IF NOT EXISTS tickets_site_id ON tickets(site, id);
`

// OpenSQLite opens (creating if needed) the ticket database at path.
func OpenSQLite(ctx context.Context, path string) (*SQLite, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("ticket store: %w", err)
		}
	}
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("ticket store %s: %w", path, err)
	}
	// One writer at a time is SQLite's model; a single connection avoids
	// SQLITE_BUSY between our own goroutines.
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, schema+gatewaySchema); err != nil {
		db.Close()
		return nil, fmt.Errorf("ticket store %s: create schema: %w", path, err)
	}
	return &SQLite{db: db}, nil
}

// Close closes the database.
func (s *SQLite) Close() error { return s.db.Close() }

// Ping checks that the database answers.
func (s *SQLite) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

const ticketColumns = `id, kind, priority, status, title, description, site, building, floor, unit,
	device, alarm_key, source, reading_point, reading_value, reading_unit, reading_at,
	created_by, created_at, updated_at`

// CreateTicket stores a new ticket. When the request carries an alarm key that
// already has an open ticket, nothing is written and that ticket is returned
// with created false.
func (s *SQLite) CreateTicket(ctx context.Context, n ticket.NewTicket, by string, now time.Time) (ticket.Ticket, bool, error) {
	var rp, ru sql.NullString
	var rv sql.NullFloat64
	var ra sql.NullInt64
	if n.Reading != nil {
		rp = sql.NullString{String: n.Reading.Point, Valid: true}
		rv = sql.NullFloat64{Float64: n.Reading.Value, Valid: true}
		ru = sql.NullString{String: n.Reading.Unit, Valid: true}
		ra = sql.NullInt64{Int64: n.Reading.At.UnixNano(), Valid: true}
	}
	priority := n.Kind.Priority()
	if n.Priority != "" {
		priority = n.Priority
	}
	source := n.Source
	if source == "" {
		source = ticket.SourcePhone
	}
	row := s.db.QueryRowContext(ctx, `INSERT INTO tickets (kind, priority, status, title, description, site,
		building, floor, unit, device, alarm_key, source, reading_point, reading_value, reading_unit, reading_at,
		created_by, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT DO NOTHING RETURNING `+ticketColumns,
		n.Kind, priority, ticket.New, n.Title, n.Description, n.Site, n.Building, n.Floor, n.Unit,
		n.Device, n.AlarmKey, source, rp, rv, ru, ra, by, now.UnixNano(), now.UnixNano())
	t, err := scanTicket(row)
	if err == nil {
		return t, true, nil
	}
	if !errors.Is(err, ErrNotFound) || n.AlarmKey == "" {
		return ticket.Ticket{}, false, fmt.Errorf("create ticket: %w", err)
	}
	// The insert hit the open-alarm index: return the ticket that holds the key.
	existing, err := scanTicket(s.db.QueryRowContext(ctx, `SELECT `+ticketColumns+` FROM tickets
		WHERE alarm_key = ? AND status NOT IN ('closed', 'cancelled')`, n.AlarmKey))
	if err != nil {
		return ticket.Ticket{}, false, fmt.Errorf("create ticket: find open ticket of alarm %s: %w", n.AlarmKey, err)
	}
	return existing, false, nil
}

// GetTicket returns one ticket.
func (s *SQLite) GetTicket(ctx context.Context, id int64) (ticket.Ticket, error) {
	t, err := scanTicket(s.db.QueryRowContext(ctx, `SELECT `+ticketColumns+` FROM tickets WHERE id = ?`, id))
	if err != nil {
		return ticket.Ticket{}, fmt.Errorf("ticket %d: %w", id, err)
	}
	return t, nil
}

// Filter selects tickets; zero fields select everything.
type Filter struct {
	Site     string
	Status   ticket.Status
	Kind     ticket.Kind
	Device   string
	BeforeID int64 // for paging: only tickets with a smaller id
	Limit    int
}

// ListTickets returns tickets newest first.
func (s *SQLite) ListTickets(ctx context.Context, f Filter) ([]ticket.Ticket, error) {
	var where []string
	var args []any
	add := func(cond string, v any) { where = append(where, cond); args = append(args, v) }
	if f.Site != "" {
		add("site = ?", f.Site)
	}
	if f.Status != "" {
		add("status = ?", f.Status)
	}
	if f.Kind != "" {
		add("kind = ?", f.Kind)
	}
	if f.Device != "" {
		add("device = ?", f.Device)
	}
	if f.BeforeID > 0 {
		add("id < ?", f.BeforeID)
	}
	q := `SELECT ` + ticketColumns + ` FROM tickets`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	limit := f.Limit
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	q += fmt.Sprintf(" ORDER BY id DESC LIMIT %d", limit)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list tickets: %w", err)
	}
	defer rows.Close()
	out := []ticket.Ticket{}
	for rows.Next() {
		t, err := scanTicket(rows)
		if err != nil {
			return nil, fmt.Errorf("list tickets: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

type scanner interface{ Scan(dest ...any) error }

func scanTicket(r scanner) (ticket.Ticket, error) {
	var t ticket.Ticket
	var rp, ru sql.NullString
	var rv sql.NullFloat64
	var ra sql.NullInt64
	var created, updated int64
	err := r.Scan(&t.ID, &t.Kind, &t.Priority, &t.Status, &t.Title, &t.Description, &t.Site, &t.Building,
		&t.Floor, &t.Unit, &t.Device, &t.AlarmKey, &t.Source, &rp, &rv, &ru, &ra, &t.CreatedBy, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return t, ErrNotFound
	}
	if err != nil {
		return t, err
	}
	if rp.Valid {
		t.Reading = &ticket.Reading{Point: rp.String, Value: rv.Float64, Unit: ru.String, At: time.Unix(0, ra.Int64)}
	}
	t.CreatedAt, t.UpdatedAt = time.Unix(0, created), time.Unix(0, updated)
	return t, nil
}
