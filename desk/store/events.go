package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/estatehq/estate/desk/ticket"
	"github.com/estatehq/estate/internal/wire"
)

// Event is one change that consoles follow (GET /api/v1/events): its id is
// the Server-Sent Events id, so a console that reconnects with Last-Event-ID
// misses nothing, whichever desk process wrote the change.
type Event struct {
	ID       int64           `json:"id"`
	At       time.Time       `json:"at"`
	Type     string          `json:"type"` // ticket.created, .updated, .escalated, .comment; outage.<step>; command.<step>
	Site     string          `json:"site"`
	TicketID int64           `json:"ticket_id,omitempty"`
	Data     json.RawMessage `json:"data"`
}

func (s *Store) event(ctx context.Context, tx *sql.Tx, at time.Time, typ string, t wire.Ticket) error {
	t.Deadlines = nil
	data, err := json.Marshal(t)
	if err != nil {
		return fmt.Errorf("event %s: %w", typ, err)
	}
	// Written when the transaction is about to commit (flushEvents), not
	// now: see there.
	s.pendingMu.Lock()
	s.pending[tx] = append(s.pending[tx], pendingEvent{at: nanos(at), typ: typ, site: t.Site, ticketID: t.ID, data: string(data)})
	s.pendingMu.Unlock()
	return nil
}

// ObjectEvent is the data of an event about a desk object other than a
// ticket (outage.*, command.*): which, what happened and who did it; the
// consoles read the object itself. It carries no resident's data, so the
// event stream passes it to every role of the site as it is.
type ObjectEvent struct {
	ID   int64  `json:"id"`
	Step string `json:"step"`
	By   string `json:"by,omitempty"`
}

// objectEvent queues an event about an object of a site, written with the
// transaction's other events when it commits (flushEvents).
func (s *Store) objectEvent(tx *sql.Tx, at time.Time, typ, site string, data ObjectEvent) error {
	b, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("event %s: %w", typ, err)
	}
	s.pendingMu.Lock()
	s.pending[tx] = append(s.pending[tx], pendingEvent{at: nanos(at), typ: typ, site: site, data: string(b)})
	s.pendingMu.Unlock()
	return nil
}

type pendingEvent struct {
	at       int64
	typ      string
	site     string
	ticketID int64
	data     string
}

// EventChannel is the PostgreSQL channel that announces new events; its
// payload is the id of the newest event of the committing transaction (a few
// bytes, far below NOTIFY's 8000-byte limit): listeners read the events
// themselves from the table.
const EventChannel = "estate_events"

// eventLock is the advisory lock (pg_advisory_xact_lock) that orders event
// ids by commit on PostgreSQL.
const eventLock = 7215562302

// flushEvents writes the events a transaction queued, as its last
// statements. Consoles read events by id ("after the last I saw"), so an id
// must never become visible after a higher one: a reader that already passed
// it would skip it for ever. SQLite has one writer at a time, so ids are in
// commit order anyway. On PostgreSQL ids come from a sequence and
// transactions commit in any order, so the events of a transaction are
// written under a transaction-level advisory lock taken right before them and
// held until the commit: whoever takes the next ids commits after this one.
// Taking it last keeps it short (the inserts and the commit) and free of
// deadlocks, since its holder waits for no row lock after it. The NOTIFY is
// sent in the same transaction, so PostgreSQL delivers it on commit only, in
// commit order.
func (s *Store) flushEvents(ctx context.Context, tx *sql.Tx) error {
	s.pendingMu.Lock()
	evs := s.pending[tx]
	delete(s.pending, tx)
	s.pendingMu.Unlock()
	if len(evs) == 0 {
		return nil
	}
	if s.dialect == PostgresDialect {
		if _, err := s.txExec(ctx, tx, `SELECT pg_advisory_xact_lock(`+strconv.Itoa(eventLock)+`)`); err != nil {
			return fmt.Errorf("events: lock: %w", err)
		}
	}
	// In chunks of up to eventsPerInsert rows, one statement each: a group
	// of creations (groupcommit.go) has one event per ticket, and every
	// statement is a round trip to PostgreSQL. Rows take their ids in the
	// order of VALUES, which is the order the changes were made.
	var last int64
	for len(evs) > 0 {
		chunk := evs[:min(len(evs), eventsPerInsert)]
		evs = evs[len(chunk):]
		args := make([]any, 0, 5*len(chunk))
		for _, e := range chunk {
			args = append(args, e.at, e.typ, e.site, e.ticketID, e.data)
		}
		rows, err := s.txQuery(ctx, tx, `INSERT INTO events (at, type, site, ticket_id, data) VALUES (?, ?, ?, ?, ?)`+
			strings.Repeat(`, (?, ?, ?, ?, ?)`, len(chunk)-1)+` RETURNING id`, args...)
		if err != nil {
			return fmt.Errorf("events: %w", err)
		}
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return fmt.Errorf("events: %w", err)
			}
			last = max(last, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("events: %w", err)
		}
	}
	if s.dialect == PostgresDialect {
		if _, err := s.txExec(ctx, tx, `SELECT pg_notify('`+EventChannel+`', ?)`, strconv.FormatInt(last, 10)); err != nil {
			return fmt.Errorf("events: notify: %w", err)
		}
	}
	return nil
}

// eventsPerInsert bounds the rows of one events statement (and so the
// statement texts the cache holds for it).
const eventsPerInsert = 32

// dropEvents forgets what a transaction that did not commit had queued.
func (s *Store) dropEvents(tx *sql.Tx) {
	s.pendingMu.Lock()
	delete(s.pending, tx)
	s.pendingMu.Unlock()
}

// ListenEvents calls wake with the id of each batch of events that any desk
// on the database commits, until ctx ends, on a connection of its own
// (LISTEN). A lost connection is opened again after a pause that doubles up
// to 10 s, and wake(0) is called once it is back: events committed meanwhile
// were announced to nobody, and the caller reads the table again. On SQLite
// (one process) it returns at once: the desk's own writes wake its streams.
func (s *Store) ListenEvents(ctx context.Context, wake func(id int64)) error {
	if s.dialect != PostgresDialect {
		return nil
	}
	pause := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := s.listenOnce(ctx, wake)
		if ctx.Err() != nil {
			return nil
		}
		if s.onListenError != nil {
			s.onListenError(err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(pause):
		}
		pause = min(2*pause, 10*time.Second)
	}
	return nil
}

func (s *Store) listenOnce(ctx context.Context, wake func(id int64)) error {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	conn, err := pgx.Connect(cctx, s.dsn)
	cancel()
	if err != nil {
		return fmt.Errorf("listen for events: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+EventChannel); err != nil {
		return fmt.Errorf("listen for events: %w", err)
	}
	wake(0) // whatever was committed while nobody listened
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return fmt.Errorf("listen for events: %w", err)
		}
		id, _ := strconv.ParseInt(n.Payload, 10, 64)
		wake(id)
	}
}

// Events returns up to limit events after the given id, oldest first; site
// empty means every site.
func (s *Store) Events(ctx context.Context, afterID int64, site string, limit int) ([]Event, error) {
	q := `SELECT id, at, type, site, ticket_id, data FROM events WHERE id > ?`
	args := []any{afterID}
	if site != "" {
		q += ` AND site = ?`
		args = append(args, site)
	}
	q += fmt.Sprintf(` ORDER BY id LIMIT %d`, max(1, min(limit, 1000)))
	rows, err := s.db.QueryContext(ctx, s.q(q), args...)
	if err != nil {
		return nil, fmt.Errorf("events: %w", err)
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var e Event
		var at int64
		var data string
		if err := rows.Scan(&e.ID, &at, &e.Type, &e.Site, &e.TicketID, &data); err != nil {
			return nil, fmt.Errorf("events: %w", err)
		}
		e.At, e.Data = time.Unix(0, at), json.RawMessage(data)
		out = append(out, e)
	}
	return out, rows.Err()
}

// LastEventID is the id of the newest event, 0 when there is none.
func (s *Store) LastEventID(ctx context.Context) (int64, error) {
	var id sql.NullInt64
	if err := s.db.QueryRowContext(ctx, `SELECT MAX(id) FROM events`).Scan(&id); err != nil {
		return 0, fmt.Errorf("events: %w", err)
	}
	return id.Int64, nil
}

// Notification is one message waiting in (or sent from) the outbox for one channel.
type Notification struct {
	ID       int64
	Channel  string
	TicketID int64
	Event    string // created, dispatched, deadline_missed:<step>
	Levels   []ticket.Level
	Title    string
	Ticket   wire.Ticket // as it was when the notification was written
	Attempts int
}

// notify writes one outbox row per channel that the policy routes this event
// to, in the caller's transaction: the notification exists exactly when the
// change that caused it was committed, and is sent after, never blocking it.
func (s *Store) notify(ctx context.Context, tx *sql.Tx, now time.Time, t wire.Ticket, event string, levels []ticket.Level) error {
	if s.policy.Route == nil || len(levels) == 0 {
		return nil
	}
	channels := s.policy.Route(t, event, levels)
	if len(channels) == 0 {
		return nil
	}
	names := make([]string, len(levels))
	for i, l := range levels {
		names[i] = string(l)
	}
	t.Deadlines = nil
	body, err := json.Marshal(t)
	if err != nil {
		return err
	}
	title := fmt.Sprintf("[%s %s] %s", t.Priority, t.Kind, t.Title)
	for _, ch := range channels {
		if _, err := s.txExec(ctx, tx, (`INSERT INTO notifications (created_at, channel, ticket_id, event, level, title, body, state, next_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?)`), nanos(now), ch, t.ID, event, strings.Join(names, ","), title, string(body), nanos(now)); err != nil {
			return fmt.Errorf("notification to %s: %w", ch, err)
		}
	}
	return nil
}

// ClaimNotifications takes up to limit due notifications for sending and
// leases them until now+lease: another desk (or this one after a crash) takes
// them again only when the lease runs out without a MarkSent or MarkFailed.
func (s *Store) ClaimNotifications(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]Notification, error) {
	var out []Notification
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		lock := ""
		if s.dialect == PostgresDialect {
			lock = " FOR UPDATE SKIP LOCKED"
		}
		rows, err := tx.QueryContext(ctx, s.q(`SELECT id, channel, ticket_id, event, level, title, body, attempts FROM notifications
			WHERE state = 'pending' AND next_at <= ? ORDER BY next_at LIMIT ?`+lock), nanos(now), limit)
		if err != nil {
			return err
		}
		for rows.Next() {
			var n Notification
			var levels, body string
			if err := rows.Scan(&n.ID, &n.Channel, &n.TicketID, &n.Event, &levels, &n.Title, &body, &n.Attempts); err != nil {
				rows.Close()
				return err
			}
			for l := range strings.SplitSeq(levels, ",") {
				n.Levels = append(n.Levels, ticket.Level(l))
			}
			if err := json.Unmarshal([]byte(body), &n.Ticket); err != nil {
				rows.Close()
				return fmt.Errorf("notification %d: %w", n.ID, err)
			}
			n.Attempts++
			out = append(out, n)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, n := range out {
			if _, err := s.txExec(ctx, tx, (`UPDATE notifications SET next_at = ?, attempts = ? WHERE id = ?`),
				nanos(now.Add(lease)), n.Attempts, n.ID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("claim notifications: %w", err)
	}
	return out, nil
}

// MarkSent records a delivered notification.
func (s *Store) MarkSent(ctx context.Context, id int64, now time.Time) error {
	_, err := s.db.ExecContext(ctx, s.q(`UPDATE notifications SET state = 'sent', sent_at = ?, last_error = '' WHERE id = ?`), nanos(now), id)
	return err
}

// MarkFailed records a failed attempt: retried at retryAt, or given up
// (state failed) when retryAt is zero.
func (s *Store) MarkFailed(ctx context.Context, id int64, reason string, retryAt time.Time) error {
	if len(reason) > 500 {
		reason = reason[:500]
	}
	if retryAt.IsZero() {
		_, err := s.db.ExecContext(ctx, s.q(`UPDATE notifications SET state = 'failed', last_error = ? WHERE id = ?`), reason, id)
		return err
	}
	_, err := s.db.ExecContext(ctx, s.q(`UPDATE notifications SET next_at = ?, last_error = ? WHERE id = ?`), nanos(retryAt), reason, id)
	return err
}

// NotificationCounts reports how many notifications are in each state.
func (s *Store) NotificationCounts(ctx context.Context) (map[string]int, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT state, COUNT(*) FROM notifications GROUP BY state`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return nil, err
		}
		out[st] = n
	}
	return out, rows.Err()
}

// Retention of the records that only serve a while: events for consoles
// that reconnect, idempotency keys for clients that retry, and delivered or
// abandoned notifications for whoever checks on them.
const (
	EventRetention        = 7 * 24 * time.Hour
	IdempotencyRetention  = 24 * time.Hour
	NotificationRetention = 30 * 24 * time.Hour
)

// Prune deletes what is past its retention and returns how many rows went.
func (s *Store) Prune(ctx context.Context, now time.Time) (int64, error) {
	var total int64
	for _, p := range []struct {
		query  string
		before time.Time
	}{
		{`DELETE FROM events WHERE at < ?`, now.Add(-EventRetention)},
		{`DELETE FROM idempotency_keys WHERE created_at < ?`, now.Add(-IdempotencyRetention)},
		{`DELETE FROM notifications WHERE state <> 'pending' AND created_at < ?`, now.Add(-NotificationRetention)},
		{`DELETE FROM alarm_log WHERE last_seen < ?`, now.Add(-AlarmLogRetention)},
	} {
		res, err := s.db.ExecContext(ctx, s.q(p.query), nanos(p.before))
		if err != nil {
			return total, fmt.Errorf("prune: %w", err)
		}
		n, _ := res.RowsAffected()
		total += n
	}
	return total, nil
}
