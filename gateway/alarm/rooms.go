package alarm

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/estatehq/estate/devices"
	"github.com/estatehq/estate/internal/config"
)

// Room incidents: an event rule with group_by: source is one alarm per
// building and event source for every device it selects, instead of one per
// device. The leak family reports the room a sensor is in as the source of
// its water events, so the sensors of one pump room open one flooding
// emergency: the first sensor that detects water opens it, the others join
// it (their names are its evidence, and a sensor that joins after the
// ticket was opened adds a note to it), and it clears once every sensor of
// the room has been dry for keep_for. Water after that is a new episode.

// RoomRef is where a grouped alarm is: the building and the source (the
// room) its key is made of, and the floor of its first sensor.
type RoomRef struct {
	Building string `json:"building,omitempty"`
	Floor    string `json:"floor,omitempty"`
	Name     string `json:"name"`
}

// RoomSensor is one sensor of a room's incident: a device, or a probe of a
// device ("leak-b1/water_leak_2"), with when it detected water.
type RoomSensor struct {
	ID    string    `json:"id"`
	Since time.Time `json:"since"`
	Wet   bool      `json:"wet"`
	// DryAt is when a sensor that detected water during the episode read dry.
	DryAt time.Time `json:"dry_at,omitzero"`
}

// RoomState is what the grouping decision knows of one room's alarm: its
// lifecycle and the sensors of its current episode.
type RoomState struct {
	Lifecycle
	Sensors []RoomSensor
}

// RoomObservation is one piece of news about a room.
type RoomObservation struct {
	// Sensor reported Wet (water detected) or not. Empty: no news, time
	// passes (keep_for and for clocks).
	Sensor string
	Wet    bool
	// Reset marks every sensor dry whose id is Sensor or starts with
	// Sensor+"/" (a device's reset event: all its probes); with an empty
	// Sensor, every sensor of the room (clear_after elapsed).
	Reset bool
	At    time.Time
}

// RoomDecision is what an observation did to a room's incident.
type RoomDecision uint8

const (
	RoomNone     RoomDecision = iota
	RoomPending               // water detected; the for clock runs
	RoomOpened                // a new incident (episode): open its ticket
	RoomJoined                // another sensor of the room detects water while the incident is open
	RoomLeft                  // a sensor reads dry while another still detects water
	RoomClearing              // every sensor is dry; the keep_for clock runs
	RoomResolved              // dry for keep_for: the incident is over, the next water is a new one
)

func (d RoomDecision) String() string {
	return [...]string{"none", "pending", "opened", "joined", "left", "clearing", "resolved"}[d]
}

// DecideRoom is the grouping decision, pure: the room's state after the
// observation, what its lifecycle did, and what that means for the
// incident. A sensor already listed that detects water again (it dried and
// got wet within the same episode) is no news to people; a sensor that
// joins while the incident is pending is part of the evidence it opens with.
func DecideRoom(st RoomState, o RoomObservation, t Timing) (RoomState, Change, RoomDecision) {
	next := RoomState{Lifecycle: st.Lifecycle, Sensors: slices.Clone(st.Sensors)}
	joined, left := false, false
	switch {
	case o.Reset:
		for i := range next.Sensors {
			s := &next.Sensors[i]
			if s.Wet && (o.Sensor == "" || s.ID == o.Sensor || strings.HasPrefix(s.ID, o.Sensor+"/")) {
				s.Wet, s.DryAt = false, o.At
				left = true
			}
		}
	case o.Sensor != "":
		i := slices.IndexFunc(next.Sensors, func(s RoomSensor) bool { return s.ID == o.Sensor })
		switch {
		case o.Wet && i < 0:
			next.Sensors = append(next.Sensors, RoomSensor{ID: o.Sensor, Since: o.At, Wet: true})
			joined = true
		case o.Wet && !next.Sensors[i].Wet:
			next.Sensors[i].Wet, next.Sensors[i].DryAt = true, time.Time{}
		case !o.Wet && i >= 0 && next.Sensors[i].Wet:
			next.Sensors[i].Wet, next.Sensors[i].DryAt = false, o.At
			left = true
		}
	}
	wet := slices.ContainsFunc(next.Sensors, func(s RoomSensor) bool { return s.Wet })
	change := next.Step(wet, o.At, t)
	switch change {
	case PendingStarted:
		return next, change, RoomPending
	case FiredNow:
		return next, change, RoomOpened
	case ClearStarted:
		return next, change, RoomClearing
	case ResolvedNow:
		next.Sensors = nil // the episode is over
		return next, change, RoomResolved
	case PendingDropped:
		next.Sensors = nil // never fired: nothing to remember
		return next, change, RoomNone
	}
	switch {
	case joined && next.Phase == Firing:
		return next, change, RoomJoined
	case left && wet && next.Phase == Firing:
		return next, change, RoomLeft
	}
	return next, change, RoomNone
}

// roomKey is the alarm key's device part of a room: building and source.
func roomKey(building, source string) string {
	if building == "" {
		building = "-"
	}
	return building + "/" + source
}

// sensorOf names the sensor of an event: its device, and the probe when
// the device has several (the family sets the probe attribute).
func sensorOf(d *device, ev devices.Event) string {
	if p := ev.Attrs["probe"]; p != "" {
		return d.cfg.ID + "/" + p
	}
	return d.cfg.ID
}

// roomSlot returns the slot of the room an event of a grouped rule is
// about, creating it for an event that detects water.
func (e *Engine) roomSlot(r *rule, d *device, ev devices.Event) *slot {
	key := Key(e.site, r.cfg.Name, roomKey(d.cfg.Building, ev.Source))
	if s, ok := e.slots[key]; ok {
		return s
	}
	if !ev.Active {
		return nil
	}
	s := &slot{rule: r, key: key, timing: r.timing,
		room: &RoomRef{Building: d.cfg.Building, Floor: d.cfg.Floor, Name: ev.Source}}
	e.slots[key] = s
	return s
}

// observeRoom applies one observation to a room's alarm: the grouping
// decision, then what it asks of the desk (open, a note when a sensor
// joins the open incident, clear).
func (e *Engine) observeRoom(s *slot, o RoomObservation) {
	if s.alarm == nil && !(o.Wet && o.Sensor != "") {
		return
	}
	a := e.alarmOf(s)
	next, change, dec := DecideRoom(RoomState{Lifecycle: a.Lifecycle, Sensors: a.Sensors}, o, s.timing)
	if change == NoChange && slices.Equal(next.Sensors, a.Sensors) {
		return
	}
	e.touch(s)
	evidence := e.roomEvidence(next.Sensors)
	a.Lifecycle, a.Sensors = next.Lifecycle, next.Sensors
	if evidence != "" {
		a.Text = evidence
	}
	a.Value, a.ValueAt = float64(wetCount(next.Sensors)), o.At
	if o.Wet && o.Sensor != "" {
		a.LastEvent = o.At
	}
	if dec == RoomJoined && a.Ticketed && !a.Suppressed.Muted() {
		tr := e.transition(s, StateJoined)
		tr.Joined = o.Sensor
		tr.Ticket = true
		e.out = append(e.out, *tr)
	}
	if change != NoChange {
		e.changed(s, change, o.At)
	}
}

func wetCount(ss []RoomSensor) int {
	n := 0
	for _, s := range ss {
		if s.Wet {
			n++
		}
	}
	return n
}

// roomEvidence lists a room's sensors: how many detect water, and each
// with since when (the first 20, then how many more).
func (e *Engine) roomEvidence(ss []RoomSensor) string {
	if len(ss) == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d/%d 个传感器检测到水 / %d of %d sensors detect water: ", wetCount(ss), len(ss), wetCount(ss), len(ss))
	for i, s := range ss {
		if i == maxEvidenceDevices {
			fmt.Fprintf(&b, "; and %d more", len(ss)-i)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s (since %s", s.ID, s.Since.In(e.loc).Format("15:04:05"))
		if !s.Wet {
			fmt.Fprintf(&b, ", dry since %s", s.DryAt.In(e.loc).Format("15:04:05"))
		}
		b.WriteString(")")
	}
	return b.String()
}

// tickRoom lets time pass for a room's alarm: its for and keep_for clocks,
// and clear_after (no news of water for that long clears every sensor).
func (e *Engine) tickRoom(s *slot, now time.Time) {
	a := s.alarm
	if a == nil || a.Phase == Inactive {
		return
	}
	if ca := s.rule.cfg.ClearAfter; ca > 0 && a.Phase == Firing && wetCount(a.Sensors) > 0 && now.Sub(a.LastEvent) >= ca {
		e.observeRoom(s, RoomObservation{Reset: true, At: now})
		return
	}
	e.observeRoom(s, RoomObservation{At: now})
}

// restoreRoom makes the slot of a saved room alarm.
func (e *Engine) restoreRoom(a *Alarm) (*slot, bool) {
	if a.Room == nil {
		return nil, false
	}
	for _, r := range e.rules {
		if r.cfg.Name == a.Rule && r.cfg.GroupBy == config.GroupBySource {
			ref := *a.Room
			return &slot{rule: r, key: a.Key, timing: r.timing, room: &ref}, true
		}
	}
	return nil, false
}

// firstSensorDevice is the device of a room's first sensor, for the ticket
// and for maintenance windows that name devices.
func firstSensorDevice(a *Alarm) string {
	if a == nil || len(a.Sensors) == 0 {
		return ""
	}
	id, _, _ := strings.Cut(a.Sensors[0].ID, "/")
	return id
}

// roomEvent applies an event of a rule grouped by source: the event type
// detects water (active) or not at its sensor; the clear event (reset)
// dries every sensor of the device in the rooms of its building.
func (e *Engine) roomEvent(r *rule, d *device, ev devices.Event) {
	c := r.cfg
	if ev.Type == c.Event {
		if s := e.roomSlot(r, d, ev); s != nil {
			e.observeRoom(s, RoomObservation{Sensor: sensorOf(d, ev), Wet: ev.Active, At: ev.Time})
		}
		return
	}
	for _, s := range e.live {
		if s.rule == r && s.room != nil && s.room.Building == d.cfg.Building && s.alarm != nil {
			e.observeRoom(s, RoomObservation{Sensor: d.cfg.ID, Reset: true, At: ev.Time})
		}
	}
}
