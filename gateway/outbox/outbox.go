// Package outbox delivers the gateway's alarm actions (open a ticket, note a
// change, note a clearing) to the desk exactly once. Each action is committed
// to the actions table of the gateway's state file (gateway/statedb: SQLite,
// WAL, synchronous FULL) before it counts as accepted, in the same transaction
// as the alarm transition that asks for it (Insert, called by the alarm
// engine's store), with an idempotency key derived from its alarm episode;
// adding the same key twice is a no-op, and the desk applies each key once, so
// a desk outage, a lost answer or a SIGKILL between send and acknowledge cannot
// duplicate or lose a ticket. Delivery is oldest first and in order per alarm,
// behind a circuit breaker with backoff while the desk is down.
//
// One action that the desk keeps refusing with a retryable error (a 5xx
// answer about that request, or no answer while the desk accepts other
// actions in between) must not hold back the others: it is retried
// with its own backoff while later actions of other alarms go ahead (later
// actions of the same alarm wait behind it, to keep the alarm's order), and
// after MaxAttempts refusals, once the desk has accepted some other action
// since its first refusal, it moves to the dead letter (the dead column of
// the state file), where `estate outbox list --dead` shows it and `estate
// outbox retry` sends it back (List, Retry). Outages (no answer, 502, 503,
// 504, 401, 403, 429, while nothing else is accepted either) say nothing about
// the action and never count: the outbox holds actions across an outage of
// any length, as it always did.
package outbox

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
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

	maxAttempts        int
	retryBase, retryMx time.Duration
	poll               time.Duration
	breakerBase        time.Duration
	// lastDelivered is when the desk last accepted an action (this process):
	// an action is only dead-lettered when the desk works for the others.
	lastDelivered time.Time
}

// DefaultMaxAttempts is Options.MaxAttempts when unset (gateway.outbox_max_attempts).
const DefaultMaxAttempts = 20

// Options configure an outbox.
type Options struct {
	Sender Sender
	Log    *slog.Logger
	// Metrics are where delivery is counted; nil: a private registry.
	Metrics *Metrics
	// MaxAttempts is how many retryable refusals of one action the desk may
	// answer before the action moves to the dead letter (default 20).
	MaxAttempts int
	// RetryBase and RetryMax bound the backoff of a refused action: the wait
	// doubles from RetryBase (default 1s) up to RetryMax (default 5 min), so
	// that 20 refusals take about an hour.
	RetryBase, RetryMax time.Duration
	// Poll is how often an idle outbox looks for actions that another process
	// released (`estate outbox retry`); default 5s.
	Poll time.Duration
	// BreakerBase is the circuit breaker's first wait (default 500ms); tests shorten it.
	BreakerBase time.Duration
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
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = DefaultMaxAttempts
	}
	if o.RetryBase <= 0 {
		o.RetryBase = time.Second
	}
	if o.RetryMax <= 0 {
		o.RetryMax = 5 * time.Minute
	}
	if o.Poll <= 0 {
		o.Poll = 5 * time.Second
	}
	if o.BreakerBase <= 0 {
		o.BreakerBase = 500 * time.Millisecond
	}
	ob := &Outbox{db: db, sender: o.Sender, log: o.Log, m: o.Metrics, wake: make(chan struct{}, 1), now: time.Now,
		Keep: 7 * 24 * time.Hour, maxAttempts: o.MaxAttempts, retryBase: o.RetryBase, retryMx: o.RetryMax,
		poll: o.Poll, breakerBase: o.BreakerBase}
	if n := ob.Dead(); n > 0 {
		ob.log.Warn("outbox: alarm actions in the dead letter wait for `estate outbox retry`", "dead", n)
	}
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

// Pending is how many actions wait for the desk (not the dead letter).
func (o *Outbox) Pending() int {
	var n int
	if err := o.db.QueryRow(`SELECT count(*) FROM actions WHERE done IS NULL AND dead IS NULL`).Scan(&n); err != nil {
		o.log.Error("outbox: count", "err", err)
	}
	return n
}

// Dead is how many actions are in the dead letter.
func (o *Outbox) Dead() int {
	var n int
	if err := o.db.QueryRow(`SELECT count(*) FROM actions WHERE done IS NULL AND dead IS NOT NULL`).Scan(&n); err != nil {
		o.log.Error("outbox: count dead letters", "err", err)
	}
	return n
}

func (o *Outbox) refreshGauge() {
	o.m.pending.Set(float64(o.Pending()))
	o.m.dead.Set(float64(o.Dead()))
}

// sendable is the condition of an action that may be sent: not done, not
// dead, and no earlier action of the same alarm still undelivered (pending,
// waiting for a retry, or dead): an alarm's actions reach the desk in order.
const sendable = `a.done IS NULL AND a.dead IS NULL AND NOT EXISTS (
	SELECT 1 FROM actions b WHERE b.alarm_key = a.alarm_key AND b.seq < a.seq AND b.done IS NULL)`

// head returns the oldest action that may be sent now, or, when none may,
// when the next one may (zero: none is waiting).
func (o *Outbox) head() (seq int64, a wire.AlarmAction, ok bool, next time.Time, err error) {
	var body string
	now := o.now().UnixNano()
	err = o.db.QueryRow(`SELECT seq, body FROM actions a WHERE `+sendable+` AND a.next_try <= ? ORDER BY seq LIMIT 1`, now).
		Scan(&seq, &body)
	if errors.Is(err, sql.ErrNoRows) {
		var at sql.NullInt64
		if err := o.db.QueryRow(`SELECT min(next_try) FROM actions a WHERE ` + sendable).Scan(&at); err != nil {
			return 0, a, false, next, fmt.Errorf("outbox: read: %w", err)
		}
		if at.Valid {
			next = time.Unix(0, at.Int64)
		}
		return 0, a, false, next, nil
	}
	if err != nil {
		return 0, a, false, next, fmt.Errorf("outbox: read: %w", err)
	}
	if err := json.Unmarshal([]byte(body), &a); err != nil {
		return seq, a, true, next, fmt.Errorf("outbox: action %d is corrupt: %w", seq, err)
	}
	return seq, a, true, next, nil
}

func (o *Outbox) finish(seq int64, outcome string) error {
	_, err := o.db.Exec(`UPDATE actions SET done = ?, outcome = ? WHERE seq = ?`, o.now().UnixNano(), outcome, seq)
	if err != nil {
		return fmt.Errorf("outbox: mark %d %s: %w", seq, outcome, err)
	}
	o.refreshGauge()
	return nil
}

// Run delivers actions until ctx ends: oldest first, in order per alarm.
// While the desk fails the breaker holds delivery back (logging the outage
// once and its end once); an action the desk refuses waits for its own retry
// and, after MaxAttempts refusals, for the operator (the dead letter).
func (o *Outbox) Run(ctx context.Context, onDelivered Delivered) {
	b := newBreaker()
	b.base = o.breakerBase
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
		case <-o.wake:
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
		seq, a, ok, next, err := o.head()
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
			// Nothing to send now: wait for an Add, the next retry, or the
			// poll that notices `estate outbox retry` (another process).
			o.refreshGauge()
			d := o.poll
			if !next.IsZero() {
				d = min(d, max(next.Sub(o.now()), time.Millisecond))
			}
			if !sleep(d) {
				return
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
			o.lastDelivered = o.now()
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
		case refusal(err):
			// The desk answered, and its answer is about this action: it waits
			// for its own retry (or the dead letter) while the others go on.
			// It does not feed the breaker: the breaker's trial call would
			// pick this action again (the oldest) and hold every other back.
			// A desk that refuses everything is paced by each action's backoff.
			o.m.failures.Inc()
			o.refused(seq, a, err)
		default:
			o.m.failures.Inc()
			if o.othersWentSinceLastFailure(seq) {
				// No answer (or a proxy's 502–504) for this action twice,
				// while the desk accepted another in between: the desk
				// fails on this action (it crashes or hangs on it), not for
				// everyone. It is a refusal like a 5xx.
				o.refused(seq, a, err)
			} else {
				// An outage as far as anyone can tell. The action steps
				// aside for a moment (the breaker's next trial takes another,
				// so that an action the desk dies on cannot hold the rest
				// back) and nothing counts towards the attempt limit.
				_, _ = o.db.Exec(`UPDATE actions SET last_error = ?, last_failed = ?, next_try = ? WHERE seq = ?`,
					err.Error(), o.now().UnixNano(), o.now().Add(o.retryBase).UnixNano(), seq)
			}
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

// othersWentSinceLastFailure reports whether the desk accepted another action
// since this one last failed.
func (o *Outbox) othersWentSinceLastFailure(seq int64) bool {
	var last sql.NullInt64
	if err := o.db.QueryRow(`SELECT last_failed FROM actions WHERE seq = ?`, seq).Scan(&last); err != nil || !last.Valid {
		return false
	}
	return o.lastDelivered.UnixNano() > last.Int64
}

// refusal reports whether err is the desk's retryable answer about this
// request (a 5xx), as opposed to an outage (no answer; 502, 503 and 504,
// which a proxy gives for a desk that is down; 401, 403 and 429, which refuse
// the gateway, not the action). A refusal counts towards MaxAttempts at once;
// any other retryable failure only once the desk has accepted another action
// since this one's previous failure (othersWentSinceLastFailure).
func refusal(err error) bool {
	var sc interface{ HTTPStatus() int }
	if !errors.As(err, &sc) {
		return false
	}
	code := sc.HTTPStatus()
	return code >= 500 && code != http.StatusBadGateway && code != http.StatusServiceUnavailable &&
		code != http.StatusGatewayTimeout
}

// refused records a refusal of one action: its backoff, and the dead letter
// once it has been refused MaxAttempts times while the desk accepted others.
func (o *Outbox) refused(seq int64, a wire.AlarmAction, cause error) {
	now := o.now()
	var strikes int
	var first int64
	err := o.db.QueryRow(`UPDATE actions SET strikes = strikes + 1, first_strike = coalesce(first_strike, ?), last_error = ?,
		last_failed = ? WHERE seq = ? RETURNING strikes, first_strike`, now.UnixNano(), cause.Error(), now.UnixNano(), seq).
		Scan(&strikes, &first)
	if err != nil {
		o.log.Error("outbox: record a refusal", "seq", seq, "err", err)
		return
	}
	// The desk must have accepted another action since the first refusal:
	// a desk that refuses everything is down, and its actions wait for it.
	if strikes >= o.maxAttempts && o.lastDelivered.UnixNano() > first {
		if _, err := o.db.Exec(`UPDATE actions SET dead = ? WHERE seq = ?`, now.UnixNano(), seq); err != nil {
			o.log.Error("outbox: move to the dead letter", "seq", seq, "err", err)
			return
		}
		o.m.deadLettered.Inc()
		o.refreshGauge()
		o.log.Error("the desk keeps refusing an alarm action; moved to the dead letter (estate outbox list --dead, estate outbox retry)",
			"id", seq, "alarm", a.AlarmKey, "action", a.Action, "attempts", strikes, "err", cause)
		return
	}
	d := o.retryBase << min(strikes-1, 30)
	if d > o.retryMx || d <= 0 {
		d = o.retryMx
	}
	d = time.Duration(float64(d) * (0.8 + 0.4*rand.Float64())) // ±20 %: gateways do not retry in step
	if _, err := o.db.Exec(`UPDATE actions SET next_try = ? WHERE seq = ?`, now.Add(d).UnixNano(), seq); err != nil {
		o.log.Error("outbox: schedule a retry", "seq", seq, "err", err)
	}
	o.log.Warn("desk refused an alarm action; retrying it later, other actions go ahead",
		"id", seq, "alarm", a.AlarmKey, "action", a.Action, "attempt", strikes, "of", o.maxAttempts, "retry_in", d, "err", cause)
}

// prune forgets delivered actions older than Keep.
func (o *Outbox) prune() {
	cut := o.now().Add(-o.Keep).UnixNano()
	if _, err := o.db.Exec(`DELETE FROM actions WHERE done IS NOT NULL AND done < ?`, cut); err != nil {
		o.log.Error("outbox: prune", "err", err)
	}
}
