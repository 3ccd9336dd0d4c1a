// Package elevator turns what an elevator monitoring box reports (GB/T 24476
// data items: floor, direction, running, doors, door zone, people inside,
// alarm button, service mode, fault code) into Estate's events: entrapment,
// explicit or inferred, and faults named through vendor code tables. It knows
// nothing of the transport: it registers itself as the elevator family
// (family.go, with its option entrapment_after), and devices/mqtt feeds it
// published messages, the gateway polled readings (a Modbus register map).
package elevator

import (
	"strconv"
	"time"

	"github.com/estatehq/estate/devices"
)

// Point names an elevator profile maps its payloads to.
const (
	PointFloor       = "floor"        // current floor (may be negative below ground)
	PointDirection   = "direction"    // 1 up, -1 down, 0 stopped
	PointRunning     = "running"      // 1 while the car moves
	PointDoorOpen    = "door_open"    // 1 open (or opening), 0 closed
	PointDoorZone    = "door_zone"    // 1 when the car is in a landing's door (unlocking) zone
	PointPassenger   = "passenger"    // 1 when someone is inside (load or infrared sensor)
	PointAlarmButton = "alarm_button" // 1 while the car's alarm (emergency call) button is pressed
	PointServiceMode = "service_mode" // 0 normal; other values: inspection, fire, out of service, …
	PointEntrapment  = "entrapment"   // 1 when the box itself reports people trapped
	PointFaultCode   = "fault_code"   // the controller's fault code as a number, 0 when none
)

// Event types raised here.
const (
	EventEntrapment = "entrapment"
	EventFault      = "fault"
)

// Fault is a fault code as reported, named through the vendor's code table.
type Fault struct {
	Code   string
	Text   string
	TextZH string // the code table's Chinese words, when it has them
	Table  string
	// Clear is true when the code means "no fault" (0 in most tables).
	Clear bool
}

// entrapState is the entrapment state machine's state.
type entrapState uint8

const (
	normal    entrapState = iota
	suspected             // the condition holds; waiting for EntrapmentAfter
	entrapped             // raised; stays until the condition is gone
)

func (s entrapState) String() string {
	return [...]string{"normal", "suspected", "entrapped"}[s]
}

// Monitor follows one elevator car. Not safe for concurrent use: one goroutine
// feeds it messages and ticks in order.
type Monitor struct {
	// EntrapmentAfter is how long the inferred condition must last.
	EntrapmentAfter time.Duration

	known  map[string]float64
	state  entrapState
	since  time.Time // when the condition began (suspected)
	reason string
	fault  *Fault // the fault in force
}

// NewMonitor follows a car whose inferred entrapments need after to elapse.
func NewMonitor(after time.Duration) *Monitor {
	return &Monitor{EntrapmentAfter: after, known: map[string]float64{}}
}

// Observe takes one message's points and fault codes and returns the events
// they cause.
func (m *Monitor) Observe(now time.Time, values []devices.Value, faults []Fault) []devices.Event {
	for _, v := range values {
		if v.Quality == devices.Good {
			m.known[v.Point] = v.Value
		}
	}
	// A controller read without a code table (a Modbus register) gives its
	// fault as the fault_code point only: that is its fault, by number.
	if len(faults) == 0 {
		for _, v := range values {
			if v.Point == PointFaultCode && v.Quality == devices.Good && !v.IsText {
				faults = append(faults, Fault{Code: strconv.FormatFloat(v.Value, 'f', -1, 64), Clear: v.Value == 0})
			}
		}
	}
	var out []devices.Event
	for _, f := range faults {
		out = append(out, m.fault1(now, f)...)
	}
	return append(out, m.step(now)...)
}

// Tick lets time pass: an inferred entrapment fires once its condition has
// lasted EntrapmentAfter, even when the box says nothing more.
func (m *Monitor) Tick(now time.Time) []devices.Event { return m.step(now) }

// reasonZH are condition's reasons in Chinese, for the messages in Chinese.
var reasonZH = map[string]string{
	"reported by the monitoring box":                            "监测装置报告困人",
	"alarm button pressed":                                      "轿厢报警按钮被按下",
	"car stopped outside the door zone with a passenger inside": "轿厢停在平层区外，内有乘客",
	"doors not opening with a passenger inside":                 "轿门不开，内有乘客",
}

// condition says whether the car looks like it holds someone trapped, and why.
// The box's own flag counts at once; inferred causes are timed by step.
func (m *Monitor) condition() (explicit bool, inferred bool, reason string) {
	if m.is(PointEntrapment, 1) {
		return true, false, "reported by the monitoring box"
	}
	if m.is(PointAlarmButton, 1) {
		return false, true, "alarm button pressed"
	}
	// In inspection, fire service or out of service, people in a stopped car are
	// technicians or firefighters, not trapped passengers.
	if v, ok := m.known[PointServiceMode]; ok && v != 0 {
		return false, false, ""
	}
	if m.is(PointPassenger, 1) && m.is(PointRunning, 0) && m.is(PointDoorOpen, 0) {
		if m.is(PointDoorZone, 0) {
			return false, true, "car stopped outside the door zone with a passenger inside"
		}
		return false, true, "doors not opening with a passenger inside"
	}
	return false, false, ""
}

func (m *Monitor) is(point string, want float64) bool {
	v, ok := m.known[point]
	return ok && v == want
}

// step is the entrapment state machine:
//
//	normal    --explicit--------------------> entrapped (raise)
//	normal    --inferred--------------------> suspected
//	suspected --condition gone--------------> normal
//	suspected --explicit, or lasted "after"-> entrapped (raise)
//	entrapped --condition gone--------------> normal (clear)
func (m *Monitor) step(now time.Time) []devices.Event {
	explicit, inferred, reason := m.condition()
	switch m.state {
	case normal:
		switch {
		case explicit:
			return m.raise(now, reason, 0)
		case inferred:
			m.state, m.since, m.reason = suspected, now, reason
			if m.EntrapmentAfter <= 0 {
				return m.raise(now, reason, 0)
			}
		}
	case suspected:
		switch {
		case explicit:
			return m.raise(now, reason, 0)
		case !inferred:
			m.state = normal
		case now.Sub(m.since) >= m.EntrapmentAfter:
			return m.raise(now, reason, now.Sub(m.since))
		default:
			m.reason = reason
		}
	case entrapped:
		if !explicit && !inferred {
			m.state = normal
			ev := m.event(now, EventEntrapment, false, "entrapment cleared", "困人已解除")
			ev.Attrs["reason"] = m.reason
			return []devices.Event{ev}
		}
	}
	return nil
}

func (m *Monitor) raise(now time.Time, reason string, lasted time.Duration) []devices.Event {
	m.state, m.reason = entrapped, reason
	// The rule's message says 困人 / people trapped: the text is why.
	ev := m.event(now, EventEntrapment, true, reason, reasonZH[reason])
	ev.Attrs["reason"] = reason
	if lasted > 0 {
		ev.Attrs["lasted"] = lasted.Round(time.Second).String()
	}
	return []devices.Event{ev}
}

// event stamps the car's position and occupancy on an event, which is what the
// control room needs to send the rescue to the right place.
func (m *Monitor) event(now time.Time, typ string, active bool, text, textZH string) devices.Event {
	attrs := map[string]string{
		"floor":     m.text(PointFloor),
		"direction": direction(m.known[PointDirection], m.has(PointDirection)),
		"occupancy": occupancy(m.known[PointPassenger], m.has(PointPassenger)),
	}
	return devices.Event{Time: now, Type: typ, Source: "car", SourceZH: Words.ZH("car"), Active: active, Text: text, TextZH: textZH, Attrs: attrs}
}

// Words are the elevator family's places in Chinese: its events are about the car (轿厢).
var Words = devices.SourceWords{"car": "轿厢"}

func (m *Monitor) has(point string) bool { _, ok := m.known[point]; return ok }

func (m *Monitor) text(point string) string {
	v, ok := m.known[point]
	if !ok {
		return "unknown"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

func direction(v float64, ok bool) string {
	switch {
	case !ok:
		return "unknown"
	case v > 0:
		return "up"
	case v < 0:
		return "down"
	}
	return "stopped"
}

func occupancy(v float64, ok bool) string {
	switch {
	case !ok:
		return "unknown"
	case v != 0:
		return "occupied"
	}
	return "empty"
}

// fault1 follows the fault in force: a new code clears the old one and raises
// itself; a clearing code clears; the same code again says nothing.
func (m *Monitor) fault1(now time.Time, f Fault) []devices.Event {
	if f.Clear || f.Code == "" || f.Code == "0" {
		if m.fault == nil {
			return nil
		}
		old := m.fault
		m.fault = nil
		return []devices.Event{m.faultEvent(now, *old, false)}
	}
	if m.fault != nil && m.fault.Code == f.Code {
		return nil
	}
	var out []devices.Event
	if m.fault != nil {
		out = append(out, m.faultEvent(now, *m.fault, false))
	}
	m.fault = &f
	return append(out, m.faultEvent(now, f, true))
}

func (m *Monitor) faultEvent(now time.Time, f Fault, active bool) devices.Event {
	text, zh := f.Text, f.TextZH
	switch {
	case text != "":
	case f.Table == "":
		text, zh = "fault code "+f.Code, "故障代码 "+f.Code
	default:
		text = "fault code " + f.Code + " (not in the " + f.Table + " table)"
		zh = "故障代码 " + f.Code + "（不在代码表 " + f.Table + " 中）"
	}
	ev := m.event(now, EventFault, active, text, zh)
	ev.Attrs["code"] = f.Code
	if f.Table != "" {
		ev.Attrs["table"] = f.Table
	}
	return ev
}

// Entrapped reports whether an entrapment is raised (for tests and dashboards).
func (m *Monitor) Entrapped() bool { return m.state == entrapped }
