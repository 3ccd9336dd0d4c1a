package config

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Rule types: what kind of evidence raises the alarm.
const (
	RuleThreshold = "threshold" // a point above or below a level, with a clear level
	RuleState     = "state"     // a point equals a value or is in a set
	RuleRising    = "rising"    // a point keeps rising while a condition holds (energy after a relay trip)
	RuleEvent     = "event"     // a device event (fire alarm, door forced, entrapment)
	RuleOffline   = "offline"   // the driver says the device does not answer
	RuleNoData    = "no_data"   // no good reading of the device (or point) for a duration
	RuleOutage    = "outage"    // a feeder lost power (inferred from topology)
	RuleDeviation = "deviation" // points outside a band around a nominal value, in percent (supply voltage)
	RuleImbalance = "imbalance" // points apart from their mean by more than a percentage (phase currents)
)

// RuleTypes lists every rule type, in the order the messages offer them.
var RuleTypes = []string{RuleThreshold, RuleState, RuleRising, RuleEvent, RuleOffline, RuleNoData, RuleOutage,
	RuleDeviation, RuleImbalance}

// GroupBySource is the one value of a rule's group_by: the events of every
// device the rule selects in one building that name the same source share
// one alarm (the leak sensors of one room).
const GroupBySource = "source"

// Rule raises an alarm, and possibly a ticket, from a device's readings,
// events or health. Rules are data: `estate check` validates them.
type Rule struct {
	Name string `yaml:"name"`
	// Type is threshold (the default when below or above is given), state,
	// rising, event, offline, no_data or outage.
	Type string `yaml:"type"`

	// Selection: a device matches when it matches every field given.
	Family  string   `yaml:"family"`
	Profile string   `yaml:"profile"`
	Tags    []string `yaml:"tags"`    // the device has every one of these tags
	Devices []string `yaml:"devices"` // device ids
	// Building and Floor select by location.
	Building string `yaml:"building"`
	Floor    string `yaml:"floor"`

	// Point is the point a threshold, state, rising or no_data rule watches.
	Point string `yaml:"point"`
	// Points are the points a deviation or imbalance rule judges together
	// (voltage_l1, voltage_l2, voltage_l3), or, instead of point, the points
	// of a threshold rule: it judges the worst of those the reading has
	// (the lowest for below, the highest for above), so one rule covers
	// three phases or a point that profiles name differently.
	Points []string `yaml:"points"`
	// Abs makes a threshold rule judge the magnitude of its point (a power
	// factor whose sign says leading or lagging).
	Abs bool `yaml:"abs"`
	// Nominal, BelowPct and AbovePct are a deviation rule's band: it fires
	// when a point is more than BelowPct percent under Nominal or more than
	// AbovePct percent over it (GB/T 12325: 220 V, 10 and 7 for single phase).
	Nominal  *float64 `yaml:"nominal"`
	BelowPct *float64 `yaml:"below_pct"`
	AbovePct *float64 `yaml:"above_pct"`
	// MinMean is the mean of an imbalance rule's points below which the
	// imbalance is not judged (a light load: a few amps make a large share).
	MinMean *float64 `yaml:"min_mean"`
	// Below fires when the point falls below this value (at or below with inclusive).
	Below *float64 `yaml:"below"`
	// Above fires when the point rises above this value (at or above with inclusive).
	Above *float64 `yaml:"above"`
	// Inclusive makes below/above fire at the level too ("at or below zero").
	Inclusive bool `yaml:"inclusive"`
	// Clear is the level at which the alarm resolves (hysteresis); defaults to the firing level.
	Clear *float64 `yaml:"clear"`
	// Equals and In are the values a state rule fires on.
	Equals *float64  `yaml:"equals"`
	In     []float64 `yaml:"in"`
	// RiseBy is how much a rising rule's point must grow while OnlyIf holds.
	RiseBy *float64 `yaml:"rise_by"`
	// OnlyIf guards the rule: it fires only while this condition holds too.
	OnlyIf *Condition `yaml:"only_if"`

	// Event is the device event type an event rule fires on (fire_alarm, door_forced, …).
	Event string `yaml:"event"`
	// ClearEvent is an event type that clears it (reset); the same type with
	// active false clears it too.
	ClearEvent string `yaml:"clear_event"`
	// ClearAfter clears an event alarm when no new event came for this long.
	ClearAfter time.Duration `yaml:"clear_after"`
	// NoDataFor is how long a no_data rule waits for a good reading.
	NoDataFor time.Duration `yaml:"no_data_for"`
	// GroupBy "source" makes an event rule one alarm per building and event
	// source for every device it selects, instead of one per device: the
	// leak sensors of one room (their family reports the room as the
	// source) open one incident, whose evidence lists the sensors; a sensor
	// that detects water later joins it (a note on its ticket).
	GroupBy string `yaml:"group_by"`

	// For is how long the condition must hold before the alarm fires (pending until then).
	For time.Duration `yaml:"for"`
	// KeepFor is how long the condition must be clear before the alarm resolves.
	KeepFor time.Duration `yaml:"keep_for"`
	// MinHold is the shortest time an alarm stays firing (flapping damping).
	MinHold time.Duration `yaml:"min_hold"`
	// MaxRaisesPerHour caps re-raises: once reached, the alarm stays firing
	// until the oldest raise is an hour old (flapping damping). 0 = no cap.
	MaxRaisesPerHour int `yaml:"max_raises_per_hour"`
	// SuppressOnOutage records but does not ticket the alarm while the
	// device's feeder is out; default true for offline and no_data rules.
	SuppressOnOutage *bool `yaml:"suppress_on_outage"`

	Severity string `yaml:"severity"`
	// Ticket is the kind of ticket the alarm opens: emergency, repair, top_up, or none.
	Ticket string `yaml:"ticket"`
	// Priority overrides the ticket kind's default priority (P1, P2, P3):
	// an urgent top-up reminder is P2.
	Priority string `yaml:"priority"`
	// Category is the ticket's category (flooding), counted by the monthly report.
	Category string `yaml:"category"`
	// Title is the ticket title; placeholders as in Message. Defaults to Message.ZH.
	Title string `yaml:"title"`
	// TitleEN is the ticket title in English (the English console and
	// channels show it); without it, a rule without a title uses
	// Message.EN, and a rule with one has none (its title is shown).
	TitleEN string `yaml:"title_en"`
	// Message is what the console and the ticket say, in Chinese and English.
	Message Message `yaml:"message"`
}

// Condition is a guard on one point of the same reading.
type Condition struct {
	Point     string   `yaml:"point"`
	Below     *float64 `yaml:"below"`
	Above     *float64 `yaml:"above"`
	Inclusive bool     `yaml:"inclusive"`
	Equals    *float64 `yaml:"equals"`
}

// Message is a bilingual template. Placeholders: {site} {device} {building}
// {floor} {unit} {point} {value} {value_unit} {time} {source} {text} {feeder}.
type Message struct {
	ZH string `yaml:"zh"`
	EN string `yaml:"en"`
}

// Placeholders are the names a message template may use.
var Placeholders = []string{"site", "device", "building", "floor", "unit", "point", "value", "value_unit", "time", "source", "text", "feeder"}

// SuppressedByOutage reports whether an outage of the device's feeder
// suppresses this rule's alarms.
func (r *Rule) SuppressedByOutage() bool {
	if r.SuppressOnOutage != nil {
		return *r.SuppressOnOutage
	}
	return r.Type == RuleOffline || r.Type == RuleNoData
}

func (r *Rule) applyDefaults() {
	if r.Severity == "" {
		r.Severity = "warning"
	}
	if r.Ticket == "" {
		r.Ticket = "none"
	}
	if r.Type == "" {
		switch {
		case r.Below != nil || r.Above != nil:
			r.Type = RuleThreshold
		case r.Equals != nil || len(r.In) > 0:
			r.Type = RuleState
		case r.Event != "":
			r.Type = RuleEvent
		}
	}
}

// validateRules checks the rules section; it is called with the gateway checks.
func (c *Config) validateRules() []Problem {
	var ps []Problem
	add := func(path, format string, args ...any) { ps = append(ps, c.Problemf(path, format, args...)) }
	names := map[string]bool{}
	for i, r := range c.Rules {
		p := fmt.Sprintf("rules[%d]", i)
		if r.Name == "" {
			add(p+".name", "required")
		} else if !isIdentifier(r.Name) {
			add(p+".name", "%q may use only letters, digits, '-' and '_' (it is part of the alarm key)", r.Name)
		} else if names[r.Name] {
			add(p+".name", "%q is used by another rule", r.Name)
		}
		names[r.Name] = true
		for j, id := range r.Devices {
			if _, ok := c.DeviceByID(id); !ok && len(c.Devices) > 0 {
				add(fmt.Sprintf("%s.devices[%d]", p, j), "no device has id %q", id)
			}
		}
		if !slices.Contains(RuleTypes, r.Type) {
			if r.Type == "" {
				add(p, "say what raises the alarm: below or above (threshold), equals or in (state), event, or type: %s",
					strings.Join(RuleTypes, ", "))
			} else {
				add(p+".type", "%q is not a rule type; use one of %s", r.Type, strings.Join(RuleTypes, ", "))
			}
		}
		ps = append(ps, c.validateRuleType(p, r)...)
		for _, d := range []struct {
			name string
			v    time.Duration
		}{{"for", r.For}, {"keep_for", r.KeepFor}, {"min_hold", r.MinHold}, {"clear_after", r.ClearAfter}, {"no_data_for", r.NoDataFor}} {
			if d.v < 0 {
				add(p+"."+d.name, "must not be negative, got %s", d.v)
			}
		}
		if r.MaxRaisesPerHour < 0 {
			add(p+".max_raises_per_hour", "must be 0 (no cap) or more")
		}
		if !slices.Contains(TicketKinds, r.Ticket) {
			add(p+".ticket", "%q is not a ticket kind; use one of %s", r.Ticket, strings.Join(TicketKinds, ", "))
		}
		if r.Priority != "" && !slices.Contains([]string{"P1", "P2", "P3"}, r.Priority) {
			add(p+".priority", "%q is not a priority; use P1, P2 or P3", r.Priority)
		}
		if !slices.Contains(Severities, r.Severity) {
			add(p+".severity", "%q is not a severity; use one of %s", r.Severity, strings.Join(Severities, ", "))
		}
		for field, tmpl := range map[string]string{"title": r.Title, "title_en": r.TitleEN, "message.zh": r.Message.ZH, "message.en": r.Message.EN} {
			if bad := unknownPlaceholder(tmpl); bad != "" {
				add(p+"."+field, "unknown placeholder {%s}; use %s", bad, "{"+strings.Join(Placeholders, "} {")+"}")
			}
		}
	}
	return ps
}

func (c *Config) validateRuleType(p string, r Rule) []Problem {
	var ps []Problem
	add := func(path, format string, args ...any) { ps = append(ps, c.Problemf(path, format, args...)) }
	needPoint := func() {
		if r.Point == "" {
			add(p+".point", "required: the point the rule watches, such as balance")
		}
		if len(r.Points) > 0 {
			add(p+".points", "only threshold, deviation and imbalance rules judge several points; give point")
		}
	}
	needPoints := func(min int) {
		if r.Point != "" {
			add(p+".point", "a %s rule judges points (a list), not point", r.Type)
		}
		if len(r.Points) < min {
			add(p+".points", "required: at least %d points judged together, such as [voltage_l1, voltage_l2, voltage_l3]", min)
		}
	}
	for j, pt := range r.Points {
		if pt == "" || slices.Contains(r.Points[:j], pt) {
			add(fmt.Sprintf("%s.points[%d]", p, j), "must be a point name, each once")
		}
	}
	if r.Abs && r.Type != RuleThreshold {
		add(p+".abs", "applies to threshold rules only")
	}
	if r.Type != RuleDeviation && (r.Nominal != nil || r.BelowPct != nil || r.AbovePct != nil) {
		add(p+".nominal", "nominal, below_pct and above_pct apply to deviation rules only")
	}
	if r.Type != RuleImbalance && r.MinMean != nil {
		add(p+".min_mean", "applies to imbalance rules only")
	}
	switch r.GroupBy {
	case "":
	case GroupBySource:
		if r.Type != RuleEvent {
			add(p+".group_by", "applies to event rules only")
		}
	default:
		add(p+".group_by", "%q is not a grouping; use %s (one alarm per building and event source)", r.GroupBy, GroupBySource)
	}
	if len(r.Category) > 64 {
		add(p+".category", "longer than 64 bytes")
	}
	if len(r.Points) > 0 && !slices.Contains([]string{RuleThreshold, RuleDeviation, RuleImbalance, RuleState, RuleRising}, r.Type) {
		add(p+".points", "%s %s rule judges no points", article(r.Type), r.Type)
	}
	switch r.Type {
	case RuleThreshold:
		if len(r.Points) == 0 {
			needPoint()
		} else if r.Point != "" {
			add(p+".points", "give either point or points, not both")
		}
		switch {
		case r.Below == nil && r.Above == nil:
			add(p, "give either below or above")
		case r.Below != nil && r.Above != nil:
			add(p+".above", "give either below or above, not both")
		case r.Below != nil && r.Clear != nil && *r.Clear < *r.Below:
			add(p+".clear", "must be at or above below (%g) so that the alarm can clear", *r.Below)
		case r.Above != nil && r.Clear != nil && *r.Clear > *r.Above:
			add(p+".clear", "must be at or below above (%g) so that the alarm can clear", *r.Above)
		}
	case RuleState:
		needPoint()
		if (r.Equals == nil) == (len(r.In) == 0) {
			add(p, "a state rule gives either equals or in (a list of values)")
		}
	case RuleRising:
		needPoint()
		if r.OnlyIf == nil {
			add(p+".only_if", "required: the condition after which the point must not rise, such as {point: relay, equals: 0}")
		}
		if r.RiseBy != nil && *r.RiseBy < 0 {
			add(p+".rise_by", "must not be negative")
		}
	case RuleEvent:
		if r.Event == "" {
			add(p+".event", "required: the event type, such as fire_alarm or door_forced")
		}
	case RuleDeviation:
		needPoints(1)
		if r.Nominal == nil || *r.Nominal <= 0 {
			add(p+".nominal", "required: the nominal value in the points' unit, such as 220 (V)")
		}
		if r.BelowPct == nil && r.AbovePct == nil {
			add(p, "give below_pct, above_pct or both: the allowed deviation from nominal in percent")
		}
		for name, v := range map[string]*float64{"below_pct": r.BelowPct, "above_pct": r.AbovePct} {
			if v != nil && (*v <= 0 || *v >= 100) {
				add(p+"."+name, "must be a percentage above 0 and below 100, got %g", *v)
			}
		}
		if r.Below != nil || r.Above != nil || r.Clear != nil {
			add(p, "a deviation rule's band is nominal, below_pct and above_pct; below, above and clear are for threshold rules")
		}
	case RuleImbalance:
		needPoints(2)
		switch {
		case r.Above == nil:
			add(p+".above", "required: the imbalance in percent (largest deviation from the mean over the mean) that fires")
		case *r.Above <= 0:
			add(p+".above", "must be a percentage above 0, got %g", *r.Above)
		case r.Clear != nil && (*r.Clear > *r.Above || *r.Clear < 0):
			add(p+".clear", "must be between 0 and above (%g) so that the alarm can clear", *r.Above)
		}
		if r.Below != nil {
			add(p+".below", "an imbalance rule fires above a percentage; below is for threshold rules")
		}
		if r.MinMean != nil && *r.MinMean < 0 {
			add(p+".min_mean", "must not be negative")
		}
	case RuleNoData:
		if r.NoDataFor <= 0 {
			add(p+".no_data_for", "required: how long without a good reading raises the alarm, such as 5m")
		}
	}
	if r.OnlyIf != nil {
		o := r.OnlyIf
		n := 0
		for _, set := range []bool{o.Below != nil, o.Above != nil, o.Equals != nil} {
			if set {
				n++
			}
		}
		if o.Point == "" {
			add(p+".only_if.point", "required")
		}
		if n != 1 {
			add(p+".only_if", "give exactly one of below, above or equals")
		}
	}
	return ps
}

// unknownPlaceholder returns the first {name} in a template that is not a placeholder.
func unknownPlaceholder(tmpl string) string {
	for {
		i := strings.IndexByte(tmpl, '{')
		if i < 0 {
			return ""
		}
		j := strings.IndexByte(tmpl[i:], '}')
		if j < 0 {
			return ""
		}
		name := tmpl[i+1 : i+j]
		if !slices.Contains(Placeholders, name) {
			return name
		}
		tmpl = tmpl[i+j+1:]
	}
}

// article is "a" or "an" before a word.
func article(w string) string {
	if w != "" && strings.ContainsRune("aeiou", rune(w[0])) {
		return "an"
	}
	return "a"
}

// Selects reports whether the rule selects a device by its family, profile,
// location, ids and tags (what the alarm engine matches on; an outage rule
// selects feeders, not devices).
func (r Rule) Selects(d Device) bool {
	if r.Type == RuleOutage {
		return false
	}
	if r.Family != "" && r.Family != d.Family || r.Profile != "" && r.Profile != d.Profile ||
		r.Building != "" && r.Building != d.Building || r.Floor != "" && r.Floor != d.Floor {
		return false
	}
	if len(r.Devices) > 0 && !slices.Contains(r.Devices, d.ID) {
		return false
	}
	for _, t := range r.Tags {
		if !slices.Contains(d.Tags, t) {
			return false
		}
	}
	return true
}
