// Package alarm turns readings, device events and device health into alarms,
// split by concern the way Alertmanager is:
//
//   - rules.go: rules compiled from configuration and their conditions
//     (threshold with hysteresis, state match, rising, event, offline, no data);
//   - lifecycle.go: the per-alarm state machine (inactive → pending → firing →
//     resolved, one episode per firing) with for, keep_for and flapping damping;
//   - engine.go: fingerprints, evaluation, and the one way results leave;
//   - inhibit.go: outage inference from topology, and the Inhibitor that mutes
//     the alarms of a feeder that is out;
//   - groups.go: the devices that fall silent together when the gateway, a
//     serial bus or a TCP endpoint fails: one incident for them, and the
//     Muter of their offline alarms;
//   - silence.go: maintenance windows (Silences) that mute what they cover;
//   - cause.go: why an alarm is muted (Cause), typed, rendered to the text
//     people read;
//   - notify.go: what a transition asks of the desk (open, note, close);
//   - store.go: the alarms table of the gateway's state file (gateway/statedb);
//   - api.go: /api/v1/alarms.
//
// The engine consumes muting through the Muter interface: it asks whether a
// firing alarm is muted and records the Cause; it does not know windows or
// feeders or groups.
//
// Results leave one way. Each call (Evaluate, ObserveEvent, ObserveHealth,
// Tick) applies its observations, then commits what changed in one store
// transaction: the state of every alarm that changed and the desk actions
// (Actions) of its transitions, which go to the outbox table of the same file.
// Only then does the call return the transitions, for the caller to count,
// log and write to telemetry, and to wake the outbox. A failed commit undoes
// the call's changes in memory and returns nothing, so that the next
// observation retries. Heartbeats and /api/v1/alarms read the state through
// Snapshot.
//
// An alarm is keyed by a fingerprint of (site, rule, device[, source]); its
// state, pending timers included, is persisted before the call returns, so
// that a restart neither loses a firing alarm nor restarts a for clock.
package alarm

import (
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/estatehq/estate/devices"
	"github.com/estatehq/estate/internal/config"
	"github.com/estatehq/estate/internal/wire"
)

// State of an alarm in a transition.
type State string

const (
	StateFiring   State = "firing"
	StateResolved State = "resolved"
	// StateJoined: another sensor joined a room's firing incident (a note on its ticket).
	StateJoined State = "joined"
)

// Key is the fingerprint of a rule on a device: site/rule/device.
func Key(site, rule, device string) string { return site + "/" + rule + "/" + device }

// Alarm is one alarm's state, as the state file keeps it (JSON in the alarms
// table); /api/v1/alarms lists it as a View.
type Alarm struct {
	Key    string `json:"key"`
	Rule   string `json:"rule"`
	Device string `json:"device"` // a device id, or a feeder id for an outage
	Point  string `json:"point,omitempty"`
	Source string `json:"source,omitempty"` // where on the device an event happened
	// SourceZH is Source in Chinese, when the device's family has words
	// for it (3号门): Chinese messages show it; the key keeps Source.
	SourceZH string `json:"source_zh,omitempty"`
	Lifecycle
	Value   float64   `json:"value"`
	ValueAt time.Time `json:"value_at,omitzero"`
	Text    string    `json:"text,omitempty"`
	// TextZH is Text in Chinese, when the device, its code table or the
	// engine has it: the rule's zh message shows it.
	TextZH string `json:"text_zh,omitempty"`
	// Suppressed says why a firing alarm is recorded but not ticketed. It is
	// kept as an object; state written before causes were typed holds its
	// text, which reads back as a SavedText cause.
	Suppressed Cause `json:"suppressed,omitzero"`
	// Ticketed is set once the desk was asked to open a ticket for this episode.
	Ticketed bool `json:"ticketed,omitempty"`
	// Baseline is a rising rule's value when its guard began to hold.
	Baseline *float64 `json:"baseline,omitempty"`
	// LastEvent is when an event alarm's event last arrived (for clear_after).
	LastEvent time.Time `json:"last_event,omitzero"`
	// Room is where an alarm of a rule grouped by source is, and Sensors
	// are the sensors of its episode (rooms.go).
	Room    *RoomRef     `json:"room,omitempty"`
	Sensors []RoomSensor `json:"sensors,omitempty"`
}

// Episode identifies one firing of an alarm: the desk actions of an episode
// carry idempotency keys derived from it.
func (a *Alarm) Episode() string { return a.Key + "@" + strconv.FormatInt(a.FiredAt.UnixNano(), 10) }

// Transition is an alarm that fired or resolved. The engine commits its desk
// actions (Actions) with the alarm's state, then returns it to the caller for
// metrics, telemetry and logs.
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
	// SourceZH is Source in Chinese, when there is one (3号门, 轿厢).
	SourceZH string
	Text     string
	TextZH   string // Text in Chinese, when there is one
	Feeder   string
	// Group is, for a silent gateway's, bus's or endpoint's incident, its id
	// (the gateway's id or the link's key).
	Group string
	// Room is, for the alarm of a rule grouped by source, the room; Joined,
	// on a joined transition, the sensor that joined.
	Room   *RoomRef
	Joined string
	// LastError is, for an offline alarm, the device's last error as the
	// gateway's health tracker has it ("timeout", "exception 11 (...)").
	LastError string
	// Evidence is, for an offline alarm of a meter that reports its
	// power-failure count (DL/T 645 掉电总次数, 03 11 00 00), what the count
	// says: how often the meter lost power lately (its supply, not its link,
	// may be at fault) or that it did not, in Chinese and in English.
	Evidence, EvidenceEN string
	// Suppressed, on a firing transition, says why it is recorded but not ticketed.
	Suppressed Cause
	// Ticket asks the desk to act: open a ticket when firing, note (or close a
	// top-up reminder) when resolved.
	Ticket bool
	// Late marks a firing alarm whose suppression ended while it still fires.
	Late bool
}

// Store persists alarm state and the outbox it shares a file with.
type Store interface {
	Load() ([]Alarm, error)
	// Commit writes a Batch in one transaction: all of it or nothing.
	Commit(Batch) error
}

// Batch is what one engine call changed: the alarms to save and the keys to
// forget (state and pending timers), and the desk actions their transitions
// ask for, in order.
type Batch struct {
	Save    []*Alarm
	Delete  []string
	Actions []wire.AlarmAction
}

// Target is what a Muter is asked about: an alarm's device (or, for an
// outage alarm, its feeder) and whether its rule is suppressed by an outage.
type Target struct {
	ID, Building string
	OnOutage     bool
	// Feeder: the alarm is a feeder's outage alarm (ID is the feeder's).
	Feeder bool
}

// Muter says whether an alarm that fires (or still fires) at now must be
// recorded without a ticket, and why. Silences and the Inhibitor are Muters.
type Muter interface {
	Mutes(t Target, now time.Time) (Cause, bool)
}

// Muters asks each in turn; the first that mutes decides.
type Muters []Muter

// Mutes implements Muter.
func (ms Muters) Mutes(t Target, now time.Time) (Cause, bool) {
	for _, m := range ms {
		if c, ok := m.Mutes(t, now); ok {
			return c, true
		}
	}
	return Cause{}, false
}

// Options configure an engine.
type Options struct {
	Config *config.Config
	// Store keeps alarm state (and receives the desk actions) across restarts;
	// nil keeps it in memory only.
	Store Store
	Log   *slog.Logger
	// Now is the engine's clock at start (no-data baselines); time.Now if nil.
	Now func() time.Time
	// Location is the site's time zone for the desk actions' messages; UTC if nil.
	Location *time.Location
	// Metrics are where the engine counts; nil: a private registry.
	Metrics *Metrics
	// Links are where the gateway reaches its polled devices, by device id
	// (the drivers' Bus()): the devices of one serial bus or one TCP endpoint,
	// and all of them, fall silent together when what they share fails. Nil:
	// no groups (every silent device is its own offline alarm).
	Links map[string]Link
}

// Engine evaluates every rule. Safe for concurrent use.
type Engine struct {
	site    string
	cfg     *config.Config
	rules   []*rule
	outage  *rule
	store   Store
	log     *slog.Logger
	loc     *time.Location
	m       *Metrics
	started time.Time
	// mute is asked when an alarm fires and while a muted one fires:
	// maintenance windows first, then the inhibitor (feeders), then the
	// groups (a silent gateway, bus or endpoint).
	mute       Muter
	windows    *windowMuter
	inhibitor  *Inhibitor
	groupMuter *groupMuter

	mu      sync.Mutex
	devs    map[string]*device
	slots   map[string]*slot // every fingerprint, by key
	live    map[string]*slot // the slots whose alarm has state
	feeders []*feeder
	groups  []*group // the gateway's group first
	// The current call's results: its transitions, and the state of every
	// slot it changed as it was before (to commit, or to undo).
	out     []Transition
	touched map[*slot]undo
	order   []*slot
}

// undo is a slot as it was before the current call changed it.
type undo struct {
	alarm         *Alarm
	live, indexed bool
}

// device is one device's rules and what the engine knows of it.
type device struct {
	cfg     config.Device
	info    *devices.Info
	reading []*slot // threshold, state, rising
	offline []*slot
	noData  []*slot
	events  []*rule
	probes  []probe
	bus     string

	lastGood  time.Time
	known     bool // health was reported
	isOffline bool
	// heardAt is when the gateway last reported the device's health (a poll
	// answered or not): a silence is only evidence once it has been looked at.
	heardAt      time.Time
	offlineSince time.Time
	// lastError is the device's last error while it is silent, for its
	// offline alarm's ticket and its group's evidence.
	lastError string
	// power is what the meter's power-failure count said (powerevidence.go).
	power powerHistory
}

// slot is one fingerprint: a rule on a device (or a feeder, or an event source).
type slot struct {
	rule   *rule
	key    string
	timing Timing
	dev    *device  // nil for outages and group incidents
	feeder *feeder  // outages only
	group  *group   // group incidents only
	room   *RoomRef // rules grouped by source only
	alarm  *Alarm   // nil while the alarm has no state
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
	loc := o.Location
	if loc == nil {
		loc = time.UTC
	}
	m := o.Metrics
	if m == nil {
		m = NewMetrics(nil)
	}
	e := &Engine{site: cfg.Site.ID, cfg: cfg, store: o.Store, log: log, loc: loc, m: m, started: now(),
		devs: map[string]*device{}, slots: map[string]*slot{}, live: map[string]*slot{}, touched: map[*slot]undo{}}
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
	e.buildGroups(o.Links)
	// Feeder inference keeps precedence over groups: a feeder's outage
	// explains its devices' silence better than the line they share.
	// The desk's windows (a planned outage) come before inference: the
	// silence they explain is announced, not inferred.
	e.windows = newWindowMuter(e.inhibitor)
	e.mute = Muters{Silences(cfg.Maintenance), e.windows, e.inhibitor, e.groupMuter}
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
		case config.RuleThreshold, config.RuleState, config.RuleRising, config.RuleDeviation, config.RuleImbalance:
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
	if !ok && a.Room != nil {
		s, ok = e.restoreRoom(a)
		if ok {
			e.slots[a.Key] = s
		}
	}
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
		if err := e.store.Commit(Batch{Delete: []string{a.Key}}); err != nil {
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
	if n, ok := r.Get(devices.PointPowerFailuresNew); ok {
		d.power.observe(r.Time, n)
	}
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
	e.m.evaluations.Add(float64(len(d.reading)))
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
	if s.rule.multi() {
		e.evalMulti(s, r)
		return
	}
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
		} else if s.group != nil {
			s.alarm.Device = s.group.id
		} else if s.room != nil {
			ref := *s.room
			s.alarm.Device, s.alarm.Source, s.alarm.Room = s.room.Name, s.room.Name, &ref
		}
		e.live[s.key] = s
	}
	return s.alarm
}

// observe feeds one observation of a slot's condition to its lifecycle and
// records what changed for the call's commit (flush).
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
	e.touch(s)
	a.Lifecycle = next
	e.changed(s, change, now)
}

// changed records what a lifecycle change of a slot's alarm means: a firing
// transition (muted or ticketed) or a resolved one.
func (e *Engine) changed(s *slot, change Change, now time.Time) {
	a := s.alarm
	switch change {
	case FiredNow:
		a.Suppressed = e.mutes(s, now)
		a.Ticketed = !a.Suppressed.Muted() && s.rule.cfg.Ticket != "none"
		e.out = append(e.out, *e.transition(s, StateFiring))
	case ResolvedNow:
		tr := e.transition(s, StateResolved)
		tr.Ticket = a.Ticketed
		e.out = append(e.out, *tr)
		a.Suppressed, a.Ticketed, a.Text, a.TextZH = Cause{}, false, "", ""
	}
	e.settle(s, now)
}

// mutes asks the Muter about a slot's alarm.
func (e *Engine) mutes(s *slot, now time.Time) Cause {
	t := Target{OnOutage: s.dev != nil && s.rule.cfg.SuppressedByOutage()}
	switch {
	case s.dev != nil:
		t.ID, t.Building = s.dev.cfg.ID, s.dev.cfg.Building
	case s.feeder != nil:
		t.ID, t.Building, t.Feeder = s.feeder.cfg.ID, s.feeder.cfg.Building, true
	case s.group != nil:
		t.ID, t.Building = s.group.id, s.group.building()
	case s.room != nil:
		t.ID, t.Building = firstSensorDevice(s.alarm), s.room.Building
	}
	c, _ := e.mute.Mutes(t, now)
	return c
}

// touch remembers a slot as it is before the current call changes it.
func (e *Engine) touch(s *slot) {
	if _, ok := e.touched[s]; ok {
		return
	}
	u := undo{live: e.live[s.key] == s, indexed: e.slots[s.key] == s}
	if s.alarm != nil {
		cp := *s.alarm
		u.alarm = &cp
	}
	e.touched[s] = u
	e.order = append(e.order, s)
}

// settle forgets the state of an alarm that has none left to keep.
func (e *Engine) settle(s *slot, now time.Time) {
	a := s.alarm
	if !a.Idle(now) || a.Baseline != nil {
		return
	}
	s.alarm = nil
	delete(e.live, s.key)
	if s.dev != nil && a.Source != "" || s.room != nil {
		delete(e.slots, s.key) // event sources and rooms come and go
	}
}

// flush commits the current call's changes and returns its transitions: the
// one way results leave the engine. The alarms that changed and the desk
// actions of the transitions are written in one transaction; if it fails,
// the changes are undone in memory, nothing is returned, and the next
// observation of those alarms retries.
func (e *Engine) flush() []Transition {
	if len(e.order) == 0 {
		return nil
	}
	out := e.out
	defer func() {
		e.out, e.order = nil, e.order[:0]
		clear(e.touched)
	}()
	if e.store != nil {
		var b Batch
		final := make(map[string]*slot, len(e.order))
		keys := make([]string, 0, len(e.order))
		for _, s := range e.order {
			if _, ok := final[s.key]; !ok {
				keys = append(keys, s.key)
			}
			final[s.key] = s // the last slot of a key (event sources) has its state
		}
		for _, k := range keys {
			if s := final[k]; s.alarm != nil {
				cp := *s.alarm
				b.Save = append(b.Save, &cp)
			} else {
				b.Delete = append(b.Delete, k)
			}
		}
		for _, tr := range out {
			b.Actions = append(b.Actions, Actions(tr, e.loc)...)
		}
		if err := e.store.Commit(b); err != nil {
			e.m.persistErrors.Inc()
			e.log.Error("alarm changes not recorded; they are retried with the next evaluation",
				"alarms", len(keys), "transitions", len(out), "err", err)
			e.rollback()
			return nil
		}
	}
	for _, tr := range out {
		if tr.State == StateFiring && !tr.Late && tr.Suppressed.Muted() {
			e.m.suppressions.WithLabelValues(tr.Suppressed.Metric()).Inc()
		}
	}
	e.updateGauges()
	return out
}

// rollback puts every slot the current call changed back as it was. Latest
// first: when a key's slot was replaced within the call (an event source that
// resolved and came back), its first slot ends up in the indexes.
func (e *Engine) rollback() {
	for i := len(e.order) - 1; i >= 0; i-- {
		s := e.order[i]
		u := e.touched[s]
		s.alarm = u.alarm
		if u.live {
			e.live[s.key] = s
		} else if e.live[s.key] == s {
			delete(e.live, s.key)
		}
		if u.indexed {
			e.slots[s.key] = s
		} else if e.slots[s.key] == s {
			delete(e.slots, s.key)
		}
	}
}

func (e *Engine) transition(s *slot, st State) *Transition {
	a := s.alarm
	tr := &Transition{Key: a.Key, Episode: a.Episode(), Rule: s.rule.cfg, State: st, Point: a.Point,
		Value: a.Value, At: a.ValueAt, Source: a.Source, SourceZH: a.SourceZH, Text: a.Text, TextZH: a.TextZH, Suppressed: a.Suppressed,
		Ticket: st == StateFiring && a.Ticketed}
	if tr.At.IsZero() {
		tr.At = a.FiredAt
	}
	switch {
	case s.dev != nil:
		tr.Device = s.dev.info
		if s.rule.cfg.Type == config.RuleOffline && s.dev.isOffline {
			tr.LastError = s.dev.lastError
			tr.Evidence, tr.EvidenceEN = s.dev.power.evidence(tr.At, e.loc)
		}
	case s.group != nil:
		tr.Group = s.group.id
		tr.Device = &devices.Info{ID: s.group.id, Site: e.site, Building: s.group.building(), Units: map[string]string{}}
	case s.feeder != nil:
		tr.Feeder = s.feeder.cfg.ID
		tr.Device = &devices.Info{ID: s.feeder.cfg.ID, Site: e.site, Building: s.feeder.cfg.Building, Units: map[string]string{}}
	case s.room != nil:
		ref := *s.room
		tr.Room = &ref
		tr.Device = &devices.Info{ID: firstSensorDevice(a), Site: e.site, Building: s.room.Building,
			Floor: s.room.Floor, Unit: s.room.Name, Units: map[string]string{}}
		if tr.Device.ID == "" {
			tr.Device.ID = s.room.Name
		}
	}
	return tr
}

// ObserveEvent applies the event rules of a device event.
func (e *Engine) ObserveEvent(ev devices.Event) []Transition {
	e.mu.Lock()
	defer e.mu.Unlock()
	d := e.deviceOf(ev.Device)
	for _, r := range d.events {
		e.m.evaluations.Inc()
		c := r.cfg
		switch {
		case c.GroupBy == config.GroupBySource && (ev.Type == c.Event || c.ClearEvent != "" && ev.Type == c.ClearEvent):
			e.roomEvent(r, d, ev)
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
			if ev.SourceZH != "" {
				// An event without the family's words (a repeat from a
				// path that does not name it) keeps the name it had.
				a.SourceZH = ev.SourceZH
			}
			if ev.Active {
				a.LastEvent, a.Text, a.TextZH = ev.Time, ev.Text, ev.TextZH
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
// health tracker) and evaluates its offline rules, the outage inference and
// the silence of its groups. lastErr is the device's last error while it is
// offline (the health tracker's LastError): its offline alarm's ticket and
// its group's evidence name it.
func (e *Engine) ObserveHealth(id string, offline bool, lastErr string, at time.Time) []Transition {
	e.mu.Lock()
	defer e.mu.Unlock()
	d, ok := e.devs[id]
	if !ok {
		return nil
	}
	if offline && lastErr != "" {
		d.lastError = lastErr // not alarm state: what the next ticket says
	}
	if at.After(d.heardAt) {
		d.heardAt = at
	}
	if d.known && d.isOffline == offline {
		return nil // nothing new: Tick advances the clocks
	}
	d.known = true
	if offline && !d.isOffline {
		d.offlineSince = at
	}
	d.isOffline = offline
	// Feeders and groups first: an offline alarm that fires in this call
	// asks them whether its silence is explained.
	e.inferOutages(at)
	e.inferGroups(at)
	for _, s := range d.offline {
		e.m.evaluations.Inc()
		e.observe(s, offline, at, 0)
	}
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
		if s.room != nil {
			e.tickRoom(s, now)
			continue
		}
		if s.rule.cfg.Type != config.RuleEvent || a == nil || a.Phase != Firing {
			continue
		}
		if !a.ClearSince.IsZero() || s.rule.cfg.ClearAfter > 0 && now.Sub(a.LastEvent) >= s.rule.cfg.ClearAfter {
			e.observe(s, false, now, 0)
		}
	}
	e.inferOutages(now)
	e.inferGroups(now)
	e.reviewSuppressed(now)
	return e.flush()
}

// reviewSuppressed asks the Muter again about firing alarms that were
// muted: once the outage (after its grace) or the maintenance window is over,
// an alarm that still fires is ticketed then (a late transition).
func (e *Engine) reviewSuppressed(now time.Time) {
	for _, s := range e.live {
		a := s.alarm
		if a == nil || a.Phase != Firing || !a.Suppressed.Muted() {
			continue
		}
		why := e.mutes(s, now)
		if why.Equal(a.Suppressed) {
			continue
		}
		if !why.Muted() && a.Suppressed.inferred() && e.unsettled(s.dev, now) {
			continue // restored from the state file: wait until its cause can be judged again
		}
		if !why.Muted() && s.dev != nil && !a.Suppressed.RestoredAt.IsZero() && s.dev.heardAt.Before(a.Suppressed.RestoredAt) {
			// The power (or the link) came back, but the device has not been
			// polled since: a poller backing off after the outage's failures
			// may look again only after the grace. Its silence is not yet
			// evidence of a fault of its own; its next poll decides.
			continue
		}
		e.touch(s)
		a.Suppressed = why
		if !why.Muted() && s.rule.cfg.Ticket != "none" {
			a.Ticketed = true
			tr := e.transition(s, StateFiring)
			tr.Late = true
			e.out = append(e.out, *tr)
		}
		e.settle(s, now)
	}
}

func (e *Engine) updateGauges() {
	var on, off float64
	for _, s := range e.live {
		if s.alarm != nil && s.alarm.Phase == Firing {
			if s.alarm.Suppressed.Muted() {
				on++
			} else {
				off++
			}
		}
	}
	e.m.firing.WithLabelValues("true").Set(on)
	e.m.firing.WithLabelValues("false").Set(off)
}
