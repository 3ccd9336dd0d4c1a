package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/estatehq/estate/desk/ticket"
	"github.com/estatehq/estate/internal/wire"
)

// Rebind is q for the packages that use DB.
func (s *Store) Rebind(query string) string { return s.q(query) }

// Within is what OpenTicketWithin changes of a new ticket's deadlines and
// notices.
type Within struct {
	// Resolve is how long the ticket may take from its creation to be
	// resolved, in place of its kind's resolve deadline (a round's anomaly is
	// dealt with within 24 hours).
	Resolve time.Duration
	// OnSiteMet marks the on-site step met at creation: whoever opened the
	// ticket was there (an inspector on a round).
	OnSiteMet bool
	// Event and Levels are a notice beyond the creation's (a missed round
	// goes to the supervisor at once); none when Levels is empty.
	Event  string
	Levels []ticket.Level
}

// OpenTicketWithin opens a ticket as CreateTicket does (the same path: an
// alarm key holds at most one open ticket, so a retry returns the same one)
// and, in the same transaction, sets its resolve deadline and the notices of
// w. A ticket that already existed is returned unchanged.
func (s *Store) OpenTicketWithin(ctx context.Context, n wire.NewTicket, by string, now time.Time, w Within) (t wire.Ticket, created bool, err error) {
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		t, created, err = s.createTicketTx(ctx, tx, n, by, now)
		if err != nil || !created {
			return err
		}
		if w.Resolve > 0 {
			due := now.Add(w.Resolve)
			res, err := s.txExec(ctx, tx, `UPDATE ticket_deadlines SET due_at = ? WHERE ticket_id = ? AND step = ?`,
				nanos(due), t.ID, wire.StepResolve)
			if err != nil {
				return fmt.Errorf("resolve deadline of ticket %d: %w", t.ID, err)
			}
			if n, _ := res.RowsAffected(); n == 0 {
				if _, err := s.txExec(ctx, tx, `INSERT INTO ticket_deadlines (ticket_id, step, due_at, state) VALUES (?, ?, ?, ?)`,
					t.ID, wire.StepResolve, nanos(due), wire.DeadlinePending); err != nil {
					return fmt.Errorf("resolve deadline of ticket %d: %w", t.ID, err)
				}
			}
		}
		if w.OnSiteMet {
			if err := s.meetSteps(ctx, tx, t.ID, []wire.Step{wire.StepOnSite}, now); err != nil {
				return err
			}
		}
		if len(w.Levels) > 0 {
			return s.notify(ctx, tx, now, t, w.Event, w.Levels)
		}
		return nil
	})
	if err != nil {
		return wire.Ticket{}, false, fmt.Errorf("open ticket: %w", err)
	}
	t.Deadlines, err = s.deadlinesOf(ctx, s.db, t.ID)
	return t, created, err
}
