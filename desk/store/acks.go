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

// AlarmLogRetention is how long episodes of alarms that open no ticket are
// kept: long after they ended, for the duty log's questions.
const AlarmLogRetention = 90 * 24 * time.Hour

// LoggedAlarm is one episode of an alarm that opens no ticket (a forced door
// with ticket: none), as the desk keeps it from the heartbeats: the alarm as
// last reported, when it was last reported, and its acknowledgement.
type LoggedAlarm struct {
	wire.Alarm
	Site     string    `json:"site"`
	Gateway  string    `json:"gateway"`
	LastSeen time.Time `json:"last_seen"`
	AckedBy  string    `json:"acknowledged_by,omitempty"`
	AckedAt  *time.Time
}

// Logged reports whether an alarm of a heartbeat is kept in the alarm log:
// a firing alarm that opens no ticket and is not suppressed.
func Logged(a wire.Alarm) bool {
	return !a.Ticketed && a.Suppressed == "" && a.State == "firing" && !a.Since.IsZero()
}

// logAlarms records the logged alarms of a heartbeat: new episodes are
// added, known ones get their last report.
func (s *Store) logAlarms(ctx context.Context, st wire.GatewayStatus, received time.Time) error {
	var todo []wire.Alarm
	for _, a := range st.Alarms {
		if Logged(a) {
			todo = append(todo, a)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		for _, a := range todo {
			data, err := json.Marshal(a)
			if err != nil {
				return err
			}
			if _, err := s.txExec(ctx, tx, `INSERT INTO alarm_log (site, alarm_key, since, gateway, alarm, last_seen) VALUES (?, ?, ?, ?, ?, ?)
				ON CONFLICT (site, alarm_key, since) DO UPDATE SET alarm = excluded.alarm, last_seen = excluded.last_seen, gateway = excluded.gateway`,
				st.Site, a.Key, nanos(a.Since), st.Gateway, string(data), nanos(received)); err != nil {
				return fmt.Errorf("log alarm %s: %w", a.Key, err)
			}
		}
		return nil
	})
}

// AlarmLog returns the logged episodes of a site ("" for every site) last
// reported since from, oldest first.
func (s *Store) AlarmLog(ctx context.Context, site string, from time.Time) ([]LoggedAlarm, error) {
	q := `SELECT site, gateway, alarm, last_seen, acked_by, acked_at FROM alarm_log WHERE last_seen >= ?`
	args := []any{nanos(from)}
	if site != "" {
		q += ` AND site = ?`
		args = append(args, site)
	}
	rows, err := s.db.QueryContext(ctx, s.q(q+` ORDER BY since, alarm_key`), args...)
	if err != nil {
		return nil, fmt.Errorf("alarm log: %w", err)
	}
	defer rows.Close()
	out := []LoggedAlarm{}
	for rows.Next() {
		var l LoggedAlarm
		var data string
		var seen int64
		var at sql.NullInt64
		if err := rows.Scan(&l.Site, &l.Gateway, &data, &seen, &l.AckedBy, &at); err != nil {
			return nil, fmt.Errorf("alarm log: %w", err)
		}
		if err := json.Unmarshal([]byte(data), &l.Alarm); err != nil {
			return nil, fmt.Errorf("alarm log: %w", err)
		}
		l.LastSeen, l.AckedAt = time.Unix(0, seen), timePtr(at)
		out = append(out, l)
	}
	return out, rows.Err()
}

// AckAlarm records who acknowledged an episode; the first acknowledgement
// stands (a second click, or a second console, changes nothing) and the
// episode is returned. ErrNotFound: the site has no such episode.
func (s *Store) AckAlarm(ctx context.Context, site, key string, since time.Time, by string, now time.Time) (LoggedAlarm, error) {
	if _, err := s.db.ExecContext(ctx, s.q(`UPDATE alarm_log SET acked_by = ?, acked_at = ? WHERE site = ? AND alarm_key = ? AND since = ? AND acked_by = ''`),
		by, nanos(now), site, key, nanos(since)); err != nil {
		return LoggedAlarm{}, fmt.Errorf("acknowledge alarm %s: %w", key, err)
	}
	var l LoggedAlarm
	var data string
	var seen int64
	var at sql.NullInt64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT site, gateway, alarm, last_seen, acked_by, acked_at FROM alarm_log WHERE site = ? AND alarm_key = ? AND since = ?`),
		site, key, nanos(since)).Scan(&l.Site, &l.Gateway, &data, &seen, &l.AckedBy, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return LoggedAlarm{}, ErrNotFound
	}
	if err != nil {
		return LoggedAlarm{}, fmt.Errorf("acknowledge alarm %s: %w", key, err)
	}
	if err := json.Unmarshal([]byte(data), &l.Alarm); err != nil {
		return LoggedAlarm{}, fmt.Errorf("acknowledge alarm %s: %w", key, err)
	}
	l.LastSeen, l.AckedAt = time.Unix(0, seen), timePtr(at)
	return l, nil
}
