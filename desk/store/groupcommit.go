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
	// done is set (before wake) once the result is in. Woken without it,
	// the creation leads group, which the previous leader took for it from
	// the front of the queue.
	done  bool
	group []*creation
	wake  chan struct{}
}

// groupCommit lets concurrent ticket creations share one transaction, so
// that a busy desk pays one commit (a WAL write on SQLite, a flush and the
// events' lock on PostgreSQL) per group instead of per ticket: at 16
// concurrent callers the commit was a third of a creation's CPU and, on
// PostgreSQL, the event lock it holds serialised every replica behind it.
//
// It needs no goroutine of its own (LevelDB's writer queue): a caller that
// finds fewer than limit groups running leads, takes everyone queued as its
// group, runs it and hands each member its result; if callers queued
// meanwhile, it takes them as the next group and wakes the first of them to
// lead it. A caller alone pays nothing more than before.
//
// limit is how many groups run at once: 1 on SQLite (one connection, one
// writer), pgCreationGroups on PostgreSQL, where a group spends most of its
// time waiting for the server statement after statement and more groups
// would overlap those waits; measured, they made one desk faster and a
// pair of replicas slower (store.go says by how much).
type groupCommit struct {
	mu     sync.Mutex
	queue  []*creation
	active int
	limit  int
}

// take removes up to maxGroup creations from the front of the queue.
func (g *groupCommit) take() []*creation {
	n := min(len(g.queue), maxGroup)
	group := append([]*creation(nil), g.queue[:n]...)
	rest := copy(g.queue, g.queue[n:])
	clear(g.queue[rest:])
	g.queue = g.queue[:rest]
	return group
}

// createGrouped queues c and returns once its group has committed (or
// failed).
func (s *Store) createGrouped(c *creation) {
	g := &s.creations
	g.mu.Lock()
	g.queue = append(g.queue, c)
	var group []*creation
	if g.active < max(g.limit, 1) {
		g.active++
		group = g.take()
	}
	g.mu.Unlock()
	if group == nil {
		<-c.wake
		if c.done {
			return
		}
		group = c.group
	}

	s.runGroup(group)

	g.mu.Lock()
	var next []*creation
	if len(g.queue) > 0 {
		next = g.take()
	} else {
		g.active--
	}
	g.mu.Unlock()
	for _, m := range group {
		if m != c {
			m.done = true
			m.wake <- struct{}{}
		}
	}
	if next != nil {
		next[0].group = next
		next[0].wake <- struct{}{}
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
