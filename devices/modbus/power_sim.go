package modbus

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"time"

	"github.com/estatehq/estate/devices"
	"github.com/estatehq/estate/internal/config"
)

// The power room's dry contacts on a DI module (profile generic-di8): the
// ATS position, the generator's running contact and the mains-fail relay,
// moving on a script that may repeat. The demo's generator runs with it, and
// its running contact is what drives the maintenance plans that fall due by
// running hours (docs/maintenance.md).
func init() {
	devices.RegisterSimulator("power_contacts", devices.SimulatorKind[PowerSimOptions]{
		Summary:   "a power-room DI module (ATS, generator running, mains fail) on Modbus TCP whose generator runs on a schedule",
		Usage:     "[--listen ADDR] [--profile P] [--run-at D] [--run-for D] [--repeat D]",
		Flags:     powerFlags,
		Configure: configurePower,
		Validate:  validatePower,
		Start:     startPower,
	})
}

// PowerActions are the steps of a power_contacts script.
var PowerActions = map[string]string{
	"generator_run": "the generator runs off load (a test run); the ATS stays on mains",
	"mains_fail":    "the mains fail: the generator runs and the ATS moves to the generator",
}

// PowerSimOptions are a simulated power-room DI module's.
type PowerSimOptions struct {
	Device  string `yaml:"-"`
	Profile string `yaml:"-"`
	Listen  string `yaml:"-"`
	// Script is when what happens (PowerActions), each {at, do, for}.
	Script []devices.ScriptStep `yaml:"script"`
	// Repeat, when not 0, starts the script again this long after its start.
	Repeat time.Duration `yaml:"repeat"`
}

func powerFlags(fs *flag.FlagSet, o *PowerSimOptions) func() error {
	var at, dur time.Duration
	fs.StringVar(&o.Profile, "profile", "configs/profiles/generic-di8.yaml", "register map to serve")
	fs.StringVar(&o.Listen, "listen", "127.0.0.1:5032", "host:port to serve Modbus TCP on")
	fs.DurationVar(&at, "run-at", 10*time.Second, "when the generator starts after start")
	fs.DurationVar(&dur, "run-for", 2*time.Minute, "how long it runs")
	fs.DurationVar(&o.Repeat, "repeat", 5*time.Minute, "run again this long after each start (0: once)")
	return func() error {
		if dur <= 0 || at < 0 || o.Repeat < 0 || (o.Repeat > 0 && o.Repeat < at+dur) {
			return errors.New("--run-for must be positive, --run-at not negative, and --repeat 0 or at least run-at + run-for")
		}
		if _, _, err := net.SplitHostPort(o.Listen); err != nil {
			return fmt.Errorf("--listen %q is not host:port", o.Listen)
		}
		o.Script = []devices.ScriptStep{{At: at, Do: "generator_run", For: dur}}
		return nil
	}
}

func configurePower(cfg *config.Config, dev config.Device, o *PowerSimOptions) {
	o.Device, o.Listen = dev.ID, DeviceOf(dev).Address
	o.Profile = ProfilePath(cfg.Resolve(cfg.Gateway.ProfilesDir), dev.Profile)
}

func validatePower(cfg *config.Config, dev *config.Device, o *PowerSimOptions, path string) []config.Problem {
	var ps []config.Problem
	if dev != nil && dev.Protocol != ProtocolTCP {
		ps = append(ps, cfg.Problemf(path+".device", "a power_contacts simulator serves Modbus TCP; device %s uses %s", dev.ID, dev.Protocol))
	}
	var end time.Duration
	for i, st := range o.Script {
		p := fmt.Sprintf("%s.script[%d]", path, i)
		if _, ok := PowerActions[st.Do]; !ok {
			ps = append(ps, cfg.Problemf(p+".do", "%q is not a step; use generator_run or mains_fail", st.Do))
		}
		if st.At < 0 || st.For <= 0 {
			ps = append(ps, cfg.Problemf(p, "at must not be negative and for must be positive"))
		}
		end = max(end, st.At+st.For)
	}
	if o.Repeat < 0 || (o.Repeat > 0 && o.Repeat < end) {
		ps = append(ps, cfg.Problemf(path+".repeat", "0 (once) or at least the script's length (%s)", end))
	}
	return ps
}

// PowerValues are the contacts' values elapsed after the simulator started.
func PowerValues(script []devices.ScriptStep, repeat, elapsed time.Duration) map[string]float64 {
	if repeat > 0 {
		elapsed %= repeat
	}
	running, mainsFail := false, false
	for _, st := range script {
		if elapsed >= st.At && elapsed < st.At+st.For {
			switch st.Do {
			case "generator_run":
				running = true
			case "mains_fail":
				running, mainsFail = true, true
			}
		}
	}
	b := func(v bool) float64 {
		if v {
			return 1
		}
		return 0
	}
	return map[string]float64{"generator_running": b(running), "mains_fail": b(mainsFail),
		"ats_on_mains": b(!mainsFail), "ats_on_generator": b(mainsFail)}
}

func startPower(ctx context.Context, env devices.SimEnv, o *PowerSimOptions) (func() error, error) {
	p, err := LoadProfile(ProfilePath("", o.Profile))
	if err != nil {
		return nil, err
	}
	sim := NewSimulator(p, o.Listen)
	apply := func(elapsed time.Duration) {
		for k, v := range PowerValues(o.Script, o.Repeat, elapsed) {
			_ = sim.Set(k, v) // a point the profile lacks is left out
		}
	}
	apply(0)
	if err := sim.Start(); err != nil {
		return nil, err
	}
	env.Announce(fmt.Sprintf("power-room contacts (profile %s) on modbus tcp://%s, any unit id; script %v, repeat %s; Ctrl-C stops",
		p.Name, sim.Addr(), o.Script, o.Repeat),
		"simulated power contacts serving", "device", o.Device, "addr", sim.Addr(), "repeat", o.Repeat)
	done := make(chan struct{})
	go func() {
		defer close(done)
		start := time.Now()
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				apply(time.Since(start))
			}
		}
	}()
	return func() error { <-done; _ = sim.Stop(); return nil }, nil
}
