package outbox

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/estatehq/estate/internal/wire"
)

// The operator's side of the outbox (`estate outbox list|retry`): these
// functions work on the state file itself, not on a running Outbox, so that
// they work while the gateway is stopped and are safe while it runs (each is
// one statement or transaction; SQLite's busy timeout lets it take turns with
// the gateway). A running gateway notices a retried action within its Poll.

// Entry is one undelivered action, as `estate outbox list` shows it.
type Entry struct {
	ID        int64  // seq: what `estate outbox retry` takes
	Key       string // idempotency key
	AlarmKey  string
	Action    string
	Enqueued  time.Time
	Attempts  int // every try, outages included
	Refusals  int // failures that count towards the attempt limit (see Outbox)
	NextTry   time.Time
	Dead      time.Time // when it moved to the dead letter; zero: not dead
	LastError string
	// Behind is set when an earlier undelivered action of the same alarm
	// holds this one back (the alarm's actions are delivered in order).
	Behind int64
}

// State is what the entry is waiting for: "dead", "behind #N", "retry" (a
// refusal's backoff) or "pending".
func (e Entry) State(now time.Time) string {
	switch {
	case !e.Dead.IsZero():
		return "dead"
	case e.Behind != 0:
		return fmt.Sprintf("behind #%d", e.Behind)
	case e.NextTry.After(now):
		return "retry"
	default:
		return "pending"
	}
}

// List returns the undelivered actions oldest first; dead: the dead letter only.
func List(ctx context.Context, db *sql.DB, dead bool) ([]Entry, error) {
	q := `SELECT a.seq, a.idem, a.alarm_key, a.body, a.enqueued, a.attempts, a.strikes, a.next_try,
		coalesce(a.dead, 0), coalesce(a.last_error, ''),
		coalesce((SELECT max(b.seq) FROM actions b WHERE b.alarm_key = a.alarm_key AND b.seq < a.seq AND b.done IS NULL), 0)
		FROM actions a WHERE a.done IS NULL`
	if dead {
		q += ` AND a.dead IS NOT NULL`
	}
	rows, err := db.QueryContext(ctx, q+` ORDER BY a.seq`)
	if err != nil {
		return nil, fmt.Errorf("outbox: list: %w", err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		var e Entry
		var body string
		var enq, next, deadAt int64
		if err := rows.Scan(&e.ID, &e.Key, &e.AlarmKey, &body, &enq, &e.Attempts, &e.Refusals, &next, &deadAt,
			&e.LastError, &e.Behind); err != nil {
			return nil, fmt.Errorf("outbox: list: %w", err)
		}
		var a wire.AlarmAction
		if json.Unmarshal([]byte(body), &a) == nil {
			e.Action = a.Action
		}
		e.Enqueued = time.Unix(0, enq)
		if next > 0 {
			e.NextTry = time.Unix(0, next)
		}
		if deadAt > 0 {
			e.Dead = time.Unix(0, deadAt)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("outbox: list: %w", err)
	}
	return out, nil
}

// Retry takes an action out of the dead letter: it is sent again at once,
// with a fresh attempt limit, before the later actions of its alarm (which
// waited behind it). Its idempotency key is unchanged, so the desk still
// applies it at most once. An id that is not in the dead letter is an error.
func Retry(ctx context.Context, db *sql.DB, id int64) error {
	res, err := db.ExecContext(ctx, `UPDATE actions SET dead = NULL, strikes = 0, first_strike = NULL, next_try = 0
		WHERE seq = ? AND dead IS NOT NULL AND done IS NULL`, id)
	if err != nil {
		return fmt.Errorf("outbox: retry %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("outbox: no action %d in the dead letter", id)
	}
	return nil
}

// RetryAll takes every action out of the dead letter; it returns how many.
func RetryAll(ctx context.Context, db *sql.DB) (int, error) {
	res, err := db.ExecContext(ctx, `UPDATE actions SET dead = NULL, strikes = 0, first_strike = NULL, next_try = 0
		WHERE dead IS NOT NULL AND done IS NULL`)
	if err != nil {
		return 0, fmt.Errorf("outbox: retry: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}
