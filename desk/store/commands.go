package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/estatehq/estate/internal/wire"
)

// Command statuses: requested, then approved (by a manager or a site's rule)
// or rejected; an approved command is delivered to its gateway, which
// reports its outcome (wire.OutcomeDone, …), the final status.
const (
	CommandRequested = "requested"
	CommandApproved  = "approved"
	CommandRejected  = "rejected"
	CommandDelivered = "delivered"
)

// DeviceCommand is a command to one device and where it is in its life.
type DeviceCommand struct {
	ID          int64      `json:"id"`
	Site        string     `json:"site"`
	Gateway     string     `json:"gateway"`
	Device      string     `json:"device"`
	Action      string     `json:"action"`
	Point       string     `json:"point,omitempty"`
	Value       float64    `json:"value"`
	Reason      string     `json:"reason"`
	Status      string     `json:"status"`
	RequestedBy string     `json:"requested_by"`
	RequestedAt time.Time  `json:"requested_at"`
	ApprovedBy  string     `json:"approved_by,omitempty"`
	ApprovedAt  *time.Time `json:"approved_at,omitempty"`
	DeliveredAt *time.Time `json:"delivered_at,omitempty"`
	ResultAt    *time.Time `json:"result_at,omitempty"`
	Outcome     string     `json:"outcome,omitempty"`
	Detail      string     `json:"detail,omitempty"`
}

// CommandStep is one audit entry of a command.
type CommandStep struct {
	At    time.Time `json:"at"`
	Actor string    `json:"actor"`
	Step  string    `json:"step"`
	Note  string    `json:"note,omitempty"`
}

const commandColumns = `id, site, gateway, device, action, point, value, reason, status, requested_by, requested_at,
	approved_by, approved_at, delivered_at, result_at, outcome, detail`

func scanCommand(row interface{ Scan(...any) error }) (DeviceCommand, error) {
	var c DeviceCommand
	var req int64
	var approved, delivered, result sql.NullInt64
	if err := row.Scan(&c.ID, &c.Site, &c.Gateway, &c.Device, &c.Action, &c.Point, &c.Value, &c.Reason, &c.Status,
		&c.RequestedBy, &req, &c.ApprovedBy, &approved, &delivered, &result, &c.Outcome, &c.Detail); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return c, ErrNotFound
		}
		return c, err
	}
	c.RequestedAt = time.Unix(0, req)
	c.ApprovedAt, c.DeliveredAt, c.ResultAt = timePtr(approved), timePtr(delivered), timePtr(result)
	return c, nil
}

// commandAudit records a step of a command, and its event for the
// consoles of the site (command.requested, .approved, .rejected, .delivered,
// .done, .refused, .timed_out…), in the step's transaction.
func (s *Store) commandAudit(ctx context.Context, tx *sql.Tx, site string, id int64, at time.Time, actor, step, note string) error {
	if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO command_audit (command_id, at, actor, step, note) VALUES (?, ?, ?, ?, ?)`),
		id, nanos(at), actor, step, note); err != nil {
		return err
	}
	return s.objectEvent(tx, at, "command."+step, site, ObjectEvent{ID: id, Step: step, By: actor})
}

// CreateCommand records a requested command with its audit entry; approver,
// when not empty, is a site rule that approves it at once (audited too).
func (s *Store) CreateCommand(ctx context.Context, c DeviceCommand, approver, ruleNote string) (DeviceCommand, error) {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, s.q(`INSERT INTO commands (site, gateway, device, action, point, value, reason, status, requested_by, requested_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`), c.Site, c.Gateway, c.Device, c.Action, c.Point, c.Value, c.Reason,
			CommandRequested, c.RequestedBy, nanos(c.RequestedAt)).Scan(&c.ID); err != nil {
			return err
		}
		if err := s.commandAudit(ctx, tx, c.Site, c.ID, c.RequestedAt, c.RequestedBy, "requested", c.Reason); err != nil {
			return err
		}
		if approver == "" {
			return nil
		}
		return s.approveTx(ctx, tx, c.Site, c.ID, approver, ruleNote, c.RequestedAt)
	})
	if err != nil {
		return c, fmt.Errorf("create command: %w", err)
	}
	return s.GetCommand(ctx, c.Site, c.ID)
}

// GetCommand returns one command of a site (site "": of any site).
func (s *Store) GetCommand(ctx context.Context, site string, id int64) (DeviceCommand, error) {
	q, args := `SELECT `+commandColumns+` FROM commands WHERE id = ?`, []any{id}
	if site != "" {
		q += ` AND site = ?`
		args = append(args, site)
	}
	c, err := scanCommand(s.db.QueryRowContext(ctx, s.q(q), args...))
	if err != nil {
		return c, fmt.Errorf("command %d: %w", id, err)
	}
	return c, nil
}

// ListCommands returns a site's commands (site "": every site's), newest
// first, at most limit; device, when not empty, selects one device's.
func (s *Store) ListCommands(ctx context.Context, site, device string, limit int) ([]DeviceCommand, error) {
	q, args := `SELECT `+commandColumns+` FROM commands WHERE 1 = 1`, []any{}
	if site != "" {
		q += ` AND site = ?`
		args = append(args, site)
	}
	if device != "" {
		q += ` AND device = ?`
		args = append(args, device)
	}
	q += ` ORDER BY id DESC LIMIT ?`
	args = append(args, limit)
	rows, err := s.db.QueryContext(ctx, s.q(q), args...)
	if err != nil {
		return nil, fmt.Errorf("list commands: %w", err)
	}
	defer rows.Close()
	out := []DeviceCommand{}
	for rows.Next() {
		c, err := scanCommand(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// CommandAudit returns a command's steps, in order.
func (s *Store) CommandAudit(ctx context.Context, id int64) ([]CommandStep, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT at, actor, step, note FROM command_audit WHERE command_id = ? ORDER BY id`), id)
	if err != nil {
		return nil, fmt.Errorf("audit of command %d: %w", id, err)
	}
	defer rows.Close()
	out := []CommandStep{}
	for rows.Next() {
		var st CommandStep
		var at int64
		if err := rows.Scan(&at, &st.Actor, &st.Step, &st.Note); err != nil {
			return nil, err
		}
		st.At = time.Unix(0, at)
		out = append(out, st)
	}
	return out, rows.Err()
}

func (s *Store) approveTx(ctx context.Context, tx *sql.Tx, site string, id int64, by, note string, now time.Time) error {
	if err := s.moveCommand(ctx, tx, site, id, CommandRequested, `status = ?, approved_by = ?, approved_at = ?`,
		CommandApproved, by, nanos(now)); err != nil {
		return err
	}
	return s.commandAudit(ctx, tx, site, id, now, by, "approved", note)
}

// moveCommand updates a command in status from; ErrNotFound or ErrConflict
// (with the status it is in) when it is not there or not in from.
func (s *Store) moveCommand(ctx context.Context, tx *sql.Tx, site string, id int64, from, set string, args ...any) error {
	args = append(args, id, site, from)
	res, err := tx.ExecContext(ctx, s.q(`UPDATE commands SET `+set+` WHERE id = ? AND site = ? AND status = ?`), args...)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n > 0 {
		return nil
	}
	var status string
	err = tx.QueryRowContext(ctx, s.q(`SELECT status FROM commands WHERE id = ? AND site = ?`), id, site).Scan(&status)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	if err != nil {
		return err
	}
	return fmt.Errorf("%w: the command is %s, not %s", ErrConflict, status, from)
}

// ApproveCommand approves a requested command; it goes to its gateway with
// the next heartbeat.
func (s *Store) ApproveCommand(ctx context.Context, site string, id int64, by, note string, now time.Time) (DeviceCommand, error) {
	if err := s.inTx(ctx, func(tx *sql.Tx) error { return s.approveTx(ctx, tx, site, id, by, note, now) }); err != nil {
		return DeviceCommand{}, fmt.Errorf("approve command %d: %w", id, err)
	}
	return s.GetCommand(ctx, site, id)
}

// RejectCommand rejects a requested command.
func (s *Store) RejectCommand(ctx context.Context, site string, id int64, by, note string, now time.Time) (DeviceCommand, error) {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.moveCommand(ctx, tx, site, id, CommandRequested, `status = ?`, CommandRejected); err != nil {
			return err
		}
		return s.commandAudit(ctx, tx, site, id, now, by, "rejected", note)
	})
	if err != nil {
		return DeviceCommand{}, fmt.Errorf("reject command %d: %w", id, err)
	}
	return s.GetCommand(ctx, site, id)
}

// DeliverCommands returns the approved commands of a gateway of a site that
// have no result yet, marking the first delivery of each (audited): they go
// in the heartbeat's answer until the gateway reports their result.
func (s *Store) DeliverCommands(ctx context.Context, site, gateway string, now time.Time) ([]wire.Command, error) {
	out := []wire.Command{}
	// Most heartbeats find nothing: a read first, so that they take no write lock.
	var n int
	if err := s.db.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM commands WHERE site = ? AND gateway = ? AND status IN (?, ?)`),
		site, gateway, CommandApproved, CommandDelivered).Scan(&n); err != nil {
		return nil, fmt.Errorf("commands for %s: %w", gateway, err)
	}
	if n == 0 {
		return out, nil
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		out = out[:0]
		rows, err := tx.QueryContext(ctx, s.q(`SELECT id, device, action, point, value, status FROM commands
			WHERE site = ? AND gateway = ? AND status IN (?, ?) ORDER BY id`), site, gateway, CommandApproved, CommandDelivered)
		if err != nil {
			return err
		}
		var fresh []int64
		for rows.Next() {
			var c wire.Command
			var status string
			if err := rows.Scan(&c.ID, &c.Device, &c.Action, &c.Point, &c.Value, &status); err != nil {
				rows.Close()
				return err
			}
			if status == CommandApproved {
				fresh = append(fresh, c.ID)
			}
			out = append(out, c)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, id := range fresh {
			if err := s.moveCommand(ctx, tx, site, id, CommandApproved, `status = ?, delivered_at = ?`, CommandDelivered, nanos(now)); err != nil {
				return err
			}
			if err := s.commandAudit(ctx, tx, site, id, now, "gateway:"+gateway, "delivered", ""); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("commands for %s: %w", gateway, err)
	}
	return out, nil
}

// RecordResults records what a gateway reports of its commands: each
// result once (a repeated report changes nothing), and only for commands
// of that site and gateway. It returns the ids the gateway may stop
// reporting: those recorded now or before, and ids that are not its own.
func (s *Store) RecordResults(ctx context.Context, site, gateway string, results []wire.CommandResult, now time.Time) ([]int64, error) {
	if len(results) == 0 {
		return nil, nil
	}
	acked := make([]int64, 0, len(results))
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		acked = acked[:0]
		for _, r := range results {
			res, err := tx.ExecContext(ctx, s.q(`UPDATE commands SET status = ?, outcome = ?, detail = ?, result_at = ?
				WHERE id = ? AND site = ? AND gateway = ? AND status IN (?, ?)`),
				r.Outcome, r.Outcome, r.Detail, nanos(now), r.ID, site, gateway, CommandApproved, CommandDelivered)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n > 0 {
				note := r.Detail
				if !r.At.IsZero() {
					note = fmt.Sprintf("at %s on the gateway; %s", r.At.UTC().Format(time.RFC3339), r.Detail)
				}
				if err := s.commandAudit(ctx, tx, site, r.ID, now, "gateway:"+gateway, r.Outcome, note); err != nil {
					return err
				}
			}
			acked = append(acked, r.ID)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("results of %s: %w", gateway, err)
	}
	return acked, nil
}

// TopUpClosedSince reports whether a meter's top-up reminder was closed (the
// household bought power) at or after since: a site's rule may then approve
// closing its relay by itself.
func (s *Store) TopUpClosedSince(ctx context.Context, site, device string, since time.Time) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM tickets WHERE site = ? AND device = ? AND kind = ? AND status = ? AND updated_at >= ?`),
		site, device, string(wire.TopUp), string(wire.Closed), nanos(since)).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("top-ups of %s: %w", device, err)
	}
	return n > 0, nil
}
