package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/estatehq/estate/internal/wire"
)

// Outage statuses: requested by an engineer, then approved or rejected by a
// manager; an approved outage may be cancelled (its window ends then).
const (
	OutageRequested = "requested"
	OutageApproved  = "approved"
	OutageRejected  = "rejected"
	OutageCancelled = "cancelled"
)

// Outage is a planned power outage of a feeder or of buildings.
type Outage struct {
	ID          int64      `json:"id"`
	Site        string     `json:"site"`
	Feeder      string     `json:"feeder,omitempty"`
	Buildings   []string   `json:"buildings"`
	Start       time.Time  `json:"start"`
	End         time.Time  `json:"end"`
	Reason      string     `json:"reason"`
	Status      string     `json:"status"`
	RequestedBy string     `json:"requested_by"`
	RequestedAt time.Time  `json:"requested_at"`
	DecidedBy   string     `json:"decided_by,omitempty"`
	DecidedAt   *time.Time `json:"decided_at,omitempty"`
	Note        string     `json:"note,omitempty"`
	// Households is how many notices were recorded (on approval).
	Households int `json:"households"`
}

// Notice is one household told of a planned outage: the text it was given
// (ready to print or post) and by which channel.
type Notice struct {
	OutageID int64     `json:"outage_id"`
	Site     string    `json:"site"`
	Unit     string    `json:"unit"`
	Building string    `json:"building,omitempty"`
	Floor    string    `json:"floor,omitempty"`
	Channel  string    `json:"channel"`
	TextZH   string    `json:"text_zh"`
	TextEN   string    `json:"text_en"`
	ToldBy   string    `json:"told_by"`
	ToldAt   time.Time `json:"told_at"`
}

const outageColumns = `o.id, o.site, o.feeder, o.buildings, o.starts_at, o.ends_at, o.reason, o.status, o.requested_by, o.requested_at,
	o.decided_by, o.decided_at, o.decision_note, (SELECT COUNT(*) FROM outage_notices n WHERE n.outage_id = o.id)`

func scanOutage(row interface{ Scan(...any) error }) (Outage, error) {
	var o Outage
	var buildings string
	var start, end, req int64
	var decided sql.NullInt64
	if err := row.Scan(&o.ID, &o.Site, &o.Feeder, &buildings, &start, &end, &o.Reason, &o.Status, &o.RequestedBy, &req,
		&o.DecidedBy, &decided, &o.Note, &o.Households); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return o, ErrNotFound
		}
		return o, err
	}
	if err := json.Unmarshal([]byte(buildings), &o.Buildings); err != nil || o.Buildings == nil {
		o.Buildings = []string{}
	}
	o.Start, o.End, o.RequestedAt, o.DecidedAt = time.Unix(0, start), time.Unix(0, end), time.Unix(0, req), timePtr(decided)
	return o, nil
}

// CreateOutage records a requested outage and returns it with its id.
func (s *Store) CreateOutage(ctx context.Context, o Outage) (Outage, error) {
	b, err := json.Marshal(o.Buildings)
	if err != nil {
		return o, err
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, s.q(`INSERT INTO outages (site, feeder, buildings, starts_at, ends_at, reason, status, requested_by, requested_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`), o.Site, o.Feeder, string(b), nanos(o.Start), nanos(o.End), o.Reason,
			OutageRequested, o.RequestedBy, nanos(o.RequestedAt)).Scan(&o.ID); err != nil {
			return err
		}
		return s.objectEvent(tx, o.RequestedAt, "outage."+OutageRequested, o.Site, ObjectEvent{ID: o.ID, Step: OutageRequested, By: o.RequestedBy})
	})
	if err != nil {
		return o, fmt.Errorf("create outage: %w", err)
	}
	return s.GetOutage(ctx, o.Site, o.ID)
}

// GetOutage returns one outage of a site (site "": of any site).
func (s *Store) GetOutage(ctx context.Context, site string, id int64) (Outage, error) {
	q, args := `SELECT `+outageColumns+` FROM outages o WHERE o.id = ?`, []any{id}
	if site != "" {
		q += ` AND o.site = ?`
		args = append(args, site)
	}
	o, err := scanOutage(s.db.QueryRowContext(ctx, s.q(q), args...))
	if err != nil {
		return o, fmt.Errorf("outage %d: %w", id, err)
	}
	return o, nil
}

// ListOutages returns the outages of a site (site "": every site), the
// latest start first, at most limit.
func (s *Store) ListOutages(ctx context.Context, site string, limit int) ([]Outage, error) {
	q, args := `SELECT `+outageColumns+` FROM outages o`, []any{}
	if site != "" {
		q += ` WHERE o.site = ?`
		args = append(args, site)
	}
	q += ` ORDER BY o.starts_at DESC, o.id DESC LIMIT ?`
	args = append(args, limit)
	rows, err := s.db.QueryContext(ctx, s.q(q), args...)
	if err != nil {
		return nil, fmt.Errorf("list outages: %w", err)
	}
	defer rows.Close()
	out := []Outage{}
	for rows.Next() {
		o, err := scanOutage(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// ApproveOutage approves a requested outage in one transaction: its status,
// a notice per household told, and the window its site's gateways receive.
// An outage that is no longer requested is ErrConflict, and nothing changes.
func (s *Store) ApproveOutage(ctx context.Context, site string, id int64, by, note string, now time.Time, notices []Notice, w wire.Window) (Outage, error) {
	body, err := json.Marshal(w)
	if err != nil {
		return Outage{}, err
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.decide(ctx, tx, site, id, OutageRequested, OutageApproved, by, note, now); err != nil {
			return err
		}
		for _, n := range notices {
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO outage_notices (outage_id, site, unit, building, floor, channel, text_zh, text_en, told_by, told_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`), id, site, n.Unit, n.Building, n.Floor, n.Channel, n.TextZH, n.TextEN, by, nanos(now)); err != nil {
				return fmt.Errorf("notice of %s: %w", n.Unit, err)
			}
		}
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO maintenance_windows (id, site, body, ends_at, created_at) VALUES (?, ?, ?, ?, ?)`),
			w.ID, site, string(body), nanos(w.End), nanos(now))
		return err
	})
	if err != nil {
		return Outage{}, fmt.Errorf("approve outage %d: %w", id, err)
	}
	return s.GetOutage(ctx, site, id)
}

// DecideOutage moves an outage from one status to another (reject a
// requested one, cancel an approved one): a cancelled outage's window ends
// at now. ErrConflict when it is not in status from.
func (s *Store) DecideOutage(ctx context.Context, site string, id int64, from, to, by, note string, now time.Time) (Outage, error) {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.decide(ctx, tx, site, id, from, to, by, note, now); err != nil {
			return err
		}
		if to == OutageCancelled {
			_, err := tx.ExecContext(ctx, s.q(`DELETE FROM maintenance_windows WHERE site = ? AND id = ?`), site, OutageWindowID(id))
			return err
		}
		return nil
	})
	if err != nil {
		return Outage{}, fmt.Errorf("outage %d: %w", id, err)
	}
	return s.GetOutage(ctx, site, id)
}

func (s *Store) decide(ctx context.Context, tx *sql.Tx, site string, id int64, from, to, by, note string, now time.Time) error {
	res, err := tx.ExecContext(ctx, s.q(`UPDATE outages SET status = ?, decided_by = ?, decided_at = ?, decision_note = ?
		WHERE id = ? AND site = ? AND status = ?`), to, by, nanos(now), note, id, site, from)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		var status string
		err := tx.QueryRowContext(ctx, s.q(`SELECT status FROM outages WHERE id = ? AND site = ?`), id, site).Scan(&status)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		return fmt.Errorf("%w: the outage is %s, not %s", ErrConflict, status, from)
	}
	return s.objectEvent(tx, now, "outage."+to, site, ObjectEvent{ID: id, Step: to, By: by})
}

// OutageWindowID is the id of an approved outage's window.
func OutageWindowID(id int64) string { return fmt.Sprintf("outage:%d", id) }

// OutageNotices returns the households told of an outage, by building and unit.
func (s *Store) OutageNotices(ctx context.Context, site string, id int64) ([]Notice, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT outage_id, site, unit, building, floor, channel, text_zh, text_en, told_by, told_at
		FROM outage_notices WHERE outage_id = ? AND site = ? ORDER BY building, unit`), id, site)
	if err != nil {
		return nil, fmt.Errorf("notices of outage %d: %w", id, err)
	}
	defer rows.Close()
	out := []Notice{}
	for rows.Next() {
		var n Notice
		var at int64
		if err := rows.Scan(&n.OutageID, &n.Site, &n.Unit, &n.Building, &n.Floor, &n.Channel, &n.TextZH, &n.TextEN, &n.ToldBy, &at); err != nil {
			return nil, err
		}
		n.ToldAt = time.Unix(0, at)
		out = append(out, n)
	}
	return out, rows.Err()
}

// PutWindow records (or replaces) a maintenance window of a site, for
// whatever puts devices in windows (maintenance orders).
func (s *Store) PutWindow(ctx context.Context, site string, w wire.Window, now time.Time) error {
	if err := w.Validate(); err != nil {
		return err
	}
	body, err := json.Marshal(w)
	if err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, s.q(`INSERT INTO maintenance_windows (id, site, body, ends_at, created_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET body = excluded.body, ends_at = excluded.ends_at WHERE maintenance_windows.site = excluded.site`),
		w.ID, site, string(body), nanos(w.End), nanos(now))
	if err != nil {
		return fmt.Errorf("window %s: %w", w.ID, err)
	}
	return nil
}

// SiteWindows returns a site's windows that have not ended at now, by start.
func (s *Store) SiteWindows(ctx context.Context, site string, now time.Time) ([]wire.Window, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT body FROM maintenance_windows WHERE site = ? AND ends_at > ? ORDER BY created_at, id`), site, nanos(now))
	if err != nil {
		return nil, fmt.Errorf("windows of %s: %w", site, err)
	}
	defer rows.Close()
	out := []wire.Window{}
	for rows.Next() {
		var body string
		if err := rows.Scan(&body); err != nil {
			return nil, err
		}
		var w wire.Window
		if err := json.Unmarshal([]byte(body), &w); err != nil {
			return nil, fmt.Errorf("window of %s: %w", site, err)
		}
		out = append(out, w)
	}
	return out, rows.Err()
}
