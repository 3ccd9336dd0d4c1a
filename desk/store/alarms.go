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

// ApplyAlarmAction applies a gateway's alarm action once per idempotency key:
// open opens the alarm's ticket (the unique index on open alarm keys returns
// the open one instead, with the action's note added as a gateway comment);
// note and clear add a gateway comment to the alarm's ticket, and clear with
// Close resolves and closes an open top-up reminder (the balance is back). A replayed key
// changes nothing and returns the same ticket.
func (s *Store) ApplyAlarmAction(ctx context.Context, a wire.AlarmAction, by string, now time.Time) (wire.AlarmActionResult, error) {
	var res wire.AlarmActionResult
	var id int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT ticket_id FROM alarm_actions WHERE idempotency_key = ?`), a.IdempotencyKey).Scan(&id)
	switch {
	case err == nil:
		t, err := s.GetTicket(ctx, id)
		if err != nil {
			return res, err
		}
		return wire.AlarmActionResult{Ticket: t, Replayed: true}, nil
	case !errors.Is(err, sql.ErrNoRows):
		return res, fmt.Errorf("alarm action %s: %w", a.IdempotencyKey, err)
	}

	if a.Action == wire.ActionOpen {
		t, created, err := s.CreateTicket(ctx, *a.Ticket, by, now)
		if err != nil {
			return res, err
		}
		err = s.inTx(ctx, func(tx *sql.Tx) error {
			if !created && a.Note != "" {
				if err := s.addCommentTx(ctx, tx, &ticket.Comment{TicketID: t.ID, At: now, Author: by, Kind: CommentGateway, Body: a.Note}); err != nil {
					return err
				}
			}
			return s.recordAlarmAction(ctx, tx, a, t.ID, now)
		})
		if err != nil {
			return res, fmt.Errorf("alarm action %s: %w", a.IdempotencyKey, err)
		}
		return wire.AlarmActionResult{Ticket: t, Created: created}, nil
	}

	// The open ticket of the alarm, else its latest one (people may have closed it).
	t, err := scanTicket(s.db.QueryRowContext(ctx, s.q(`SELECT `+ticketColumns+` FROM tickets WHERE alarm_key = ?
		ORDER BY CASE WHEN status IN ('closed', 'cancelled') THEN 1 ELSE 0 END, id DESC LIMIT 1`), a.AlarmKey))
	if err != nil {
		return res, fmt.Errorf("alarm %s: no ticket: %w", a.AlarmKey, err)
	}
	if a.Action == wire.ActionClear && a.Close && t.Kind == wire.TopUp && t.Status.Open() {
		// The household topped up: the reminder resolves and closes itself (no
		// follow-up call is owed for a reminder). Done before the note is
		// recorded: after a crash in between, the retry finds it closed already.
		for _, c := range []ticket.Change{{Action: ticket.Resolve, Resolution: a.Note}, {Action: ticket.CloseTicket, Note: a.Note}} {
			next, err := s.Transition(ctx, t.ID, c, by, now)
			var te *ticket.TransitionError
			switch {
			case err == nil:
				t = next
			case !errors.As(err, &te):
				return res, fmt.Errorf("alarm %s: %s top-up reminder %d: %w", a.AlarmKey, c.Action, t.ID, err)
			}
		}
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.addCommentTx(ctx, tx, &ticket.Comment{TicketID: t.ID, At: now, Author: by, Kind: CommentGateway, Body: a.Note}); err != nil {
			return err
		}
		return s.recordAlarmAction(ctx, tx, a, t.ID, now)
	})
	if err != nil {
		return res, fmt.Errorf("alarm action %s: %w", a.IdempotencyKey, err)
	}
	return wire.AlarmActionResult{Ticket: t}, nil
}

func (s *Store) recordAlarmAction(ctx context.Context, tx *sql.Tx, a wire.AlarmAction, id int64, now time.Time) error {
	if _, err := s.txExec(ctx, tx, `INSERT INTO alarm_actions (idempotency_key, alarm_key, action, ticket_id, applied_at)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, a.IdempotencyKey, a.AlarmKey, string(a.Action), id, nanos(now)); err != nil {
		return fmt.Errorf("record alarm action %s: %w", a.IdempotencyKey, err)
	}
	return nil
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
