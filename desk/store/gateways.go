package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/estatehq/estate/internal/wire"
)

// GatewayClaimLapse is how long a gateway id must have been silent before
// another token of the same site may report it (a replaced gateway, a
// renamed token). A gateway id never moves to another site.
const GatewayClaimLapse = 24 * time.Hour

// SaveGatewayStatus replaces a gateway's last heartbeat. A gateway id
// belongs to the site and token that first reported it: a heartbeat naming
// a gateway id of another site, or one another token reports (unless it has
// been silent for GatewayClaimLapse), changes nothing and is ErrConflict.
// token identifies the reporting token; a row saved before tokens were
// recorded (an empty token) is claimed by the next heartbeat of its site.
func (s *Store) SaveGatewayStatus(ctx context.Context, st wire.GatewayStatus, token string, received time.Time) error {
	data, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("save gateway status: %w", err)
	}
	res, err := s.db.ExecContext(ctx, s.q(`INSERT INTO gateway_status (gateway, site, token, received_at, status) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (gateway) DO UPDATE SET token = excluded.token, received_at = excluded.received_at, status = excluded.status
		WHERE gateway_status.site = excluded.site
		AND (gateway_status.token = '' OR gateway_status.token = excluded.token OR gateway_status.received_at < ?)`),
		st.Gateway, st.Site, token, received.UnixNano(), string(data), received.Add(-GatewayClaimLapse).UnixNano())
	if err != nil {
		return fmt.Errorf("save gateway status of %s: %w", st.Gateway, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("save gateway status of %s: %w", st.Gateway, err)
	} else if n == 0 {
		return fmt.Errorf("%w: gateway %s is reported by another token or site", ErrConflict, st.Gateway)
	}
	// Alarms that open no ticket live in the heartbeats only while they
	// fire: the log keeps them for the control room until acknowledged.
	return s.logAlarms(ctx, st, received)
}

// GatewayHeard is a heartbeat with the time the desk received it.
type GatewayHeard struct {
	wire.GatewayStatus
	ReceivedAt time.Time `json:"received_at"`
}

// GatewayStatuses returns the last heartbeat of every gateway (of one site
// when site is not empty), ordered by site and gateway.
func (s *Store) GatewayStatuses(ctx context.Context, site string) ([]GatewayHeard, error) {
	q := `SELECT received_at, status FROM gateway_status`
	var args []any
	if site != "" {
		q += ` WHERE site = ?`
		args = append(args, site)
	}
	rows, err := s.db.QueryContext(ctx, s.q(q+` ORDER BY site, gateway`), args...)
	if err != nil {
		return nil, fmt.Errorf("gateway statuses: %w", err)
	}
	defer rows.Close()
	out := []GatewayHeard{}
	for rows.Next() {
		var received int64
		var data string
		if err := rows.Scan(&received, &data); err != nil {
			return nil, fmt.Errorf("gateway statuses: %w", err)
		}
		var g GatewayHeard
		if err := json.Unmarshal([]byte(data), &g.GatewayStatus); err != nil {
			return nil, fmt.Errorf("gateway statuses: stored status is not JSON: %w", err)
		}
		g.ReceivedAt = time.Unix(0, received)
		out = append(out, g)
	}
	return out, rows.Err()
}
