// Package orders is what the desk asks of a gateway, received in the
// heartbeat's answer (gateways sit behind NAT: the desk never calls them):
// maintenance windows, handed to the alarm engine, and commands that a
// person approved (a relay trip or close, a valve open or close, a Modbus
// write), run here once each by the desk's id, even across restarts, and
// their outcomes reported back in the next heartbeats until the desk
// acknowledges them.
//
// A command is recorded in the state file (gateway/statedb, table
// commands) before it is sent: queued, then sending, then done with its
// outcome. A command the desk hands again is not run again. One that was
// being sent when the gateway stopped is not sent again either: whether
// the device applied it is unknown, and it is reported as failed so that a
// person looks at the device before asking again.
package orders

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/estatehq/estate/devices"
	"github.com/estatehq/estate/internal/promreg"
	"github.com/estatehq/estate/internal/wire"
)

// Command states in the state file.
const (
	stateQueued  = "queued"
	stateSending = "sending"
	stateDone    = "done"
)

// DefaultTimeout bounds one command (the driver's own timeouts are shorter).
const DefaultTimeout = 30 * time.Second

// Windows is where the desk's maintenance windows go (the alarm engine).
type Windows interface {
	SetWindows(ws []wire.Window) []error
}

// Options configure a Runner.
type Options struct {
	// DB is the gateway's state file (statedb.OpenGateway).
	DB *sql.DB
	// Devices are the commandable drivers, by device id.
	Devices map[string]devices.Commander
	Windows Windows
	Log     *slog.Logger
	// Now is the clock (results' times); time.Now if nil.
	Now func() time.Time
	// Timeout bounds one command; DefaultTimeout if zero.
	Timeout  time.Duration
	Registry prometheus.Registerer
}

// Runner receives the desk's orders and runs its commands. Safe for
// concurrent use.
type Runner struct {
	db      *sql.DB
	devs    map[string]devices.Commander
	windows Windows
	log     *slog.Logger
	now     func() time.Time
	timeout time.Duration
	wake    chan struct{}
	runs    *prometheus.CounterVec

	mu      sync.Mutex
	held    []string // the ids of the windows held
	invalid string   // the last invalid windows' error, logged once
}

// New opens the runner on the state file: commands that were being sent
// when the gateway stopped are marked failed (not sent again), and the
// windows of the last answer are handed to the engine again.
func New(ctx context.Context, o Options) (*Runner, error) {
	r := &Runner{db: o.DB, devs: o.Devices, windows: o.Windows, log: o.Log, now: o.Now, timeout: o.Timeout, wake: make(chan struct{}, 1)}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.timeout <= 0 {
		r.timeout = DefaultTimeout
	}
	r.runs = promreg.Register(promreg.OrPrivate(o.Registry), prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "estate_gateway_commands_total", Help: "Desk commands run by the gateway, by outcome."}, []string{"outcome"}))
	res, err := r.db.ExecContext(ctx, `UPDATE commands SET state = ?, outcome = ?, detail = ?, done = ? WHERE state = ?`,
		stateDone, wire.OutcomeFailed, "the gateway stopped while the command was being sent: whether the device applied it is unknown; check it before asking again",
		r.now().UnixNano(), stateSending)
	if err != nil {
		return nil, fmt.Errorf("commands: %w", err)
	}
	if n, _ := res.RowsAffected(); n > 0 {
		r.log.Warn("commands interrupted by a restart are reported as failed, not sent again", "commands", n)
	}
	ws, err := r.savedWindows(ctx)
	if err != nil {
		return nil, err
	}
	r.setWindows(ws)
	return r, nil
}

func (r *Runner) savedWindows(ctx context.Context) ([]wire.Window, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT body FROM windows ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("windows: %w", err)
	}
	defer rows.Close()
	var ws []wire.Window
	for rows.Next() {
		var body string
		if err := rows.Scan(&body); err != nil {
			return nil, err
		}
		var w wire.Window
		if json.Unmarshal([]byte(body), &w) == nil {
			ws = append(ws, w)
		}
	}
	return ws, rows.Err()
}

func (r *Runner) setWindows(ws []wire.Window) {
	ids := make([]string, 0, len(ws))
	for _, w := range ws {
		ids = append(ids, w.ID)
	}
	var bad []error
	if r.windows != nil {
		bad = r.windows.SetWindows(ws)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(bad) > 0 && errors.Join(bad...).Error() != r.invalid {
		r.invalid = errors.Join(bad...).Error()
		r.log.Warn("the desk handed invalid maintenance windows; they are ignored", "err", r.invalid)
	}
	r.held = ids
}

// Windows are the ids of the windows held (for the heartbeat).
func (r *Runner) Windows() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.held)
}

// Answer takes the desk's answer to a heartbeat: the windows replace those
// held (and are saved), acknowledged results are no longer reported, and
// new commands are queued (each id once, ever).
func (r *Runner) Answer(ctx context.Context, a wire.HeartbeatAnswer) error {
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("desk answer: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM windows`); err != nil {
		return err
	}
	for _, w := range a.Windows {
		body, err := json.Marshal(w)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO windows (id, body) VALUES (?, ?)`, w.ID, string(body)); err != nil {
			return err
		}
	}
	for _, id := range a.Acked {
		if _, err := tx.ExecContext(ctx, `UPDATE commands SET acked = ? WHERE id = ? AND state = ?`, r.now().UnixNano(), id, stateDone); err != nil {
			return err
		}
	}
	queued := 0
	for _, c := range a.Commands {
		body, err := json.Marshal(c)
		if err != nil {
			return err
		}
		// The id is the key: a command handed again (the desk has not yet
		// seen its result) is not queued again.
		res, err := tx.ExecContext(ctx, `INSERT INTO commands (id, body, state, received) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
			c.ID, string(body), stateQueued, r.now().UnixNano())
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n > 0 {
			queued++
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("desk answer: %w", err)
	}
	r.setWindows(a.Windows)
	if queued > 0 {
		select {
		case r.wake <- struct{}{}:
		default:
		}
	}
	return nil
}

// Results are the outcomes the desk has not acknowledged yet.
func (r *Runner) Results(ctx context.Context) []wire.CommandResult {
	rows, err := r.db.QueryContext(ctx, `SELECT id, outcome, detail, done FROM commands WHERE state = ? AND acked IS NULL ORDER BY id LIMIT 500`, stateDone)
	if err != nil {
		r.log.Error("command results", "err", err)
		return nil
	}
	defer rows.Close()
	var out []wire.CommandResult
	for rows.Next() {
		var res wire.CommandResult
		var detail sql.NullString
		var done int64
		if err := rows.Scan(&res.ID, &res.Outcome, &detail, &done); err != nil {
			r.log.Error("command results", "err", err)
			return out
		}
		res.Detail, res.At = detail.String, time.Unix(0, done)
		out = append(out, res)
	}
	return out
}

// Run sends the queued commands, one at a time, until ctx ends.
func (r *Runner) Run(ctx context.Context) {
	for {
		for {
			id, c, ok := r.next(ctx)
			if !ok {
				break
			}
			r.send(ctx, id, c)
		}
		select {
		case <-ctx.Done():
			return
		case <-r.wake:
		}
	}
}

// next takes the oldest queued command and marks it sending, in one step:
// from here on it is never sent again.
func (r *Runner) next(ctx context.Context) (int64, wire.Command, bool) {
	var id int64
	var body string
	err := r.db.QueryRowContext(ctx, `SELECT id, body FROM commands WHERE state = ? ORDER BY id LIMIT 1`, stateQueued).Scan(&id, &body)
	if err != nil {
		if !errors.Is(err, sql.ErrNoRows) && ctx.Err() == nil {
			r.log.Error("commands", "err", err)
		}
		return 0, wire.Command{}, false
	}
	if _, err := r.db.ExecContext(ctx, `UPDATE commands SET state = ? WHERE id = ? AND state = ?`, stateSending, id, stateQueued); err != nil {
		r.log.Error("commands", "err", err)
		return 0, wire.Command{}, false
	}
	var c wire.Command
	if err := json.Unmarshal([]byte(body), &c); err != nil {
		r.finish(id, wire.OutcomeRejected, "the command could not be read: "+err.Error())
		return r.next(ctx)
	}
	return id, c, true
}

// send runs one command on its device and records the outcome.
func (r *Runner) send(ctx context.Context, id int64, c wire.Command) {
	outcome, detail := r.execute(ctx, c)
	r.finish(id, outcome, detail)
	r.runs.WithLabelValues(outcome).Inc()
	r.log.Info("desk command run", "command", id, "device", c.Device, "action", c.Action, "point", c.Point, "outcome", outcome, "detail", detail)
}

func (r *Runner) execute(ctx context.Context, c wire.Command) (string, string) {
	if err := c.Validate(); err != nil {
		return wire.OutcomeRejected, err.Error()
	}
	d, ok := r.devs[c.Device]
	if !ok {
		return wire.OutcomeRejected, fmt.Sprintf("device %s is not one this gateway can command", c.Device)
	}
	if need := wire.Control(c.Action, c.Point); !slices.Contains(d.Controls(), need) {
		return wire.OutcomeRejected, fmt.Sprintf("device %s does not allow %s: its configuration has the control off", c.Device, c.Action)
	}
	cctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	err := d.Command(cctx, devices.Command{Action: c.Action, Point: c.Point, Value: c.Value, Until: c.Until})
	var refused *devices.RefusedError
	switch {
	case err == nil:
		return wire.OutcomeDone, ""
	case errors.Is(err, devices.ErrNotAllowed):
		return wire.OutcomeRejected, err.Error()
	case errors.As(err, &refused):
		return wire.OutcomeRefused, err.Error()
	case errors.Is(err, devices.ErrNoAnswer), errors.Is(err, context.DeadlineExceeded):
		return wire.OutcomeTimedOut, err.Error()
	}
	return wire.OutcomeFailed, err.Error()
}

func (r *Runner) finish(id int64, outcome, detail string) {
	// The outcome is recorded even when the gateway is stopping: it was sent.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := r.db.ExecContext(ctx, `UPDATE commands SET state = ?, outcome = ?, detail = ?, done = ? WHERE id = ?`,
		stateDone, outcome, detail, r.now().UnixNano(), id); err != nil {
		r.log.Error("command outcome not recorded", "command", id, "err", err)
	}
}
