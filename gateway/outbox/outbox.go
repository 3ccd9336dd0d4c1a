// Package outbox delivers the gateway's alarm actions (open a ticket, note a
// change, note a clearing) to the desk exactly once. Each action is committed
// to the actions table of the gateway's state file (gateway/statedb: SQLite,
// WAL, synchronous FULL) before it counts as accepted, in the same transaction
// as the alarm transition that asks for it (Insert, called by the alarm
// engine's store), with an idempotency key derived from its alarm episode;
// adding the same key twice is a no-op, and the desk applies each key once, so
// a desk outage, a lost answer or a SIGKILL between send and acknowledge cannot
// duplicate or lose a ticket. Delivery is in order (oldest first, so in order
// per alarm), behind a circuit breaker with backoff while the desk is down.
package outbox

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/estatehq/estate/gateway/statedb"
	"github.com/estatehq/estate/internal/wire"
)

// Sender applies alarm actions on the desk.
type Sender interface {
	ApplyAlarmAction(ctx context.Context, a wire.AlarmAction) (wire.AlarmActionResult, error)
}

// Delivered is told about every action the desk applied (for logs and tests).
type Delivered func(wire.AlarmAction, wire.AlarmActionResult)

// Outbox is a persistent, deduplicating FIFO of alarm actions.
type Outbox struct {
	db     *sql.DB
	own    bool // Open opened db: Close closes it
	sender Sender
	log    *slog.Logger
	m      *Metrics
	wake   chan struct{}
	now    func() time.Time
	// Keep is how long delivered keys are remembered to refuse re-adds (default 7 days).
	Keep time.Duration
}

// Options configure an outbox.
type Options struct {
	Sender Sender
	Log    *slog.Logger
	// Metrics are where delivery is counted; nil: a private registry.
	Metrics *Metrics
}

// New is the outbox of a state file (statedb.Open), whose actions table the
// alarm engine fills through Insert. Close leaves db open: its owner closes it.
func New(db *sql.DB, o Options) *Outbox {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics(nil)
	}
	ob := &Outbox{db: db, sender: o.Sender, log: o.Log, m: o.Metrics, wake: make(chan struct{}, 1), now: time.Now,
		Keep: 7 * 24 * time.Hour}
	if n := ob.Pending(); n > 0 {
		ob.log.Info("outbox: resuming delivery of alarm actions from before the restart", "pending", n)
	}
	ob.refreshGauge()
	return ob
}

// Open opens (creating) a state file at path and its outbox, for a tool or a
// test that has no alarm engine; Close closes the file.
func Open(path string, sender Sender, log *slog.Logger) (*Outbox, error) {
	db, err := statedb.Open(path)
	if err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	o := New(db, Options{Sender: sender, Log: log})
	o.own = true
	return o, nil
}

// Close closes the database if Open opened it; Run must have returned.
func (o *Outbox) Close() error {
	if !o.own {
		return nil
	}
	return o.db.Close()
}

// Execer is a transaction (or a database) that Insert writes to.
type Execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// Insert appends an action to the outbox table within tx: the alarm engine's
// store calls it in the transaction that records the transition asking for
// the action, then Wake. An action whose idempotency key is already in the
// outbox (pending or delivered within Keep) is not added again.
func Insert(ctx context.Context, tx Execer, a wire.AlarmAction, now time.Time) error {
	if err := a.Validate(); err != nil {
		return fmt.Errorf("outbox: refusing an invalid action: %w", err)
	}
	body, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("outbox: encode: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO actions (idem, alarm_key, body, enqueued) VALUES (?, ?, ?, ?)
		ON CONFLICT(idem) DO NOTHING`, a.IdempotencyKey, a.AlarmKey, string(body), now.UnixNano()); err != nil {
		return fmt.Errorf("outbox: add %s: %w", a.IdempotencyKey, err)
	}
	return nil
}

// Add commits an action on its own; Run delivers it.
func (o *Outbox) Add(a wire.AlarmAction) error {
	if err := Insert(context.Background(), o.db, a, o.now()); err != nil {
		return err
	}
	o.Wake()
	return nil
}

// Wake tells Run that actions were committed (by Add, or by the alarm
// engine's transaction) and refreshes the backlog gauge.
func (o *Outbox) Wake() {
	o.refreshGauge()
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// Pending is how many actions wait for the desk.
func (o *Outbox) Pending() int {
	var n int
	if err := o.db.QueryRow(`SELECT count(*) FROM actions WHERE done IS NULL`).Scan(&n); err != nil {
		o.log.Error("outbox: count", "err", err)
	}
	return n
}

func (o *Outbox) refreshGauge() { o.m.pending.Set(float64(o.Pending())) }

// head returns the oldest pending action.
func (o *Outbox) head() (seq int64, a wire.AlarmAction, ok bool, err error) {
	var body string
	err = o.db.QueryRow(`SELECT seq, body FROM actions WHERE done IS NULL ORDER BY seq LIMIT 1`).Scan(&seq, &body)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, a, false, nil
	}
	if err != nil {
		return 0, a, false, fmt.Errorf("outbox: read: %w", err)
	}
	if err := json.Unmarshal([]byte(body), &a); err != nil {
		return seq, a, true, fmt.Errorf("outbox: action %d is corrupt: %w", seq, err)
	}
	return seq, a, true, nil
}

func (o *Outbox) finish(seq int64, outcome string) error {
	_, err := o.db.Exec(`UPDATE actions SET done = ?, outcome = ? WHERE seq = ?`, o.now().UnixNano(), outcome, seq)
	if err != nil {
		return fmt.Errorf("outbox: mark %d %s: %w", seq, outcome, err)
	}
	o.refreshGauge()
	return nil
}

// Run delivers actions oldest first until ctx ends. While the desk fails the
// breaker holds delivery back (logging the outage once and its end once).
func (o *Outbox) Run(ctx context.Context, onDelivered Delivered) {
	b := newBreaker()
	failing := false
	prune := time.NewTicker(time.Hour)
	defer prune.Stop()
	o.prune()
	sleep := func(d time.Duration) bool {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return true
		case <-prune.C:
			o.prune()
			return true
		}
	}
	for ctx.Err() == nil {
		if d := b.wait(o.now()); d > 0 {
			if !sleep(d) {
				return
			}
			continue
		}
		seq, a, ok, err := o.head()
		if err != nil {
			o.log.Error("outbox: dropping an unreadable action", "seq", seq, "err", err)
			if seq != 0 {
				_ = o.finish(seq, "rejected: unreadable")
			} else if !sleep(time.Second) {
				return
			}
			continue
		}
		if !ok {
			select {
			case <-ctx.Done():
				return
			case <-o.wake:
			case <-prune.C:
				o.prune()
			}
			continue
		}
		callCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		res, err := o.sender.ApplyAlarmAction(callCtx, a)
		cancel()
		if ctx.Err() != nil {
			return // the action stays pending; the desk deduplicates a resend
		}
		_, _ = o.db.Exec(`UPDATE actions SET attempts = attempts + 1 WHERE seq = ?`, seq)
		var perm interface{ Permanent() bool }
		switch {
		case err == nil:
			if err := o.finish(seq, "delivered"); err != nil {
				o.log.Error("outbox: cannot record a delivery (it will be resent; the desk deduplicates)", "err", err)
			}
			o.m.delivered.Inc()
			b.success()
			o.m.breakerOpen.Set(0)
			if failing {
				o.log.Info("desk reachable again; delivering queued alarm actions", "pending", o.Pending())
				failing = false
			}
			if onDelivered != nil {
				onDelivered(a, res)
			}
		case errors.As(err, &perm) && perm.Permanent():
			o.m.rejected.Inc()
			o.log.Error("desk refused an alarm action; dropping it", "alarm", a.AlarmKey, "action", a.Action, "err", err)
			_ = o.finish(seq, "rejected: "+err.Error())
		default:
			o.m.failures.Inc()
			d := b.failure(o.now())
			if b.state == open {
				o.m.breakerOpen.Set(1)
			}
			if !failing {
				o.log.Error("desk unreachable; alarm actions wait in the outbox", "err", err, "pending", o.Pending())
				failing = true
			}
			if !sleep(d) {
				return
			}
		}
	}
}

// prune forgets delivered actions older than Keep.
func (o *Outbox) prune() {
	cut := o.now().Add(-o.Keep).UnixNano()
	if _, err := o.db.Exec(`DELETE FROM actions WHERE done IS NOT NULL AND done < ?`, cut); err != nil {
		o.log.Error("outbox: prune", "err", err)
	}
}
