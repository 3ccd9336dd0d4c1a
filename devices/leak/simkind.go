package leak

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/estatehq/estate/devices"
	"github.com/estatehq/estate/devices/modbus"
	"github.com/estatehq/estate/internal/config"
)

// The family's simulator: a leak module (a DI module wired to probes, the
// sump pump's running contact and its high-level switch) on Modbus TCP that
// floods on a schedule (script) or at once (--wet).
func init() {
	devices.RegisterSimulator("leak_module", devices.SimulatorKind[SimOptions]{
		Summary:   "a leak module (DI inputs: probes, pump, high level, fault) on Modbus TCP that floods on a schedule",
		Usage:     "[--listen ADDR] [--profile P] [--flood-at D] [--flood-for D] [--pump-failed] [--wet]",
		Flags:     simFlags,
		Configure: configureSim,
		Validate:  validateSim,
		Start:     startSim,
	})
}

// SimOptions are a simulated leak module's: its profile served over Modbus
// TCP on Listen, and its script.
type SimOptions struct {
	// Device is the configured device it plays (for the log).
	Device string `yaml:"-"`
	// Profile is the register map's file.
	Profile string `yaml:"-"`
	// Listen is the host:port served.
	Listen string `yaml:"-"`
	// Script is when what happens: flood, flood_pump_failed, probe_N, fault
	// (ScriptActions), each {at, do, for}.
	Script []devices.ScriptStep `yaml:"script"`
	// Wet starts the module flooded (on demand; estate sim --wet).
	Wet bool `yaml:"wet"`
}

func simFlags(fs *flag.FlagSet, o *SimOptions) func() error {
	var at, dur time.Duration
	var pumpFailed bool
	fs.StringVar(&o.Profile, "profile", "configs/profiles/generic-leak-di8.yaml", "register map to serve")
	fs.StringVar(&o.Listen, "listen", "127.0.0.1:5030", "host:port to serve Modbus TCP on")
	fs.DurationVar(&at, "flood-at", 30*time.Second, "when the room floods after start (negative: never)")
	fs.DurationVar(&dur, "flood-for", 3*time.Minute, "how long the water stays")
	fs.BoolVar(&pumpFailed, "pump-failed", false, "the sump pump does not start when the level is high")
	fs.BoolVar(&o.Wet, "wet", false, "flooded from the start (on demand)")
	return func() error {
		if dur <= 0 {
			return errors.New("--flood-for must be positive")
		}
		if _, _, err := net.SplitHostPort(o.Listen); err != nil {
			return fmt.Errorf("--listen %q is not host:port", o.Listen)
		}
		if at >= 0 {
			do := "flood"
			if pumpFailed {
				do = "flood_pump_failed"
			}
			o.Script = []devices.ScriptStep{{At: at, Do: do, For: dur}}
		}
		return nil
	}
}

// configureSim serves the device's profile on the device's address.
func configureSim(cfg *config.Config, dev config.Device, o *SimOptions) {
	o.Device, o.Listen = dev.ID, modbus.DeviceOf(dev).Address
	o.Profile = modbus.ProfilePath(cfg.Resolve(cfg.Gateway.ProfilesDir), dev.Profile)
}

func validateSim(cfg *config.Config, dev *config.Device, o *SimOptions, path string) []config.Problem {
	var ps []config.Problem
	if dev != nil && (dev.Protocol != modbus.ProtocolTCP || dev.Family != Family) {
		ps = append(ps, cfg.Problemf(path+".device", "a leak_module simulator plays a leak device on Modbus TCP; device %s is %s on %s",
			dev.ID, dev.Family, dev.Protocol))
	}
	for i, st := range o.Script {
		p := fmt.Sprintf("%s.script[%d]", path, i)
		if _, ok := ScriptActions[st.Do]; !ok && !isProbeStep(st.Do) {
			ps = append(ps, cfg.Problemf(p+".do", "%q is not a step; use flood, flood_pump_failed, probe_N or fault", st.Do))
		}
		if st.At < 0 || st.For < 0 {
			ps = append(ps, cfg.Problemf(p, "at and for must not be negative"))
		}
	}
	return ps
}

// isProbeStep reports whether a step is probe_N (N 1..99).
func isProbeStep(do string) bool {
	n, ok := strings.CutPrefix(do, "probe_")
	i, err := strconv.Atoi(n)
	return ok && err == nil && i >= 1 && i <= 99 && strconv.Itoa(i) == n
}

func startSim(ctx context.Context, env devices.SimEnv, o *SimOptions) (func() error, error) {
	p, err := modbus.LoadProfile(o.Profile)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(p.Points))
	for i, pt := range p.Points {
		names[i] = pt.Name
	}
	m := &Module{Probes: ProbesOf(names), Script: o.Script}
	if len(m.Probes) == 0 {
		return nil, fmt.Errorf("profile %s has no probe point (water_leak or water_leak_N)", p.Name)
	}
	if o.Wet {
		m.Force("flood", true)
	}
	sim := NewModuleSim(p, o.Listen, m)
	sim.apply(time.Now()) // the starting values are there before the address is announced
	if err := sim.srv.Start(); err != nil {
		return nil, err
	}
	env.Announce(fmt.Sprintf("leak module (profile %s) on modbus tcp://%s, any unit id; probes %v; script %v; Ctrl-C stops",
		p.Name, sim.srv.Addr(), m.Probes, o.Script),
		"simulated leak module serving", "device", o.Device, "addr", sim.srv.Addr(), "probes", m.Probes)
	done := make(chan struct{})
	go func() { defer close(done); sim.Run(ctx, 200*time.Millisecond) }()
	return func() error { <-done; _ = sim.srv.Stop(); return nil }, nil
}

// ModuleSim serves a Module's points over Modbus TCP.
type ModuleSim struct {
	Module *Module
	srv    *modbus.Simulator
}

// NewModuleSim serves m with profile p on addr (port 0 picks one) once started.
func NewModuleSim(p *modbus.Profile, addr string, m *Module) *ModuleSim {
	return &ModuleSim{Module: m, srv: modbus.NewSimulator(p, addr)}
}

// Start listens; Addr is where; Stop closes.
func (s *ModuleSim) Start() error { s.apply(time.Now()); return s.srv.Start() }
func (s *ModuleSim) Addr() string { return s.srv.Addr() }
func (s *ModuleSim) Stop() error  { return s.srv.Stop() }

// Apply writes the module's points at now into its registers.
func (s *ModuleSim) apply(now time.Time) {
	for k, v := range s.Module.Values(now) {
		_ = s.srv.Set(k, v) // a point the profile lacks (no pump wired) is left out
	}
}

// Run updates the registers every tick until ctx ends.
func (s *ModuleSim) Run(ctx context.Context, tick time.Duration) {
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		s.apply(time.Now())
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
