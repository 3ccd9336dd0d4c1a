package elevator

import (
	"time"

	"github.com/estatehq/estate/devices"
)

// Simulator is an elevator car as its monitoring box sees it: it travels
// between floors, stops, opens and shuts its doors, sometimes with a passenger,
// and follows a script of trouble (estate demo, estate sim elevator_monitor).
type Simulator struct {
	Lowest, Highest int
	// Script: entrapment (stuck between floors with a passenger, for the
	// gateway to infer), entrapment_flag (the same, with the box's own flag),
	// fault (fault code Err42 in force), alarm_button, inspection.
	Script []devices.ScriptStep

	start     time.Time
	floor     int
	target    int
	trip      int
	doorUntil time.Time // doors open until then
	passenger bool
}

// ScriptActions are the script steps the simulator understands, with how long
// each lasts when the step gives no duration.
var ScriptActions = map[string]time.Duration{
	"entrapment": 60 * time.Second, "entrapment_flag": 60 * time.Second, "fault": 40 * time.Second,
	"alarm_button": 40 * time.Second, "inspection": 60 * time.Second,
}

// FaultCode is the code the simulated controller reports for a scripted fault
// (Monarch NICE3000: door lock disconnected during running).
const FaultCode = "Err42"

func (s *Simulator) active(now time.Time, do string) bool {
	t := now.Sub(s.start)
	for _, st := range s.Script {
		d := st.For
		if d == 0 {
			d = ScriptActions[st.Do]
		}
		if st.Do == do && t >= st.At && t < st.At+d {
			return true
		}
	}
	return false
}

// Step advances the car to now (call it about once a second) and returns its
// points and the fault code in force ("0" when none).
func (s *Simulator) Step(now time.Time) (map[string]float64, string) {
	if s.start.IsZero() {
		s.start, s.floor, s.target = now, s.Lowest, s.Lowest
		if s.Highest <= s.Lowest {
			s.Highest = s.Lowest + 1
		}
	}
	fault := "0"
	if s.active(now, "fault") {
		fault = FaultCode
	}
	v := map[string]float64{
		PointFloor: float64(s.floor), PointAlarmButton: 0, PointServiceMode: 0, PointEntrapment: 0,
	}
	if s.active(now, "inspection") {
		v[PointServiceMode] = 1
	}
	if s.active(now, "alarm_button") {
		v[PointAlarmButton] = 1
	}
	if s.active(now, "entrapment") || s.active(now, "entrapment_flag") {
		// Stopped between two floors, doors shut, someone inside.
		v[PointDirection], v[PointRunning], v[PointDoorOpen], v[PointDoorZone], v[PointPassenger] = 0, 0, 0, 0, 1
		if s.active(now, "entrapment_flag") {
			v[PointEntrapment] = 1
		}
		return v, fault
	}
	switch {
	case now.Before(s.doorUntil):
		v[PointDirection], v[PointRunning], v[PointDoorOpen], v[PointDoorZone] = 0, 0, 1, 1
	case s.floor == s.target:
		// Arrived: doors open for a few seconds, people get in or out, next trip.
		s.doorUntil = now.Add(3 * time.Second)
		s.trip++
		s.passenger = s.trip%2 == 1
		s.target = s.Lowest + (s.trip*3)%(s.Highest-s.Lowest+1)
		if s.target == s.floor {
			s.target = s.Highest
			if s.floor == s.Highest {
				s.target = s.Lowest
			}
		}
		v[PointDirection], v[PointRunning], v[PointDoorOpen], v[PointDoorZone] = 0, 0, 1, 1
	default:
		dir := 1
		if s.target < s.floor {
			dir = -1
		}
		s.floor += dir
		v[PointFloor] = float64(s.floor)
		v[PointDirection], v[PointRunning], v[PointDoorOpen], v[PointDoorZone] = float64(dir), 1, 0, 0
	}
	v[PointPassenger] = 0
	if s.passenger {
		v[PointPassenger] = 1
	}
	return v, fault
}
