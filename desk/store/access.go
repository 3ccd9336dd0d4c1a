package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// Access is one view of a resident's unmasked phone or of a household
// record: who (actor, role), when, which (subject, its id and unit), why
// (reason) and through what (route, request id).
type Access struct {
	ID        int64     `json:"id"`
	At        time.Time `json:"at"`
	Site      string    `json:"site"`
	Actor     string    `json:"actor"`
	Role      string    `json:"role"`
	Subject   string    `json:"subject"` // ticket, topup, unit, households, event
	SubjectID string    `json:"subject_id"`
	Unit      string    `json:"unit,omitempty"`
	What      string    `json:"what"` // phone or household
	Reason    string    `json:"reason"`
	Route     string    `json:"route"`
	RequestID string    `json:"request_id,omitempty"`
}

// LogAccess records views, all or none.
func (s *Store) LogAccess(ctx context.Context, entries []Access) error {
	if len(entries) == 0 {
		return nil
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for _, e := range entries {
			if _, err := s.txExec(ctx, tx, `INSERT INTO access_log (at, site, actor, role, subject, subject_id, unit, what, reason, route, request_id)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, nanos(e.At), e.Site, e.Actor, e.Role, e.Subject, e.SubjectID, e.Unit, e.What,
				e.Reason, e.Route, e.RequestID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("access log: %w", err)
	}
	return nil
}

// AccessFilter selects access log entries; zero fields select everything.
type AccessFilter struct {
	Site, Actor, Unit, Subject, SubjectID string
	From, To                              time.Time
	BeforeID                              int64
	Limit                                 int
}

// AccessLog lists entries newest first.
func (s *Store) AccessLog(ctx context.Context, f AccessFilter) ([]Access, error) {
	var where []string
	var args []any
	add := func(cond string, v any) { where = append(where, cond); args = append(args, v) }
	if f.Site != "" {
		add("site = ?", f.Site)
	}
	if f.Actor != "" {
		add("actor = ?", f.Actor)
	}
	if f.Unit != "" {
		add("unit = ?", f.Unit)
	}
	if f.Subject != "" {
		add("subject = ?", f.Subject)
	}
	if f.SubjectID != "" {
		add("subject_id = ?", f.SubjectID)
	}
	if !f.From.IsZero() {
		add("at >= ?", nanos(f.From))
	}
	if !f.To.IsZero() {
		add("at < ?", nanos(f.To))
	}
	if f.BeforeID > 0 {
		add("id < ?", f.BeforeID)
	}
	q := `SELECT id, at, site, actor, role, subject, subject_id, unit, what, reason, route, request_id FROM access_log`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	limit := f.Limit
	if limit <= 0 || limit > 1000 {
		limit = 200
	}
	q += fmt.Sprintf(" ORDER BY id DESC LIMIT %d", limit)
	rows, err := s.db.QueryContext(ctx, s.q(q), args...)
	if err != nil {
		return nil, fmt.Errorf("access log: %w", err)
	}
	defer rows.Close()
	out := []Access{}
	for rows.Next() {
		var a Access
		var at int64
		if err := rows.Scan(&a.ID, &at, &a.Site, &a.Actor, &a.Role, &a.Subject, &a.SubjectID, &a.Unit, &a.What, &a.Reason, &a.Route, &a.RequestID); err != nil {
			return nil, err
		}
		a.At = time.Unix(0, at)
		out = append(out, a)
	}
	return out, rows.Err()
}
