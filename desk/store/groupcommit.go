package store

import (
	"context"
	"database/sql"
	"sync"
	"time"

	"github.com/estatehq/estate/internal/wire"
)

// maxGroup bounds the creations committed in one transaction: enough to
// cover every concurrent caller of a busy desk (a gateway's outbox, the
// consoles, the load client's 16 callers), small enough that one group's
// transaction stays short for the others waiting on the database.
const maxGroup = 64

// creation is one CreateTicket call waiting in the group commit queue, with
// its result once its group has run.
type creation struct {
	ctx  context.Context
	n    wire.NewTicket
	by   string
	now  time.Time
	t    wire.Ticket
	made bool
	err  error
	// done is set (before wake) once the result is in; woken without it,
	// the creation is at the front of the queue and leads the next group.
	done bool
	wake chan struct{}
}

// groupCommit lets concurrent ticket creations share one transaction, so
// that a busy desk pays one commit (a WAL write on SQLite, a flush and the
// events' lock on PostgreSQL) per group instead of per ticket: at 16
// concurrent callers the commit was a third of a creation's CPU and, on
// PostgreSQL, the event lock it holds serialised every replica behind it.
//
// It needs no goroutine of its own (LevelDB's writer queue): the caller at
// the front of the queue leads, takes everyone queued behind it as its group,
// runs it, hands each member its result and wakes the new front, which leads
// the next group. A caller alone pays nothing more than before.
type groupCommit struct {
	mu    sync.Mutex
	queue []*creation
}

// createGrouped queues c and returns once its group has committed (or
// failed).
func (s *Store) createGrouped(c *creation) {
	g := &s.creations
	g.mu.Lock()
	g.queue = append(g.queue, c)
	lead := len(g.queue) == 1
	g.mu.Unlock()
	if !lead {
		<-c.wake
		if c.done {
			return
		}
	}
	g.mu.Lock()
	group := append([]*creation(nil), g.queue[:min(len(g.queue), maxGroup)]...)
	g.mu.Unlock()

	s.runGroup(group)

	g.mu.Lock()
	rest := copy(g.queue, g.queue[len(group):])
	clear(g.queue[rest:])
	g.queue = g.queue[:rest]
	var next *creation
	if rest > 0 {
		next = g.queue[0]
	}
	g.mu.Unlock()
	for _, m := range group {
		if m != c {
			m.done = true
			m.wake <- struct{}{}
		}
	}
	if next != nil {
		next.wake <- struct{}{}
	}
}

// runGroup creates a group's tickets in one transaction. A member whose
// caller has gone is answered with its context's error and not created. When
// the transaction fails (one member's bad input or conflict, a lost
// connection, a commit refused), each member runs again in a transaction of
// its own, so that one member's failure is never another's.
func (s *Store) runGroup(group []*creation) {
	live := group[:0:0]
	for _, c := range group {
		if err := c.ctx.Err(); err != nil {
			c.err = err
			continue
		}
		live = append(live, c)
	}
	if len(live) == 0 {
		return
	}
	if len(live) > 1 {
		// The group outlives any one caller's request: it is cut short by
		// none of their cancellations (each member is bounded by the
		// database's own timeouts, as a lone creation is).
		ctx := context.WithoutCancel(live[0].ctx)
		err := s.inTx(ctx, func(tx *sql.Tx) error {
			for _, c := range live {
				var err error
				if c.t, c.made, err = s.createTicketTx(ctx, tx, c.n, c.by, c.now); err != nil {
					return err
				}
			}
			return nil
		})
		if err == nil {
			return
		}
	}
	for _, c := range live {
		c.t, c.made, c.err = wire.Ticket{}, false, nil
		c.err = s.inTx(c.ctx, func(tx *sql.Tx) error {
			var err error
			c.t, c.made, err = s.createTicketTx(c.ctx, tx, c.n, c.by, c.now)
			return err
		})
	}
}
