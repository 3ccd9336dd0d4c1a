// Package outbox delivers the gateway's alarm actions (open a ticket, note a
// change, note a clearing) to the desk exactly once. Each action is committed
// to a local SQLite file (WAL, synchronous FULL) before it counts as accepted,
// with an idempotency key derived from its alarm episode; adding the same key
// twice is a no-op, and the desk applies each key once, so a desk outage, a
// lost answer or a SIGKILL between send and acknowledge cannot duplicate or
// lose a ticket. Delivery is in order (oldest first, so in order per alarm),
// behind a circuit breaker with backoff while the desk is down.
package outbox

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/estatehq/estate/internal/wire"
)

var (
	delivered = promauto.NewCounter(prometheus.CounterOpts{
		Name: "estate_outbox_delivered_total", Help: "Alarm actions the desk accepted."})
	rejected = promauto.NewCounter(prometheus.CounterOpts{
		Name: "estate_outbox_rejected_total", Help: "Alarm actions the desk refused for their content."})
	pendingGauge = promauto.NewGauge(prometheus.GaugeOpts{
		Name: "estate_outbox_pending", Help: "Alarm actions waiting for the desk (the backlog)."})
	breakerOpen = promauto.NewGauge(prometheus.GaugeOpts{
		Name: "estate_outbox_breaker_open", Help: "1 while the circuit breaker holds delivery back."})
	failures = promauto.NewCounter(prometheus.CounterOpts{
		Name: "estate_outbox_send_failures_total", Help: "Deliveries that failed and will be retried."})
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
	sender Sender
	log    *slog.Logger
	wake   chan struct{}
	now    func() time.Time
	// Keep is how long delivered keys are remembered to refuse re-adds (default 7 days).
	Keep time.Duration
}

const schema = `
CREATE TABLE IF NOT EXISTS actions (
	seq        INTEGER PRIMARY KEY AUTOINCREMENT,
	idem       TEXT NOT NULL UNIQUE,
	alarm_key  TEXT NOT NULL,
	body       TEXT NOT NULL,
	enqueued   INTEGER NOT NULL,
	attempts   INTEGER NOT NULL DEFAULT 0,
	done       INTEGER,          -- when the desk applied or refused it
	outcome    TEXT              -- delivered, rejected: reason
);
CREATE INDEX IF NOT EXISTS actions_pending ON actions(seq) WHERE done IS NULL;
`

// Open opens (creating) the outbox database at path.
func Open(path string, sender Sender, log *slog.Logger) (*Outbox, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=synchronous(FULL)")
	if err != nil {
		return nil, fmt.Errorf("outbox %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("outbox %s: %w", path, err)
	}
	o := &Outbox{db: db, sender: sender, log: log, wake: make(chan struct{}, 1), now: time.Now, Keep: 7 * 24 * time.Hour}
	if n := o.Pending(); n > 0 {
		log.Info("outbox: resuming delivery of alarm actions from before the restart", "pending", n)
	}
	return o, nil
}

// Close closes the database; Run must have returned.
func (o *Outbox) Close() error { return o.db.Close() }

// Add commits an action; Run delivers it. An action whose idempotency key is
// already in the outbox (pending or delivered within Keep) is not added again.
func (o *Outbox) Add(a wire.AlarmAction) error {
	if err := a.Validate(); err != nil {
		return fmt.Errorf("outbox: refusing an invalid action: %w", err)
	}
	body, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("outbox: encode: %w", err)
	}
	if _, err := o.db.Exec(`INSERT INTO actions (idem, alarm_key, body, enqueued) VALUES (?, ?, ?, ?)
		ON CONFLICT(idem) DO NOTHING`, a.IdempotencyKey, a.AlarmKey, string(body), o.now().UnixNano()); err != nil {
		return fmt.Errorf("outbox: add %s: %w", a.IdempotencyKey, err)
	}
	o.refreshGauge()
	select {
	case o.wake <- struct{}{}:
	default:
	}
	return nil
}

// Pending is how many actions wait for the desk.
func (o *Outbox) Pending() int {
	var n int
	if err := o.db.QueryRow(`SELECT count(*) FROM actions WHERE done IS NULL`).Scan(&n); err != nil {
		o.log.Error("outbox: count", "err", err)
	}
	return n
}

func (o *Outbox) refreshGauge() { pendingGauge.Set(float64(o.Pending())) }

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
			delivered.Inc()
			b.success()
			breakerOpen.Set(0)
			if failing {
				o.log.Info("desk reachable again; delivering queued alarm actions", "pending", o.Pending())
				failing = false
			}
			if onDelivered != nil {
				onDelivered(a, res)
			}
		case errors.As(err, &perm) && perm.Permanent():
			rejected.Inc()
			o.log.Error("desk refused an alarm action; dropping it", "alarm", a.AlarmKey, "action", a.Action, "err", err)
			_ = o.finish(seq, "rejected: "+err.Error())
		default:
			failures.Inc()
			d := b.failure(o.now())
			if b.state == open {
				breakerOpen.Set(1)
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
