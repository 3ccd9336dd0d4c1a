package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/estatehq/estate/internal/wire"
)

// Reviews (issue 14 part 6): the open cases of every owner each day, the
// overdue ones each week with their causes, and the monthly figures beside
// the site's targets.

// Targets are a site's monthly targets (客户月投诉统计表). The manuals give
// the follow-up rate, the satisfaction rate, the effective complaint rate and
// the households followed up; OnTime (each deadline step's share met) and
// ReopenRate are ours.
type Targets struct {
	FollowUpRate         float64 `json:"follow_up_rate"`         // ≥, 1 = 100 %
	SatisfactionRate     float64 `json:"satisfaction_rate"`      // ≥
	ComplaintRate        float64 `json:"complaint_rate"`         // ≤, complaints per household
	HouseholdsFollowedUp int     `json:"households_followed_up"` // ≥
	OnTime               float64 `json:"on_time"`                // ≥, per step
	ReopenRate           float64 `json:"reopen_rate"`            // ≤
}

// DefaultTargets are the manuals' targets, with ours where they give none.
var DefaultTargets = Targets{FollowUpRate: 1, SatisfactionRate: 0.96, ComplaintRate: 0.01, HouseholdsFollowedUp: 20, OnTime: 0.95, ReopenRate: 0.05}

// Target is one figure of the month beside its target. Value is nil when
// there was nothing to count (the console shows "—"); Met then too.
type Target struct {
	Name   string    `json:"name"`
	Step   wire.Step `json:"step,omitempty"`
	Value  *float64  `json:"value"`
	Target float64   `json:"target"`
	// Op is ">=" (at least) or "<=" (at most).
	Op  string `json:"op"`
	Met *bool  `json:"met"`
	// Num and Den are what Value is counted from.
	Num int `json:"num"`
	Den int `json:"den"`
}

func target(name string, num, den int, goal float64, op string) Target {
	t := Target{Name: name, Target: goal, Op: op, Num: num, Den: den}
	if den > 0 {
		v := float64(num) / float64(den)
		met := v >= goal
		if op == "<=" {
			met = v <= goal
		}
		t.Value, t.Met = &v, &met
	}
	return t
}

func (p Policy) targets(site string) Targets {
	if p.Targets != nil {
		return p.Targets(site)
	}
	return DefaultTargets
}

// addTargets fills the report's owner-side figures and its targets.
func (s *Store) addTargets(ctx context.Context, r *Report) error {
	from, to := nanos(r.From), nanos(r.To)
	threshold := s.policy.satisfied(r.Site)
	q := func(dest any, query string, args ...any) error {
		return s.db.QueryRowContext(ctx, s.q(query), args...).Scan(dest)
	}
	if err := q(&r.Households, `SELECT COUNT(*) FROM units WHERE site = ?`, r.Site); err != nil {
		return err
	}
	// Households called back in the month, whenever their tickets were opened.
	if err := q(&r.HouseholdsFollowedUp, `SELECT COUNT(DISTINCT t.unit) FROM ticket_audit a JOIN tickets t ON t.id = a.ticket_id
		WHERE t.site = ? AND t.unit <> '' AND a.action = 'follow_up' AND a.at >= ? AND a.at < ?`, r.Site, from, to); err != nil {
		return err
	}
	if err := q(&r.Satisfied, `SELECT COUNT(*) FROM tickets WHERE site = ? AND created_at >= ? AND created_at < ? AND satisfaction >= ?`,
		r.Site, from, to, threshold); err != nil {
		return err
	}
	// Rework: of the month's tickets resolved at least once, those reopened.
	if err := q(&r.EverResolved, `SELECT COUNT(DISTINCT t.id) FROM tickets t JOIN ticket_audit a ON a.ticket_id = t.id
		WHERE t.site = ? AND t.created_at >= ? AND t.created_at < ? AND a.action = 'resolve'`, r.Site, from, to); err != nil {
		return err
	}
	if err := q(&r.Reopened, `SELECT COUNT(DISTINCT t.id) FROM tickets t JOIN ticket_audit a ON a.ticket_id = t.id
		WHERE t.site = ? AND t.created_at >= ? AND t.created_at < ? AND a.action = 'reopen'`, r.Site, from, to); err != nil {
		return err
	}
	r.SatisfactionThreshold = threshold
	g := s.policy.targets(r.Site)
	r.Targets = []Target{
		target("follow_up_rate", r.FollowedUp, r.Resolved, g.FollowUpRate, ">="),
		target("satisfaction_rate", r.Satisfied, r.SatisfactionCount, g.SatisfactionRate, ">="),
		target("complaint_rate", r.Complaints, r.Households, g.ComplaintRate, "<="),
	}
	hh := Target{Name: "households_followed_up", Target: float64(g.HouseholdsFollowedUp), Op: ">=", Num: r.HouseholdsFollowedUp}
	v, met := float64(r.HouseholdsFollowedUp), r.HouseholdsFollowedUp >= g.HouseholdsFollowedUp
	hh.Value, hh.Met = &v, &met
	r.Targets = append(r.Targets, hh, target("reopen_rate", r.Reopened, r.EverResolved, g.ReopenRate, "<="))
	for _, d := range r.Deadlines {
		t := target("on_time", d.Met, d.Met+d.Missed, g.OnTime, ">=")
		t.Step = d.Step
		r.Targets = append(r.Targets, t)
	}
	return nil
}

// ReviewRow is one case in a review list.
type ReviewRow struct {
	ID        int64       `json:"id"`
	Kind      wire.Kind   `json:"kind"`
	Title     string      `json:"title"`
	Status    wire.Status `json:"status"`
	Owner     string      `json:"owner"`
	Assignee  string      `json:"assignee,omitempty"`
	Unit      string      `json:"unit,omitempty"`
	CreatedAt time.Time   `json:"created_at"`
	// NextStep and NextDue are the case's nearest pending deadline.
	NextStep wire.Step  `json:"next_step,omitempty"`
	NextDue  *time.Time `json:"next_due,omitempty"`
	Overdue  bool       `json:"overdue"`
}

// OwnerCases is one owner's open cases.
type OwnerCases struct {
	Owner   string      `json:"owner"`
	Open    int         `json:"open"`
	Overdue int         `json:"overdue"`
	Cases   []ReviewRow `json:"cases"`
}

// DailyReview lists a site's open cases by owner (most overdue first, then
// by name), each owner's cases oldest first.
func (s *Store) DailyReview(ctx context.Context, site string, now time.Time) ([]OwnerCases, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT t.id, t.kind, t.title, t.status, t.owner, t.assignee, t.unit, t.created_at,
		(SELECT MIN(d.due_at) FROM ticket_deadlines d WHERE d.ticket_id = t.id AND d.state = 'pending')
		FROM tickets t WHERE t.site = ? AND t.status NOT IN ('closed', 'cancelled') ORDER BY t.id LIMIT 5000`), site)
	if err != nil {
		return nil, fmt.Errorf("daily review: %w", err)
	}
	defer rows.Close()
	by := map[string]*OwnerCases{}
	for rows.Next() {
		var r ReviewRow
		var created int64
		var due sql.NullInt64
		if err := rows.Scan(&r.ID, &r.Kind, &r.Title, &r.Status, &r.Owner, &r.Assignee, &r.Unit, &created, &due); err != nil {
			return nil, fmt.Errorf("daily review: %w", err)
		}
		r.CreatedAt, r.NextDue = time.Unix(0, created), timePtr(due)
		oc := by[r.Owner]
		if oc == nil {
			oc = &OwnerCases{Owner: r.Owner, Cases: []ReviewRow{}}
			by[r.Owner] = oc
		}
		oc.Open++
		oc.Cases = append(oc.Cases, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("daily review: %w", err)
	}
	rows.Close()
	out := []OwnerCases{}
	for _, oc := range by {
		for i := range oc.Cases {
			c := &oc.Cases[i]
			if c.NextDue == nil {
				continue
			}
			var step wire.Step
			if err := s.db.QueryRowContext(ctx, s.q(`SELECT step FROM ticket_deadlines WHERE ticket_id = ? AND state = 'pending' ORDER BY due_at LIMIT 1`), c.ID).Scan(&step); err != nil {
				return nil, fmt.Errorf("daily review: %w", err)
			}
			c.NextStep = step
			if c.NextDue.Before(now) {
				c.Overdue = true
				oc.Overdue++
			}
		}
		out = append(out, *oc)
	}
	slices.SortFunc(out, func(a, b OwnerCases) int {
		if a.Overdue != b.Overdue {
			return b.Overdue - a.Overdue
		}
		if a.Owner < b.Owner {
			return -1
		}
		if a.Owner > b.Owner {
			return 1
		}
		return 0
	})
	return out, nil
}

// OverdueRow is one deadline missed in the week, with its case's cause: the
// owner's explanation to the resident (with the reply time promised), else
// the cause recorded at resolution, else "" (none given yet).
type OverdueRow struct {
	TicketID    int64       `json:"ticket_id"`
	Kind        wire.Kind   `json:"kind"`
	Title       string      `json:"title"`
	Status      wire.Status `json:"status"`
	Owner       string      `json:"owner"`
	Assignee    string      `json:"assignee,omitempty"`
	Step        wire.Step   `json:"step"`
	DueAt       time.Time   `json:"due_at"`
	MissedAt    *time.Time  `json:"missed_at,omitempty"`
	Cause       string      `json:"cause,omitempty"`
	Explanation string      `json:"explanation,omitempty"`
	CommittedAt *time.Time  `json:"committed_at,omitempty"`
}

// WeeklyOverdue lists the deadlines of a site that fell due in [from, to) and
// were missed, or are still pending past their time, by due time.
func (s *Store) WeeklyOverdue(ctx context.Context, site string, from, to, now time.Time) ([]OverdueRow, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT t.id, t.kind, t.title, t.status, t.owner, t.assignee, d.step, d.due_at, d.missed_at,
		t.cause, t.reply_note, t.reply_committed_at
		FROM ticket_deadlines d JOIN tickets t ON t.id = d.ticket_id
		WHERE t.site = ? AND d.due_at >= ? AND d.due_at < ? AND (d.state = 'missed' OR (d.state = 'pending' AND d.due_at < ?))
		ORDER BY d.due_at, t.id LIMIT 5000`), site, nanos(from), nanos(to), nanos(now))
	if err != nil {
		return nil, fmt.Errorf("weekly review: %w", err)
	}
	defer rows.Close()
	out := []OverdueRow{}
	for rows.Next() {
		var r OverdueRow
		var due int64
		var missed, committed sql.NullInt64
		if err := rows.Scan(&r.TicketID, &r.Kind, &r.Title, &r.Status, &r.Owner, &r.Assignee, &r.Step, &due, &missed,
			&r.Cause, &r.Explanation, &committed); err != nil {
			return nil, fmt.Errorf("weekly review: %w", err)
		}
		r.DueAt, r.MissedAt, r.CommittedAt = time.Unix(0, due), timePtr(missed), timePtr(committed)
		if r.CommittedAt == nil {
			r.Explanation = "" // a result told is no cause of delay
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
