package mqtt

import (
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/estatehq/estate/devices"
	"github.com/estatehq/estate/devices/access"
	"github.com/estatehq/estate/devices/elevator"
	"github.com/estatehq/estate/internal/config"
)

// The simulated devices that publish over MQTT: an elevator monitoring box and
// a door controller. Their families (devices/elevator, devices/access) own
// how the devices behave; this package, which both of them feed, owns how
// they publish, and so registers them.
func init() {
	devices.RegisterSimulator("elevator_monitor", devices.SimulatorKind[ElevatorSimOptions]{
		Summary: "an elevator monitoring box publishing over MQTT: a moving car, a scripted entrapment and fault",
		Usage:   "--broker URL [--device ID] [--entrapment-at D] [--fault-at D]",
		Aliases: []string{"elevator"},
		Flags:   elevatorFlags,
		Configure: func(cfg *config.Config, dev config.Device, o *ElevatorSimOptions) {
			o.Floors = 10
			o.SimLink = configureLink(cfg, dev)
		},
		Validate: func(cfg *config.Config, dev *config.Device, o *ElevatorSimOptions, path string) []config.Problem {
			return validateMQTTSim(cfg, dev, o.Script, path, "elevator", elevator.ScriptActions)
		},
		Start: startElevator,
	})
	devices.RegisterSimulator("door_controller", devices.SimulatorKind[AccessSimOptions]{
		Summary:   "a door controller publishing over MQTT: card traffic, a forced door, a held door, tamper",
		Usage:     "--broker URL [--device ID] [--forced-at D] [--held-at D] [--tamper-at D]",
		Aliases:   []string{"access"},
		Flags:     accessFlags,
		Configure: func(cfg *config.Config, dev config.Device, o *AccessSimOptions) { o.SimLink = configureLink(cfg, dev) },
		Validate: func(cfg *config.Config, dev *config.Device, o *AccessSimOptions, path string) []config.Problem {
			return validateMQTTSim(cfg, dev, o.Script, path, "access", access.ScriptActions)
		},
		Start: startAccess,
	})
}

// SimLink is how a simulated device reaches its broker and what it publishes.
type SimLink struct {
	// Device names the simulated device in the log.
	Device string
	// Profile is the file of the MQTT profile whose topics and payloads it publishes.
	Profile string
	// ClientID, Username, Password, Site, TopicID: as in PublisherOptions.
	Broker, ClientID, Username, Password, Site, TopicID string
	// Every is how often the device publishes.
	Every time.Duration
}

// ElevatorSimOptions are a simulated elevator monitoring box's.
type ElevatorSimOptions struct {
	SimLink `yaml:"-"`
	// Floors served: 1..Floors.
	Floors int `yaml:"-"`
	// Script is what goes wrong, and when (elevator.ScriptActions).
	Script []devices.ScriptStep `yaml:"script"`
}

// AccessSimOptions are a simulated door controller's.
type AccessSimOptions struct {
	SimLink `yaml:"-"`
	// SwipeEvery is how often someone swipes a card (8s if zero).
	SwipeEvery time.Duration `yaml:"-"`
	// Script is what goes wrong, and when (access.ScriptActions).
	Script []devices.ScriptStep `yaml:"script"`
}

// linkFlags are the flags every MQTT device simulator takes.
func linkFlags(fs *flag.FlagSet, l *SimLink, device, profile string) (finish func()) {
	fs.StringVar(&l.Broker, "broker", "tcp://127.0.0.1:1883", "MQTT broker URL")
	fs.StringVar(&l.Username, "username", "", "MQTT user name")
	fs.StringVar(&l.Password, "password", os.Getenv("ESTATE_SIM_MQTT_PASSWORD"), "MQTT password (default $ESTATE_SIM_MQTT_PASSWORD)")
	fs.StringVar(&l.Site, "site", "demo-estate", "site id ({site} in the profile's topics)")
	fs.StringVar(&l.TopicID, "device", device, "the device's name in its topics ({device})")
	fs.StringVar(&l.Profile, "profile", profile, "the MQTT profile whose topics and payloads to publish")
	fs.DurationVar(&l.Every, "every", time.Second, "how often the device publishes")
	return func() { l.Device, l.ClientID = l.TopicID, "estate-sim-"+l.TopicID }
}

// configureLink connects a configured simulator to the configured broker, as
// one of the embedded broker's device users when there is one.
func configureLink(cfg *config.Config, dev config.Device) SimLink {
	m := brokerOf(cfg)
	l := SimLink{Device: dev.ID, Profile: ProfilePath(cfg.Resolve(cfg.Gateway.ProfilesDir), dev.Profile),
		Broker: m.Broker, ClientID: "sim-" + cfg.Site.ID + "-" + dev.ID,
		Username: m.Username, Password: m.Password, Site: cfg.Site.ID, TopicID: TopicID(dev), Every: time.Second}
	if e := m.Embedded; e != nil {
		for _, u := range e.Users {
			if u.Role == "device" {
				l.Username, l.Password = u.Username, u.Password
				break
			}
		}
	}
	return l
}

// brokerOf is the configuration's mqtt section; a section that does not
// decode (reported by the section's own checks) reads as empty.
func brokerOf(cfg *config.Config) *Settings {
	m, err := SettingsOf(cfg)
	if err != nil {
		return &Settings{}
	}
	return m
}

// dial connects the simulated device to its broker.
func (l SimLink) dial(ctx context.Context) (*Publisher, error) {
	p, err := LoadProfile(l.Profile)
	if err != nil {
		return nil, err
	}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return Dial(dctx, p, PublisherOptions{Broker: l.Broker, ClientID: l.ClientID,
		Username: l.Username, Password: l.Password, Site: l.Site, TopicID: l.TopicID, QoS: 1})
}

// scriptAt adds a script step when its time flag was given (negative: never).
func scriptAt(steps []devices.ScriptStep, at time.Duration, do string) []devices.ScriptStep {
	if at < 0 {
		return steps
	}
	return append(steps, devices.ScriptStep{At: at, Do: do})
}

func elevatorFlags(fs *flag.FlagSet, o *ElevatorSimOptions) func() error {
	link := linkFlags(fs, &o.SimLink, "lift-1", "configs/profiles/mqtt-elevator-gbt24476.yaml")
	entrapAt := fs.Duration("entrapment-at", 60*time.Second, "when the car sticks between floors with a passenger (negative: never)")
	flagAt := fs.Duration("entrapment-flag-at", -1, "when the box itself reports people trapped (negative: never)")
	faultAt := fs.Duration("fault-at", 150*time.Second, "when the controller reports fault "+elevator.FaultCode+" (negative: never)")
	fs.IntVar(&o.Floors, "floors", 10, "floors served (1..N)")
	return func() error {
		link()
		o.Script = scriptAt(o.Script, *entrapAt, "entrapment")
		o.Script = scriptAt(o.Script, *flagAt, "entrapment_flag")
		o.Script = scriptAt(o.Script, *faultAt, "fault")
		return nil
	}
}

func accessFlags(fs *flag.FlagSet, o *AccessSimOptions) func() error {
	link := linkFlags(fs, &o.SimLink, "405419896", "configs/profiles/mqtt-access-uhppote.yaml")
	forcedAt := fs.Duration("forced-at", 40*time.Second, "when the door is forced open (negative: never)")
	heldAt := fs.Duration("held-at", 70*time.Second, "when the door is opened and left open (negative: never)")
	burstAt := fs.Duration("invalid-burst-at", 120*time.Second, "when a run of refused cards begins (negative: never)")
	tamperAt := fs.Duration("tamper-at", 150*time.Second, "when the controller's cover is opened (negative: never)")
	fs.DurationVar(&o.SwipeEvery, "swipe-every", 8*time.Second, "how often someone swipes a card")
	return func() error {
		link()
		o.Script = scriptAt(o.Script, *forcedAt, "forced")
		o.Script = scriptAt(o.Script, *heldAt, "held")
		o.Script = scriptAt(o.Script, *burstAt, "invalid_burst")
		o.Script = scriptAt(o.Script, *tamperAt, "tamper")
		return nil
	}
}

// validateMQTTSim checks a simulator of an MQTT device of a family and its script.
func validateMQTTSim(cfg *config.Config, d *config.Device, script []devices.ScriptStep, path, family string, actions map[string]time.Duration) []config.Problem {
	var ps []config.Problem
	if d != nil && (d.Protocol != Protocol || d.Family != family) {
		ps = append(ps, cfg.Problemf(path+".device", "this simulator publishes an %s over MQTT; device %s is %s over %s",
			family, d.ID, d.Family, d.Protocol))
	}
	names := make([]string, 0, len(actions))
	for n := range actions {
		names = append(names, n)
	}
	sort.Strings(names)
	for i, st := range script {
		p := fmt.Sprintf("%s.script[%d]", path, i)
		if !slices.Contains(names, st.Do) {
			ps = append(ps, cfg.Problemf(p+".do", "%q is not something this simulator does; use one of %v", st.Do, names))
		}
		if st.At < 0 || st.For < 0 {
			ps = append(ps, cfg.Problemf(p, "at and for must not be negative"))
		}
	}
	if brokerOf(cfg).Broker == "" {
		ps = append(ps, cfg.Problemf(path, "an MQTT simulator needs the mqtt section's broker"))
	}
	return ps
}

func scriptSummary(steps []devices.ScriptStep) string {
	parts := make([]string, len(steps))
	for i, st := range steps {
		parts[i] = st.Do + " at " + st.At.String()
	}
	return strings.Join(parts, ", ")
}

func startElevator(ctx context.Context, env devices.SimEnv, o *ElevatorSimOptions) (func() error, error) {
	pub, err := o.dial(ctx)
	if err != nil {
		return nil, err
	}
	sim := &elevator.Simulator{Lowest: 1, Highest: o.Floors, Script: o.Script}
	log := env.Logger().With("device", o.Device)
	env.Log = log
	env.Announce(fmt.Sprintf("elevator %s publishing to %s (site %s, profile %s); Ctrl-C stops", o.TopicID, o.Broker, o.Site, o.Profile),
		"simulated elevator monitor publishing", "broker", o.Broker, "script", scriptSummary(o.Script))
	done := make(chan error, 1)
	go func() {
		pub.awaitListener(ctx, env.Subscribed, time.Minute)
		done <- RunElevatorSim(ctx, pub, sim, o.Every, log)
	}()
	return func() error { err := <-done; pub.Close(); return err }, nil
}

func startAccess(ctx context.Context, env devices.SimEnv, o *AccessSimOptions) (func() error, error) {
	pub, err := o.dial(ctx)
	if err != nil {
		return nil, err
	}
	sim := &access.Simulator{Every: o.SwipeEvery, Script: o.Script}
	log := env.Logger().With("device", o.Device)
	env.Log = log
	env.Announce(fmt.Sprintf("door controller %s publishing to %s (site %s, profile %s); Ctrl-C stops", o.TopicID, o.Broker, o.Site, o.Profile),
		"simulated door controller publishing", "broker", o.Broker, "script", scriptSummary(o.Script))
	done := make(chan error, 1)
	go func() {
		pub.awaitListener(ctx, env.Subscribed, time.Minute)
		done <- RunAccessSim(ctx, pub, sim, o.Every, log)
	}()
	return func() error { err := <-done; pub.Close(); return err }, nil
}
