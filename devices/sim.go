package devices

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/estatehq/estate/internal/config"
)

// A simulator kind is one kind of simulated device (a prepaid meter on Modbus
// TCP, an elevator monitoring box on MQTT). The family package that owns the
// device registers its kinds in init, the way it registers its protocol, and
// every way of running one finds it here: `estate sim KIND` turns its flags
// into the kind's options, the demo's simulators: section decodes them from
// the entry, and both start the same code.

// SimulatorKind is what a family registers for one kind of simulated device. O
// is the kind's options: everything Start needs, filled from the command
// line's flags (Flags) or from a configuration (Configure, then the entry's
// own keys, decoded strictly into O's yaml fields; fields tagged yaml:"-"
// cannot be written in the entry).
type SimulatorKind[O any] struct {
	// Summary says in a line what the simulator is (estate sim's usage).
	Summary string
	// Usage is the synopsis of the kind's flags ("[--listen ADDR] [--balance Y]").
	Usage string
	// Aliases are earlier names of the kind; they still work, with a warning.
	Aliases []string
	// Flags defines the kind's command-line flags on fs, writing into o, with
	// their defaults. The returned function, if not nil, runs once the flags
	// are parsed: it completes o from them and checks them; its error is a
	// usage error.
	Flags func(fs *flag.FlagSet, o *O) (finish func() error)
	// Configure fills o from the configuration and the device the simulator
	// plays (its address, profile, serial port; the broker), before the
	// entry's keys are decoded over it. A kind without it cannot be
	// configured, only run with `estate sim`.
	Configure func(cfg *config.Config, dev config.Device, o *O)
	// Validate reports the problems of a configured simulator: its device (nil
	// when no device has the entry's id, which is reported already) and its
	// options, at path ("simulators[2]").
	Validate func(cfg *config.Config, dev *config.Device, o *O, path string) []config.Problem
	// Start serves the simulated device until ctx ends. The returned function
	// waits until it has stopped and tells why, if not because ctx ended.
	Start func(ctx context.Context, env SimEnv, o *O) (wait func() error, err error)
}

// SimEnv is what a simulator may need from its surroundings.
type SimEnv struct {
	// Log is where the simulator logs; nil means slog.Default().
	Log *slog.Logger
	// Out is a person's terminal (estate sim): where the simulator says in
	// words where it serves and how to stop it. Nil in the demo, whose
	// simulators say it in the log.
	Out io.Writer
	// Subscribed, when set, tells whether anyone has subscribed to an MQTT
	// topic yet: the demo's embedded broker knows. A simulated MQTT device
	// says a fault or a forced door once, when it happens, so it starts its
	// script only when the gateway listens (or after a minute), and a slow
	// start on a loaded machine loses none of it.
	Subscribed func(topic string) bool
}

// Logger is the simulator's logger.
func (e SimEnv) Logger() *slog.Logger {
	if e.Log == nil {
		return slog.Default()
	}
	return e.Log
}

// Announce tells where a simulator serves: line to the terminal when there is
// one, else msg and its attributes to the log.
func (e SimEnv) Announce(line, msg string, args ...any) {
	if e.Out != nil {
		fmt.Fprintln(e.Out, line)
		return
	}
	e.Logger().Info(msg, args...)
}

// Printf writes to the terminal, if there is one.
func (e SimEnv) Printf(format string, args ...any) {
	if e.Out != nil {
		fmt.Fprintf(e.Out, format, args...)
	}
}

// Sim is one simulated device ready to start: a kind with its options.
type Sim struct {
	// Kind is the kind's name (never an alias).
	Kind string
	// Device is the configured device it plays; empty from the command line.
	Device string
	start  func(ctx context.Context, env SimEnv) (func() error, error)
}

// Start serves the simulated device until ctx ends; wait waits until it has
// stopped and returns what stopped it, if not ctx.
func (s Sim) Start(ctx context.Context, env SimEnv) (wait func() error, err error) {
	return s.start(ctx, env)
}

// SimulatorInfo describes a registered kind.
type SimulatorInfo struct {
	Name, Summary, Usage string
	Aliases              []string
	// Configurable kinds can be written in a configuration's simulators: section.
	Configurable bool
}

// simKind is a registered kind with its options' type hidden.
type simKind struct {
	SimulatorInfo
	// keys are the yaml keys of the kind's options.
	keys       map[string]bool
	fromConfig func(cfg *config.Config, s config.Simulator, dev *config.Device, path string, skip []string) (Sim, []config.Problem)
	fromFlags  func(fs *flag.FlagSet) func() (Sim, error)
}

var (
	simMu      sync.RWMutex
	simKinds   = map[string]*simKind{}
	simAliases = map[string]string{}
)

// RegisterSimulator makes a kind of simulated device available under its name
// (and its aliases) to `estate sim` and to configurations.
func RegisterSimulator[O any](name string, k SimulatorKind[O]) {
	if k.Start == nil {
		panic("devices: simulator " + name + " registered without Start")
	}
	sk := &simKind{
		SimulatorInfo: SimulatorInfo{Name: name, Summary: k.Summary, Usage: k.Usage,
			Aliases: slices.Clone(k.Aliases), Configurable: k.Configure != nil},
		keys: keySet(config.Keys(new(O))),
	}
	start := func(o *O) func(context.Context, SimEnv) (func() error, error) {
		return func(ctx context.Context, env SimEnv) (func() error, error) { return k.Start(ctx, env, o) }
	}
	sk.fromConfig = func(cfg *config.Config, s config.Simulator, dev *config.Device, path string, skip []string) (Sim, []config.Problem) {
		o := new(O)
		if dev != nil {
			k.Configure(cfg, *dev, o)
		}
		ps := cfg.DecodeStrict(s.Node, path, o, skip...)
		if k.Validate != nil {
			ps = append(ps, k.Validate(cfg, dev, o, path)...)
		}
		return Sim{Kind: name, Device: s.Device, start: start(o)}, ps
	}
	sk.fromFlags = func(fs *flag.FlagSet) func() (Sim, error) {
		o := new(O)
		var finish func() error
		if k.Flags != nil {
			finish = k.Flags(fs, o)
		}
		return func() (Sim, error) {
			if finish != nil {
				if err := finish(); err != nil {
					return Sim{}, err
				}
			}
			return Sim{Kind: name, start: start(o)}, nil
		}
	}

	simMu.Lock()
	defer simMu.Unlock()
	for _, n := range append([]string{name}, k.Aliases...) {
		if _, dup := simKinds[n]; dup {
			panic("devices: simulator registered twice: " + n)
		}
		if _, dup := simAliases[n]; dup {
			panic("devices: simulator registered twice: " + n)
		}
	}
	simKinds[name] = sk
	for _, a := range k.Aliases {
		simAliases[a] = name
	}
}

// Simulators describes every registered kind, sorted by name.
func Simulators() []SimulatorInfo {
	simMu.RLock()
	defer simMu.RUnlock()
	out := make([]SimulatorInfo, 0, len(simKinds))
	for _, k := range simKinds {
		out = append(out, k.SimulatorInfo)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// lookupSimulator finds a kind by its name or an alias.
func lookupSimulator(name string) (*simKind, bool) {
	simMu.RLock()
	defer simMu.RUnlock()
	if k, ok := simKinds[name]; ok {
		return k, true
	}
	k, ok := simKinds[simAliases[name]]
	return k, ok
}

// SimulatorName is the name of the kind that name (a name or an alias) is.
func SimulatorName(name string) (string, bool) {
	k, ok := lookupSimulator(name)
	if !ok {
		return "", false
	}
	return k.Name, true
}

// SimulatorFlags defines the flags of a kind (by name or alias) on fs; once fs
// has parsed the command line, build returns the simulator, or the usage
// error of its flags.
func SimulatorFlags(name string, fs *flag.FlagSet) (build func() (Sim, error), ok bool) {
	k, ok := lookupSimulator(name)
	if !ok {
		return nil, false
	}
	return k.fromFlags(fs), true
}

// legacySimulatorKeys are the options config.Simulator carried for every kind
// until each kind decoded its own. A kind that does not use one ignores it,
// with a warning, as it did then: a configuration that loaded still loads.
var legacySimulatorKeys = []string{"initial_balance", "drain_per_second", "script"}

// ConfiguredSimulators decodes and checks the simulators: section of cfg: each
// entry's kind, its options decoded strictly from the entry, and the kind's
// checks of them against the configuration. When log is not nil, earlier
// spellings of a kind and ignored options are warned about there.
func ConfiguredSimulators(cfg *config.Config, log *slog.Logger) ([]Sim, []config.Problem) {
	var sims []Sim
	var ps []config.Problem
	warn := func(path, msg string, args ...any) {
		if log != nil {
			at := cfg.File
			if l := cfg.Line(path); l > 0 {
				at = fmt.Sprintf("%s:%d", cfg.File, l)
			}
			log.Warn(msg, append([]any{"at", at + ": " + path}, args...)...)
		}
	}
	for i, s := range cfg.Simulators {
		path := fmt.Sprintf("simulators[%d]", i)
		k, ok := lookupSimulator(s.Kind)
		if !ok || !k.Configurable {
			ps = append(ps, cfg.Problemf(path+".kind", "%q is not a simulator; use one of %v", s.Kind, configurableSimulators()))
			continue
		}
		if s.Kind != k.Name {
			warn(path+".kind", "simulator kind renamed; the old name still works for now", "kind", s.Kind, "use", k.Name)
		}
		skip := []string{"kind", "device"}
		for _, key := range legacySimulatorKeys {
			if !k.keys[key] {
				skip = append(skip, key)
				if config.HasKey(s.Node, key) {
					warn(path+"."+key, "simulator option ignored: this kind does not use it", "kind", k.Name)
				}
			}
		}
		var dev *config.Device
		if d, ok := cfg.DeviceByID(s.Device); ok {
			dev = &d
		}
		sim, kps := k.fromConfig(cfg, s, dev, path, skip)
		ps = append(ps, kps...)
		sims = append(sims, sim)
	}
	return sims, ps
}

// ValidateSimulators is a config.Validator of the simulators: section; it
// warns of earlier spellings in the default log.
func ValidateSimulators(cfg *config.Config) []config.Problem {
	_, ps := ConfiguredSimulators(cfg, slog.Default())
	return ps
}

func configurableSimulators() []string {
	var names []string
	for _, k := range Simulators() {
		if k.Configurable {
			names = append(names, k.Name)
		}
	}
	return names
}

// ScriptStep is one scripted happening of a simulated device: at this long
// after start, do this (entrapment, fault, forced, held, tamper, …).
type ScriptStep struct {
	At time.Duration `yaml:"at"`
	Do string        `yaml:"do"`
	// For is how long the condition lasts (0: the simulator's default).
	For time.Duration `yaml:"for"`
}

func keySet(keys []string) map[string]bool {
	set := make(map[string]bool, len(keys))
	for _, k := range keys {
		set[k] = true
	}
	return set
}
