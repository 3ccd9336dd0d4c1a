package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/estatehq/estate/desk/ticket"
	"github.com/estatehq/estate/internal/wire"
)

// addDeadlines records the due times of a ticket's steps that want (per the
// policy for its site and kind), counted from start. An agreed appointment
// replaces the on-site limit, except that an emergency's is never moved later:
// whoever books the visit, someone must be there within the limit.
//
// A deadline in working days that needs a year the site's calendar lacks is
// still recorded, counted Monday to Friday, and the audit trail says so with
// the calendar's error (which names the year and the files): the ticket is
// never refused for want of next year's holidays.
func (s *Store) addDeadlines(ctx context.Context, tx *sql.Tx, t wire.Ticket, start time.Time, want func(wire.Step) bool) error {
	limits := s.policy.deadlinesFor(t)
	loc := s.policy.location(t.Site)
	cal := s.policy.calendar(t.Site)
	var args []any
	for _, step := range wire.Steps {
		limit, ok := limits[step]
		if !ok || !want(step) {
			continue
		}
		due, calErr := limit.DueOn(start, loc, cal)
		if calErr != nil {
			note := fmt.Sprintf("%s deadline (%s) counted Monday to Friday: %v", step, limit, calErr)
			if err := s.audit(ctx, tx, t.ID, start, "desk", "calendar_missing", t.Status, t.Status, note); err != nil {
				return err
			}
		}
		if step == wire.StepOnSite && t.AppointmentAt != nil && t.AppointmentAt.After(start) &&
			(t.Kind != wire.Emergency || t.AppointmentAt.Before(due)) {
			due = *t.AppointmentAt
		}
		args = append(args, t.ID, step, nanos(due), wire.DeadlinePending)
	}
	if len(args) == 0 {
		return nil
	}
	// One statement for all of a ticket's steps: each is a round trip to
	// PostgreSQL, and this runs for every new ticket. There are a handful of
	// steps, so a handful of statement texts in the cache.
	q := `INSERT INTO ticket_deadlines (ticket_id, step, due_at, state) VALUES (?, ?, ?, ?)` +
		strings.Repeat(`, (?, ?, ?, ?)`, len(args)/4-1)
	if _, err := s.txExec(ctx, tx, q, args...); err != nil {
		return fmt.Errorf("deadlines of ticket %d: %w", t.ID, err)
	}
	return nil
}

// meetSteps marks the pending deadlines of those steps met.
func (s *Store) meetSteps(ctx context.Context, tx *sql.Tx, id int64, steps []wire.Step, now time.Time) error {
	if len(steps) == 0 {
		return nil
	}
	args := []any{wire.DeadlineMet, nanos(now), id, wire.DeadlinePending}
	marks := make([]string, len(steps))
	for i, st := range steps {
		marks[i] = "?"
		args = append(args, st)
	}
	_, err := s.txExec(ctx, tx, (`UPDATE ticket_deadlines SET state = ?, met_at = ? WHERE ticket_id = ? AND state = ?
		AND step IN (` + strings.Join(marks, ", ") + `)`), args...)
	if err != nil {
		return fmt.Errorf("deadlines of ticket %d: %w", id, err)
	}
	return nil
}

// reschedule moves a pending step's due time (an appointment agreed at
// dispatch); with earlierOnly (emergencies) it never moves it later.
func (s *Store) reschedule(ctx context.Context, tx *sql.Tx, id int64, step wire.Step, due time.Time, earlierOnly bool) error {
	query := `UPDATE ticket_deadlines SET due_at = ? WHERE ticket_id = ? AND step = ? AND state = ?`
	args := []any{nanos(due), id, step, wire.DeadlinePending}
	if earlierOnly {
		query += ` AND due_at > ?`
		args = append(args, nanos(due))
	}
	_, err := s.txExec(ctx, tx, query, args...)
	return err
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func (s *Store) deadlinesOf(ctx context.Context, q querier, id int64) ([]wire.Deadline, error) {
	rows, err := q.QueryContext(ctx, s.q(`SELECT step, due_at, state, met_at, missed_at FROM ticket_deadlines WHERE ticket_id = ? ORDER BY id`), id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []wire.Deadline
	for rows.Next() {
		var d wire.Deadline
		var due int64
		var met, missed sql.NullInt64
		if err := rows.Scan(&d.Step, &due, &d.State, &met, &missed); err != nil {
			return nil, err
		}
		d.DueAt, d.MetAt, d.MissedAt = time.Unix(0, due), timePtr(met), timePtr(missed)
		out = append(out, d)
	}
	stepsOrdered(out)
	return out, rows.Err()
}

// Missed is one deadline the scheduler found missed and escalated.
type Missed struct {
	TicketID int64
	Kind     wire.Kind
	Site     string
	Step     wire.Step
	DueAt    time.Time
	Level    ticket.Level   // the ticket's escalation rung afterwards
	Notified []ticket.Level // who was told
}

// MissDeadlines finds up to limit pending deadlines due at or before now,
// marks each missed, raises its ticket's escalation level, and records the
// audit entry, the event and the notifications, in one transaction. A
// deadline is marked once: it leaves the pending state in the same
// transaction that escalates it, and on PostgreSQL the rows are claimed with
// FOR UPDATE SKIP LOCKED so that two desks on one database never take the same
// deadline; a ticket that another transaction holds is left for the next round.
func (s *Store) MissDeadlines(ctx context.Context, now time.Time, limit int) ([]Missed, error) {
	var out []Missed
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		lock := ""
		if s.dialect == PostgresDialect {
			lock = " FOR UPDATE SKIP LOCKED"
		}
		rows, err := tx.QueryContext(ctx, s.q(`SELECT id, ticket_id, step, due_at FROM ticket_deadlines
			WHERE state = ? AND due_at <= ? ORDER BY due_at LIMIT ?`+lock), wire.DeadlinePending, nanos(now), limit)
		if err != nil {
			return err
		}
		type claimed struct {
			id, ticketID int64
			step         wire.Step
			due          int64
		}
		var due []claimed
		for rows.Next() {
			var c claimed
			if err := rows.Scan(&c.id, &c.ticketID, &c.step, &c.due); err != nil {
				rows.Close()
				return err
			}
			due = append(due, c)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		// Tickets are locked in id order so that two schedulers cannot wait on each other.
		slices.SortStableFunc(due, func(a, b claimed) int { return int(a.ticketID - b.ticketID) })
		ticketLock := ""
		if s.dialect == PostgresDialect {
			ticketLock = " FOR UPDATE SKIP LOCKED"
		}
		for _, c := range due {
			t, err := scanTicket(s.txQueryRow(ctx, tx, (`SELECT ` + ticketColumns + ` FROM tickets WHERE id = ?` + ticketLock), c.ticketID))
			if errors.Is(err, ErrNotFound) {
				continue // held by a transition right now; looked at again next round
			}
			if err != nil {
				return fmt.Errorf("ticket %d: %w", c.ticketID, err)
			}
			res, err := s.txExec(ctx, tx, (`UPDATE ticket_deadlines SET state = ?, missed_at = ? WHERE id = ? AND state = ?`),
				wire.DeadlineMissed, nanos(now), c.id, wire.DeadlinePending)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n != 1 {
				continue
			}
			level, who := ticket.Escalate(t.Kind, t.EscalationLevel)
			if _, err := s.txExec(ctx, tx, (`UPDATE tickets SET escalation_level = ?, updated_at = ? WHERE id = ?`),
				level, nanos(now), t.ID); err != nil {
				return err
			}
			t.EscalationLevel = level
			dueAt := time.Unix(0, c.due)
			names := make([]string, len(who))
			for i, l := range who {
				names[i] = string(l)
			}
			note := fmt.Sprintf("%s was due %s; escalated to %s", c.step, dueAt.UTC().Format(time.RFC3339), strings.Join(names, ", "))
			if err := s.audit(ctx, tx, t.ID, now, "scheduler", "deadline_missed", t.Status, t.Status, note); err != nil {
				return err
			}
			if err := s.event(ctx, tx, now, "ticket.escalated", t); err != nil {
				return err
			}
			if err := s.notify(ctx, tx, now, t, "deadline_missed:"+string(c.step), who); err != nil {
				return err
			}
			out = append(out, Missed{TicketID: t.ID, Kind: t.Kind, Site: t.Site, Step: c.step, DueAt: dueAt,
				Level: ticket.Levels[level], Notified: who})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("escalate missed deadlines: %w", err)
	}
	return out, nil
}
