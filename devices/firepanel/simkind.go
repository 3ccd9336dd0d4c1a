package firepanel

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/estatehq/estate/devices"
	"github.com/estatehq/estate/internal/config"
)

// Simulated fire panels: a GB/T 26875.3 transmission device that connects to
// where the gateway listens (its device's address), and a CRT text panel on a
// pseudo-terminal (linked at its device's serial.port). Both play the demo
// script (fire alarm, fault, fault cleared, reset) every few seconds, again
// and again. `estate sim firepanel --mode gbt26875|crt` was their one name.
func init() {
	devices.RegisterSimulator("firepanel_gbt26875", devices.SimulatorKind[UITDSimOptions]{
		Summary:   "a GB/T 26875.3 user-information transmission device, connecting to the gateway over TCP",
		Usage:     "[--connect HOST:PORT] [--gap D] [--unset-clock]",
		Flags:     uitdFlags,
		Configure: configureUITD,
		Validate:  validateFireSim[UITDSimOptions](ProtocolGBT26875),
		Start:     startUITD,
	})
	devices.RegisterSimulator("firepanel_crt", devices.SimulatorKind[CRTSimOptions]{
		Summary:   "a fire panel printing its events as text lines on a pseudo-terminal (CRT/printer port)",
		Usage:     "[--link PATH] [--gap D]",
		Flags:     crtFlags,
		Configure: configureCRT,
		Validate:  validateFireSim[CRTSimOptions](ProtocolCRT),
		Start:     startCRT,
	})
}

// DefaultScriptGap is the time between the demo script's events.
const DefaultScriptGap = 5 * time.Second

// UITDSimOptions are a simulated transmission device's.
type UITDSimOptions struct {
	// Device is the configured device it plays (for the log).
	Device string `yaml:"-"`
	// Connect is the gateway's listening address (the device's address).
	Connect string `yaml:"-"`
	// Gap is the time between the script's events.
	Gap time.Duration `yaml:"-"`
	// Loc is the time zone of the device's clock: the site's, as a real one
	// is set, so that the receiver reads its times right; local if nil.
	Loc *time.Location `yaml:"-"`
	// UnsetClock plays a device whose clock was never set: its frames carry
	// the time tag 00 00 00 00 00 00 until the gateway synchronises it
	// (time_sync_interval on the device, or `estate firepanel time-sync`).
	UnsetClock bool `yaml:"unset_clock"`
}

// CRTSimOptions are a simulated CRT panel's.
type CRTSimOptions struct {
	Device string `yaml:"-"`
	// Link is a path made a link to the line (the device's serial.port).
	Link string         `yaml:"-"`
	Gap  time.Duration  `yaml:"-"`
	Loc  *time.Location `yaml:"-"`
}

func gapFlag(fs *flag.FlagSet, gap *time.Duration) {
	fs.DurationVar(gap, "gap", DefaultScriptGap, "time between scripted events (alarm, fault, fault cleared, reset), repeated")
}

func uitdFlags(fs *flag.FlagSet, o *UITDSimOptions) func() error {
	fs.StringVar(&o.Connect, "connect", "127.0.0.1:9030", "the gateway's listening address (the device's address)")
	fs.BoolVar(&o.UnsetClock, "unset-clock", false, "a clock that was never set: time tags of zeros until the gateway synchronises it")
	gapFlag(fs, &o.Gap)
	return nil
}

func crtFlags(fs *flag.FlagSet, o *CRTSimOptions) func() error {
	fs.StringVar(&o.Link, "link", "var/sim/fire-crt", "path of a link to the line (the device's serial.port)")
	gapFlag(fs, &o.Gap)
	return nil
}

func configureUITD(cfg *config.Config, cdev config.Device, o *UITDSimOptions) {
	dev := DeviceOf(cdev)
	o.Device, o.Connect, o.Gap, o.Loc = dev.ID, dev.Address, DefaultScriptGap, siteClock(cfg)
}

func configureCRT(cfg *config.Config, cdev config.Device, o *CRTSimOptions) {
	dev := DeviceOf(cdev)
	o.Device, o.Gap, o.Loc = dev.ID, DefaultScriptGap, siteClock(cfg)
	if dev.Serial != nil {
		o.Link = dev.Serial.Port
	}
}

// siteClock is the site's time zone.
func siteClock(cfg *config.Config) *time.Location {
	if loc, err := time.LoadLocation(cfg.Site.Timezone); err == nil && cfg.Site.Timezone != "" {
		return loc
	}
	return time.Local
}

func validateFireSim[O any](protocol string) func(*config.Config, *config.Device, *O, string) []config.Problem {
	return func(cfg *config.Config, d *config.Device, _ *O, path string) []config.Problem {
		switch {
		case d == nil:
			return nil // reported by the built-in checks
		case d.Protocol != protocol:
			return []config.Problem{cfg.Problemf(path+".device", "this simulator serves a %s device; device %s uses %s", protocol, d.ID, d.Protocol)}
		case protocol == ProtocolGBT26875 && DeviceOf(*d).Address == "":
			return []config.Problem{cfg.Problemf(path+".device", "the simulated transmission device connects over TCP: device %s needs an address", d.ID)}
		}
		return nil
	}
}

func startUITD(ctx context.Context, env devices.SimEnv, o *UITDSimOptions) (func() error, error) {
	u := &UITD{Source: [6]byte{0x01}, Script: DemoScript(o.Gap), Repeat: true, Loc: o.Loc, UnsetClock: o.UnsetClock}
	clock := "its clock set"
	if o.UnsetClock {
		clock = "its clock never set (time tags of zeros until synchronised)"
	}
	env.Announce(fmt.Sprintf("GB/T 26875.3 transmission device sending to %s every %s (alarm, fault, fault cleared, reset), %s; Ctrl-C stops", o.Connect, o.Gap, clock),
		"simulated fire transmission device sending", "device", o.Device, "to", o.Connect, "unset_clock", o.UnsetClock)
	done := make(chan struct{})
	// It dials again until ctx ends: the gateway may not listen yet.
	go func() { defer close(done); _ = u.DialAndServe(ctx, o.Connect) }()
	return func() error {
		<-done
		c, r := u.Counts()
		set, syncs := u.ClockSet()
		clock := "clock never synchronised"
		if syncs > 0 {
			clock = fmt.Sprintf("clock synchronised %d time(s), last to %s", syncs, set.Format(time.DateTime))
		}
		env.Printf("confirmed %d frames, resent %d, denied %d; %s\n", c, r, u.Denies(), clock)
		return nil
	}, nil
}

func startCRT(ctx context.Context, env devices.SimEnv, o *CRTSimOptions) (func() error, error) {
	if o.Link != "" {
		if err := os.MkdirAll(filepath.Dir(o.Link), 0o755); err != nil {
			return nil, err
		}
	}
	p, err := NewCRTPanel(o.Link)
	if err != nil {
		return nil, err
	}
	p.Script, p.Repeat, p.Loc = DemoScript(o.Gap), true, o.Loc
	env.Announce(fmt.Sprintf("CRT fire panel printing GB 18030 lines (template crt-loop-address) on %s every %s; Ctrl-C stops", p.Path(), o.Gap),
		"simulated CRT fire panel printing", "device", o.Device, "port", o.Link, "line", p.Path())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	return func() error { return <-done }, nil
}
