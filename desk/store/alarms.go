package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/estatehq/estate/desk/ticket"
	"github.com/estatehq/estate/internal/wire"
)

// ErrKeyReused is an idempotency key used again by the same caller for a
// different request.
var ErrKeyReused = errors.New("idempotency key already used for a different request")

// Caller is who applies an alarm action: Name goes into the audit trail and
// comments; Key identifies the caller for idempotency (token or account, and
// its site), so that the same idempotency key from another caller is another
// key; Site is the site the action is on; Request fingerprints the action
// (a hash of its body), so that a key reused for a different action is refused.
type Caller struct {
	Name, Key, Site, Request string
}

// ApplyAlarmAction applies a gateway's alarm action once per caller and
// idempotency key: open opens the alarm's ticket (the unique index on open
// alarm keys of the site returns the open one instead, with the action's
// note added as a gateway comment); note and clear add a gateway comment to
// the alarm's ticket of the site, and clear with Close resolves and closes
// an open top-up reminder (the balance is back). A replayed key changes
// nothing and returns the same ticket; a key the caller used for another
// request is ErrKeyReused.
//
// The key is claimed first and the action applied in the same transaction:
// of many parallel deliveries of one action, one applies it and the others
// wait for its commit and replay it (on PostgreSQL the insert waits on the
// primary key; SQLite's immediate transactions run one at a time).
func (s *Store) ApplyAlarmAction(ctx context.Context, a wire.AlarmAction, by Caller, now time.Time) (wire.AlarmActionResult, error) {
	var res wire.AlarmActionResult
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		// Rows of before callers were recorded never come back: they are only
		// looked for, never inserted, and need no lock.
		var legacy int
		if err := s.txQueryRow(ctx, tx, `SELECT COUNT(*) FROM alarm_actions WHERE principal = '' AND idempotency_key = ? AND site = ?`,
			a.IdempotencyKey, by.Site).Scan(&legacy); err != nil {
			return fmt.Errorf("claim: %w", err)
		}
		var claim sql.Result = noRows{}
		var err error
		if legacy == 0 {
			claim, err = s.txExec(ctx, tx, `INSERT INTO alarm_actions (principal, site, idempotency_key, request, alarm_key, action, ticket_id, applied_at)
				VALUES (?, ?, ?, ?, ?, ?, NULL, ?) ON CONFLICT DO NOTHING`, by.Key, by.Site, a.IdempotencyKey, by.Request, a.AlarmKey, string(a.Action), nanos(now))
		}
		if err != nil {
			return fmt.Errorf("claim: %w", err)
		}
		if n, err := claim.RowsAffected(); err != nil {
			return fmt.Errorf("claim: %w", err)
		} else if n == 0 {
			// Applied before (by this caller, or before callers were recorded).
			var id sql.NullInt64
			var request string
			err := s.txQueryRow(ctx, tx, `SELECT ticket_id, request FROM alarm_actions
				WHERE idempotency_key = ? AND (principal = ? OR principal = '' AND site = ?) ORDER BY principal DESC LIMIT 1`,
				a.IdempotencyKey, by.Key, by.Site).Scan(&id, &request)
			if err != nil {
				return fmt.Errorf("replay: %w", err)
			}
			if request != "" && request != by.Request {
				return ErrKeyReused
			}
			t, err := scanTicket(s.txQueryRow(ctx, tx, `SELECT `+ticketColumns+` FROM tickets WHERE id = ?`, id.Int64))
			if err != nil {
				return fmt.Errorf("replay: ticket %d: %w", id.Int64, err)
			}
			res = wire.AlarmActionResult{Ticket: t, Replayed: true}
			return nil
		}
		t, created, err := s.applyAlarmActionTx(ctx, tx, a, by, now)
		if err != nil {
			return err
		}
		if _, err := s.txExec(ctx, tx, `UPDATE alarm_actions SET ticket_id = ? WHERE principal = ? AND idempotency_key = ?`,
			t.ID, by.Key, a.IdempotencyKey); err != nil {
			return fmt.Errorf("record: %w", err)
		}
		res = wire.AlarmActionResult{Ticket: t, Created: created}
		return nil
	})
	if err != nil {
		return wire.AlarmActionResult{}, fmt.Errorf("alarm action %s: %w", a.IdempotencyKey, err)
	}
	if res.Ticket.ID != 0 {
		if res.Ticket.Deadlines, err = s.deadlinesOf(ctx, s.db, res.Ticket.ID); err != nil {
			return wire.AlarmActionResult{}, fmt.Errorf("alarm action %s: %w", a.IdempotencyKey, err)
		}
	}
	return res, nil
}

func (s *Store) applyAlarmActionTx(ctx context.Context, tx *sql.Tx, a wire.AlarmAction, by Caller, now time.Time) (wire.Ticket, bool, error) {
	if a.Action == wire.ActionOpen {
		t, created, err := s.createTicketTx(ctx, tx, *a.Ticket, by.Name, now)
		if err != nil {
			return t, false, err
		}
		if !created && a.Note != "" {
			if err := s.addCommentTx(ctx, tx, &ticket.Comment{TicketID: t.ID, At: now, Author: by.Name, Kind: CommentGateway, Body: a.Note}); err != nil {
				return t, false, err
			}
		}
		return t, created, nil
	}
	// The open ticket of the alarm on the caller's site, else its latest one
	// (people may have closed it).
	t, err := scanTicket(s.txQueryRow(ctx, tx, `SELECT `+ticketColumns+` FROM tickets WHERE site = ? AND alarm_key = ?
		ORDER BY CASE WHEN status IN ('closed', 'cancelled') THEN 1 ELSE 0 END, id DESC LIMIT 1`, by.Site, a.AlarmKey))
	if err != nil {
		return t, false, fmt.Errorf("alarm %s: no ticket: %w", a.AlarmKey, err)
	}
	if a.Action == wire.ActionClear && a.Close && t.Kind == wire.TopUp && t.Status.Open() {
		// The household topped up: the reminder resolves and closes itself (no
		// follow-up call is owed for a reminder).
		for _, c := range []ticket.Change{{Action: ticket.Resolve, Resolution: a.Note}, {Action: ticket.CloseTicket, Note: a.Note}} {
			next, err := s.transitionTx(ctx, tx, t.ID, c, by.Name, now)
			var te *ticket.TransitionError
			switch {
			case err == nil:
				t = next
			case !errors.As(err, &te):
				return t, false, fmt.Errorf("alarm %s: %s top-up reminder %d: %w", a.AlarmKey, c.Action, t.ID, err)
			}
		}
	}
	if err := s.addCommentTx(ctx, tx, &ticket.Comment{TicketID: t.ID, At: now, Author: by.Name, Kind: CommentGateway, Body: a.Note}); err != nil {
		return t, false, err
	}
	return t, false, nil
}

// ListNotes returns the notes the gateways left on a ticket (its gateway
// comments), oldest first.
func (s *Store) ListNotes(ctx context.Context, id int64) ([]ticket.Note, error) {
	comments, err := s.Comments(ctx, id)
	if err != nil {
		return nil, err
	}
	out := []ticket.Note{}
	for _, c := range comments {
		if c.Kind == CommentGateway {
			out = append(out, ticket.Note{ID: c.ID, TicketID: c.TicketID, Body: c.Body, By: c.Author, At: c.At})
		}
	}
	return out, nil
}

// noRows is the result of an insert not made.
type noRows struct{}

func (noRows) LastInsertId() (int64, error) { return 0, nil }
func (noRows) RowsAffected() (int64, error) { return 0, nil }
