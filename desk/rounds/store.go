package rounds

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/estatehq/estate/desk/deskconfig"
)

// DB is the database the rounds' tables are in, shared with the desk's
// store (store.Store: DB and Rebind).
type DB interface {
	DB() *sql.DB
	Rebind(query string) string
}

// Store keeps rounds, visits and results (migration 018).
type Store struct {
	db *sql.DB
	q  func(string) string
}

// NewStore is the rounds' store in the desk's database.
func NewStore(d DB) *Store { return &Store{db: d.DB(), q: d.Rebind} }

// ErrNotFound is a round (or visit) that does not exist on the caller's sites.
var ErrNotFound = errors.New("not found")

const roundColumns = `id, site, route, day, route_json, status, starts_at, start_by, finish_by, started_at, started_by,
	finished_at, finished_by, escalated_at, missed_ticket`

func scanRound(sc interface{ Scan(...any) error }) (Round, error) {
	var r Round
	var routeJSON string
	var startsAt, startBy, finishBy int64
	var startedAt, finishedAt, escalatedAt, missed sql.NullInt64
	err := sc.Scan(&r.ID, &r.Site, &r.Route, &r.Day, &routeJSON, &r.Status, &startsAt, &startBy, &finishBy, &startedAt,
		&r.StartedBy, &finishedAt, &r.FinishedBy, &escalatedAt, &missed)
	if errors.Is(err, sql.ErrNoRows) {
		return r, ErrNotFound
	}
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal([]byte(routeJSON), &r.route); err != nil {
		return r, fmt.Errorf("round %d: route: %w", r.ID, err)
	}
	r.Name, r.NameEN, r.Building, r.Team = r.route.Name, r.route.NameEN, r.route.Building, r.route.Team
	r.StartsAt, r.StartBy, r.FinishBy = time.Unix(0, startsAt), time.Unix(0, startBy), time.Unix(0, finishBy)
	r.StartedAt, r.FinishedAt, r.EscalatedAt = timePtr(startedAt), timePtr(finishedAt), timePtr(escalatedAt)
	r.MissedTicket = missed.Int64
	return r, nil
}

func timePtr(n sql.NullInt64) *time.Time {
	if !n.Valid {
		return nil
	}
	t := time.Unix(0, n.Int64)
	return &t
}

// ensure creates the round of a route's window unless it exists; it reports
// whether it created it. Several desks may ensure the same round at once:
// the unique index keeps one.
func (s *Store) ensure(ctx context.Context, r deskconfig.Route, w Window, now time.Time) (bool, error) {
	body, err := json.Marshal(r)
	if err != nil {
		return false, err
	}
	res, err := s.db.ExecContext(ctx, s.q(`INSERT INTO rounds (site, route, day, route_json, status, starts_at, start_by, finish_by, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`),
		r.Site, r.ID, w.Day, string(body), StatusDue, w.StartsAt.UnixNano(), w.StartBy.UnixNano(), w.FinishBy.UnixNano(), now.UnixNano())
	if err != nil {
		return false, fmt.Errorf("round %s/%s %s: %w", r.Site, r.ID, w.Day, err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// get returns a round of one of sites (nil: any site).
func (s *Store) get(ctx context.Context, id int64, allowed func(string) bool) (Round, error) {
	r, err := scanRound(s.db.QueryRowContext(ctx, s.q(`SELECT `+roundColumns+` FROM rounds WHERE id = ?`), id))
	if err != nil {
		return r, err
	}
	if !allowed(r.Site) {
		return Round{}, ErrNotFound
	}
	return r, nil
}

// list returns the rounds of a site's day and those still open from before.
func (s *Store) list(ctx context.Context, site, day string) ([]Round, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+roundColumns+` FROM rounds WHERE site = ? AND (day = ? OR (day < ? AND status IN (?, ?)))
		ORDER BY starts_at, id`), site, day, day, StatusDue, StatusInProgress)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Round
	for rows.Next() {
		r, err := scanRound(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// lapsed returns the open rounds whose start or finish deadline has passed
// and that were not dealt with yet.
func (s *Store) lapsed(ctx context.Context, now time.Time) ([]Round, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+roundColumns+` FROM rounds
		WHERE (status = ? AND start_by <= ? AND escalated_at IS NULL) OR (status IN (?, ?) AND finish_by <= ?)
		ORDER BY id LIMIT 100`), StatusDue, now.UnixNano(), StatusDue, StatusInProgress, now.UnixNano())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Round
	for rows.Next() {
		r, err := scanRound(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// markLapsed records what the escalation did: missed (the finish deadline
// passed) and/or escalated with a ticket.
func (s *Store) markLapsed(ctx context.Context, id int64, missed bool, ticketID int64, now time.Time) error {
	set := `escalated_at = COALESCE(escalated_at, ?), missed_ticket = COALESCE(missed_ticket, ?)`
	args := []any{now.UnixNano(), nullID(ticketID)}
	if missed {
		set += `, status = ?`
		args = append(args, StatusMissed)
	}
	args = append(args, id)
	_, err := s.db.ExecContext(ctx, s.q(`UPDATE rounds SET `+set+` WHERE id = ?`), args...)
	return err
}

func nullID(id int64) sql.NullInt64 { return sql.NullInt64{Int64: id, Valid: id > 0} }

// start moves a due or missed round that nobody started to in progress.
func (s *Store) start(ctx context.Context, id int64, by string, now time.Time) error {
	_, err := s.db.ExecContext(ctx, s.q(`UPDATE rounds SET status = CASE WHEN status = ? THEN ? ELSE status END,
		started_at = ?, started_by = ? WHERE id = ? AND started_at IS NULL`),
		StatusDue, StatusInProgress, now.UnixNano(), by, id)
	return err
}

func (s *Store) finish(ctx context.Context, id int64, by string, now time.Time) error {
	_, err := s.db.ExecContext(ctx, s.q(`UPDATE rounds SET status = ?, finished_at = ?, finished_by = ? WHERE id = ? AND finished_at IS NULL`),
		StatusDone, now.UnixNano(), by, id)
	return err
}

// addVisit records a visit once: the same visit sent again (a gateway's
// retry) is found, not added twice.
func (s *Store) addVisit(ctx context.Context, v Visit, now time.Time) (Visit, bool, error) {
	row := s.db.QueryRowContext(ctx, s.q(`INSERT INTO round_visits (site, round_id, checkpoint, at, by_name, method, reader, recorded_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id`),
		v.Site, nullID(v.RoundID), v.Checkpoint, v.At.UnixNano(), v.By, v.Method, v.Reader, now.UnixNano())
	err := row.Scan(&v.ID)
	if errors.Is(err, sql.ErrNoRows) {
		err = s.db.QueryRowContext(ctx, s.q(`SELECT id FROM round_visits WHERE site = ? AND checkpoint = ? AND by_name = ? AND reader = ? AND at = ?`),
			v.Site, v.Checkpoint, v.By, v.Reader, v.At.UnixNano()).Scan(&v.ID)
		return v, false, err
	}
	return v, err == nil, err
}

// lastVisit is the latest visit of a checkpoint by the same person or reader
// within [from, to].
func (s *Store) lastVisit(ctx context.Context, site, checkpoint, by, reader string, from, to time.Time) (time.Time, bool, error) {
	var at int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT at FROM round_visits WHERE site = ? AND checkpoint = ? AND by_name = ? AND reader = ?
		AND at >= ? AND at <= ? ORDER BY at DESC LIMIT 1`), site, checkpoint, by, reader, from.UnixNano(), to.UnixNano()).Scan(&at)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, false, nil
	}
	return time.Unix(0, at), err == nil, err
}

// visits of a round, earliest first.
func (s *Store) visits(ctx context.Context, roundID int64) ([]Visit, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT id, site, checkpoint, at, by_name, method, reader FROM round_visits
		WHERE round_id = ? ORDER BY at, id`), roundID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Visit
	for rows.Next() {
		v := Visit{RoundID: roundID}
		var at int64
		if err := rows.Scan(&v.ID, &v.Site, &v.Checkpoint, &at, &v.By, &v.Method, &v.Reader); err != nil {
			return nil, err
		}
		v.At = time.Unix(0, at)
		out = append(out, v)
	}
	return out, rows.Err()
}

// putResult records (or replaces) an item's result.
func (s *Store) putResult(ctx context.Context, roundID int64, r Result) error {
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO round_results (round_id, checkpoint, item, outcome, value, note, at, by_name)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (round_id, checkpoint, item) DO UPDATE SET outcome = excluded.outcome, value = excluded.value,
		note = excluded.note, at = excluded.at, by_name = excluded.by_name`),
		roundID, r.Checkpoint, r.Item, r.Outcome, nullFloat(r.Value), r.Note, r.At.UnixNano(), r.By)
	return err
}

func (s *Store) setResultTicket(ctx context.Context, roundID int64, checkpoint, item string, ticketID int64) error {
	_, err := s.db.ExecContext(ctx, s.q(`UPDATE round_results SET ticket_id = ? WHERE round_id = ? AND checkpoint = ? AND item = ?`),
		ticketID, roundID, checkpoint, item)
	return err
}

func nullFloat(v *float64) sql.NullFloat64 {
	if v == nil {
		return sql.NullFloat64{}
	}
	return sql.NullFloat64{Float64: *v, Valid: true}
}

func (s *Store) results(ctx context.Context, roundID int64) ([]Result, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT checkpoint, item, outcome, value, note, ticket_id, at, by_name FROM round_results
		WHERE round_id = ?`), roundID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Result
	for rows.Next() {
		var r Result
		var v sql.NullFloat64
		var tid sql.NullInt64
		var at int64
		if err := rows.Scan(&r.Checkpoint, &r.Item, &r.Outcome, &v, &r.Note, &tid, &at, &r.By); err != nil {
			return nil, err
		}
		if v.Valid {
			r.Value = &v.Float64
		}
		r.TicketID, r.At = tid.Int64, time.Unix(0, at)
		out = append(out, r)
	}
	return out, rows.Err()
}

// openRoundWith finds the open round of a site (due or in progress) whose
// route has the checkpoint: of the site's day of at (a guard may set off
// before the round's start), or of an earlier day whose finish deadline is
// still ahead of at; the latest first.
func (s *Store) openRoundWith(ctx context.Context, site, checkpoint, day string, at time.Time) (Round, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+roundColumns+` FROM rounds WHERE site = ? AND status IN (?, ?)
		AND (day = ? OR finish_by >= ?) ORDER BY starts_at DESC, id DESC LIMIT 50`), site, StatusDue, StatusInProgress, day, at.UnixNano())
	if err != nil {
		return Round{}, err
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanRound(rows)
		if err != nil {
			return Round{}, err
		}
		if r.checkpoint(checkpoint) != nil {
			return r, nil
		}
	}
	if err := rows.Err(); err != nil {
		return Round{}, err
	}
	return Round{}, ErrNotFound
}

// visitsAt are the visits of a site's checkpoints since a time, newest first.
func (s *Store) visitsAt(ctx context.Context, site string, checkpoints []string, since time.Time, limit int) ([]Visit, error) {
	if len(checkpoints) == 0 {
		return nil, nil
	}
	args := []any{site}
	for _, c := range checkpoints {
		args = append(args, c)
	}
	args = append(args, since.UnixNano(), limit)
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT id, site, round_id, checkpoint, at, by_name, method, reader FROM round_visits
		WHERE site = ? AND checkpoint IN (?`+strings.Repeat(", ?", len(checkpoints)-1)+`) AND at >= ? ORDER BY at DESC, id DESC LIMIT ?`), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Visit
	for rows.Next() {
		var v Visit
		var round sql.NullInt64
		var at int64
		if err := rows.Scan(&v.ID, &v.Site, &round, &v.Checkpoint, &at, &v.By, &v.Method, &v.Reader); err != nil {
			return nil, err
		}
		v.RoundID, v.At = round.Int64, time.Unix(0, at)
		out = append(out, v)
	}
	return out, rows.Err()
}
