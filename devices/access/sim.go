package access

import (
	"time"

	"github.com/estatehq/estate/devices"
)

// Simulator is a door controller's first door: people swipe cards and walk
// through, now and then a card is refused, and a script adds trouble
// (estate demo, estate sim door_controller).
type Simulator struct {
	// Every is how often someone swipes a card (default 8s); every fifth card is refused.
	Every time.Duration
	// Script: forced (opened while locked), held (opened with a card and left
	// open), tamper (the controller's cover opened), invalid_burst (a run of
	// refused cards).
	Script []devices.ScriptStep

	start     time.Time
	nextSwipe time.Time
	swipes    int
	open      bool
	closeAt   time.Time
	scripted  bool // a scripted door action is in progress
}

// ScriptActions are the script steps the simulator understands, with how long
// each lasts when the step gives no duration.
var ScriptActions = map[string]time.Duration{
	"forced": 10 * time.Second, "held": 90 * time.Second, "tamper": 20 * time.Second, "invalid_burst": 6 * time.Second,
}

func (s *Simulator) step(now time.Time, do string) (active, starting bool) {
	t := now.Sub(s.start)
	for _, st := range s.Script {
		d := st.For
		if d == 0 {
			d = ScriptActions[st.Do]
		}
		if st.Do == do && t >= st.At && t < st.At+d {
			return true, t < st.At+time.Second
		}
	}
	return false, false
}

// Step advances the door to now (about once a second) and returns its points
// and what the controller reported (access_granted, invalid_card).
func (s *Simulator) Step(now time.Time) (map[string]float64, []string) {
	if s.start.IsZero() {
		s.start = now
		if s.Every <= 0 {
			s.Every = 8 * time.Second
		}
		s.nextSwipe = now.Add(2 * time.Second)
	}
	var signals []string
	v := map[string]float64{PointTamper: 0}
	if on, _ := s.step(now, "tamper"); on {
		v[PointTamper] = 1
	}
	if on, _ := s.step(now, "invalid_burst"); on {
		signals = append(signals, SignalInvalidCard)
	}
	forced, _ := s.step(now, "forced")
	held, heldStarts := s.step(now, "held")
	switch {
	case forced:
		s.open, s.scripted = true, true // pushed open without a card: the lock stays engaged
		v[PointDoorOpen], v[PointLocked] = 1, 1
		return v, signals
	case held && heldStarts && !s.open:
		signals = append(signals, SignalAccessGranted)
		s.open, s.scripted = true, true
		v[PointDoorOpen], v[PointLocked] = 1, 0
		return v, signals
	case held:
		v[PointDoorOpen], v[PointLocked] = 1, 0
		return v, signals
	case s.scripted:
		s.open, s.scripted = false, false // the scripted door shuts and locks
		s.nextSwipe = now.Add(s.Every)
	}
	switch {
	case s.open && !now.Before(s.closeAt):
		s.open = false
	case !s.open && !now.Before(s.nextSwipe):
		s.swipes++
		s.nextSwipe = now.Add(s.Every)
		if s.swipes%5 == 0 {
			signals = append(signals, SignalInvalidCard)
		} else {
			signals = append(signals, SignalAccessGranted)
			s.open, s.closeAt = true, now.Add(4*time.Second)
			v[PointDoorOpen], v[PointLocked] = 1, 0
			return v, signals
		}
	}
	v[PointDoorOpen], v[PointLocked] = 0, 1
	if s.open {
		v[PointDoorOpen], v[PointLocked] = 1, 0
	}
	return v, signals
}
