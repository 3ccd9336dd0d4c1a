package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/estatehq/estate/desk/ticket"
	"github.com/estatehq/estate/internal/wire"
)

// The owner's side of a case (issue 14 parts 3 and 4): who answers for it
// (the owner, 受理人) and who does the work (the assignee) handed over with a
// note; the reply to the resident; the weekly calls of a long case; and the
// follow-up that sends unsatisfactory work back.

// Handover roles.
const (
	HandOwner    = "owner"
	HandAssignee = "assignee"
)

// Handover gives a ticket's owner or assignee to another person, with the
// reason in the audit trail. Only an open ticket is handed over, and an
// assignee only once the ticket is dispatched (before that, dispatch it).
func (s *Store) Handover(ctx context.Context, id int64, role, to, note, actor string, now time.Time) (wire.Ticket, error) {
	var out wire.Ticket
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		t, err := scanTicket(s.txQueryRow(ctx, tx, `SELECT `+ticketColumns+` FROM tickets WHERE id = ?`+s.forUpdate(), id))
		if err != nil {
			return fmt.Errorf("ticket %d: %w", id, err)
		}
		if !t.Status.Open() {
			return fmt.Errorf("%w: ticket %d is %s: a finished case is not handed over", ErrConflict, id, t.Status)
		}
		var from, col string
		switch role {
		case HandOwner:
			from, col = t.Owner, "owner"
		case HandAssignee:
			if t.Status != wire.Dispatched && t.Status != wire.OnSite {
				return fmt.Errorf("%w: ticket %d is %s: only a dispatched ticket's assignee is handed over (dispatch it instead)", ErrConflict, id, t.Status)
			}
			from, col = t.Assignee, "assignee"
		default:
			return &ticket.InputError{Field: "role", Msg: fmt.Sprintf("%q is not owner or assignee", role)}
		}
		if from == to {
			return &ticket.InputError{Field: "to", Msg: fmt.Sprintf("%s is already the %s", to, role)}
		}
		if _, err := s.txExec(ctx, tx, `UPDATE tickets SET `+col+` = ?, updated_at = ? WHERE id = ?`, to, nanos(now), id); err != nil {
			return err
		}
		if from == "" {
			from = "-"
		}
		if err := s.audit(ctx, tx, id, now, actor, "handover_"+role, t.Status, t.Status, fmt.Sprintf("%s → %s: %s", from, to, note)); err != nil {
			return err
		}
		if out, err = scanTicket(s.txQueryRow(ctx, tx, `SELECT `+ticketColumns+` FROM tickets WHERE id = ?`, id)); err != nil {
			return err
		}
		if err := s.event(ctx, tx, now, "ticket.updated", out); err != nil {
			return err
		}
		if role == HandAssignee {
			return s.notify(ctx, tx, now, out, "dispatched", []ticket.Level{ticket.LevelAssignee})
		}
		return nil
	})
	if err != nil {
		return wire.Ticket{}, fmt.Errorf("hand over ticket %d: %w", id, err)
	}
	out.Deadlines, err = s.deadlinesOf(ctx, s.db, id)
	return out, err
}

// Reply records what the owner told the resident. With committed, the case
// cannot be solved yet: the note is the explanation, and a reply is promised
// by committed, which becomes the reply step's new deadline; without it the
// note is the result and the reply step is met.
func (s *Store) Reply(ctx context.Context, id int64, note string, committed *time.Time, actor string, now time.Time) (wire.Ticket, error) {
	var out wire.Ticket
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		t, err := scanTicket(s.txQueryRow(ctx, tx, `SELECT `+ticketColumns+` FROM tickets WHERE id = ?`+s.forUpdate(), id))
		if err != nil {
			return fmt.Errorf("ticket %d: %w", id, err)
		}
		if t.Status == wire.Cancelled {
			return fmt.Errorf("%w: ticket %d is cancelled: there is nothing to reply", ErrConflict, id)
		}
		var c sql.NullInt64
		if committed != nil {
			if !committed.After(now) {
				return &ticket.InputError{Field: "committed_at", Msg: "the committed reply time must be in the future"}
			}
			c = sql.NullInt64{Int64: nanos(*committed), Valid: true}
		}
		if _, err := s.txExec(ctx, tx, `UPDATE tickets SET replied_at = ?, reply_note = ?, reply_committed_at = ?, updated_at = ? WHERE id = ?`,
			nanos(now), note, c, nanos(now), id); err != nil {
			return err
		}
		// Either way the resident had an answer in time.
		if err := s.meetSteps(ctx, tx, id, []wire.Step{wire.StepAcknowledge, wire.StepRespond, wire.StepReply}, now); err != nil {
			return err
		}
		action, auditNote := "reply", note
		if committed != nil {
			action = "reply_committed"
			auditNote = fmt.Sprintf("reply by %s: %s", committed.UTC().Format(time.RFC3339), note)
			if _, err := s.txExec(ctx, tx, `INSERT INTO ticket_deadlines (ticket_id, step, due_at, state) VALUES (?, ?, ?, ?)`,
				id, wire.StepReply, nanos(*committed), wire.DeadlinePending); err != nil {
				return err
			}
		}
		if err := s.audit(ctx, tx, id, now, actor, action, t.Status, t.Status, auditNote); err != nil {
			return err
		}
		if out, err = scanTicket(s.txQueryRow(ctx, tx, `SELECT `+ticketColumns+` FROM tickets WHERE id = ?`, id)); err != nil {
			return err
		}
		return s.event(ctx, tx, now, "ticket.updated", out)
	})
	if err != nil {
		return wire.Ticket{}, fmt.Errorf("reply on ticket %d: %w", id, err)
	}
	out.Deadlines, err = s.deadlinesOf(ctx, s.db, id)
	return out, err
}

// Call is one logged call to the resident of a long-running case.
type Call struct {
	ID       int64     `json:"id"`
	TicketID int64     `json:"ticket_id"`
	At       time.Time `json:"at"`
	By       string    `json:"by"`
	Note     string    `json:"note"`
}

// LogCall records a weekly call: it meets the pending weekly-call deadline
// and, while the case is unsolved, sets the next one a week later.
func (s *Store) LogCall(ctx context.Context, id int64, note, actor string, now time.Time) (Call, error) {
	c := Call{TicketID: id, At: now, By: actor, Note: note}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		t, err := scanTicket(s.txQueryRow(ctx, tx, `SELECT `+ticketColumns+` FROM tickets WHERE id = ?`+s.forUpdate(), id))
		if err != nil {
			return fmt.Errorf("ticket %d: %w", id, err)
		}
		if !t.Status.Open() {
			return fmt.Errorf("%w: ticket %d is %s: calls are logged on open cases", ErrConflict, id, t.Status)
		}
		if err := s.txQueryRow(ctx, tx, `INSERT INTO ticket_calls (ticket_id, at, by_name, note) VALUES (?, ?, ?, ?) RETURNING id`,
			id, nanos(now), actor, note).Scan(&c.ID); err != nil {
			return err
		}
		if err := s.meetSteps(ctx, tx, id, []wire.Step{wire.StepWeeklyCall}, now); err != nil {
			return err
		}
		if _, ok := s.policy.deadlines(t.Site, t.Kind)[wire.StepWeeklyCall]; ok && t.ResolvedAt == nil {
			if _, err := s.txExec(ctx, tx, `INSERT INTO ticket_deadlines (ticket_id, step, due_at, state) VALUES (?, ?, ?, ?)`,
				id, wire.StepWeeklyCall, nanos(ticket.WeeklyCall.Due(now, s.policy.location(t.Site))), wire.DeadlinePending); err != nil {
				return err
			}
		}
		if _, err := s.txExec(ctx, tx, `UPDATE tickets SET updated_at = ? WHERE id = ?`, nanos(now), id); err != nil {
			return err
		}
		if err := s.audit(ctx, tx, id, now, actor, "weekly_call", t.Status, t.Status, note); err != nil {
			return err
		}
		return s.event(ctx, tx, now, "ticket.updated", t)
	})
	if err != nil {
		return Call{}, fmt.Errorf("call on ticket %d: %w", id, err)
	}
	return c, nil
}

// Calls lists a ticket's logged calls, oldest first.
func (s *Store) Calls(ctx context.Context, id int64) ([]Call, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT id, ticket_id, at, by_name, note FROM ticket_calls WHERE ticket_id = ? ORDER BY id`), id)
	if err != nil {
		return nil, fmt.Errorf("calls of ticket %d: %w", id, err)
	}
	defer rows.Close()
	out := []Call{}
	for rows.Next() {
		var c Call
		var at int64
		if err := rows.Scan(&c.ID, &c.TicketID, &at, &c.By, &c.Note); err != nil {
			return nil, err
		}
		c.At = time.Unix(0, at)
		out = append(out, c)
	}
	return out, rows.Err()
}

// withdrawSteps withdraws the pending deadlines of steps no longer needed.
func (s *Store) withdrawSteps(ctx context.Context, tx *sql.Tx, id int64, steps []wire.Step) error {
	for _, st := range steps {
		if _, err := s.txExec(ctx, tx, `UPDATE ticket_deadlines SET state = ? WHERE ticket_id = ? AND step = ? AND state = ?`,
			wire.DeadlineWithdrawn, id, st, wire.DeadlinePending); err != nil {
			return fmt.Errorf("deadlines of ticket %d: %w", id, err)
		}
	}
	return nil
}

// reopenUnsatisfied sends a ticket whose follow-up (just recorded) came
// below the site's threshold back to engineering, with the resident's words
// as the reason: the status goes to dispatched, the team to engineering (the
// assignee stays: the one who did the work knows it), and the work's
// deadlines start again.
func (s *Store) reopenUnsatisfied(ctx context.Context, tx *sql.Tx, t wire.Ticket, c ticket.Change, actor string, now time.Time) error {
	_, err := s.txExec(ctx, tx, `UPDATE tickets SET status = ?, team = ?, resolved_at = NULL, followed_up_at = NULL, closed_at = NULL, updated_at = ? WHERE id = ?`,
		wire.Dispatched, "engineering", nanos(now), t.ID)
	if err != nil {
		if isUniqueViolation(err) {
			return fmt.Errorf("%w: another open ticket already holds alarm %q; close it first", ErrConflict, t.AlarmKey)
		}
		return err
	}
	note := fmt.Sprintf("unsatisfied (satisfaction %d, below %d): %s", c.Satisfaction, s.policy.satisfied(t.Site), c.FollowUpNote)
	if err := s.audit(ctx, tx, t.ID, now, actor, string(ticket.Reopen), wire.FollowedUp, wire.Dispatched, note); err != nil {
		return err
	}
	t.Status = wire.Dispatched
	return s.addDeadlines(ctx, tx, t, now, func(st wire.Step) bool {
		return st == wire.StepOnSite || st == wire.StepResolve || st == wire.StepWeeklyCall
	})
}

// ErrIncidentReport is an emergency closed without its approved incident report.
var ErrIncidentReport = errors.New("incident report required")

// incidentApproved refuses the close of a ticket whose incident report is
// missing or not approved, saying which.
func (s *Store) incidentApproved(ctx context.Context, tx *sql.Tx, t wire.Ticket) error {
	var state string
	err := s.txQueryRow(ctx, tx, `SELECT state FROM incident_reports WHERE ticket_id = ?`, t.ID).Scan(&state)
	what := "a"
	if t.Kind != wire.Emergency {
		what = "a power-distribution accident's"
	}
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("%w: ticket %d is %s %s and has no incident report (突发事件处理表) yet: its owner writes and submits one, a manager approves it, then it closes",
			ErrIncidentReport, t.ID, what, t.Kind)
	case err != nil:
		return err
	case state != IncidentApproved:
		return fmt.Errorf("%w: ticket %d closes only when its incident report is approved; the report is %s", ErrIncidentReport, t.ID, state)
	}
	return nil
}

// isTriggerRefusal reports a change the database's triggers or checks refused.
func isTriggerRefusal(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "incident report") || strings.Contains(msg, "CHECK constraint failed") || strings.Contains(msg, "SQLSTATE 23514")
}
