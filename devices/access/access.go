// Package access turns what a door controller reports (door sensor, lock
// state, event codes such as UHPPOTE's or ZKTeco's, named through code tables)
// into Estate's door events: forced open, held open, invalid-card bursts and
// tamper. It knows nothing of the transport: it registers itself as the access
// family (family.go, with its options held_open_after, invalid_card_*), and
// devices/mqtt feeds it published messages, the gateway polled readings.
package access

import (
	"strconv"
	"time"

	"github.com/estatehq/estate/devices"
)

// Point names an access profile maps its payloads to; they describe the
// controller's first door (door "1"). Further doors report through codes with
// a door number.
const (
	PointDoorOpen = "door_open" // 1 open, 0 closed (door sensor)
	PointLocked   = "locked"    // 1 locked, 0 released
	PointTamper   = "tamper"    // 1 while the controller's tamper switch is open
)

// Signal kinds this package acts on (the code tables' events).
const (
	SignalAccessGranted = "access_granted"
	SignalInvalidCard   = "invalid_card"
	SignalDoorOpened    = "door_opened"
	SignalDoorClosed    = "door_closed"
	SignalDoorForced    = "door_forced"
	SignalDoorHeld      = "door_held"
	SignalTamper        = "tamper"
)

// Event types raised here.
const (
	EventDoorForced       = "door_forced"
	EventDoorHeld         = "door_held"
	EventInvalidCardBurst = "invalid_card_burst"
	EventTamper           = "tamper"
)

// Signal is a code a controller sent, already named through its code table.
type Signal struct {
	Type   string // a Signal* kind, or another table event (fire, duress, info, unknown)
	Source string // door number; "" for the first door
	Code   string
	Text   string
	TextZH string // the code table's Chinese words, when it has them
}

// Limits are the door rules of one controller.
type Limits struct {
	// HeldOpenAfter: a door open longer than this is held open.
	HeldOpenAfter time.Duration
	// BurstCount invalid cards within BurstWindow raise invalid_card_burst.
	BurstCount  int
	BurstWindow time.Duration
}

type door struct {
	open      bool
	openSince time.Time
	locked    bool
	// lockKnown: the controller reports its lock (points or grants); only then
	// can an opening be judged forced.
	lockKnown bool
	forced    bool
	held      bool
}

// Controller follows one access controller's doors. Not safe for concurrent use.
type Controller struct {
	limits  Limits
	doors   map[string]*door
	invalid []time.Time // invalid cards within the window, oldest first
	burst   bool
	tamper  bool
}

// NewController follows a controller with these limits.
func NewController(l Limits) *Controller {
	if l.BurstCount < 1 {
		l.BurstCount = 1
	}
	return &Controller{limits: l, doors: map[string]*door{}}
}

func (c *Controller) door(source string) *door {
	if source == "" {
		source = "1"
	}
	d, ok := c.doors[source]
	if !ok {
		d = &door{}
		c.doors[source] = d
	}
	return d
}

// Observe takes one message's points and signals and returns the events they cause.
func (c *Controller) Observe(now time.Time, values []devices.Value, signals []Signal) []devices.Event {
	var out []devices.Event
	// The lock state comes first: a door that opens in the same message as it
	// is released was opened legitimately.
	for _, v := range values {
		if v.Quality == devices.Good && v.Point == PointLocked {
			d := c.door("1")
			d.locked, d.lockKnown = v.Value != 0, true
		}
	}
	for _, v := range values {
		if v.Quality != devices.Good {
			continue
		}
		switch v.Point {
		case PointDoorOpen:
			out = append(out, c.setOpen(now, "1", v.Value != 0, true)...)
		case PointTamper:
			out = append(out, c.setTamper(now, v.Value != 0, words{"tamper switch", "防拆开关"})...)
		}
	}
	for _, s := range signals {
		out = append(out, c.signal(now, s)...)
	}
	return append(out, c.Tick(now)...)
}

func (c *Controller) signal(now time.Time, s Signal) []devices.Event {
	switch s.Type {
	case SignalAccessGranted:
		d := c.door(s.Source)
		d.locked, d.lockKnown = false, true // the controller releases the lock for this passage
		return nil
	case SignalDoorOpened:
		return c.setOpen(now, s.Source, true, false)
	case SignalDoorClosed:
		return c.setOpen(now, s.Source, false, false)
	case SignalDoorForced:
		d := c.door(s.Source)
		if !d.open {
			d.open, d.openSince = true, now
		}
		return c.raiseForced(now, s.Source, d, words{s.Text, s.TextZH}, s.Code)
	case SignalDoorHeld:
		d := c.door(s.Source)
		if !d.open {
			d.open, d.openSince = true, now
		}
		return c.raiseHeld(now, s.Source, d, words{s.Text, s.TextZH}, s.Code)
	case SignalInvalidCard:
		c.invalid = append(c.invalid, now)
		return nil // the burst is judged in Tick
	case SignalTamper:
		return c.setTamper(now, true, words{s.Text, s.TextZH})
	case "info":
		return nil
	}
	// fire, duress, unknown: the controller's own words, passed on.
	ev := devices.Event{Time: now, Type: s.Type, Source: doorName(s.Source), SourceZH: Words.ZH(doorName(s.Source)), Active: true, Text: s.Text, TextZH: s.TextZH,
		Attrs: map[string]string{"code": s.Code}}
	return []devices.Event{ev}
}

// setOpen follows the door sensor. A door that opens while its lock is engaged
// was forced (inferred when the controller reports only points); closing ends
// forced and held.
func (c *Controller) setOpen(now time.Time, source string, open, fromPoint bool) []devices.Event {
	d := c.door(source)
	if open == d.open {
		return nil
	}
	d.open = open
	if open {
		d.openSince = now
		if fromPoint && d.lockKnown && d.locked {
			return c.raiseForced(now, source, d, words{"door opened while locked", "门锁闭时门被打开"}, "")
		}
		return nil
	}
	var out []devices.Event
	if d.forced {
		d.forced = false
		out = append(out, doorEvent(now, EventDoorForced, source, false, words{"door closed", "门已关闭"}, ""))
	}
	if d.held {
		d.held = false
		out = append(out, doorEvent(now, EventDoorHeld, source, false, words{"door closed", "门已关闭"}, ""))
	}
	if d.lockKnown {
		d.locked = true // doors re-lock on closing; the next locked point corrects it
	}
	return out
}

func (c *Controller) raiseForced(now time.Time, source string, d *door, text words, code string) []devices.Event {
	if d.forced {
		return nil
	}
	d.forced = true
	return []devices.Event{doorEvent(now, EventDoorForced, source, true, text.or(words{"door forced open", "门被强行打开"}), code)}
}

func (c *Controller) raiseHeld(now time.Time, source string, d *door, text words, code string) []devices.Event {
	if d.held {
		return nil
	}
	d.held = true
	ev := doorEvent(now, EventDoorHeld, source, true, text.or(words{"door held open", "门长时间未关"}), code)
	ev.Attrs["open_for"] = now.Sub(d.openSince).Round(time.Second).String()
	return []devices.Event{ev}
}

func (c *Controller) setTamper(now time.Time, on bool, text words) []devices.Event {
	if on == c.tamper {
		return nil
	}
	c.tamper = on
	if !on {
		text = words{"tamper switch closed", "防拆开关已复位"}
	}
	text = text.or(words{"tamper", "防拆报警"})
	return []devices.Event{{Time: now, Type: EventTamper, Source: "controller", SourceZH: Words.ZH("controller"), Active: on, Text: text.en, TextZH: text.zh,
		Attrs: map[string]string{}}}
}

// Tick lets time pass: doors open too long become held open, and an
// invalid-card burst ends once the window has no invalid card left.
func (c *Controller) Tick(now time.Time) []devices.Event {
	var out []devices.Event
	for source, d := range c.doors {
		if d.open && !d.held && c.limits.HeldOpenAfter > 0 && now.Sub(d.openSince) >= c.limits.HeldOpenAfter {
			out = append(out, c.raiseHeld(now, source, d, words{"door open longer than " + c.limits.HeldOpenAfter.String(),
				"门打开超过 " + c.limits.HeldOpenAfter.String()}, "")...)
		}
	}
	cut := 0
	for cut < len(c.invalid) && now.Sub(c.invalid[cut]) > c.limits.BurstWindow {
		cut++
	}
	c.invalid = c.invalid[cut:]
	switch {
	case !c.burst && len(c.invalid) >= c.limits.BurstCount:
		c.burst = true
		out = append(out, devices.Event{Time: now, Type: EventInvalidCardBurst, Source: "controller", SourceZH: Words.ZH("controller"), Active: true,
			Text:   strconv.Itoa(len(c.invalid)) + " invalid cards within " + c.limits.BurstWindow.String(),
			TextZH: c.limits.BurstWindow.String() + " 内 " + strconv.Itoa(len(c.invalid)) + " 次无效卡",
			Attrs:  map[string]string{"count": strconv.Itoa(len(c.invalid))}})
	case c.burst && len(c.invalid) == 0:
		c.burst = false
		out = append(out, devices.Event{Time: now, Type: EventInvalidCardBurst, Source: "controller", SourceZH: Words.ZH("controller"), Active: false,
			Text: "no invalid card within " + c.limits.BurstWindow.String(), TextZH: c.limits.BurstWindow.String() + " 内无无效卡",
			Attrs: map[string]string{}})
	}
	return out
}

// words are an event's text in English (or the vendor's) and Chinese.
type words struct{ en, zh string }

// or is w, with def's words where w has none.
func (w words) or(def words) words {
	if w.en == "" {
		return def
	}
	return w
}

func doorEvent(now time.Time, typ, source string, active bool, text words, code string) devices.Event {
	attrs := map[string]string{"door": orDefault(source, "1")}
	if code != "" {
		attrs["code"] = code
	}
	return devices.Event{Time: now, Type: typ, Source: doorName(source), SourceZH: Words.ZH(doorName(source)), Active: active, Text: text.en, TextZH: text.zh, Attrs: attrs}
}

func doorName(source string) string { return "door " + orDefault(source, "1") }

// Words are the access family's places in Chinese: a door's number is said
// as on its sign (3号门), the controller itself as 门禁控制器.
var Words = devices.SourceWords{"door": "{n}号门", "controller": "门禁控制器"}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
