package maintenance

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/estatehq/estate/desk/equipment"
)

// Order statuses.
const (
	Open = "open"
	Done = "done"
)

// Order is one occurrence of a plan for one piece of equipment: the work
// order behind its ticket, with the checklist it carries and what was found.
type Order struct {
	ID         int64     `json:"id"`
	Site       string    `json:"site"`
	Plan       string    `json:"plan"`
	PlanName   string    `json:"plan_name,omitempty"`
	Equipment  string    `json:"equipment"`
	Ticket     int64     `json:"ticket"`
	Due        time.Time `json:"due"`
	Deadline   time.Time `json:"deadline"`
	Trigger    string    `json:"trigger"`
	Usage      float64   `json:"usage,omitempty"`
	Explain    string    `json:"explain,omitempty"`
	Assignee   string    `json:"assignee,omitempty"`
	Team       string    `json:"team,omitempty"`
	Contractor string    `json:"contractor,omitempty"`
	Checklist  []Item    `json:"checklist"`
	Results    []Result  `json:"results"`
	// Window is what should be in a maintenance window on the gateways
	// while the work is done (empty: nothing).
	Window      Window    `json:"window"`
	Status      string    `json:"status"`
	CompletedAt time.Time `json:"completed_at,omitzero"`
	CompletedBy string    `json:"completed_by,omitempty"`
	Minutes     int       `json:"minutes,omitempty"`
	Failed      int       `json:"failed"`
	CreatedAt   time.Time `json:"created_at"`
	// Overdue is computed when read: open past its deadline.
	Overdue bool `json:"overdue"`
}

// Window is devices to be in a maintenance window from From to To.
type Window struct {
	Devices []string  `json:"devices"`
	From    time.Time `json:"from,omitzero"`
	To      time.Time `json:"to,omitzero"`
}

// Store keeps plans, their state and their orders (migration 017).
type Store struct{ equipment.DB }

// NewStore is the maintenance store on the desk's database.
func NewStore(db equipment.DB) *Store { return &Store{db} }

// PutPlan creates or replaces a plan (checked by the caller).
func (s *Store) PutPlan(ctx context.Context, p Plan, now time.Time) error {
	body, err := json.Marshal(p)
	if err != nil {
		return err
	}
	tx, err := s.SQL.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("plan %s: %w", p.ID, err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, s.Q(`DELETE FROM maintenance_plans WHERE site = ? AND id = ?`), p.Site, p.ID); err != nil {
		return fmt.Errorf("plan %s: %w", p.ID, err)
	}
	active := 0
	if p.Active {
		active = 1
	}
	if _, err := tx.ExecContext(ctx, s.Q(`INSERT INTO maintenance_plans (site, id, body, active, updated_at) VALUES (?, ?, ?, ?, ?)`),
		p.Site, p.ID, string(body), active, now.UnixNano()); err != nil {
		return fmt.Errorf("plan %s: %w", p.ID, err)
	}
	return tx.Commit()
}

// Plans are a site's plans (every site's with site ""), by id.
func (s *Store) Plans(ctx context.Context, site string) ([]Plan, error) {
	q, args := `SELECT body FROM maintenance_plans`, []any{}
	if site != "" {
		q += ` WHERE site = ?`
		args = append(args, site)
	}
	rows, err := s.SQL.QueryContext(ctx, s.Q(q+` ORDER BY site, id`), args...)
	if err != nil {
		return nil, fmt.Errorf("plans: %w", err)
	}
	defer rows.Close()
	out := []Plan{}
	for rows.Next() {
		var body string
		if err := rows.Scan(&body); err != nil {
			return nil, err
		}
		var p Plan
		if err := json.Unmarshal([]byte(body), &p); err != nil {
			return nil, fmt.Errorf("plans: a stored plan does not read: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// Plan is one plan of a site.
func (s *Store) Plan(ctx context.Context, site, id string) (Plan, error) {
	var body string
	err := s.SQL.QueryRowContext(ctx, s.Q(`SELECT body FROM maintenance_plans WHERE site = ? AND id = ?`), site, id).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return Plan{}, fmt.Errorf("plan %s: %w", id, equipment.ErrNotFound)
	}
	if err != nil {
		return Plan{}, fmt.Errorf("plan %s: %w", id, err)
	}
	var p Plan
	return p, json.Unmarshal([]byte(body), &p)
}

// DeletePlan removes a plan and its state (its orders stay, as history).
func (s *Store) DeletePlan(ctx context.Context, site, id string) error {
	r, err := s.SQL.ExecContext(ctx, s.Q(`DELETE FROM maintenance_plans WHERE site = ? AND id = ?`), site, id)
	if err != nil {
		return fmt.Errorf("plan %s: %w", id, err)
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return fmt.Errorf("plan %s: %w", id, equipment.ErrNotFound)
	}
	_, err = s.SQL.ExecContext(ctx, s.Q(`DELETE FROM maintenance_state WHERE site = ? AND plan_id = ?`), site, id)
	return err
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func toNanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// State is a plan's state for one piece of equipment; one that has none
// yet starts now (and, with create, is saved so).
func (s *Store) State(ctx context.Context, site, plan, equip string, now time.Time, create bool) (State, error) {
	var since, lastCal, lastAt int64
	err := s.SQL.QueryRowContext(ctx, s.Q(`SELECT since, last_calendar, last_at FROM maintenance_state
		WHERE site = ? AND plan_id = ? AND equipment_id = ?`), site, plan, equip).Scan(&since, &lastCal, &lastAt)
	if errors.Is(err, sql.ErrNoRows) && !create {
		return State{Since: now}, nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		_, err := s.SQL.ExecContext(ctx, s.Q(`INSERT INTO maintenance_state (site, plan_id, equipment_id, since) VALUES (?, ?, ?, ?)
			ON CONFLICT DO NOTHING`), site, plan, equip, now.UnixNano())
		if err != nil {
			return State{}, fmt.Errorf("plan %s state: %w", plan, err)
		}
		return s.State(ctx, site, plan, equip, now, false)
	}
	if err != nil {
		return State{}, fmt.Errorf("plan %s state: %w", plan, err)
	}
	return State{Since: fromNanos(since), LastCalendar: fromNanos(lastCal), LastAt: fromNanos(lastAt)}, nil
}

// SaveState moves a plan's state on, only from the state it was read as
// (old): two desks stepping the same plan save one move.
func (s *Store) SaveState(ctx context.Context, site, plan, equip string, old, st State) (bool, error) {
	r, err := s.SQL.ExecContext(ctx, s.Q(`UPDATE maintenance_state SET last_calendar = ?, last_at = ?
		WHERE site = ? AND plan_id = ? AND equipment_id = ? AND last_calendar = ? AND last_at = ?`),
		toNanos(st.LastCalendar), toNanos(st.LastAt), site, plan, equip, toNanos(old.LastCalendar), toNanos(old.LastAt))
	if err != nil {
		return false, fmt.Errorf("plan %s state: %w", plan, err)
	}
	n, _ := r.RowsAffected()
	return n == 1, nil
}

// AddOrder saves a new order; an order of the same occurrence is returned
// instead when there is one (created false).
func (s *Store) AddOrder(ctx context.Context, o Order) (Order, bool, error) {
	checklist, _ := json.Marshal(o.Checklist)
	devices, _ := json.Marshal(orEmpty(o.Window.Devices))
	r, err := s.SQL.ExecContext(ctx, s.Q(`INSERT INTO maintenance_orders (site, plan_id, equipment_id, ticket_id, due_at, deadline_at,
		trigger_kind, usage_value, explain, assignee, team, contractor, checklist, window_devices, window_from, window_to, status, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`),
		o.Site, o.Plan, o.Equipment, o.Ticket, o.Due.UnixNano(), o.Deadline.UnixNano(), o.Trigger, o.Usage, o.Explain,
		o.Assignee, o.Team, o.Contractor, string(checklist), string(devices), toNanos(o.Window.From), toNanos(o.Window.To), Open, o.CreatedAt.UnixNano())
	if err != nil {
		return Order{}, false, fmt.Errorf("order of plan %s: %w", o.Plan, err)
	}
	n, _ := r.RowsAffected()
	saved, err := s.orders(ctx, `site = ? AND plan_id = ? AND equipment_id = ? AND due_at = ?`, o.CreatedAt, o.Site, o.Plan, o.Equipment, o.Due.UnixNano())
	if err != nil || len(saved) == 0 {
		return Order{}, false, fmt.Errorf("order of plan %s: %w", o.Plan, errors.Join(err, equipment.ErrNotFound))
	}
	return saved[0], n == 1, nil
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

const orderColumns = `id, site, plan_id, equipment_id, ticket_id, due_at, deadline_at, trigger_kind, usage_value, explain,
	assignee, team, contractor, checklist, results, window_devices, window_from, window_to, status, completed_at, completed_by,
	minutes, failed, created_at`

func (s *Store) orders(ctx context.Context, where string, now time.Time, args ...any) ([]Order, error) {
	rows, err := s.SQL.QueryContext(ctx, s.Q(`SELECT `+orderColumns+` FROM maintenance_orders WHERE `+where), args...)
	if err != nil {
		return nil, fmt.Errorf("orders: %w", err)
	}
	defer rows.Close()
	out := []Order{}
	for rows.Next() {
		var o Order
		var due, deadline, wfrom, wto, completed, created int64
		var checklist, results, devices string
		if err := rows.Scan(&o.ID, &o.Site, &o.Plan, &o.Equipment, &o.Ticket, &due, &deadline, &o.Trigger, &o.Usage, &o.Explain,
			&o.Assignee, &o.Team, &o.Contractor, &checklist, &results, &devices, &wfrom, &wto, &o.Status, &completed, &o.CompletedBy,
			&o.Minutes, &o.Failed, &created); err != nil {
			return nil, err
		}
		o.Due, o.Deadline, o.CompletedAt, o.CreatedAt = fromNanos(due), fromNanos(deadline), fromNanos(completed), fromNanos(created)
		o.Window.From, o.Window.To = fromNanos(wfrom), fromNanos(wto)
		if err := errors.Join(json.Unmarshal([]byte(checklist), &o.Checklist), json.Unmarshal([]byte(results), &o.Results),
			json.Unmarshal([]byte(devices), &o.Window.Devices)); err != nil {
			return nil, fmt.Errorf("order %d does not read: %w", o.ID, err)
		}
		o.Overdue = o.Status == Open && !now.IsZero() && now.After(o.Deadline)
		out = append(out, o)
	}
	return out, rows.Err()
}

// OrderFilter selects orders of a site.
type OrderFilter struct {
	Site, Status, Equipment, Plan string
	// DueFrom and DueTo bound the due time (zero: unbounded).
	DueFrom, DueTo time.Time
	Limit          int
}

// Orders are a site's orders, newest due first.
func (s *Store) Orders(ctx context.Context, f OrderFilter, now time.Time) ([]Order, error) {
	where, args := "site = ?", []any{f.Site}
	for _, c := range []struct{ col, v string }{{"status", f.Status}, {"equipment_id", f.Equipment}, {"plan_id", f.Plan}} {
		if c.v != "" {
			where += " AND " + c.col + " = ?"
			args = append(args, c.v)
		}
	}
	if !f.DueFrom.IsZero() {
		where += " AND due_at >= ?"
		args = append(args, f.DueFrom.UnixNano())
	}
	if !f.DueTo.IsZero() {
		where += " AND due_at < ?"
		args = append(args, f.DueTo.UnixNano())
	}
	limit := f.Limit
	if limit <= 0 || limit > 5000 {
		limit = 5000
	}
	return s.orders(ctx, where+fmt.Sprintf(" ORDER BY due_at DESC, id DESC LIMIT %d", limit), now, args...)
}

// Order is one order of a site.
func (s *Store) Order(ctx context.Context, site string, id int64, now time.Time) (Order, error) {
	os, err := s.orders(ctx, "site = ? AND id = ?", now, site, id)
	if err != nil {
		return Order{}, err
	}
	if len(os) == 0 {
		return Order{}, fmt.Errorf("order %d: %w", id, equipment.ErrNotFound)
	}
	return os[0], nil
}

// SetTicket records the ticket an order was opened as.
func (s *Store) SetTicket(ctx context.Context, id, ticket int64) error {
	_, err := s.SQL.ExecContext(ctx, s.Q(`UPDATE maintenance_orders SET ticket_id = ? WHERE id = ?`), ticket, id)
	return err
}

// SetTicketDeadlines moves a maintenance ticket's pending deadlines to the
// order's: dispatched within a day (or by the deadline if sooner), on site
// and resolved by the deadline. The desk's scheduler then escalates a late
// order as it does a late repair.
func (s *Store) SetTicketDeadlines(ctx context.Context, ticket int64, created, deadline time.Time) error {
	dispatch := min(created.Add(24*time.Hour).UnixNano(), deadline.UnixNano())
	if _, err := s.SQL.ExecContext(ctx, s.Q(`UPDATE ticket_deadlines SET due_at = ? WHERE ticket_id = ? AND state = 'pending' AND step = 'dispatch'`),
		dispatch, ticket); err != nil {
		return fmt.Errorf("deadlines of ticket %d: %w", ticket, err)
	}
	if _, err := s.SQL.ExecContext(ctx, s.Q(`UPDATE ticket_deadlines SET due_at = ? WHERE ticket_id = ? AND state = 'pending' AND step IN ('on_site', 'resolve')`),
		deadline.UnixNano(), ticket); err != nil {
		return fmt.Errorf("deadlines of ticket %d: %w", ticket, err)
	}
	return nil
}

// Complete records an open order's results as done; ErrNotOpen when it is
// not open any more (done by someone else meanwhile).
func (s *Store) Complete(ctx context.Context, site string, id int64, results []Result, failed, minutes int, by string, now time.Time) error {
	body, _ := json.Marshal(results)
	r, err := s.SQL.ExecContext(ctx, s.Q(`UPDATE maintenance_orders SET results = ?, failed = ?, minutes = ?, completed_by = ?,
		completed_at = ?, status = ? WHERE site = ? AND id = ? AND status = ?`),
		string(body), failed, minutes, by, now.UnixNano(), Done, site, id, Open)
	if err != nil {
		return fmt.Errorf("order %d: %w", id, err)
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return fmt.Errorf("order %d: %w", id, ErrNotOpen)
	}
	return nil
}

// SaveResults keeps an open order's results so far (a checklist filled in
// steps, evidence read from telemetry).
func (s *Store) SaveResults(ctx context.Context, site string, id int64, results []Result) error {
	body, _ := json.Marshal(results)
	r, err := s.SQL.ExecContext(ctx, s.Q(`UPDATE maintenance_orders SET results = ? WHERE site = ? AND id = ? AND status = ?`),
		string(body), site, id, Open)
	if err != nil {
		return fmt.Errorf("order %d: %w", id, err)
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return fmt.Errorf("order %d: %w", id, ErrNotOpen)
	}
	return nil
}

// ErrNotOpen is an order that is done already.
var ErrNotOpen = errors.New("the order is done already")

// Windows are the open orders' maintenance windows on a site that have not
// ended by now: what the gateways should be told (see docs/maintenance.md).
func (s *Store) Windows(ctx context.Context, site string, now time.Time) ([]Order, error) {
	return s.orders(ctx, `site = ? AND status = ? AND window_to > ? ORDER BY window_from`, now, site, Open, now.UnixNano())
}
