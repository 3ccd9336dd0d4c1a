// Package alarm turns readings into alarms: each rule watches one point of a
// device family; each (site, rule, device) has its own small state machine
// (ok → firing → ok) with hysteresis, so that a value hovering at the threshold
// does not flap and a firing alarm is reported once, not once per reading.
package alarm

import (
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/estatehq/estate/devices"
	"github.com/estatehq/estate/internal/config"
)

// State of an alarm.
type State string

const (
	Firing   State = "firing"
	Resolved State = "resolved"
)

// Transition is an alarm changing state; the pipeline records it and turns
// firing transitions into tickets.
type Transition struct {
	// Key identifies the alarm: site/rule/device. The desk keeps one open ticket per key.
	Key    string
	Rule   *config.Rule
	Device *devices.Info
	State  State
	Point  string
	Value  float64
	At     time.Time
}

// Title renders the rule's ticket title for this transition.
func (t Transition) Title() string {
	title := t.Rule.Title
	if title == "" {
		title = "{device}: " + t.Rule.Name + " ({point} = {value})"
	}
	return strings.NewReplacer(
		"{device}", t.Device.ID,
		"{building}", t.Device.Building,
		"{unit}", t.Device.Unit,
		"{point}", t.Point,
		"{value}", FormatValue(t.Value),
	).Replace(title)
}

// FormatValue renders a reading for people: two decimals, cut rather than
// rounded, so that 9.9996 below a threshold of 10 shows as 9.99, not 10.00.
func FormatValue(v float64) string {
	return strconv.FormatFloat(math.Floor(v*100)/100, 'f', 2, 64)
}

// Engine evaluates the configured rules against readings. Safe for concurrent use.
type Engine struct {
	rules []config.Rule

	mu     sync.Mutex
	firing map[string]bool
}

// NewEngine returns an engine for rules that config has validated.
func NewEngine(rules []config.Rule) *Engine {
	return &Engine{rules: rules, firing: map[string]bool{}}
}

// Key is the alarm key of a rule on a device.
func Key(site, rule, device string) string { return site + "/" + rule + "/" + device }

// Evaluate applies every rule of the reading's family and returns the alarms
// that changed state. Points missing or of bad quality leave alarms as they are:
// a device that stops answering does not resolve what it had raised.
func (e *Engine) Evaluate(r devices.Reading) []Transition {
	var out []Transition
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := range e.rules {
		rule := &e.rules[i]
		if rule.Family != r.Device.Family {
			continue
		}
		v, ok := r.Get(rule.Point)
		if !ok {
			continue
		}
		key := Key(r.Device.Site, rule.Name, r.Device.ID)
		was := e.firing[key]
		now := next(rule, was, v)
		if now == was {
			continue
		}
		e.firing[key] = now
		st := Resolved
		if now {
			st = Firing
		}
		out = append(out, Transition{Key: key, Rule: rule, Device: r.Device, State: st, Point: rule.Point, Value: v, At: r.Time})
	}
	return out
}

// next is the threshold state machine: given whether the alarm is firing and
// the new value, is it firing afterwards? Clear defaults to the firing level.
func next(rule *config.Rule, firing bool, v float64) bool {
	switch {
	case rule.Below != nil:
		clear := *rule.Below
		if rule.Clear != nil {
			clear = *rule.Clear
		}
		if firing {
			return v < clear
		}
		return v < *rule.Below
	case rule.Above != nil:
		clear := *rule.Above
		if rule.Clear != nil {
			clear = *rule.Clear
		}
		if firing {
			return v > clear
		}
		return v > *rule.Above
	}
	return false
}
