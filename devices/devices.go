// Package devices holds what every device driver shares: the reading a poll
// produces, the driver interface the gateway schedules, and the registries
// through which each protocol package (devices/modbus, …) makes its protocols
// and its simulated devices (sim.go) available, and each family with logic of
// its own (devices/elevator, devices/access) its behaviour (family.go).
//
// A protocol owns its options: the keys of a device beside the common ones of
// config.Device, decoded strictly from the device's YAML node when the
// configuration is validated (options.go). Profiles of every protocol are read
// by one loader (profile.go). A family's Behaviour turns a device's readings
// over time into events, whatever the transport (family.go).
//
// A package registers itself in its init function; devices/all imports every
// one of them, the way Telegraf's plugins/inputs/all does.
package devices

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/estatehq/estate/devices/points"
	"github.com/estatehq/estate/internal/config"
)

// Quality says how far a reading can be trusted.
type Quality uint8

const (
	// Good: the device answered and the value decoded.
	Good Quality = iota
	// Bad: the device answered with an error or a value that does not decode.
	Bad
	// Stale: the value is the last one known; the device did not answer.
	Stale
)

func (q Quality) String() string {
	switch q {
	case Good:
		return "good"
	case Bad:
		return "bad"
	case Stale:
		return "stale"
	}
	return fmt.Sprintf("quality(%d)", uint8(q))
}

// Value is one point of a reading.
type Value struct {
	Point   string
	Value   float64
	Quality Quality
	// IsText marks a point whose value is text (a serial number, a firmware
	// version): Text holds it and Value is unused.
	IsText bool
	Text   string
}

// Reading is what one poll of one device returned, stamped with the moment it
// was taken (not when it is written anywhere).
type Reading struct {
	Device *Info
	Time   time.Time
	Values []Value
}

// Get returns the value of a point, if the reading has it with good quality.
func (r Reading) Get(point string) (float64, bool) {
	for _, v := range r.Values {
		if v.Point == point && v.Quality == Good && !v.IsText {
			return v.Value, true
		}
	}
	return 0, false
}

// Event is something a device reported happening (a fire alarm in a zone, a
// door forced open, an elevator entrapment), as opposed to a sampled value.
type Event struct {
	Device *Info
	Time   time.Time
	// Type is the event's kind in Estate's vocabulary: fire_alarm, fault,
	// supervisory, disabled, restore, reset, main_power_fault, door_forced,
	// door_held, tamper, entrapment, …
	Type string
	// Source is where on the device it happened ("loop 1 address 23", "door 2"):
	// an identity, part of the alarm key. SourceZH is the same place in
	// Chinese ("1回路 23号", "2号门"), set by the family from its
	// SourceWords, for Chinese messages; "" says the source as it is.
	Source   string
	SourceZH string
	// Active is true when the condition starts and false when it clears.
	Active bool
	// Text is the device's own words, kept for people to read (English or
	// the vendor's language), and TextZH the same in Chinese when a code
	// table or the family has it: a rule's zh message shows TextZH, its en
	// message Text.
	Text   string
	TextZH string
	// Attrs carries what else the device said (zone, floor, code).
	Attrs map[string]string
}

// Info is a device's identity and location; one per device, shared by all its readings.
type Info struct {
	ID       string
	Site     string
	Family   string
	Model    string
	Building string
	Floor    string
	Unit     string
	// Units maps point names to their engineering unit ("kWh", "V", "CNY").
	Units map[string]string
	// Names are the profile's own words for its points, where it has some
	// (label, label_en, states); the console's catalogue names the rest.
	Names map[string]points.Names
}

// NewInfo builds a device's Info from its configuration.
func NewInfo(site string, d config.Device) *Info {
	return &Info{ID: d.ID, Site: site, Family: d.Family, Model: d.Profile,
		Building: d.Building, Floor: d.Floor, Unit: d.Unit, Units: map[string]string{}}
}

// Driver reads one device. The gateway calls Poll on the device's schedule; an
// error means the device did not answer usefully (a link fault, a timeout, an
// exception), which the gateway counts towards marking it offline.
type Driver interface {
	Poll(ctx context.Context) (Reading, error)
	Close() error
}

// Sink receives what stream drivers report.
type Sink interface {
	Reading(Reading)
	Event(Event)
	// Health reports whether a device is heard from: nil when it answered or
	// published, an error when it went silent or its link failed.
	Health(device string, err error)
}

// PointPowerFailuresNew is a point drivers add to a meter's reading when the
// meter reports its power-failure count (DL/T 645 掉电总次数, 03 11 00 00):
// how much the count rose since the meter's previous good reading. The
// alarm engine keeps the rises as outage evidence for the meter's offline
// ticket.
const PointPowerFailuresNew = "power_failures_new"

// ErrNotServed is what a driver's command (a stream driver's SyncClock, …)
// returns for a device that is not one of its own, so that the gateway asks
// the next driver.
var ErrNotServed = errors.New("devices: not a device of this driver")

// ErrNotConnected is a command to a device that has no link to the gateway
// now (a transmission device that has not connected).
var ErrNotConnected = errors.New("not connected")

// Streamer receives data that devices push (MQTT, fire panels on a serial
// line) rather than answering polls. One Streamer serves every device of its
// protocol; it runs until ctx ends.
type Streamer interface {
	Run(ctx context.Context, sink Sink) error
}

// Env is what a driver may need from its surroundings.
type Env struct {
	Config *config.Config
	// Log is where drivers log; nil means slog.Default().
	Log *slog.Logger
	// Metrics is where drivers register their metrics; nil means a private
	// registry that nobody serves (tests, commissioning commands).
	Metrics prometheus.Registerer
}

// Protocol is what a protocol package registers.
type Protocol struct {
	// Options returns new, empty options of the protocol: a pointer to the
	// struct (modbus.Options, …) that the protocol's own keys of a device
	// (address, serial, mqtt, …) decode into, strictly, from the device's
	// mapping. Validate decodes them once, with their defaults (Defaulter),
	// into the device's ProtocolOptions, which Open and OpenStream then read
	// (OptionsOf). Nil: the protocol has no keys of its own.
	Options func() any
	// Exclusive are option keys that a device of another protocol must not
	// carry, with what it is told (%q is replaced by its protocol). Other
	// keys of this protocol are tolerated on other devices: they loaded
	// before each protocol had its own options.
	Exclusive map[string]string
	// DefaultTimeout is the request timeout of the protocol's devices that
	// set none (0: the configuration's default, 1s).
	DefaultTimeout time.Duration
	// ValidateConfig checks what the protocol owns beyond its devices (the
	// mqtt: broker section), once per configuration; it claims its sections
	// (config.Config.Section) even when no device uses them.
	ValidateConfig func(cfg *config.Config) []config.Problem

	// Open connects to the device (lazily: a device that is down at start-up
	// must not stop the gateway) and returns its driver.
	Open func(env Env, dev config.Device, info *Info) (Driver, error)
	// OpenStream, for protocols whose devices push data, returns the one
	// streamer serving all of the protocol's devices (with their infos, in the
	// same order). A protocol sets Open or OpenStream.
	OpenStream func(env Env, devs []config.Device, infos []*Info) (Streamer, error)
	// Validate reports the problems of a device's configuration (address format,
	// profile presence) without connecting; path is like "devices[3]". The
	// device's options are decoded already (OptionsOf).
	Validate func(cfg *config.Config, dev config.Device, path string) []config.Problem
	// Points lists the points a device's readings can carry (its profile's,
	// and those the driver derives), for the check that a rule's point
	// exists; ok false: not known (no profile, or a protocol of events).
	Points func(cfg *config.Config, dev config.Device) (points []string, ok bool)
}

var (
	registryMu sync.RWMutex
	registry   = map[string]Protocol{}
)

// Register makes a protocol available under a name used in device configs.
func Register(name string, p Protocol) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[name]; dup {
		panic("devices: protocol registered twice: " + name)
	}
	registry[name] = p
}

// Protocols lists the registered protocol names, sorted.
func Protocols() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func lookup(name string) (Protocol, bool) {
	registryMu.RLock()
	defer registryMu.RUnlock()
	p, ok := registry[name]
	return p, ok
}

// Polled is one device with the driver that polls it.
type Polled struct {
	Config config.Device
	Info   *Info
	Driver Driver
	// Behaviour is the logic of the device's family over its readings
	// (elevator entrapments, doors held open), nil when its family has none.
	// The gateway feeds it every reading, whatever the transport.
	Behaviour Behaviour
}

// Opened is every configured device, ready to poll or stream.
type Opened struct {
	Polled    []Polled
	Streamers []Streamer
	// Infos of the streamed devices, by id.
	Streamed map[string]*Info
}

// Close closes every poll driver.
func (o *Opened) Close() {
	for _, p := range o.Polled {
		_ = p.Driver.Close()
	}
}

// OpenAll opens the driver of every configured device: one per polled device,
// one streamer per streaming protocol.
func OpenAll(env Env) (*Opened, error) {
	o := &Opened{Streamed: map[string]*Info{}}
	streamed := map[string][]config.Device{}
	var order []string
	for _, dev := range env.Config.Devices {
		p, ok := lookup(dev.Protocol)
		if !ok {
			o.Close()
			return nil, fmt.Errorf("device %s: unknown protocol %q", dev.ID, dev.Protocol)
		}
		if p.OpenStream != nil {
			if _, seen := streamed[dev.Protocol]; !seen {
				order = append(order, dev.Protocol)
			}
			streamed[dev.Protocol] = append(streamed[dev.Protocol], dev)
			continue
		}
		info := NewInfo(env.Config.Site.ID, dev)
		d, err := p.Open(env, dev, info)
		if err != nil {
			o.Close()
			return nil, fmt.Errorf("device %s: %w", dev.ID, err)
		}
		b, err := NewBehaviour(dev)
		if err != nil {
			_ = d.Close()
			o.Close()
			return nil, fmt.Errorf("device %s: %w", dev.ID, err)
		}
		o.Polled = append(o.Polled, Polled{Config: dev, Info: info, Driver: d, Behaviour: lockedBehaviour(b)})
	}
	for _, name := range order {
		p, _ := lookup(name)
		devs := streamed[name]
		infos := make([]*Info, len(devs))
		for i, d := range devs {
			infos[i] = NewInfo(env.Config.Site.ID, d)
			o.Streamed[d.ID] = infos[i]
		}
		s, err := p.OpenStream(env, devs, infos)
		if err != nil {
			o.Close()
			return nil, fmt.Errorf("protocol %s: %w", name, err)
		}
		o.Streamers = append(o.Streamers, s)
	}
	return o, nil
}

// Validate is a config.Validator that checks every device against its
// protocol: it decodes each device's protocol options (keeping them in its
// ProtocolOptions for the drivers), applies the protocol's default timeout,
// runs the protocol's checks, and the protocols' checks of the sections they
// own.
func Validate(cfg *config.Config) []config.Problem {
	ps := validateFamilyNames(cfg)
	for i := range cfg.Devices {
		d := &cfg.Devices[i]
		path := fmt.Sprintf("devices[%d]", i)
		if d.Protocol == "" {
			continue // already reported as required
		}
		p, ok := lookup(d.Protocol)
		if !ok {
			ps = append(ps, cfg.Problemf(path+".protocol", "unknown protocol %q%s; known: %s", d.Protocol,
				config.DidYouMean(d.Protocol, Protocols()), strings.Join(Protocols(), ", ")))
			continue
		}
		if p.DefaultTimeout > 0 && !config.HasKey(d.Node, "timeout") {
			d.Timeout = p.DefaultTimeout
		}
		opts, dps, secretsOK := decodeDevice(cfg, *d, path, p)
		d.ProtocolOptions = opts
		ps = append(ps, dps...)
		ps = append(ps, validateFamily(cfg, *d, path)...)
		// An unset secret is reported once, not again as an empty value.
		if p.Validate != nil && secretsOK {
			ps = append(ps, p.Validate(cfg, *d, path)...)
		}
	}
	for _, name := range Protocols() {
		if p, _ := lookup(name); p.ValidateConfig != nil {
			ps = append(ps, p.ValidateConfig(cfg)...)
		}
	}
	if len(ps) == 0 {
		warnRulePoints(cfg)
	}
	return ps
}

// warnRulePoints warns about a rule whose point none of the devices it
// selects reports: a typo ("balanse") or a profile that lacks it would
// otherwise never fire, silently. It is a warning, not a problem, because a
// device may gain the point with another profile later; a rule that selects
// a device whose points are not known (a protocol of events) is not judged.
func warnRulePoints(cfg *config.Config) {
	points := make([][]string, len(cfg.Devices))
	known := make([]bool, len(cfg.Devices))
	for i, d := range cfg.Devices {
		if p, ok := lookup(d.Protocol); ok && p.Points != nil {
			points[i], known[i] = p.Points(cfg, d)
		}
	}
	check := func(path string, r config.Rule, point string) {
		var all []string
		selected := 0
		for i, d := range cfg.Devices {
			if !r.Selects(d) {
				continue
			}
			if !known[i] {
				return
			}
			selected++
			if slices.Contains(points[i], point) {
				return
			}
			all = append(all, points[i]...)
		}
		if selected > 0 {
			cfg.Warnf(path, "no device this rule selects reports %q%s; the rule can never fire on it", point, config.DidYouMean(point, all))
		}
	}
	for i, r := range cfg.Rules {
		p := fmt.Sprintf("rules[%d]", i)
		if r.Point != "" && r.Type != config.RuleEvent && r.Type != config.RuleOffline && r.Type != config.RuleOutage {
			check(p+".point", r, r.Point)
		}
		if r.OnlyIf != nil && r.OnlyIf.Point != "" {
			check(p+".only_if.point", r, r.OnlyIf.Point)
		}
	}
}
