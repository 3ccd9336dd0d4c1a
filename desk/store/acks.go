package store

import (
	"context"
	"fmt"
	"time"
)

// AlarmAckRetention is how long acknowledgements of ticketless alarms are
// kept: long after their episode has ended, for the duty log's questions.
const AlarmAckRetention = 90 * 24 * time.Hour

// AlarmAck is the control room's acknowledgement of one episode of an alarm
// that opens no ticket (a forced door with ticket: none): the alarm's key and
// the time it fired name the episode.
type AlarmAck struct {
	Site     string    `json:"site"`
	AlarmKey string    `json:"alarm_key"`
	Since    time.Time `json:"since"`
	By       string    `json:"acknowledged_by"`
	At       time.Time `json:"acknowledged_at"`
}

// AckAlarm records an acknowledgement; the first one of an episode stands
// (a second click, or a second console, changes nothing) and is returned.
func (s *Store) AckAlarm(ctx context.Context, a AlarmAck) (AlarmAck, error) {
	if _, err := s.db.ExecContext(ctx, s.q(`INSERT INTO alarm_acks (site, alarm_key, since, acked_by, acked_at)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`), a.Site, a.AlarmKey, nanos(a.Since), a.By, nanos(a.At)); err != nil {
		return AlarmAck{}, fmt.Errorf("acknowledge alarm %s: %w", a.AlarmKey, err)
	}
	var since, at int64
	out := AlarmAck{Site: a.Site, AlarmKey: a.AlarmKey}
	err := s.db.QueryRowContext(ctx, s.q(`SELECT since, acked_by, acked_at FROM alarm_acks WHERE site = ? AND alarm_key = ? AND since = ?`),
		a.Site, a.AlarmKey, nanos(a.Since)).Scan(&since, &out.By, &at)
	if err != nil {
		return AlarmAck{}, fmt.Errorf("acknowledge alarm %s: %w", a.AlarmKey, err)
	}
	out.Since, out.At = time.Unix(0, since), time.Unix(0, at)
	return out, nil
}

// AlarmAcks returns the acknowledgements of a site's alarms ("" for every
// site) made since from, keyed by site, alarm key and episode.
func (s *Store) AlarmAcks(ctx context.Context, site string, from time.Time) (map[AlarmAckKey]AlarmAck, error) {
	q := `SELECT site, alarm_key, since, acked_by, acked_at FROM alarm_acks WHERE acked_at >= ?`
	args := []any{nanos(from)}
	if site != "" {
		q += ` AND site = ?`
		args = append(args, site)
	}
	rows, err := s.db.QueryContext(ctx, s.q(q), args...)
	if err != nil {
		return nil, fmt.Errorf("alarm acknowledgements: %w", err)
	}
	defer rows.Close()
	out := map[AlarmAckKey]AlarmAck{}
	for rows.Next() {
		var a AlarmAck
		var since, at int64
		if err := rows.Scan(&a.Site, &a.AlarmKey, &since, &a.By, &at); err != nil {
			return nil, fmt.Errorf("alarm acknowledgements: %w", err)
		}
		a.Since, a.At = time.Unix(0, since), time.Unix(0, at)
		out[AlarmAckKey{a.Site, a.AlarmKey, since}] = a
	}
	return out, rows.Err()
}

// AlarmAckKey names one episode of one alarm: site, key and the Unix
// nanoseconds it fired at.
type AlarmAckKey struct {
	Site, AlarmKey string
	Since          int64
}
