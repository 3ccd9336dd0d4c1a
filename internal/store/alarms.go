package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/estatehq/estate/internal/ticket"
)

// The alarm-action tables: notes on tickets, and the idempotency keys of the
// gateways' alarm actions already applied (so that a retry applies nothing twice).
const alarmSchema = `
CREATE TABLE IF NOT EXISTS ticket_notes (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	ticket_id  INTEGER NOT NULL REFERENCES tickets(id),
	body       TEXT NOT NULL,
	created_by TEXT NOT NULL,
	created_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS ticket_notes_ticket ON ticket_notes(ticket_id, id);
CREATE TABLE IF NOT EXISTS alarm_actions (
	idempotency_key TEXT PRIMARY KEY,
	alarm_key       TEXT NOT NULL,
	action          TEXT NOT NULL,
	ticket_id       INTEGER NOT NULL,
	applied_at      INTEGER NOT NULL
);
`

var alarmSchemaDone sync.Map // *sql.DB → struct{}

func (s *SQLite) ensureAlarmSchema(ctx context.Context) error {
	if _, ok := alarmSchemaDone.Load(s.db); ok {
		return nil
	}
	if _, err := s.db.ExecContext(ctx, alarmSchema); err != nil {
		return fmt.Errorf("ticket store: create alarm tables: %w", err)
	}
	alarmSchemaDone.Store(s.db, struct{}{})
	return nil
}

// ApplyAlarmAction applies a gateway's alarm action once per idempotency key:
// open opens the alarm's ticket (the unique index on open alarm keys returns
// the open one instead, with the action's note added); note and clear add a
// note to the alarm's ticket, and clear with Close closes an open top-up
// reminder. A replayed key changes nothing and returns the same ticket.
func (s *SQLite) ApplyAlarmAction(ctx context.Context, a ticket.AlarmAction, by string, now time.Time) (ticket.AlarmActionResult, error) {
	var res ticket.AlarmActionResult
	if err := s.ensureAlarmSchema(ctx); err != nil {
		return res, err
	}
	var id int64
	err := s.db.QueryRowContext(ctx, `SELECT ticket_id FROM alarm_actions WHERE idempotency_key = ?`, a.IdempotencyKey).Scan(&id)
	switch {
	case err == nil:
		t, err := s.GetTicket(ctx, id)
		if err != nil {
			return res, err
		}
		return ticket.AlarmActionResult{Ticket: t, Replayed: true}, nil
	case !errors.Is(err, sql.ErrNoRows):
		return res, fmt.Errorf("alarm action %s: %w", a.IdempotencyKey, err)
	}

	if a.Action == ticket.ActionOpen {
		t, created, err := s.CreateTicket(ctx, *a.Ticket, by, now)
		if err != nil {
			return res, err
		}
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return res, fmt.Errorf("alarm action: %w", err)
		}
		defer tx.Rollback()
		if !created && a.Note != "" {
			if err := addNote(ctx, tx, t.ID, a.Note, by, now); err != nil {
				return res, err
			}
		}
		if err := recordAction(ctx, tx, a, t.ID, now); err != nil {
			return res, err
		}
		if err := tx.Commit(); err != nil {
			return res, fmt.Errorf("alarm action: commit: %w", err)
		}
		return ticket.AlarmActionResult{Ticket: t, Created: created}, nil
	}

	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return res, fmt.Errorf("alarm action: %w", err)
	}
	defer tx.Rollback()
	// The open ticket of the alarm, else its latest one (people may have closed it).
	t, err := scanTicket(tx.QueryRowContext(ctx, `SELECT `+ticketColumns+` FROM tickets WHERE alarm_key = ?
		ORDER BY status IN ('closed', 'cancelled'), id DESC LIMIT 1`, a.AlarmKey))
	if err != nil {
		return res, fmt.Errorf("alarm %s: no ticket: %w", a.AlarmKey, err)
	}
	if err := addNote(ctx, tx, t.ID, a.Note, by, now); err != nil {
		return res, err
	}
	if a.Action == ticket.ActionClear && a.Close && t.Kind == ticket.TopUp && t.Status.Open() {
		if _, err := tx.ExecContext(ctx, `UPDATE tickets SET status = ?, updated_at = ? WHERE id = ?`,
			ticket.Closed, now.UnixNano(), t.ID); err != nil {
			return res, fmt.Errorf("close ticket %d: %w", t.ID, err)
		}
		t.Status, t.UpdatedAt = ticket.Closed, now
	}
	if err := recordAction(ctx, tx, a, t.ID, now); err != nil {
		return res, err
	}
	if err := tx.Commit(); err != nil {
		return res, fmt.Errorf("alarm action: commit: %w", err)
	}
	return ticket.AlarmActionResult{Ticket: t}, nil
}

func addNote(ctx context.Context, tx *sql.Tx, id int64, body, by string, now time.Time) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO ticket_notes (ticket_id, body, created_by, created_at) VALUES (?, ?, ?, ?)`,
		id, body, by, now.UnixNano()); err != nil {
		return fmt.Errorf("note on ticket %d: %w", id, err)
	}
	return nil
}

func recordAction(ctx context.Context, tx *sql.Tx, a ticket.AlarmAction, id int64, now time.Time) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO alarm_actions (idempotency_key, alarm_key, action, ticket_id, applied_at)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, a.IdempotencyKey, a.AlarmKey, a.Action, id, now.UnixNano()); err != nil {
		return fmt.Errorf("record alarm action %s: %w", a.IdempotencyKey, err)
	}
	return nil
}

// ListNotes returns a ticket's notes, oldest first.
func (s *SQLite) ListNotes(ctx context.Context, id int64) ([]ticket.Note, error) {
	if err := s.ensureAlarmSchema(ctx); err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT id, ticket_id, body, created_by, created_at FROM ticket_notes
		WHERE ticket_id = ? ORDER BY id`, id)
	if err != nil {
		return nil, fmt.Errorf("notes of ticket %d: %w", id, err)
	}
	defer rows.Close()
	out := []ticket.Note{}
	for rows.Next() {
		var n ticket.Note
		var at int64
		if err := rows.Scan(&n.ID, &n.TicketID, &n.Body, &n.By, &at); err != nil {
			return nil, fmt.Errorf("notes of ticket %d: %w", id, err)
		}
		n.At = time.Unix(0, at)
		out = append(out, n)
	}
	return out, rows.Err()
}
