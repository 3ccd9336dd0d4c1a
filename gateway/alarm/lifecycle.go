package alarm

import "time"

// Phase is where an alarm is in its lifecycle: inactive → pending → firing →
// (clearing, still firing) → resolved, which is inactive again.
type Phase string

const (
	Inactive Phase = ""
	Pending  Phase = "pending"
	Firing   Phase = "firing"
)

// Change is what one observation did to an alarm.
type Change uint8

const (
	NoChange       Change = iota
	PendingStarted        // the condition holds; the for clock runs
	PendingDropped        // the condition stopped before for elapsed
	FiredNow              // pending long enough (or for is 0): a new episode
	ClearStarted          // firing, and the condition stopped holding; the keep_for clock runs
	ClearDropped          // the condition holds again while clearing
	ResolvedNow           // clear for keep_for, held min_hold, not flapping
)

func (c Change) String() string {
	return [...]string{"none", "pending_started", "pending_dropped", "fired", "clear_started", "clear_dropped", "resolved"}[c]
}

// Timing is a rule's lifecycle settings.
type Timing struct {
	For, KeepFor, MinHold time.Duration
	MaxRaisesPerHour      int
}

// Lifecycle is the persisted lifecycle part of an alarm.
type Lifecycle struct {
	Phase Phase `json:"phase"`
	// PendingSince is when the condition started to hold (the for clock).
	PendingSince time.Time `json:"pending_since,omitzero"`
	// FiredAt starts the episode; it is part of the episode's identity.
	FiredAt time.Time `json:"fired_at,omitzero"`
	// ClearSince is when a firing alarm's condition stopped holding (the keep_for clock).
	ClearSince time.Time `json:"clear_since,omitzero"`
	// Raises are the fire times of the last hour (flapping damping).
	Raises []time.Time `json:"raises,omitempty"`
}

// Step applies one observation (does the condition hold at now?) and says
// what changed. It is the whole state machine; everything else feeds it.
func (l *Lifecycle) Step(active bool, now time.Time, t Timing) Change {
	switch l.Phase {
	case Inactive:
		if !active {
			return NoChange
		}
		l.Phase, l.PendingSince = Pending, now
		if t.For <= 0 {
			l.fire(now)
			return FiredNow
		}
		return PendingStarted
	case Pending:
		if !active {
			l.Phase, l.PendingSince = Inactive, time.Time{}
			return PendingDropped
		}
		if now.Sub(l.PendingSince) >= t.For {
			l.fire(now)
			return FiredNow
		}
		return NoChange
	case Firing:
		if active {
			if !l.ClearSince.IsZero() {
				l.ClearSince = time.Time{}
				return ClearDropped
			}
			return NoChange
		}
		change := NoChange
		if l.ClearSince.IsZero() {
			l.ClearSince, change = now, ClearStarted
		}
		if now.Sub(l.ClearSince) >= t.KeepFor && now.Sub(l.FiredAt) >= t.MinHold && !l.Flapping(now, t) {
			l.Phase, l.PendingSince, l.ClearSince = Inactive, time.Time{}, time.Time{}
			return ResolvedNow
		}
		return change
	}
	return NoChange
}

func (l *Lifecycle) fire(now time.Time) {
	l.Phase, l.FiredAt, l.ClearSince = Firing, now, time.Time{}
	l.pruneRaises(now)
	l.Raises = append(l.Raises, now)
}

// Flapping reports whether the alarm was raised MaxRaisesPerHour times within
// the last hour: it then stays firing until the oldest of those raises ages out.
func (l *Lifecycle) Flapping(now time.Time, t Timing) bool {
	if t.MaxRaisesPerHour <= 0 {
		return false
	}
	n := 0
	for _, r := range l.Raises {
		if now.Sub(r) < time.Hour {
			n++
		}
	}
	return n >= t.MaxRaisesPerHour
}

// pruneRaises keeps the raises of the last hour in a new slice, so that a
// copy of the lifecycle taken before Step is left intact.
func (l *Lifecycle) pruneRaises(now time.Time) {
	kept := make([]time.Time, 0, len(l.Raises)+1)
	for _, r := range l.Raises {
		if now.Sub(r) < time.Hour {
			kept = append(kept, r)
		}
	}
	l.Raises = kept
}

// Idle reports whether nothing of the alarm needs keeping: inactive and no
// raise within the last hour that damping still counts.
func (l *Lifecycle) Idle(now time.Time) bool {
	if l.Phase != Inactive {
		return false
	}
	for _, r := range l.Raises {
		if now.Sub(r) < time.Hour {
			return false
		}
	}
	return true
}
