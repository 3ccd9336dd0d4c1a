// Package outbox delivers ticket requests from the gateway to the desk. Each
// request is written to disk before it counts as accepted and removed only once
// the desk has answered, so a desk outage or a gateway restart loses nothing;
// the desk's one-open-ticket-per-alarm-key rule makes re-delivery harmless.
package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/estatehq/estate/internal/ticket"
)

var (
	delivered = promauto.NewCounter(prometheus.CounterOpts{
		Name: "estate_outbox_delivered_total", Help: "Ticket requests the desk accepted."})
	rejected = promauto.NewCounter(prometheus.CounterOpts{
		Name: "estate_outbox_rejected_total", Help: "Ticket requests the desk refused for their content."})
	pendingGauge = promauto.NewGauge(prometheus.GaugeOpts{
		Name: "estate_outbox_pending", Help: "Ticket requests waiting for the desk."})
)

// Opener opens tickets on the desk.
type Opener interface {
	OpenTicket(ctx context.Context, n ticket.NewTicket) (ticket.Ticket, error)
}

// Delivered is told about every ticket the desk accepted (for logs and tests).
type Delivered func(ticket.Ticket)

// Item is one pending request.
type Item struct {
	Ticket   ticket.NewTicket `json:"ticket"`
	Enqueued time.Time        `json:"enqueued"`
}

// Outbox is a persistent FIFO of ticket requests.
type Outbox struct {
	path   string
	opener Opener
	log    *slog.Logger
	wake   chan struct{}

	mu    sync.Mutex
	items []Item
}

// Open loads the outbox file at path (creating its folder) and returns the outbox.
func Open(path string, opener Opener, log *slog.Logger) (*Outbox, error) {
	o := &Outbox{path: path, opener: opener, log: log, wake: make(chan struct{}, 1)}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("outbox: %w", err)
	default:
		if err := json.Unmarshal(data, &o.items); err != nil {
			return nil, fmt.Errorf("outbox %s is corrupt (move it aside to start empty): %w", path, err)
		}
		if len(o.items) > 0 {
			log.Info("outbox: resuming delivery of ticket requests from before the restart", "pending", len(o.items))
		}
	}
	pendingGauge.Set(float64(len(o.items)))
	return o, nil
}

// Add persists a request; it is delivered by Run. A request for an alarm key
// that is already waiting is not queued twice.
func (o *Outbox) Add(n ticket.NewTicket) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, it := range o.items {
		if n.AlarmKey != "" && it.Ticket.AlarmKey == n.AlarmKey {
			return nil
		}
	}
	o.items = append(o.items, Item{Ticket: n, Enqueued: time.Now()})
	if err := o.saveLocked(); err != nil {
		o.items = o.items[:len(o.items)-1]
		return err
	}
	pendingGauge.Set(float64(len(o.items)))
	select {
	case o.wake <- struct{}{}:
	default:
	}
	return nil
}

// Pending is how many requests wait for the desk.
func (o *Outbox) Pending() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.items)
}

// Run delivers requests oldest first until ctx ends, backing off while the desk
// is unreachable and logging the outage once.
func (o *Outbox) Run(ctx context.Context, onDelivered Delivered) {
	backoff := 500 * time.Millisecond
	failing := false
	for {
		o.mu.Lock()
		var head *Item
		if len(o.items) > 0 {
			head = &o.items[0]
		}
		o.mu.Unlock()
		if head == nil {
			select {
			case <-ctx.Done():
				return
			case <-o.wake:
				continue
			}
		}
		callCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		t, err := o.opener.OpenTicket(callCtx, head.Ticket)
		cancel()
		if ctx.Err() != nil {
			return
		}
		var perm interface{ Permanent() bool }
		switch {
		case err == nil:
			delivered.Inc()
			if failing {
				o.log.Info("desk reachable again; delivering queued ticket requests", "pending", o.Pending())
				failing, backoff = false, 500*time.Millisecond
			}
			if onDelivered != nil {
				onDelivered(t)
			}
		case errors.As(err, &perm) && perm.Permanent():
			rejected.Inc()
			o.log.Error("desk refused a ticket request; dropping it", "alarm", head.Ticket.AlarmKey, "err", err)
		default:
			if !failing {
				o.log.Error("desk unreachable; ticket requests wait in the outbox", "err", err, "pending", o.Pending())
				failing = true
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 30*time.Second)
			continue
		}
		o.mu.Lock()
		o.items = o.items[1:]
		if err := o.saveLocked(); err != nil {
			o.log.Error("outbox: cannot persist", "err", err)
		}
		pendingGauge.Set(float64(len(o.items)))
		o.mu.Unlock()
	}
}

// saveLocked writes the queue atomically: a temporary file, fsync, rename.
func (o *Outbox) saveLocked() error {
	data, err := json.Marshal(o.items)
	if err != nil {
		return fmt.Errorf("outbox: encode: %w", err)
	}
	tmp := o.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o640)
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("outbox: write %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("outbox: sync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	if err := os.Rename(tmp, o.path); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	return nil
}
