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

// Incident report states (突发事件处理表): the owner drafts and submits it,
// a manager approves it or returns it with a reason; an approved report is
// final, and only then may its emergency close. Migration 013's checks and
// triggers hold the same rules in the database.
const (
	IncidentDraft     = "draft"
	IncidentSubmitted = "submitted"
	IncidentApproved  = "approved"
	IncidentReturned  = "returned"
)

// Incident is the incident report of an emergency or a power-distribution
// accident. Its timeline is the ticket's audit trail (Store.Audit).
type Incident struct {
	TicketID     int64      `json:"ticket_id"`
	State        string     `json:"state"`
	WhatHappened string     `json:"what_happened"`
	Cause        string     `json:"cause"`
	Measures     string     `json:"measures"`
	Result       string     `json:"result"`
	People       string     `json:"people"`
	UpdatedBy    string     `json:"updated_by"`
	UpdatedAt    time.Time  `json:"updated_at"`
	SubmittedBy  string     `json:"submitted_by,omitempty"`
	SubmittedAt  *time.Time `json:"submitted_at,omitempty"`
	DecidedBy    string     `json:"decided_by,omitempty"`
	DecidedAt    *time.Time `json:"decided_at,omitempty"`
	DecisionNote string     `json:"decision_note,omitempty"`
}

// IncidentText is what the owner writes.
type IncidentText struct {
	WhatHappened string `json:"what_happened"`
	Cause        string `json:"cause"`
	Measures     string `json:"measures"`
	Result       string `json:"result"`
	People       string `json:"people"`
}

// Missing names the sections a submitted report lacks.
func (x IncidentText) Missing() []string {
	var out []string
	for _, f := range []struct{ name, v string }{{"what_happened", x.WhatHappened}, {"cause", x.Cause}, {"measures", x.Measures},
		{"result", x.Result}, {"people", x.People}} {
		if strings.TrimSpace(f.v) == "" {
			out = append(out, f.name)
		}
	}
	return out
}

const incidentColumns = `ticket_id, state, what_happened, cause, measures, result, people, updated_by, updated_at,
	submitted_by, submitted_at, decided_by, decided_at, decision_note`

func scanIncident(r scanner) (Incident, error) {
	var x Incident
	var updated int64
	var submitted, decided sql.NullInt64
	err := r.Scan(&x.TicketID, &x.State, &x.WhatHappened, &x.Cause, &x.Measures, &x.Result, &x.People, &x.UpdatedBy, &updated,
		&x.SubmittedBy, &submitted, &x.DecidedBy, &decided, &x.DecisionNote)
	if errors.Is(err, sql.ErrNoRows) {
		return x, ErrNotFound
	}
	x.UpdatedAt, x.SubmittedAt, x.DecidedAt = time.Unix(0, updated), timePtr(submitted), timePtr(decided)
	return x, err
}

// GetIncident returns a ticket's incident report, ErrNotFound when none was written.
func (s *Store) GetIncident(ctx context.Context, id int64) (Incident, error) {
	x, err := scanIncident(s.db.QueryRowContext(ctx, s.q(`SELECT `+incidentColumns+` FROM incident_reports WHERE ticket_id = ?`), id))
	if err != nil {
		return x, fmt.Errorf("incident report of ticket %d: %w", id, err)
	}
	return x, nil
}

// IncidentError is a report change refused for a reason the caller can act
// on; Status is the HTTP status the desk answers with.
type IncidentError struct {
	Status int
	Msg    string
}

func (e *IncidentError) Error() string { return e.Msg }

// SaveIncident writes the owner's report: as a draft, or submitted for
// approval (every section is then required). A returned report becomes a
// draft again when it is edited. Only the ticket's owner writes it; a
// ticket that is not an emergency or a power-distribution accident has none.
func (s *Store) SaveIncident(ctx context.Context, id int64, x IncidentText, submit bool, actor string, now time.Time) (Incident, error) {
	var out Incident
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		t, err := scanTicket(s.txQueryRow(ctx, tx, `SELECT `+ticketColumns+` FROM tickets WHERE id = ?`+s.forUpdate(), id))
		if err != nil {
			return fmt.Errorf("ticket %d: %w", id, err)
		}
		if !ticket.NeedsIncidentReport(t) {
			return &IncidentError{422, fmt.Sprintf("ticket %d is a %s: incident reports (突发事件处理表) are written for emergencies and power-distribution accidents only", id, t.Kind)}
		}
		if t.Owner != actor {
			return &IncidentError{403, fmt.Sprintf("the incident report of ticket %d is written by its owner (%s); hand the case over first", id, t.Owner)}
		}
		cur, err := scanIncident(s.txQueryRow(ctx, tx, `SELECT `+incidentColumns+` FROM incident_reports WHERE ticket_id = ?`, id))
		exists := err == nil
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		if exists && (cur.State == IncidentSubmitted || cur.State == IncidentApproved) {
			return &IncidentError{409, fmt.Sprintf("the incident report of ticket %d is %s: it is not changed now", id, cur.State)}
		}
		state := IncidentDraft
		var subBy string
		var subAt sql.NullInt64
		if submit {
			if miss := x.Missing(); len(miss) > 0 {
				return &ticket.InputError{Field: miss[0], Msg: "a submitted incident report needs " + strings.Join(miss, ", ")}
			}
			state, subBy, subAt = IncidentSubmitted, actor, sql.NullInt64{Int64: nanos(now), Valid: true}
		}
		if exists {
			_, err = s.txExec(ctx, tx, `UPDATE incident_reports SET state = ?, what_happened = ?, cause = ?, measures = ?, result = ?, people = ?,
				updated_by = ?, updated_at = ?, submitted_by = ?, submitted_at = ?, decided_by = '', decided_at = NULL, decision_note = '' WHERE ticket_id = ?`,
				state, x.WhatHappened, x.Cause, x.Measures, x.Result, x.People, actor, nanos(now), subBy, subAt, id)
		} else {
			_, err = s.txExec(ctx, tx, `INSERT INTO incident_reports (ticket_id, state, what_happened, cause, measures, result, people,
				updated_by, updated_at, submitted_by, submitted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				id, state, x.WhatHappened, x.Cause, x.Measures, x.Result, x.People, actor, nanos(now), subBy, subAt)
		}
		if err != nil {
			return err
		}
		action := "incident_saved"
		if submit {
			action = "incident_submitted"
		}
		if err := s.audit(ctx, tx, id, now, actor, action, t.Status, t.Status, ""); err != nil {
			return err
		}
		if out, err = scanIncident(s.txQueryRow(ctx, tx, `SELECT `+incidentColumns+` FROM incident_reports WHERE ticket_id = ?`, id)); err != nil {
			return err
		}
		if err := s.event(ctx, tx, now, "ticket.updated", t); err != nil {
			return err
		}
		if submit {
			return s.notify(ctx, tx, now, t, "incident_submitted", []ticket.Level{ticket.LevelManager})
		}
		return nil
	})
	if err != nil {
		return Incident{}, fmt.Errorf("incident report of ticket %d: %w", id, err)
	}
	return out, nil
}

// DecideIncident approves a submitted report, or returns it to its owner
// with the reason (required). The caller checks that the actor is a manager.
func (s *Store) DecideIncident(ctx context.Context, id int64, approve bool, note, actor string, now time.Time) (Incident, error) {
	var out Incident
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		t, err := scanTicket(s.txQueryRow(ctx, tx, `SELECT `+ticketColumns+` FROM tickets WHERE id = ?`+s.forUpdate(), id))
		if err != nil {
			return fmt.Errorf("ticket %d: %w", id, err)
		}
		cur, err := scanIncident(s.txQueryRow(ctx, tx, `SELECT `+incidentColumns+` FROM incident_reports WHERE ticket_id = ?`, id))
		if errors.Is(err, ErrNotFound) {
			return &IncidentError{409, fmt.Sprintf("ticket %d has no incident report to decide on", id)}
		}
		if err != nil {
			return err
		}
		if cur.State != IncidentSubmitted {
			return &IncidentError{409, fmt.Sprintf("the incident report of ticket %d is %s, not submitted: only a submitted report is approved or returned", id, cur.State)}
		}
		state, action := IncidentApproved, "incident_approved"
		if !approve {
			if strings.TrimSpace(note) == "" {
				return &ticket.InputError{Field: "note", Msg: "returning a report needs the reason"}
			}
			state, action = IncidentReturned, "incident_returned"
		}
		if _, err := s.txExec(ctx, tx, `UPDATE incident_reports SET state = ?, decided_by = ?, decided_at = ?, decision_note = ? WHERE ticket_id = ?`,
			state, actor, nanos(now), note, id); err != nil {
			return err
		}
		if err := s.audit(ctx, tx, id, now, actor, action, t.Status, t.Status, note); err != nil {
			return err
		}
		if out, err = scanIncident(s.txQueryRow(ctx, tx, `SELECT `+incidentColumns+` FROM incident_reports WHERE ticket_id = ?`, id)); err != nil {
			return err
		}
		return s.event(ctx, tx, now, "ticket.updated", t)
	})
	if err != nil {
		return Incident{}, fmt.Errorf("incident report of ticket %d: %w", id, err)
	}
	return out, nil
}

// PendingIncidents lists a site's tickets that need an incident report and
// have none approved yet, oldest first: what the managers still owe.
func (s *Store) PendingIncidents(ctx context.Context, site string) ([]wire.Ticket, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+qualifiedTicketColumns+` FROM tickets LEFT JOIN incident_reports r ON r.ticket_id = tickets.id
		WHERE tickets.site = ? AND (tickets.kind = 'emergency' OR tickets.category = ?) AND tickets.status NOT IN ('closed', 'cancelled')
		AND (r.state IS NULL OR r.state <> 'approved') ORDER BY tickets.id`), site, ticket.PowerAccident)
	if err != nil {
		return nil, fmt.Errorf("pending incident reports: %w", err)
	}
	defer rows.Close()
	out := []wire.Ticket{}
	for rows.Next() {
		t, err := scanTicket(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}
