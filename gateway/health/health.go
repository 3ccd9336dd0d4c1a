// Package health tracks whether each device answers: online, offline, last
// seen, and error counts. Offline is a fact about the link, not the building.
package health

import (
	"sort"
	"sync"
	"time"
)

// State of one device's link.
type State string

const (
	Unknown State = "unknown" // not polled yet
	Online  State = "online"
	Offline State = "offline"
)

// Device is one device's health.
type Device struct {
	ID                  string    `json:"id"`
	State               State     `json:"state"`
	LastSeen            time.Time `json:"last_seen"`
	ConsecutiveFailures int       `json:"consecutive_failures"`
	Polls               uint64    `json:"polls"`
	Errors              uint64    `json:"errors"`
	LastError           string    `json:"last_error,omitempty"`
}

// Tracker holds the health of every device; safe for concurrent use.
type Tracker struct {
	offlineAfter int

	mu      sync.Mutex
	devices map[string]*Device
}

// NewTracker marks a device offline after offlineAfter consecutive failed polls.
func NewTracker(offlineAfter int) *Tracker {
	return &Tracker{offlineAfter: max(1, offlineAfter), devices: map[string]*Device{}}
}

// Observe records one poll's outcome and returns the device's state and whether
// this poll changed it (so that callers log transitions, not every failure).
func (t *Tracker) Observe(id string, err error, at time.Time) (State, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	d, ok := t.devices[id]
	if !ok {
		d = &Device{ID: id, State: Unknown}
		t.devices[id] = d
	}
	before := d.State
	d.Polls++
	if err == nil {
		d.State, d.LastSeen, d.ConsecutiveFailures = Online, at, 0
	} else {
		d.Errors++
		d.ConsecutiveFailures++
		d.LastError = err.Error()
		if d.ConsecutiveFailures >= t.offlineAfter {
			d.State = Offline
		}
	}
	return d.State, d.State != before && !(before == Unknown && d.State == Online)
}

// Snapshot returns every device's health, sorted by id.
func (t *Tracker) Snapshot() []Device {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]Device, 0, len(t.devices))
	for _, d := range t.devices {
		out = append(out, *d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Get returns one device's health.
func (t *Tracker) Get(id string) (Device, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	d, ok := t.devices[id]
	if !ok {
		return Device{}, false
	}
	return *d, true
}
