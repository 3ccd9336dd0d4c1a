package store

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/estatehq/estate/internal/wire"
)

// Report is one site's month (客户月投诉统计表 and more): what came in, how
// fast it was handled, and whether residents were called back.
type Report struct {
	Site    string    `json:"site"`
	From    time.Time `json:"from"`
	To      time.Time `json:"to"`
	Tickets int       `json:"tickets"`
	// ByKind and ByCategory count the tickets opened in the month; a
	// category is reported as "kind/category".
	ByKind     map[string]int `json:"by_kind"`
	ByCategory map[string]int `json:"by_category"`
	// ByCause counts the month's resolved tickets by "kind/cause".
	ByCause    map[string]int `json:"by_cause"`
	Complaints int            `json:"complaints"`
	// Deadlines is, per step, how many deadlines were met or missed.
	Deadlines []StepShare `json:"deadlines"`
	// Times from creation to each step, in seconds.
	ToDispatch Durations `json:"to_dispatch"`
	ToOnSite   Durations `json:"to_on_site"`
	ToResolve  Durations `json:"to_resolve"`
	// Follow-up (回访): of the tickets resolved, how many were called back.
	Resolved              int     `json:"resolved"`
	FollowedUp            int     `json:"followed_up"`
	FollowUpRate          float64 `json:"follow_up_rate"`
	ComplaintFollowUpRate float64 `json:"complaint_follow_up_rate"`
	SatisfactionCount     int     `json:"satisfaction_count"`
	SatisfactionMean      float64 `json:"satisfaction_mean"`
	// The owner's side and the targets (reviews.go): households of the
	// site, those followed up in the month, follow-ups at or above the
	// site's threshold, tickets resolved at least once and those reopened.
	Households            int      `json:"households"`
	HouseholdsFollowedUp  int      `json:"households_followed_up"`
	Satisfied             int      `json:"satisfied"`
	SatisfactionThreshold int      `json:"satisfaction_threshold"`
	EverResolved          int      `json:"ever_resolved"`
	Reopened              int      `json:"reopened"`
	Targets               []Target `json:"targets"`
}

// StepShare is how one step's deadlines went.
type StepShare struct {
	Step    wire.Step `json:"step"`
	Met     int       `json:"met"`
	Missed  int       `json:"missed"`
	Pending int       `json:"pending"`
	// Share is met / (met + missed); 1 when none was due yet.
	Share float64 `json:"share"`
}

// Durations summarises a set of durations in seconds.
type Durations struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50_seconds"`
	P95   float64 `json:"p95_seconds"`
}

func summarise(ds []float64) Durations {
	if len(ds) == 0 {
		return Durations{}
	}
	slices.Sort(ds)
	rank := func(p float64) float64 { return ds[int(math.Ceil(p*float64(len(ds))))-1] }
	return Durations{Count: len(ds), P50: rank(0.5), P95: rank(0.95)}
}

// MonthlyReport computes the report of the tickets a site opened in [from, to).
func (s *Store) MonthlyReport(ctx context.Context, site string, from, to time.Time) (Report, error) {
	r := Report{Site: site, From: from, To: to, ByKind: map[string]int{}, ByCategory: map[string]int{}, ByCause: map[string]int{}, Deadlines: []StepShare{}}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT kind, category, cause, created_at, dispatched_at, on_site_at, resolved_at, followed_up_at, satisfaction
		FROM tickets WHERE site = ? AND created_at >= ? AND created_at < ?`), site, nanos(from), nanos(to))
	if err != nil {
		return r, fmt.Errorf("report: %w", err)
	}
	var toDispatch, toOnSite, toResolve []float64
	var satisfaction, complaintsResolved, complaintsFollowed int
	for rows.Next() {
		var kind, category, cause string
		var created int64
		var disp, onSite, resolved, followed sql.NullInt64
		var sat int
		if err := rows.Scan(&kind, &category, &cause, &created, &disp, &onSite, &resolved, &followed, &sat); err != nil {
			rows.Close()
			return r, fmt.Errorf("report: %w", err)
		}
		r.Tickets++
		r.ByKind[kind]++
		if category != "" {
			r.ByCategory[kind+"/"+category]++
		}
		if cause != "" {
			r.ByCause[kind+"/"+cause]++
		}
		since := func(n sql.NullInt64) float64 { return time.Duration(n.Int64 - created).Seconds() }
		if disp.Valid {
			toDispatch = append(toDispatch, since(disp))
		}
		if onSite.Valid {
			toOnSite = append(toOnSite, since(onSite))
		}
		if resolved.Valid {
			toResolve = append(toResolve, since(resolved))
			r.Resolved++
			if followed.Valid {
				r.FollowedUp++
			}
			if kind == string(wire.Complaint) {
				complaintsResolved++
				if followed.Valid {
					complaintsFollowed++
				}
			}
		}
		if kind == string(wire.Complaint) {
			r.Complaints++
		}
		if sat > 0 {
			r.SatisfactionCount++
			satisfaction += sat
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return r, fmt.Errorf("report: %w", err)
	}
	r.ToDispatch, r.ToOnSite, r.ToResolve = summarise(toDispatch), summarise(toOnSite), summarise(toResolve)
	if r.Resolved > 0 {
		r.FollowUpRate = float64(r.FollowedUp) / float64(r.Resolved)
	}
	if complaintsResolved > 0 {
		r.ComplaintFollowUpRate = float64(complaintsFollowed) / float64(complaintsResolved)
	}
	if r.SatisfactionCount > 0 {
		r.SatisfactionMean = float64(satisfaction) / float64(r.SatisfactionCount)
	}

	drows, err := s.db.QueryContext(ctx, s.q(`SELECT d.step, d.state, COUNT(*) FROM ticket_deadlines d JOIN tickets t ON t.id = d.ticket_id
		WHERE t.site = ? AND t.created_at >= ? AND t.created_at < ? GROUP BY d.step, d.state`), site, nanos(from), nanos(to))
	if err != nil {
		return r, fmt.Errorf("report: %w", err)
	}
	defer drows.Close()
	shares := map[wire.Step]*StepShare{}
	for drows.Next() {
		var step wire.Step
		var state wire.DeadlineState
		var n int
		if err := drows.Scan(&step, &state, &n); err != nil {
			return r, fmt.Errorf("report: %w", err)
		}
		sh := shares[step]
		if sh == nil {
			sh = &StepShare{Step: step}
			shares[step] = sh
		}
		switch state {
		case wire.DeadlineMet:
			sh.Met += n
		case wire.DeadlineMissed:
			sh.Missed += n
		case wire.DeadlinePending:
			sh.Pending += n
		}
	}
	for _, step := range wire.Steps {
		if sh := shares[step]; sh != nil {
			sh.Share = 1
			if sh.Met+sh.Missed > 0 {
				sh.Share = float64(sh.Met) / float64(sh.Met+sh.Missed)
			}
			r.Deadlines = append(r.Deadlines, *sh)
		}
	}
	if err := drows.Err(); err != nil {
		return r, fmt.Errorf("report: %w", err)
	}
	if err := s.addTargets(ctx, &r); err != nil {
		return r, fmt.Errorf("report: %w", err)
	}
	return r, nil
}
