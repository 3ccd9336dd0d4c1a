package devices

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/estatehq/estate/internal/config"
)

// Signal is a code a device reported (an MQTT payload's event code, looked
// up in the profile's code table), for its family's logic to interpret.
type Signal struct {
	// Kind is what the code table says it means: fault, fault_clear,
	// door_opened, invalid_card, … ("unknown" when the table has no entry).
	Kind   string
	Source string
	Code   string
	Text   string
	TextZH string // the code table's Chinese words for it, when it has them
	Table  string
}

// Behaviour is a device family's logic over what one device reports, whatever
// the transport: timers and state machines that turn readings and codes into
// events (an inferred elevator entrapment, a door held open). Not safe for
// concurrent use; the caller feeds it in order.
type Behaviour interface {
	// Observe takes one reading's values and the codes that came with it.
	Observe(now time.Time, values []Value, signals []Signal) []Event
	// Tick lets time pass without news from the device.
	Tick(now time.Time) []Event
}

// Family is what a device family with logic of its own registers
// (devices/elevator, devices/access).
type Family struct {
	// Options returns the family's options with their defaults: a pointer to
	// a struct whose keys (entrapment_after) a device of the family may set in
	// its mapping, whatever its protocol. Nil: no options.
	Options func() any
	// Misplaced is what a device of another family that sets one of the
	// family's keys is told ("applies to elevators only").
	Misplaced string
	// Validate checks the options a device's mapping gave; path is the device's ("devices[3]").
	Validate func(cfg *config.Config, opts any, path string) []config.Problem
	// New returns the logic of one device with its options.
	New func(opts any) Behaviour
}

var (
	families = map[string]Family{}
	// declared are the family names devices and rules may use: the ones a
	// package declares (meters, fire panels) and the ones with logic.
	declared = map[string]bool{}
)

// DeclareFamily makes family names valid in device and rule configurations
// (family: meter). The package that serves devices of a family declares it,
// so a new family is added in its own folder; declaring a name twice (Modbus
// and DL/T 645 both read meters) is fine.
func DeclareFamily(names ...string) {
	registryMu.Lock()
	defer registryMu.Unlock()
	for _, n := range names {
		declared[n] = true
	}
}

// FamilyNames lists the declared families, sorted.
func FamilyNames() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	names := make([]string, 0, len(declared))
	for n := range declared {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// RegisterFamily makes a family's logic available to every transport, and
// declares its name.
func RegisterFamily(name string, f Family) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := families[name]; dup {
		panic("devices: family registered twice: " + name)
	}
	families[name] = f
	declared[name] = true
}

// validateFamilyNames reports devices and rules that name a family nobody
// declared.
func validateFamilyNames(cfg *config.Config) []config.Problem {
	known := FamilyNames()
	var ps []config.Problem
	bad := func(path, name string) {
		ps = append(ps, cfg.Problemf(path, "%q is not a device family%s; use one of %s", name, config.DidYouMean(name, known), strings.Join(known, ", ")))
	}
	for i, d := range cfg.Devices {
		if !slices.Contains(known, d.Family) {
			bad(fmt.Sprintf("devices[%d].family", i), d.Family)
		}
	}
	for i, r := range cfg.Rules {
		if r.Family != "" && !slices.Contains(known, r.Family) {
			bad(fmt.Sprintf("rules[%d].family", i), r.Family)
		}
	}
	return ps
}

func lookupFamily(name string) (Family, bool) {
	registryMu.RLock()
	defer registryMu.RUnlock()
	f, ok := families[name]
	return f, ok
}

// NewBehaviour returns the logic of a device's family, or nil when the family
// has none. Its options come from layers, each a YAML mapping whose keys
// override the ones before: first the given ones (a profile's defaults, a
// transport's older spelling such as an mqtt block), last the device's own
// mapping.
func NewBehaviour(dev config.Device, layers ...*yaml.Node) (Behaviour, error) {
	f, ok := lookupFamily(dev.Family)
	if !ok || f.New == nil {
		return nil, nil
	}
	var opts any
	if f.Options != nil {
		opts = f.Options()
		for _, n := range append(slices.Clone(layers), dev.Node) {
			if n == nil {
				continue
			}
			if err := n.Decode(opts); err != nil {
				return nil, fmt.Errorf("options of family %s: %w", dev.Family, err)
			}
		}
	}
	return f.New(opts), nil
}

// Layer turns values (from a profile, say) into a YAML mapping for
// NewBehaviour; zero values are left out, so that they do not override.
func Layer(values map[string]any) *yaml.Node {
	m := map[string]any{}
	for k, v := range values {
		switch x := v.(type) {
		case time.Duration:
			if x == 0 {
				continue
			}
		case int:
			if x == 0 {
				continue
			}
		case nil:
			continue
		}
		m[k] = v
	}
	var n yaml.Node
	if err := n.Encode(m); err != nil {
		return nil
	}
	return &n
}

// validateFamily checks the family options that a device's mapping sets.
func validateFamily(cfg *config.Config, dev config.Device, path string) []config.Problem {
	f, ok := lookupFamily(dev.Family)
	if !ok || f.Options == nil || dev.Node == nil {
		return nil
	}
	opts := f.Options()
	keys := config.Keys(opts)
	var skip []string
	for i := 0; i+1 < len(dev.Node.Content); i += 2 {
		if k := dev.Node.Content[i].Value; !slices.Contains(keys, k) {
			skip = append(skip, k)
		}
	}
	ps := cfg.DecodeStrict(dev.Node, path, opts, skip...)
	if len(ps) == 0 && f.Validate != nil {
		ps = f.Validate(cfg, opts, path)
	}
	return ps
}

// PassOn is a code turned into an event as it is, for families without logic
// of their own (or codes that logic does not interpret).
func PassOn(now time.Time, s Signal) Event {
	return Event{Time: now, Type: s.Kind, Source: s.Source, Active: true, Text: s.Text, TextZH: s.TextZH,
		Attrs: map[string]string{"code": s.Code, "table": s.Table}}
}

// lockedBehaviour makes a behaviour safe for the gateway's poll jobs, which
// may poll a device's groups at once.
func lockedBehaviour(b Behaviour) Behaviour {
	if b == nil {
		return nil
	}
	return &locked{b: b}
}

type locked struct {
	mu sync.Mutex
	b  Behaviour
}

func (l *locked) Observe(now time.Time, values []Value, signals []Signal) []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Observe(now, values, signals)
}

func (l *locked) Tick(now time.Time) []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Tick(now)
}
