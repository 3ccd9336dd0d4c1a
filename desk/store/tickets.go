package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/estatehq/estate/desk/ticket"
	"github.com/estatehq/estate/internal/wire"
)

// ErrConflict is a change that would break a uniqueness rule, such as
// reopening a ticket whose alarm already has another open ticket.
var ErrConflict = errors.New("conflict")

const ticketColumns = `id, kind, category, priority, status, title, description, site, building, floor, unit,
	device, alarm_key, source, reporter, phone, contact, reading_point, reading_value, reading_unit, reading_at,
	created_by, assignee, team, appointment_at, resolution, cause, charge_cents, satisfaction, follow_up_note,
	escalation_level, created_at, updated_at, acknowledged_at, dispatched_at, on_site_at, resolved_at,
	followed_up_at, closed_at, cancelled_at, parts, owner, replied_at, reply_note, reply_committed_at, sub_kind, parent_id, collective_at, title_en, description_en`

// qualifiedTicketColumns names the columns with their table, for joins.
var qualifiedTicketColumns = func() string {
	cols := strings.Split(ticketColumns, ",")
	for i, c := range cols {
		cols[i] = "tickets." + strings.TrimSpace(c)
	}
	return strings.Join(cols, ", ")
}()

// openForKey is the predicate of the tickets_open_alarm index: which tickets
// still hold their alarm key.
const openForKey = `status NOT IN ('closed', 'cancelled') AND NOT (kind = 'top_up' AND status IN ('resolved', 'followed_up'))`

// CreateTicket stores a new ticket with its due times, audit entry, event and
// notifications, all in one transaction. When the request carries an alarm
// key that already has an open ticket, or is a top-up reminder for a household
// that already has one open, nothing is written and that ticket is returned
// with created false.
//
// A top-up reminder is completed from the households register: the unit of
// its meter and the resident's name, phone and preferred contact.
//
// Concurrent creations share a transaction (groupcommit.go); each caller
// gets its own answer, as if alone.
func (s *Store) CreateTicket(ctx context.Context, n wire.NewTicket, by string, now time.Time) (wire.Ticket, bool, error) {
	c := &creation{ctx: ctx, n: n, by: by, now: now, wake: make(chan struct{}, 1)}
	s.createGrouped(c)
	if c.err != nil {
		return wire.Ticket{}, false, fmt.Errorf("create ticket: %w", c.err)
	}
	return c.t, c.made, nil
}

// createTicketTx is CreateTicket inside the caller's transaction (an alarm
// action claims its idempotency key and opens its ticket in one).
func (s *Store) createTicketTx(ctx context.Context, tx *sql.Tx, n wire.NewTicket, by string, now time.Time) (t wire.Ticket, created bool, err error) {
	err = func() error {
		if err := s.completeFromHousehold(ctx, tx, &n); err != nil {
			return err
		}
		var rp, ru sql.NullString
		var rv sql.NullFloat64
		var ra sql.NullInt64
		if n.Reading != nil {
			rp = sql.NullString{String: n.Reading.Point, Valid: true}
			rv = sql.NullFloat64{Float64: n.Reading.Value, Valid: true}
			ru = sql.NullString{String: n.Reading.Unit, Valid: true}
			ra = sql.NullInt64{Int64: n.Reading.At.UnixNano(), Valid: true}
		}
		source := n.Source
		if source == "" {
			source = wire.SourcePhone
		}
		if n.SubKind == "" {
			n.SubKind = wire.DefaultSubKind(n.Kind)
		}
		parent, err := s.collectiveRoot(ctx, tx, n.Site, n.ParentID)
		if err != nil {
			return err
		}
		row := s.txQueryRow(ctx, tx, (`INSERT INTO tickets (kind, category, priority, status, title, description, site,
			building, floor, unit, device, alarm_key, source, reporter, phone, contact, reading_point, reading_value,
			reading_unit, reading_at, created_by, appointment_at, created_at, updated_at, owner, sub_kind, cause, parent_id, title_en, description_en)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT DO NOTHING RETURNING ` + ticketColumns),
			n.Kind, n.Category, priorityOf(n), wire.New, n.Title, n.Description, n.Site, n.Building, n.Floor, n.Unit,
			n.Device, n.AlarmKey, source, n.Reporter, n.Phone, n.Contact, rp, rv, ru, ra, by, nullTime(n.AppointmentAt),
			nanos(now), nanos(now), n.Owner, n.SubKind, n.Cause, nullID(parent), n.TitleEN, n.DescriptionEN)
		t, err = scanTicket(row)
		if errors.Is(err, ErrNotFound) {
			// The insert hit a uniqueness index: return the ticket that holds
			// it, always of the same site (both indexes include the site).
			if t, err = s.findHolder(ctx, tx, n); err != nil {
				return err
			}
			// A more urgent request for the same work (the household's relay
			// tripped while its reminder is open) raises the open ticket's priority.
			if p := priorityOf(n); p < t.Priority {
				if _, err := s.txExec(ctx, tx, `UPDATE tickets SET priority = ?, updated_at = ? WHERE id = ?`, p, nanos(now), t.ID); err != nil {
					return err
				}
				if err := s.audit(ctx, tx, t.ID, now, by, "priority_raised", t.Status, t.Status, t.Priority+" → "+p+": "+n.Title); err != nil {
					return err
				}
				t.Priority, t.UpdatedAt = p, now
				return s.event(ctx, tx, now, "ticket.updated", t)
			}
			return nil
		}
		if err != nil {
			return err
		}
		created = true
		if err := s.audit(ctx, tx, t.ID, now, by, "created", "", wire.New, t.Title); err != nil {
			return err
		}
		if err := s.addDeadlines(ctx, tx, t, now, func(st wire.Step) bool { return !st.FromResolution() }); err != nil {
			return err
		}
		// A household's ticket is owned by its area's assistant (areas.go).
		if err := s.fileInArea(ctx, tx, &t, by, now); err != nil {
			return err
		}
		if err := s.event(ctx, tx, now, "ticket.created", t); err != nil {
			return err
		}
		if err := s.notify(ctx, tx, now, t, "created", ticket.NotifiedAtCreation(t.Kind)); err != nil {
			return err
		}
		if parent > 0 {
			return s.raiseCollective(ctx, tx, parent, by, now)
		}
		return nil
	}()
	return t, created, err
}

// priorityOf is the request's priority, or its kind's default.
func priorityOf(n wire.NewTicket) string {
	if n.Priority != "" {
		return n.Priority
	}
	return wire.PriorityOf(n.Kind, n.SubKind)
}

func (s *Store) findHolder(ctx context.Context, tx *sql.Tx, n wire.NewTicket) (wire.Ticket, error) {
	if n.AlarmKey != "" {
		t, err := scanTicket(s.txQueryRow(ctx, tx, (`SELECT ` + ticketColumns + ` FROM tickets WHERE site = ? AND alarm_key = ? AND ` + openForKey), n.Site, n.AlarmKey))
		if !errors.Is(err, ErrNotFound) {
			return t, err
		}
	}
	if n.Kind == wire.TopUp && n.Unit != "" {
		t, err := scanTicket(s.txQueryRow(ctx, tx, (`SELECT ` + ticketColumns + ` FROM tickets
			WHERE site = ? AND unit = ? AND category = ? AND kind = 'top_up' AND status IN ('new', 'dispatched', 'on_site')`), n.Site, n.Unit, n.Category))
		if !errors.Is(err, ErrNotFound) {
			return t, err
		}
	}
	return wire.Ticket{}, fmt.Errorf("insert ignored but no open ticket holds alarm %q or unit %q", n.AlarmKey, n.Unit)
}

// completeFromHousehold fills a ticket's unit from its meter and its contact
// from the unit's first resident, where the caller did not give them.
func (s *Store) completeFromHousehold(ctx context.Context, tx *sql.Tx, n *wire.NewTicket) error {
	if n.Unit == "" && n.Device != "" {
		err := s.txQueryRow(ctx, tx, (`SELECT m.unit, u.building, u.floor FROM unit_meters m
			JOIN units u ON u.site = m.site AND u.unit = m.unit WHERE m.site = ? AND m.device = ?`), n.Site, n.Device).
			Scan(&n.Unit, &n.Building, &n.Floor)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("meter %s: %w", n.Device, err)
		}
	}
	if n.Unit != "" && n.Phone == "" {
		var name, phone, contact string
		err := s.txQueryRow(ctx, tx, (`SELECT name, phone, contact FROM residents WHERE site = ? AND unit = ? ORDER BY id LIMIT 1`),
			n.Site, n.Unit).Scan(&name, &phone, &contact)
		switch {
		case err == nil:
			n.Phone, n.Contact = phone, contact
			if n.Reporter == "" {
				n.Reporter = name
			}
		case !errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("residents of %s: %w", n.Unit, err)
		}
	}
	return nil
}

// GetTicket returns one ticket with its deadlines.
func (s *Store) GetTicket(ctx context.Context, id int64) (wire.Ticket, error) {
	t, err := scanTicket(s.db.QueryRowContext(ctx, s.q(`SELECT `+ticketColumns+` FROM tickets WHERE id = ?`), id))
	if err != nil {
		return wire.Ticket{}, fmt.Errorf("ticket %d: %w", id, err)
	}
	t.Deadlines, err = s.deadlinesOf(ctx, s.db, id)
	if err != nil {
		return wire.Ticket{}, fmt.Errorf("ticket %d: %w", id, err)
	}
	return t, nil
}

// Filter selects tickets; zero fields select everything.
type Filter struct {
	Site     string
	Status   wire.Status
	Open     bool // only tickets that are not closed or cancelled
	Kind     wire.Kind
	Device   string
	Unit     string
	Assignee string
	// ParentID selects the complaints linked to one case.
	ParentID int64
	// MineName and MineTeam select a person's work: tickets assigned to
	// MineName, or dispatched to MineTeam (when not empty). Either set
	// enables the filter.
	MineName, MineTeam string
	// Owner selects the cases a person owns (受理人).
	Owner string
	// Search matches the titles and the descriptions, case-insensitively.
	Search string
	// Oldest sorts oldest first; the default is newest first.
	Oldest bool
	// BeforeID (newest first) or AfterID (oldest first) continue a previous page.
	BeforeID int64
	AfterID  int64
	Limit    int
}

// ListTickets returns one page of tickets, sorted by id.
func (s *Store) ListTickets(ctx context.Context, f Filter) ([]wire.Ticket, error) {
	var where []string
	var args []any
	add := func(cond string, v ...any) { where = append(where, cond); args = append(args, v...) }
	if f.Site != "" {
		add("site = ?", f.Site)
	}
	if f.Status != "" {
		add("status = ?", f.Status)
	}
	if f.Open {
		add("status NOT IN ('closed', 'cancelled')")
	}
	if f.Kind != "" {
		add("kind = ?", f.Kind)
	}
	if f.Device != "" {
		add("device = ?", f.Device)
	}
	if f.Unit != "" {
		add("unit = ?", f.Unit)
	}
	if f.Assignee != "" {
		add("assignee = ?", f.Assignee)
	}
	if f.Owner != "" {
		add("owner = ?", f.Owner)
	}
	if f.ParentID > 0 {
		add("parent_id = ?", f.ParentID)
	}
	if f.MineName != "" || f.MineTeam != "" {
		// …and the cases of the areas the person looks after (areas.go).
		add("(assignee = ? OR (team = ? AND team <> '') OR id IN (SELECT ticket_id FROM area_tickets WHERE assistant = ?))", f.MineName, f.MineTeam, f.MineName)
	}
	// On SQLite, a search of three characters or more is driven by the
	// trigram index in id order, so that it stops at the page's end whether
	// the words are common or rare.
	viaIndex := s.dialect == SQLiteDialect && utf8.RuneCountInString(f.Search) >= 3
	if f.Search != "" {
		if viaIndex {
			add(`tickets_search MATCH ?`, `"`+strings.ReplaceAll(f.Search, `"`, `""`)+`"`)
		} else {
			pattern := "%" + escapeLike(strings.ToLower(f.Search)) + "%"
			add(`(LOWER(title) LIKE ? ESCAPE '\' OR LOWER(title_en) LIKE ? ESCAPE '\' OR LOWER(description) LIKE ? ESCAPE '\'
				OR LOWER(description_en) LIKE ? ESCAPE '\')`, pattern, pattern, pattern, pattern)
		}
	}
	if f.BeforeID > 0 {
		add("id < ?", f.BeforeID)
	}
	if f.AfterID > 0 {
		add("id > ?", f.AfterID)
	}
	q := `SELECT ` + ticketColumns + ` FROM tickets`
	orderBy := "id"
	if viaIndex {
		q = `SELECT ` + qualifiedTicketColumns + ` FROM tickets_search JOIN tickets ON tickets.id = tickets_search.rowid`
		orderBy = "tickets_search.rowid"
	}
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	limit := f.Limit
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	order := "DESC"
	if f.Oldest {
		order = "ASC"
	}
	q += fmt.Sprintf(" ORDER BY %s %s LIMIT %d", orderBy, order, limit)
	rows, err := s.db.QueryContext(ctx, s.q(q), args...)
	if err != nil {
		return nil, fmt.Errorf("list tickets: %w", err)
	}
	defer rows.Close()
	out := []wire.Ticket{}
	for rows.Next() {
		t, err := scanTicket(rows)
		if err != nil {
			return nil, fmt.Errorf("list tickets: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// Transition applies one lifecycle action to a ticket: the status change, the
// fields it records, the deadlines it meets, the audit entry, the event and
// the notifications, in one transaction with the ticket's row locked. A
// forbidden action returns *ticket.TransitionError, a missing field
// *ticket.InputError; in both cases nothing is written.
func (s *Store) Transition(ctx context.Context, id int64, c ticket.Change, actor string, now time.Time) (wire.Ticket, error) {
	var out wire.Ticket
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = s.transitionTx(ctx, tx, id, c, actor, now)
		return err
	})
	if err != nil {
		return wire.Ticket{}, err
	}
	out.Deadlines, err = s.deadlinesOf(ctx, s.db, id)
	return out, err
}

// transitionTx is Transition inside the caller's transaction; the answer
// carries no deadlines.
func (s *Store) transitionTx(ctx context.Context, tx *sql.Tx, id int64, c ticket.Change, actor string, now time.Time) (out wire.Ticket, err error) {
	err = func() error {
		t, err := scanTicket(s.txQueryRow(ctx, tx, (`SELECT ` + ticketColumns + ` FROM tickets WHERE id = ?` + s.forUpdate()), id))
		if err != nil {
			return fmt.Errorf("ticket %d: %w", id, err)
		}
		to, err := ticket.Plan(t, c)
		if err != nil {
			return err
		}
		if c.Action == ticket.CloseTicket && ticket.NeedsIncidentReport(t) {
			if err := s.incidentApproved(ctx, tx, t); err != nil {
				return err
			}
		}
		// A follow-up below the site's threshold sends the work back to
		// engineering with the resident's words (see reopenUnsatisfied).
		unsatisfied := c.Action == ticket.FollowUp && c.Satisfaction < s.policy.satisfied(t.Site)
		from := t.Status
		set := []string{"status = ?", "updated_at = ?"}
		args := []any{to, nanos(now)}
		add := func(col string, v any) { set = append(set, col+" = ?"); args = append(args, v) }
		stamp := func(col string) { set = append(set, col+" = COALESCE("+col+", ?)"); args = append(args, nanos(now)) }
		note := c.Note
		if t.Owner == "" && (c.Action == ticket.Acknowledge || c.Action == ticket.Dispatch) {
			// A ticket a gateway opened is owned by whoever accepts it.
			add("owner", actor)
		}
		switch c.Action {
		case ticket.Acknowledge:
			stamp("acknowledged_at")
		case ticket.Dispatch:
			stamp("acknowledged_at")
			add("dispatched_at", nanos(now))
			add("assignee", c.Assignee)
			add("team", c.Team)
			if c.AppointmentAt != nil {
				add("appointment_at", nanos(*c.AppointmentAt))
			}
			if note == "" {
				note = "to " + strings.TrimSpace(c.Assignee+" "+c.Team)
			}
		case ticket.Arrive:
			stamp("acknowledged_at")
			add("on_site_at", nanos(now))
		case ticket.Resolve:
			stamp("acknowledged_at")
			add("resolved_at", nanos(now))
			add("resolution", c.Resolution)
			add("cause", c.Cause)
			add("parts", c.Parts)
			add("charge_cents", c.ChargeCents)
			if note == "" {
				note = c.Resolution
			}
		case ticket.FollowUp:
			add("followed_up_at", nanos(now))
			add("satisfaction", c.Satisfaction)
			add("follow_up_note", c.FollowUpNote)
			if note == "" {
				note = fmt.Sprintf("satisfaction %d: %s", c.Satisfaction, c.FollowUpNote)
			}
		case ticket.CloseTicket:
			add("closed_at", nanos(now))
		case ticket.Cancel:
			add("cancelled_at", nanos(now))
		case ticket.Reopen:
			for _, col := range []string{"resolved_at", "followed_up_at", "closed_at"} {
				add(col, nil)
			}
		}
		args = append(args, id)
		if _, err := s.txExec(ctx, tx, (`UPDATE tickets SET ` + strings.Join(set, ", ") + ` WHERE id = ?`), args...); err != nil {
			if isUniqueViolation(err) {
				return fmt.Errorf("%w: another open ticket already holds alarm %q; close it first", ErrConflict, t.AlarmKey)
			}
			if isTriggerRefusal(err) {
				// The database's own guard (migration 013), behind incidentApproved.
				return fmt.Errorf("%w: ticket %d: %v", ErrIncidentReport, id, err)
			}
			return err
		}
		if err := s.meetSteps(ctx, tx, id, ticket.StepsMetBy(c.Action), now); err != nil {
			return err
		}
		if err := s.withdrawSteps(ctx, tx, id, ticket.StepsEndedBy(c.Action)); err != nil {
			return err
		}
		if c.Action == ticket.Dispatch && c.AppointmentAt != nil && c.AppointmentAt.After(now) {
			// On site at the agreed time rather than within the usual limit
			// (for an emergency, only if that is sooner).
			if err := s.reschedule(ctx, tx, id, wire.StepOnSite, *c.AppointmentAt, t.Kind == wire.Emergency); err != nil {
				return err
			}
		}
		t.Status = to
		switch c.Action {
		case ticket.Resolve:
			err = s.addDeadlines(ctx, tx, t, now, wire.Step.FromResolution)
		case ticket.CloseTicket, ticket.Cancel:
			_, err = s.txExec(ctx, tx, (`UPDATE ticket_deadlines SET state = ? WHERE ticket_id = ? AND state = ?`),
				wire.DeadlineWithdrawn, id, wire.DeadlinePending)
		case ticket.Reopen:
			// The work starts again: the engineer must be back and done in
			// time, and the owner calls weekly again while it lasts.
			err = s.addDeadlines(ctx, tx, t, now, func(st wire.Step) bool {
				return st == wire.StepOnSite || st == wire.StepResolve || st == wire.StepWeeklyCall
			})
		}
		if err != nil {
			return err
		}
		if err := s.audit(ctx, tx, id, now, actor, string(c.Action), from, to, note); err != nil {
			return err
		}
		if unsatisfied {
			if err := s.reopenUnsatisfied(ctx, tx, t, c, actor, now); err != nil {
				return err
			}
		}
		out, err = scanTicket(s.txQueryRow(ctx, tx, (`SELECT ` + ticketColumns + ` FROM tickets WHERE id = ?`), id))
		if err != nil {
			return err
		}
		if err := s.event(ctx, tx, now, "ticket.updated", out); err != nil {
			return err
		}
		if c.Action == ticket.Dispatch {
			return s.notify(ctx, tx, now, out, "dispatched", []ticket.Level{ticket.LevelAssignee})
		}
		if unsatisfied {
			return s.notify(ctx, tx, now, out, "reopened", []ticket.Level{ticket.LevelAssignee, ticket.LevelSupervisor})
		}
		return nil
	}()
	return out, err
}

func isUniqueViolation(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "UNIQUE constraint failed") || strings.Contains(msg, "SQLSTATE 23505")
}

// audit appends one entry to a ticket's trail.
func (s *Store) audit(ctx context.Context, tx *sql.Tx, id int64, at time.Time, actor, action string, from, to wire.Status, note string) error {
	_, err := s.txExec(ctx, tx, (`INSERT INTO ticket_audit (ticket_id, at, actor, action, from_status, to_status, note)
		VALUES (?, ?, ?, ?, ?, ?, ?)`), id, nanos(at), actor, action, from, to, note)
	if err != nil {
		return fmt.Errorf("audit ticket %d: %w", id, err)
	}
	return nil
}

// Audit returns a ticket's trail, oldest first.
func (s *Store) Audit(ctx context.Context, id int64) ([]ticket.AuditEntry, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT id, ticket_id, at, actor, action, from_status, to_status, note
		FROM ticket_audit WHERE ticket_id = ? ORDER BY id`), id)
	if err != nil {
		return nil, fmt.Errorf("audit of ticket %d: %w", id, err)
	}
	defer rows.Close()
	out := []ticket.AuditEntry{}
	for rows.Next() {
		var e ticket.AuditEntry
		var at int64
		if err := rows.Scan(&e.ID, &e.TicketID, &at, &e.Actor, &e.Action, &e.From, &e.To, &e.Note); err != nil {
			return nil, fmt.Errorf("audit of ticket %d: %w", id, err)
		}
		e.At = time.Unix(0, at)
		out = append(out, e)
	}
	return out, rows.Err()
}

// Comment kinds.
const (
	CommentStaff   = "staff"
	CommentGateway = "gateway" // a note from the gateway: an alarm cleared, a value changed
)

// AddComment appends a comment to a ticket, with its audit entry and event.
// A staff comment is an answer to the resident (it meets the respond step).
func (s *Store) AddComment(ctx context.Context, id int64, author, kind, body string, now time.Time) (ticket.Comment, error) {
	c := ticket.Comment{TicketID: id, At: now, Author: author, Kind: kind, Body: body}
	err := s.inTx(ctx, func(tx *sql.Tx) error { return s.addCommentTx(ctx, tx, &c) })
	if err != nil {
		return ticket.Comment{}, fmt.Errorf("comment on ticket %d: %w", id, err)
	}
	return c, nil
}

// addCommentTx is AddComment inside a caller's transaction.
func (s *Store) addCommentTx(ctx context.Context, tx *sql.Tx, c *ticket.Comment) error {
	id, author, kind, body, now := c.TicketID, c.Author, c.Kind, c.Body, c.At
	t, err := scanTicket(s.txQueryRow(ctx, tx, (`SELECT ` + ticketColumns + ` FROM tickets WHERE id = ?` + s.forUpdate()), id))
	if err != nil {
		return fmt.Errorf("ticket %d: %w", id, err)
	}
	if err := s.txQueryRow(ctx, tx, (`INSERT INTO ticket_comments (ticket_id, at, author, kind, body) VALUES (?, ?, ?, ?, ?) RETURNING id`),
		id, nanos(now), author, kind, body).Scan(&c.ID); err != nil {
		return err
	}
	if _, err := s.txExec(ctx, tx, (`UPDATE tickets SET updated_at = ? WHERE id = ?`), nanos(now), id); err != nil {
		return err
	}
	if kind == CommentStaff {
		if err := s.meetSteps(ctx, tx, id, ticket.StepsMetByStaffComment, now); err != nil {
			return err
		}
	}
	action := "comment"
	if kind == CommentGateway {
		action = "gateway_note"
	}
	if err := s.audit(ctx, tx, id, now, author, action, t.Status, t.Status, body); err != nil {
		return err
	}
	return s.event(ctx, tx, now, "ticket.comment", t)
}

// Comments returns a ticket's comments, oldest first.
func (s *Store) Comments(ctx context.Context, id int64) ([]ticket.Comment, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT id, ticket_id, at, author, kind, body FROM ticket_comments WHERE ticket_id = ? ORDER BY id`), id)
	if err != nil {
		return nil, fmt.Errorf("comments of ticket %d: %w", id, err)
	}
	defer rows.Close()
	out := []ticket.Comment{}
	for rows.Next() {
		var c ticket.Comment
		var at int64
		if err := rows.Scan(&c.ID, &c.TicketID, &at, &c.Author, &c.Kind, &c.Body); err != nil {
			return nil, err
		}
		c.At = time.Unix(0, at)
		out = append(out, c)
	}
	return out, rows.Err()
}

type scanner interface{ Scan(dest ...any) error }

func scanTicket(r scanner) (wire.Ticket, error) {
	var t wire.Ticket
	var rp, ru sql.NullString
	var rv sql.NullFloat64
	var ra, appointment, ack, disp, onSite, resolved, followed, closed, cancelled, replied, committed, parent, collective sql.NullInt64
	var created, updated int64
	err := r.Scan(&t.ID, &t.Kind, &t.Category, &t.Priority, &t.Status, &t.Title, &t.Description, &t.Site, &t.Building,
		&t.Floor, &t.Unit, &t.Device, &t.AlarmKey, &t.Source, &t.Reporter, &t.Phone, &t.Contact, &rp, &rv, &ru, &ra,
		&t.CreatedBy, &t.Assignee, &t.Team, &appointment, &t.Resolution, &t.Cause, &t.ChargeCents, &t.Satisfaction, &t.FollowUpNote,
		&t.EscalationLevel, &created, &updated, &ack, &disp, &onSite, &resolved, &followed, &closed, &cancelled, &t.Parts,
		&t.Owner, &replied, &t.ReplyNote, &committed, &t.SubKind, &parent, &collective, &t.TitleEN, &t.DescriptionEN)
	if errors.Is(err, sql.ErrNoRows) {
		return t, ErrNotFound
	}
	if err != nil {
		return t, err
	}
	if rp.Valid {
		t.Reading = &wire.Reading{Point: rp.String, Value: rv.Float64, Unit: ru.String, At: time.Unix(0, ra.Int64)}
	}
	t.CreatedAt, t.UpdatedAt = time.Unix(0, created), time.Unix(0, updated)
	t.AppointmentAt, t.AcknowledgedAt, t.DispatchedAt, t.OnSiteAt = timePtr(appointment), timePtr(ack), timePtr(disp), timePtr(onSite)
	t.ResolvedAt, t.FollowedUpAt, t.ClosedAt, t.CancelledAt = timePtr(resolved), timePtr(followed), timePtr(closed), timePtr(cancelled)
	t.RepliedAt, t.ReplyCommittedAt = timePtr(replied), timePtr(committed)
	t.ParentID, t.CollectiveAt = parent.Int64, timePtr(collective)
	return t, nil
}

// stepsOrdered keeps deadline rows in lifecycle order for a stable answer.
func stepsOrdered(ds []wire.Deadline) {
	slices.SortStableFunc(ds, func(a, b wire.Deadline) int {
		return slices.Index(wire.Steps, a.Step) - slices.Index(wire.Steps, b.Step)
	})
}
