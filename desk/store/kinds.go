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

func nullID(id int64) sql.NullInt64 { return sql.NullInt64{Int64: id, Valid: id > 0} }

// collectiveRoot checks the case a complaint is linked to (parent 0: none)
// and returns the root of its group: a complaint linked to a linked one
// joins the first one's case, so that a case is one level deep. The case
// must be an open complaint of the same site; another site's ticket is
// reported as no ticket, so that its ids stay hidden.
func (s *Store) collectiveRoot(ctx context.Context, tx *sql.Tx, site string, parent int64) (int64, error) {
	if parent <= 0 {
		return 0, nil
	}
	p, err := scanTicket(s.txQueryRow(ctx, tx, `SELECT `+ticketColumns+` FROM tickets WHERE id = ?`, parent))
	if errors.Is(err, ErrNotFound) || (err == nil && p.Site != site) {
		return 0, &ticket.InputError{Field: "parent_id", Msg: fmt.Sprintf("no ticket %d on site %s", parent, site)}
	}
	if err != nil {
		return 0, err
	}
	if p.Kind != wire.Complaint {
		return 0, &ticket.InputError{Field: "parent_id", Msg: fmt.Sprintf("ticket %d is a %s; complaints are linked to a complaint of the same matter", parent, p.Kind)}
	}
	if !p.Status.Open() {
		return 0, &ticket.InputError{Field: "parent_id", Msg: fmt.Sprintf("ticket %d is %s; link the complaint to an open case", parent, p.Status)}
	}
	if p.ParentID > 0 {
		return p.ParentID, nil
	}
	return p.ID, nil
}

// households counts the households of a case: its root and the complaints
// linked to it, one per unit (or, without a unit, per phone; else per ticket).
func (s *Store) households(ctx context.Context, tx *sql.Tx, root int64) (int, error) {
	var n int
	err := s.txQueryRow(ctx, tx, `SELECT COUNT(DISTINCT CASE WHEN unit <> '' THEN 'u:' || unit WHEN phone <> '' THEN 'p:' || phone
		ELSE 't:' || CAST(id AS TEXT) END) FROM tickets WHERE (id = ? OR parent_id = ?) AND status <> 'cancelled'`, root, root).Scan(&n)
	return n, err
}

// raiseCollective makes a case a collective complaint once it has
// wire.CollectiveHouseholds households: the manuals count it among the
// emergencies (reported at once to the department manager and the centre's
// head). Its root ticket becomes P1, says so in its audit trail, and its
// notification goes to whoever hears of a new emergency. It is raised once.
func (s *Store) raiseCollective(ctx context.Context, tx *sql.Tx, root int64, by string, now time.Time) error {
	n, err := s.households(ctx, tx, root)
	if err != nil {
		return fmt.Errorf("households of case %d: %w", root, err)
	}
	if n < wire.CollectiveHouseholds {
		return nil
	}
	res, err := s.txExec(ctx, tx, `UPDATE tickets SET collective_at = ?, priority = 'P1', updated_at = ? WHERE id = ? AND collective_at IS NULL`,
		nanos(now), nanos(now), root)
	if err != nil {
		return err
	}
	if k, _ := res.RowsAffected(); k != 1 {
		return nil // raised before
	}
	t, err := scanTicket(s.txQueryRow(ctx, tx, `SELECT `+ticketColumns+` FROM tickets WHERE id = ?`, root))
	if err != nil {
		return err
	}
	note := fmt.Sprintf("collective complaint: %d households on the same matter; reported as an emergency", n)
	if err := s.audit(ctx, tx, root, now, by, "collective", t.Status, t.Status, note); err != nil {
		return err
	}
	if err := s.event(ctx, tx, now, "ticket.updated", t); err != nil {
		return err
	}
	return s.notify(ctx, tx, now, t, "collective", ticket.NotifiedAtCreation(wire.Emergency))
}

// TicketUpdate changes what a ticket is rather than where it is in its life;
// nil fields are left as they are.
type TicketUpdate struct {
	Kind     *wire.Kind
	SubKind  *string
	Category *string
	Cause    *string
	// ParentID links a complaint to a case (0 unlinks it).
	ParentID      *int64
	AppointmentAt *time.Time
	// MoveOnSite lets the appointment move an emergency's on-site deadline
	// later: a manager's decision (the desk checks the role), recorded in
	// the audit trail with Reason.
	MoveOnSite bool
	Reason     string
}

// UpdateTicket applies an update in one transaction with the ticket's row
// locked: the fields, the priority of the new kind, the deadlines recomputed
// (see recompute), the audit entry listing each change, the event and, when
// a ticket becomes an emergency, the emergency's notification. A wrong value
// is a *ticket.InputError and a finished ticket a *ticket.TransitionError;
// nothing is written then.
func (s *Store) UpdateTicket(ctx context.Context, id int64, u TicketUpdate, actor string, now time.Time) (wire.Ticket, error) {
	var out wire.Ticket
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		t, err := scanTicket(s.txQueryRow(ctx, tx, `SELECT `+ticketColumns+` FROM tickets WHERE id = ?`+s.forUpdate(), id))
		if err != nil {
			return fmt.Errorf("ticket %d: %w", id, err)
		}
		if !t.Status.Open() {
			return &ticket.TransitionError{Kind: t.Kind, From: t.Status, Action: "update", Allowed: nil}
		}
		old := t
		var changes []string
		if u.Kind != nil && *u.Kind != t.Kind {
			if !slices.Contains(wire.Kinds, *u.Kind) {
				return &ticket.InputError{Field: "kind", Msg: fmt.Sprintf("%q is not a kind", *u.Kind)}
			}
			if t.Kind == wire.TopUp || *u.Kind == wire.TopUp {
				// A reminder's household and meter keep it unique; it is not another kind of work.
				return &ticket.InputError{Field: "kind", Msg: "a top-up reminder stays one, and no other ticket becomes one: open a new ticket"}
			}
			t.Kind = *u.Kind
			if u.SubKind == nil {
				t.SubKind = wire.DefaultSubKind(t.Kind)
			}
		}
		if u.SubKind != nil {
			t.SubKind = *u.SubKind
			if t.SubKind == "" {
				t.SubKind = wire.DefaultSubKind(t.Kind)
			}
		}
		if err := wire.CheckSubKind(t.Kind, t.SubKind); err != nil {
			return &ticket.InputError{Field: "sub_kind", Msg: strings.TrimPrefix(err.Error(), "sub_kind ")}
		}
		if u.Category != nil {
			t.Category = *u.Category
		}
		if u.Cause != nil {
			t.Cause = *u.Cause
		}
		if u.ParentID != nil {
			if *u.ParentID == t.ID {
				return &ticket.InputError{Field: "parent_id", Msg: "a complaint is not linked to itself"}
			}
			if *u.ParentID > 0 && t.Kind != wire.Complaint {
				return &ticket.InputError{Field: "parent_id", Msg: fmt.Sprintf("complaints are linked to a case; a %s is not", t.Kind)}
			}
			var children int
			if err := s.txQueryRow(ctx, tx, `SELECT COUNT(*) FROM tickets WHERE parent_id = ?`, t.ID).Scan(&children); err != nil {
				return err
			}
			if *u.ParentID > 0 && children > 0 {
				return &ticket.InputError{Field: "parent_id", Msg: fmt.Sprintf("ticket %d is itself the case of %d complaints; link the others to the new case", t.ID, children)}
			}
			if t.ParentID, err = s.collectiveRoot(ctx, tx, t.Site, *u.ParentID); err != nil {
				return err
			}
		}
		if t.Kind != wire.Complaint && t.ParentID > 0 {
			return &ticket.InputError{Field: "kind", Msg: fmt.Sprintf("ticket %d is linked to case %d; unlink it (parent_id 0) before it becomes a %s", t.ID, t.ParentID, t.Kind)}
		}
		if u.AppointmentAt != nil {
			t.AppointmentAt = u.AppointmentAt
		}
		if t.Kind != old.Kind || t.SubKind != old.SubKind {
			t.Priority = wire.PriorityOf(t.Kind, t.SubKind)
			if old.CollectiveAt != nil {
				t.Priority = "P1"
			}
		}
		for _, c := range []struct{ name, from, to string }{
			{"kind", string(old.Kind), string(t.Kind)}, {"sub_kind", old.SubKind, t.SubKind}, {"category", old.Category, t.Category},
			{"cause", old.Cause, t.Cause}, {"priority", old.Priority, t.Priority},
			{"parent_id", idText(old.ParentID), idText(t.ParentID)},
			{"appointment_at", timeText(old.AppointmentAt), timeText(t.AppointmentAt)},
		} {
			if c.from != c.to {
				changes = append(changes, fmt.Sprintf("%s %s → %s", c.name, orDash(c.from), orDash(c.to)))
			}
		}
		if len(changes) == 0 {
			out = t
			return nil
		}
		if _, err := s.txExec(ctx, tx, `UPDATE tickets SET kind = ?, sub_kind = ?, category = ?, cause = ?, priority = ?, parent_id = ?,
			appointment_at = ?, updated_at = ? WHERE id = ?`, t.Kind, t.SubKind, t.Category, t.Cause, t.Priority, nullID(t.ParentID),
			nullTime(t.AppointmentAt), nanos(now), id); err != nil {
			if isUniqueViolation(err) {
				return fmt.Errorf("%w: %v", ErrConflict, err)
			}
			return err
		}
		note := strings.Join(changes, "; ")
		if u.MoveOnSite && u.Reason != "" {
			note += "; reason: " + u.Reason
		}
		if err := s.audit(ctx, tx, id, now, actor, "update", t.Status, t.Status, note); err != nil {
			return err
		}
		if t.Kind != old.Kind || t.SubKind != old.SubKind || !sameTime(t.AppointmentAt, old.AppointmentAt) {
			if err := s.recompute(ctx, tx, t, u.MoveOnSite); err != nil {
				return err
			}
		}
		if err := s.event(ctx, tx, now, "ticket.updated", t); err != nil {
			return err
		}
		if t.Kind == wire.Emergency && old.Kind != wire.Emergency {
			if err := s.notify(ctx, tx, now, t, "created", ticket.NotifiedAtCreation(wire.Emergency)); err != nil {
				return err
			}
		}
		if t.ParentID > 0 && t.ParentID != old.ParentID {
			if err := s.raiseCollective(ctx, tx, t.ParentID, actor, now); err != nil {
				return err
			}
		}
		out, err = scanTicket(s.txQueryRow(ctx, tx, `SELECT `+ticketColumns+` FROM tickets WHERE id = ?`, id))
		return err
	})
	if err != nil {
		return wire.Ticket{}, err
	}
	out.Deadlines, err = s.deadlinesOf(ctx, s.db, id)
	return out, err
}

// recompute replaces a ticket's pending deadlines by those of its kind,
// sub-kind and appointment now: each step still to do is counted from the
// ticket's creation (the follow-up from its resolution), as if it had been
// opened so; steps met or missed keep their record. An emergency's on-site
// deadline is never moved later by an appointment unless moveOnSite (a
// manager's decision, whose reason the caller recorded).
func (s *Store) recompute(ctx context.Context, tx *sql.Tx, t wire.Ticket, moveOnSite bool) error {
	rows, err := tx.QueryContext(ctx, s.q(`SELECT step, state FROM ticket_deadlines WHERE ticket_id = ?`), t.ID)
	if err != nil {
		return err
	}
	done := map[wire.Step]bool{}
	for rows.Next() {
		var step wire.Step
		var state wire.DeadlineState
		if err := rows.Scan(&step, &state); err != nil {
			rows.Close()
			return err
		}
		if state != wire.DeadlinePending {
			done[step] = true
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if _, err := s.txExec(ctx, tx, `DELETE FROM ticket_deadlines WHERE ticket_id = ? AND state = ?`, t.ID, wire.DeadlinePending); err != nil {
		return err
	}
	// Steps an earlier action met (arrived: acknowledged, dispatched) stay met.
	met := map[wire.Step]bool{}
	for _, a := range actionsDone(t) {
		for _, st := range ticket.StepsMetBy(a) {
			met[st] = true
		}
	}
	fromCreation := func(st wire.Step) bool { return !st.FromResolution() && !done[st] && !met[st] }
	if err := s.addDeadlines(ctx, tx, t, t.CreatedAt, fromCreation); err != nil {
		return err
	}
	if t.ResolvedAt != nil {
		if err := s.addDeadlines(ctx, tx, t, *t.ResolvedAt, func(st wire.Step) bool { return st.FromResolution() && !done[st] }); err != nil {
			return err
		}
	}
	if t.Kind == wire.Emergency && moveOnSite && t.AppointmentAt != nil {
		if _, err := s.txExec(ctx, tx, `UPDATE ticket_deadlines SET due_at = ? WHERE ticket_id = ? AND step = ? AND state = ?`,
			nanos(*t.AppointmentAt), t.ID, wire.StepOnSite, wire.DeadlinePending); err != nil {
			return err
		}
	}
	// A step whose new due time has passed is missed at the scheduler's next
	// round and escalated as any other: the change does not excuse it.
	return nil
}

// actionsDone lists the lifecycle actions a ticket's stamps show were taken.
func actionsDone(t wire.Ticket) []ticket.Action {
	var out []ticket.Action
	if t.AcknowledgedAt != nil {
		out = append(out, ticket.Acknowledge)
	}
	if t.DispatchedAt != nil {
		out = append(out, ticket.Dispatch)
	}
	if t.OnSiteAt != nil {
		out = append(out, ticket.Arrive)
	}
	if t.ResolvedAt != nil {
		out = append(out, ticket.Resolve)
	}
	return out
}

func idText(id int64) string {
	if id == 0 {
		return ""
	}
	return fmt.Sprintf("#%d", id)
}

func timeText(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}
