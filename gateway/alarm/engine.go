// Package alarm turns readings, device events and device health into alarms,
// split by concern the way Alertmanager is:
//
//   - rules.go: rules compiled from configuration and their conditions
//     (threshold with hysteresis, state match, rising, event, offline, no data);
//   - lifecycle.go: the per-alarm state machine (inactive → pending → firing →
//     resolved) with for, keep_for and flapping damping;
//   - engine.go: fingerprints, evaluation and persistence of every alarm;
//   - inhibit.go: outage inference from topology and the suppression it causes;
//   - silence.go: maintenance windows;
//   - notify.go: what a transition asks of the desk (open, note, close);
//   - api.go: /api/v1/alarms.
//
// An alarm is keyed by a fingerprint of (site, rule, device[, source]); its
// state, pending timers included, is persisted before the engine moves on, so
// that a restart neither loses a firing alarm nor restarts a for clock.
package alarm

import (
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/estatehq/estate/devices"
	"github.com/estatehq/estate/internal/config"
)

var (
	evaluations = promauto.NewCounter(prometheus.CounterOpts{
		Name: "estate_alarm_evaluations_total", Help: "Rule evaluations against readings, events and health."})
	suppressions = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "estate_alarm_suppressed_total", Help: "Alarms that fired while suppressed, by cause (outage, maintenance)."}, []string{"cause"})
	firingGauge = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Name: "estate_alarm_firing", Help: "Alarms firing now, by whether they are suppressed."}, []string{"suppressed"})
	persistErrors = promauto.NewCounter(prometheus.CounterOpts{
		Name: "estate_alarm_persist_errors_total", Help: "Alarm state writes that failed."})
)

// State of an alarm in a transition.
type State string

const (
	StateFiring   State = "firing"
	StateResolved State = "resolved"
)

// Key is the fingerprint of a rule on a device: site/rule/device.
func Key(site, rule, device string) string { return site + "/" + rule + "/" + device }

// Alarm is one alarm's persisted state, as the console lists it.
type Alarm struct {
	Key    string `json:"key"`
	Rule   string `json:"rule"`
	Device string `json:"device"` // a device id, or a feeder id for an outage
	Point  string `json:"point,omitempty"`
	Source string `json:"source,omitempty"` // where on the device an event happened
	Lifecycle
	Value   float64   `json:"value"`
	ValueAt time.Time `json:"value_at,omitzero"`
	Text    string    `json:"text,omitempty"`
	// Suppressed says why a firing alarm is recorded but not ticketed.
	Suppressed string `json:"suppressed,omitempty"`
	// Ticketed is set once the desk was asked to open a ticket for this episode.
	Ticketed bool `json:"ticketed,omitempty"`
	// Baseline is a rising rule's value when its guard began to hold.
	Baseline *float64 `json:"baseline,omitempty"`
	// LastEvent is when an event alarm's event last arrived (for clear_after).
	LastEvent time.Time `json:"last_event,omitzero"`
}

// Episode identifies one firing of an alarm: the desk actions of an episode
// carry idempotency keys derived from it.
func (a *Alarm) Episode() string { return a.Key + "@" + strconv.FormatInt(a.FiredAt.UnixNano(), 10) }

// Transition is an alarm that fired or resolved; the notifier turns it into
// desk actions, telemetry and logs.
type Transition struct {
	Key     string
	Episode string
	Rule    *config.Rule
	Device  *devices.Info
	State   State
	Point   string
	Value   float64
	At      time.Time
	Source  string
	Text    string
	Feeder  string
	// Suppressed, on a firing transition, says why it is recorded but not ticketed.
	Suppressed string
	// Ticket asks the desk to act: open a ticket when firing, note (or close a
	// top-up reminder) when resolved.
	Ticket bool
	// Late marks a firing alarm whose suppression ended while it still fires.
	Late bool
}

// Notifier is told of every transition before the engine persists it; an
// error leaves the alarm where it was so that the next evaluation retries.
type Notifier func(Transition) error

// Store persists alarm state.
type Store interface {
	Load() ([]Alarm, error)
	Save(a *Alarm) error
	Delete(key string) error
}

// Options configure an engine.
type Options struct {
	Config *config.Config
	// Store keeps alarm state across restarts; nil keeps it in memory only.
	Store  Store
	Notify Notifier
	Log    *slog.Logger
	// Now is the engine's clock at start (no-data baselines); time.Now if nil.
	Now func() time.Time
}

// Engine evaluates every rule. Safe for concurrent use.
type Engine struct {
	site    string
	cfg     *config.Config
	rules   []*rule
	outage  *rule
	store   Store
	notify  Notifier
	log     *slog.Logger
	started time.Time
	grace   time.Duration
	windows []config.MaintenanceWindow

	mu      sync.Mutex
	devs    map[string]*device
	slots   map[string]*slot // every fingerprint, by key
	live    map[string]*slot // the slots whose alarm has state
	feeders []*feeder
	out     []Transition
}

// device is one device's rules and what the engine knows of it.
type device struct {
	cfg     config.Device
	info    *devices.Info
	reading []*slot // threshold, state, rising
	offline []*slot
	noData  []*slot
	events  []*rule
	feeders []*feeder
	probes  []probe
	bus     string

	lastGood     time.Time
	known        bool // health was reported
	isOffline    bool
	offlineSince time.Time
}

// slot is one fingerprint: a rule on a device (or a feeder, or an event source).
type slot struct {
	rule   *rule
	key    string
	timing Timing
	dev    *device // nil for outages
	feeder *feeder // outages only
	alarm  *Alarm  // nil while the alarm has no state
	// lastGood is when a no_data rule last saw its point.
	lastGood time.Time
	// hint is where the point was in the device's last reading: drivers send
	// their points in a stable order, so the lookup is usually one comparison.
	hint int
}

// get returns the slot's point from a reading, if it is there with good quality.
func (s *slot) get(r *devices.Reading) (float64, bool) {
	point := s.rule.cfg.Point
	if s.hint < len(r.Values) && r.Values[s.hint].Point == point {
		v := &r.Values[s.hint]
		return v.Value, v.Quality == devices.Good && !v.IsText
	}
	for i := range r.Values {
		if v := &r.Values[i]; v.Point == point {
			s.hint = i
			return v.Value, v.Quality == devices.Good && !v.IsText
		}
	}
	return 0, false
}

// NewEngine compiles the configured rules, indexes them per device and loads
// the persisted alarm state.
func NewEngine(o Options) (*Engine, error) {
	cfg := o.Config
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	e := &Engine{site: cfg.Site.ID, cfg: cfg, store: o.Store, notify: o.Notify, log: log, started: now(),
		grace: cfg.Topology.OutageGrace, windows: cfg.Maintenance,
		devs: map[string]*device{}, slots: map[string]*slot{}, live: map[string]*slot{}}
	for i := range cfg.Rules {
		r := compile(&cfg.Rules[i])
		if r.cfg.Type == config.RuleOutage {
			e.outage = r
			continue
		}
		e.rules = append(e.rules, r)
	}
	if e.outage == nil && len(cfg.Topology.Feeders) > 0 {
		e.outage = compile(DefaultOutageRule())
	}
	for _, d := range cfg.Devices {
		info := devices.NewInfo(e.site, d)
		e.addDevice(d, info)
	}
	e.buildTopology()
	if e.store != nil {
		saved, err := e.store.Load()
		if err != nil {
			return nil, fmt.Errorf("alarm state: %w", err)
		}
		for i := range saved {
			e.restore(&saved[i])
		}
		if len(saved) > 0 {
			log.Info("alarm state restored", "alarms", len(saved))
		}
	}
	e.updateGauges()
	return e, nil
}

// DefaultOutageRule is the outage rule used when topology declares feeders and
// no rule of type outage is configured: one emergency per feeder.
func DefaultOutageRule() *config.Rule {
	return &config.Rule{Name: "power_outage", Type: config.RuleOutage, Severity: "critical", Ticket: "emergency",
		KeepFor: time.Minute,
		Message: config.Message{
			ZH: "{building}栋 供电线路 {feeder} 停电: {text}",
			EN: "Power outage on feeder {feeder} (building {building}): {text}",
		}}
}

func (e *Engine) addDevice(d config.Device, info *devices.Info) *device {
	dv := &device{cfg: d, info: info}
	for _, r := range e.rules {
		if !r.matches(d) {
			continue
		}
		s := &slot{rule: r, key: Key(e.site, r.cfg.Name, d.ID), timing: r.timing, dev: dv}
		switch r.cfg.Type {
		case config.RuleThreshold, config.RuleState, config.RuleRising:
			dv.reading = append(dv.reading, s)
		case config.RuleOffline:
			dv.offline = append(dv.offline, s)
		case config.RuleNoData:
			dv.noData = append(dv.noData, s)
		case config.RuleEvent:
			dv.events = append(dv.events, r)
			continue
		}
		e.slots[s.key] = s
	}
	e.devs[d.ID] = dv
	return dv
}

// deviceOf returns the engine's device for a reading's or event's Info,
// adding devices that the configuration does not list (tests, new drivers).
func (e *Engine) deviceOf(info *devices.Info) *device {
	d, ok := e.devs[info.ID]
	if !ok {
		d = e.addDevice(config.Device{ID: info.ID, Family: info.Family, Profile: info.Model,
			Building: info.Building, Floor: info.Floor, Unit: info.Unit}, info)
	}
	if d.info != info {
		d.info = info // the driver's Info knows the units of the points
	}
	return d
}

// restore attaches a persisted alarm to its slot, or drops it when its rule
// or device is gone from the configuration.
func (e *Engine) restore(a *Alarm) {
	s, ok := e.slots[a.Key]
	if !ok && a.Source != "" {
		if d, found := e.devs[a.Device]; found {
			for _, r := range d.events {
				if r.cfg.Name == a.Rule {
					s = &slot{rule: r, key: a.Key, timing: r.timing, dev: d}
					e.slots[a.Key] = s
					ok = true
				}
			}
		}
	}
	if !ok {
		e.log.Warn("dropping the saved state of an alarm whose rule or device is no longer configured", "alarm", a.Key)
		if err := e.store.Delete(a.Key); err != nil {
			e.log.Error("alarm state: delete", "alarm", a.Key, "err", err)
		}
		return
	}
	cp := *a
	s.alarm = &cp
	e.live[s.key] = s
}

// Evaluate applies the reading's rules and returns the alarms that fired or
// resolved. Points missing or of bad quality leave alarms as they are: a
// device that stops answering does not resolve what it had raised.
func (e *Engine) Evaluate(r devices.Reading) []Transition {
	e.mu.Lock()
	defer e.mu.Unlock()
	d := e.deviceOf(r.Device)
	for _, v := range r.Values {
		if v.Quality == devices.Good {
			d.lastGood = r.Time
			for _, s := range d.noData {
				if e.hasPoint(s, &r) {
					s.lastGood = r.Time
					e.observe(s, false, r.Time, 0)
				}
			}
			break
		}
	}
	for _, s := range d.reading {
		e.evalReading(s, &r)
	}
	if len(d.probes) > 0 {
		e.readProbes(d, &r)
	}
	evaluations.Add(float64(len(d.reading)))
	return e.flush()
}

func (e *Engine) hasPoint(s *slot, r *devices.Reading) bool {
	if s.rule.cfg.Point == "" {
		return true
	}
	_, ok := r.Get(s.rule.cfg.Point)
	return ok
}

func (e *Engine) evalReading(s *slot, r *devices.Reading) {
	c := s.rule.cfg
	v, ok := s.get(r)
	if !ok {
		return
	}
	a := s.alarm
	var active bool
	switch c.Type {
	case config.RuleThreshold:
		active = s.rule.thresholdActive(v, a != nil && a.Phase == Firing)
	case config.RuleState:
		active = s.rule.stateActive(v)
	case config.RuleRising:
		holds, known := s.rule.guard(r)
		if !known {
			return
		}
		switch {
		case !holds:
			if a != nil {
				a.Baseline = nil
			}
		case a == nil || a.Baseline == nil:
			a = e.alarmOf(s)
			b := v
			a.Baseline = &b
		default:
			active = v-*a.Baseline > s.rule.riseBy
		}
	}
	if c.OnlyIf != nil && c.Type != config.RuleRising {
		holds, known := s.rule.guard(r)
		if !known {
			return
		}
		active = active && holds
	}
	if a == nil && !active {
		return
	}
	e.observe(s, active, r.Time, v)
}

// alarmOf returns the slot's alarm, creating its state.
func (e *Engine) alarmOf(s *slot) *Alarm {
	if s.alarm == nil {
		s.alarm = &Alarm{Key: s.key, Rule: s.rule.cfg.Name, Point: s.rule.cfg.Point}
		if s.dev != nil {
			s.alarm.Device = s.dev.cfg.ID
		} else if s.feeder != nil {
			s.alarm.Device = s.feeder.cfg.ID
		}
		e.live[s.key] = s
	}
	return s.alarm
}

// observe feeds one observation of a slot's condition to its lifecycle and
// commits what changed: notify first, then persist, so that a crash in
// between re-fires (the outbox and the desk deduplicate) rather than loses.
func (e *Engine) observe(s *slot, active bool, now time.Time, value float64) {
	if s.alarm == nil && !active {
		return
	}
	a := e.alarmOf(s)
	if active || a.Phase != Inactive {
		a.Value, a.ValueAt = value, now
	}
	next := a.Lifecycle
	change := next.Step(active, now, s.timing)
	if change == NoChange {
		return
	}
	prev := *a
	a.Lifecycle = next
	var tr *Transition
	switch change {
	case FiredNow:
		a.Suppressed = e.suppression(s, now)
		a.Ticketed = a.Suppressed == "" && s.rule.cfg.Ticket != "none"
		if a.Suppressed != "" {
			suppressions.WithLabelValues(suppressionCause(a.Suppressed)).Inc()
		}
		tr = e.transition(s, StateFiring)
	case ResolvedNow:
		tr = e.transition(s, StateResolved)
		tr.Ticket = a.Ticketed
	}
	if tr != nil && e.notify != nil {
		if err := e.notify(*tr); err != nil {
			*a = prev
			e.log.Error("alarm transition not recorded; it is retried with the next evaluation", "alarm", a.Key, "err", err)
			return
		}
	}
	if change == ResolvedNow {
		a.Suppressed, a.Ticketed, a.Text = "", false, ""
	}
	e.persist(s, now)
	if tr != nil {
		e.out = append(e.out, *tr)
		e.updateGauges()
	}
}

func (e *Engine) persist(s *slot, now time.Time) {
	a := s.alarm
	if a.Idle(now) && a.Baseline == nil {
		s.alarm = nil
		delete(e.live, s.key)
		if s.dev != nil && a.Source != "" {
			delete(e.slots, s.key) // event sources come and go
		}
		if e.store != nil {
			if err := e.store.Delete(a.Key); err != nil {
				persistErrors.Inc()
				e.log.Error("alarm state: delete", "alarm", a.Key, "err", err)
			}
		}
		return
	}
	if e.store != nil {
		if err := e.store.Save(a); err != nil {
			persistErrors.Inc()
			e.log.Error("alarm state: save", "alarm", a.Key, "err", err)
		}
	}
}

func (e *Engine) transition(s *slot, st State) *Transition {
	a := s.alarm
	tr := &Transition{Key: a.Key, Episode: a.Episode(), Rule: s.rule.cfg, State: st, Point: a.Point,
		Value: a.Value, At: a.ValueAt, Source: a.Source, Text: a.Text, Suppressed: a.Suppressed,
		Ticket: st == StateFiring && a.Ticketed}
	if tr.At.IsZero() {
		tr.At = a.FiredAt
	}
	switch {
	case s.dev != nil:
		tr.Device = s.dev.info
	case s.feeder != nil:
		tr.Feeder = s.feeder.cfg.ID
		tr.Device = &devices.Info{ID: s.feeder.cfg.ID, Site: e.site, Building: s.feeder.cfg.Building, Units: map[string]string{}}
	}
	return tr
}

func (e *Engine) flush() []Transition {
	if len(e.out) == 0 {
		return nil
	}
	out := e.out
	e.out = nil
	return out
}

// ObserveEvent applies the event rules of a device event.
func (e *Engine) ObserveEvent(ev devices.Event) []Transition {
	e.mu.Lock()
	defer e.mu.Unlock()
	d := e.deviceOf(ev.Device)
	for _, r := range d.events {
		evaluations.Inc()
		c := r.cfg
		switch {
		case ev.Type == c.Event:
			key := Key(e.site, c.Name, d.cfg.ID)
			if ev.Source != "" {
				key += "/" + ev.Source
			}
			s, ok := e.slots[key]
			if !ok {
				if !ev.Active {
					continue
				}
				s = &slot{rule: r, key: key, timing: r.timing, dev: d}
				e.slots[key] = s
			}
			a := e.alarmOf(s)
			a.Source = ev.Source
			if ev.Active {
				a.LastEvent, a.Text = ev.Time, ev.Text
			}
			e.observe(s, ev.Active, ev.Time, 1)
		case c.ClearEvent != "" && ev.Type == c.ClearEvent:
			// A reset clears every source the rule raised on the device.
			for _, s := range e.live {
				if s.rule == r && s.dev == d && s.alarm != nil {
					e.observe(s, false, ev.Time, 0)
				}
			}
		}
	}
	return e.flush()
}

// ObserveHealth records whether a device answers (from the driver via the
// health tracker) and evaluates its offline rules and the outage inference.
func (e *Engine) ObserveHealth(id string, offline bool, at time.Time) []Transition {
	e.mu.Lock()
	defer e.mu.Unlock()
	d, ok := e.devs[id]
	if !ok {
		return nil
	}
	if d.known && d.isOffline == offline {
		return nil // nothing new: Tick advances the clocks
	}
	d.known = true
	if offline && !d.isOffline {
		d.offlineSince = at
	}
	d.isOffline = offline
	for _, s := range d.offline {
		evaluations.Inc()
		e.observe(s, offline, at, 0)
	}
	e.inferOutages(at)
	e.reviewSuppressed(at)
	return e.flush()
}

// Tick advances what time alone changes: offline and no-data alarms, event
// alarms' clear_after and keep_for, outages, and suppressions that ended.
// The gateway calls it every second with its clock; tests with theirs.
func (e *Engine) Tick(now time.Time) []Transition {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, d := range e.devs {
		if d.known {
			for _, s := range d.offline {
				e.observe(s, d.isOffline, now, 0)
			}
		}
		for _, s := range d.noData {
			base := s.lastGood
			if base.IsZero() {
				base = e.started
			}
			e.observe(s, now.Sub(base) >= s.rule.cfg.NoDataFor, now, 0)
		}
	}
	for _, s := range e.live {
		a := s.alarm
		if s.rule.cfg.Type != config.RuleEvent || a == nil || a.Phase != Firing {
			continue
		}
		if !a.ClearSince.IsZero() || s.rule.cfg.ClearAfter > 0 && now.Sub(a.LastEvent) >= s.rule.cfg.ClearAfter {
			e.observe(s, false, now, 0)
		}
	}
	e.inferOutages(now)
	e.reviewSuppressed(now)
	return e.flush()
}

// reviewSuppressed re-evaluates firing alarms that were suppressed: once the
// outage (after its grace) or the maintenance window is over, an alarm that
// still fires is ticketed then.
func (e *Engine) reviewSuppressed(now time.Time) {
	for _, s := range e.live {
		a := s.alarm
		if a == nil || a.Phase != Firing || a.Suppressed == "" {
			continue
		}
		why := e.suppression(s, now)
		if why == a.Suppressed {
			continue
		}
		prev := *a
		a.Suppressed = why
		if why == "" && s.rule.cfg.Ticket != "none" {
			a.Ticketed = true
			tr := e.transition(s, StateFiring)
			tr.Late = true
			if e.notify != nil {
				if err := e.notify(*tr); err != nil {
					*a = prev
					e.log.Error("late alarm not recorded; retried", "alarm", a.Key, "err", err)
					continue
				}
			}
			e.out = append(e.out, *tr)
		}
		e.persist(s, now)
		e.updateGauges()
	}
}

func (e *Engine) updateGauges() {
	var on, off float64
	for _, s := range e.live {
		if s.alarm != nil && s.alarm.Phase == Firing {
			if s.alarm.Suppressed != "" {
				on++
			} else {
				off++
			}
		}
	}
	firingGauge.WithLabelValues("true").Set(on)
	firingGauge.WithLabelValues("false").Set(off)
}
