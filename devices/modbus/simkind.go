package modbus

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/estatehq/estate/devices"
	"github.com/estatehq/estate/internal/config"
)

// The simulators of this family: the demo's household prepaid meter, and any
// profile served as a device (estate sim modbus).
func init() {
	devices.RegisterSimulator("prepaid_meter", devices.SimulatorKind[PrepaidSimOptions]{
		Summary:   "a household prepaid meter on Modbus TCP whose balance runs down",
		Usage:     "[--listen ADDR] [--balance Y] [--drain Y/s]",
		Aliases:   []string{"prepaid-meter"},
		Flags:     prepaidFlags,
		Configure: configurePrepaid,
		Validate:  validatePrepaid,
		Start:     startPrepaid,
	})
	devices.RegisterSimulator("modbus", devices.SimulatorKind[ServeSimOptions]{
		Summary: "any profile as a Modbus TCP or RTU device with scripted values and faults",
		Usage:   "--profile P [--listen ADDR | --rtu [--link PATH]] [--script FILE]",
		Flags:   serveFlags,
		Start:   startServe,
	})
}

// PrepaidSimOptions are a simulated prepaid meter's: its profile served over
// Modbus TCP on Listen, and its balance.
type PrepaidSimOptions struct {
	// Device is the configured device it plays (for the log).
	Device string `yaml:"-"`
	// Profile is the register map's file.
	Profile string `yaml:"-"`
	// Listen is the host:port served.
	Listen string `yaml:"-"`
	// InitialBalance is the remaining balance at start (yuan).
	InitialBalance float64 `yaml:"initial_balance"`
	// DrainPerSecond is how fast the balance runs down (yuan per second).
	DrainPerSecond float64 `yaml:"drain_per_second"`
}

func prepaidFlags(fs *flag.FlagSet, o *PrepaidSimOptions) func() error {
	fs.StringVar(&o.Profile, "profile", "configs/profiles/demo-prepaid-meter.yaml", "register map to serve")
	fs.StringVar(&o.Listen, "listen", "127.0.0.1:5020", "host:port to serve Modbus TCP on")
	fs.Float64Var(&o.InitialBalance, "balance", 22, "starting balance, yuan")
	fs.Float64Var(&o.DrainPerSecond, "drain", 0.5, "yuan spent per second")
	return nil
}

// configurePrepaid serves the device's profile on the device's address.
func configurePrepaid(cfg *config.Config, dev config.Device, o *PrepaidSimOptions) {
	o.Device, o.Listen = dev.ID, DeviceOf(dev).Address
	o.Profile = ProfilePath(cfg.Resolve(cfg.Gateway.ProfilesDir), dev.Profile)
}

func validatePrepaid(cfg *config.Config, dev *config.Device, o *PrepaidSimOptions, path string) []config.Problem {
	var ps []config.Problem
	if dev != nil && dev.Protocol != ProtocolTCP {
		ps = append(ps, cfg.Problemf(path+".device", "a prepaid_meter simulator serves Modbus TCP; device %s uses %s", dev.ID, dev.Protocol))
	}
	if o.DrainPerSecond < 0 {
		ps = append(ps, cfg.Problemf(path+".drain_per_second", "must not be negative"))
	}
	return ps
}

func startPrepaid(ctx context.Context, env devices.SimEnv, o *PrepaidSimOptions) (func() error, error) {
	p, err := LoadProfile(ProfilePath("", o.Profile)) // a missing file: the shipped profile of its name
	if err != nil {
		return nil, err
	}
	sim := NewSimulator(p, o.Listen)
	meter := &PrepaidMeter{Sim: sim, InitialBalance: o.InitialBalance, DrainPerSecond: o.DrainPerSecond}
	meter.update(0, 0.6) // the starting values are there before the address is announced
	if err := sim.Start(); err != nil {
		return nil, err
	}
	env.Announce(fmt.Sprintf("prepaid meter (profile %s) on modbus tcp://%s, slave any; balance %.2f yuan, -%.2f/s; Ctrl-C stops",
		p.Name, o.Listen, o.InitialBalance, o.DrainPerSecond),
		"simulated prepaid meter serving", "device", o.Device, "addr", o.Listen,
		"balance", o.InitialBalance, "drain_per_second", o.DrainPerSecond)
	done := make(chan struct{})
	go func() { defer close(done); meter.Run(ctx) }()
	return func() error { <-done; _ = sim.Stop(); return nil }, nil
}

// ServeSimOptions are those of a profile served as simulated devices: over
// TCP (Count of them on consecutive ports), RTU on a pseudo-terminal, or RTU
// frames over TCP, moving as Script says.
type ServeSimOptions struct {
	// Profile is a profile's name in ProfilesDir, or its file.
	Profile, ProfilesDir string
	// Listen is the TCP host:port (the first one with Count > 1).
	Listen string
	Count  int
	// RTU serves Modbus RTU on a pseudo-terminal; Link, when not empty, is
	// made a link to it.
	RTU  bool
	Link string
	// RTUOverTCP serves RTU frames on Listen (a serial device server).
	RTUOverTCP bool
	// Slave is the RTU slave id answered (TCP answers any unit id).
	Slave int
	// Baud, when not 0, takes the wire time of this baud rate for every RTU frame.
	Baud int
	// Script is a YAML file of values and faults; empty: moving values by unit.
	Script string
}

func serveFlags(fs *flag.FlagSet, o *ServeSimOptions) func() error {
	fs.StringVar(&o.Profile, "profile", "", "profile name (in --profiles) or file to serve (required)")
	fs.StringVar(&o.ProfilesDir, "profiles", "configs/profiles", "folder of profiles")
	fs.StringVar(&o.Listen, "listen", "127.0.0.1:5020", "TCP: host:port to serve on")
	fs.IntVar(&o.Count, "count", 1, "TCP: serve this many devices on consecutive ports from --listen's")
	fs.BoolVar(&o.RTU, "rtu", false, "serve Modbus RTU on a pseudo-terminal instead of TCP")
	fs.BoolVar(&o.RTUOverTCP, "rtu-over-tcp", false, "serve RTU frames on --listen (a serial device server)")
	fs.StringVar(&o.Link, "link", "", "with --rtu: also make this path a link to the pseudo-terminal")
	fs.IntVar(&o.Slave, "slave", 1, "RTU: the slave id to answer (TCP answers any unit id)")
	fs.IntVar(&o.Baud, "baud", 0, "RTU: take the wire time of this baud rate for every frame")
	fs.StringVar(&o.Script, "script", "", "YAML script of values and faults (default: moving values by unit)")
	return func() error {
		switch {
		case o.Profile == "":
			return fmt.Errorf("--profile is required (a name in %s or a file)", o.ProfilesDir)
		case o.Slave < 1 || o.Slave > 247:
			return errors.New("--slave must be 1..247")
		case o.Count < 1 || o.Count > 5000 || o.Count > 1 && (o.RTU || o.RTUOverTCP):
			return errors.New("--count is 1..5000, and TCP only")
		}
		if !o.RTU && !o.RTUOverTCP {
			if _, _, err := net.SplitHostPort(o.Listen); err != nil {
				return fmt.Errorf("--listen %q is not host:port", o.Listen)
			}
		}
		return nil
	}
}

func startServe(ctx context.Context, env devices.SimEnv, o *ServeSimOptions) (wait func() error, err error) {
	p, err := LoadProfile(ProfilePath(o.ProfilesDir, o.Profile))
	if err != nil {
		return nil, err
	}
	sc := DefaultScript(p)
	if o.Script != "" {
		data, err := os.ReadFile(o.Script)
		if err != nil {
			return nil, err
		}
		custom, err := ParseScript(data, p)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", o.Script, err)
		}
		// The script's points and faults; the others keep their default motion.
		for name, b := range custom.Points {
			sc.Points[name] = b
		}
		sc.Faults = custom.Faults
	}

	var slaves []*Slave
	// serve gives a slave the script's values at time zero before its address
	// is announced: whoever reads it after the banner reads the script.
	serve := func(s *Slave) {
		sc.Apply(s, 0)
		slaves = append(slaves, s)
	}
	var closers []func() error
	closeAll := func() {
		for _, c := range closers {
			_ = c()
		}
	}
	defer func() {
		if err != nil {
			closeAll()
		}
	}()
	switch {
	case o.RTU:
		s := NewSlave(p)
		sim, err := NewRTUSimulator(map[byte]*Slave{byte(o.Slave): s}, o.Baud)
		if err != nil {
			return nil, err
		}
		closers = append(closers, sim.Close)
		serve(s)
		where := sim.Path()
		if o.Link != "" {
			_ = os.Remove(o.Link)
			if err := os.Symlink(sim.Path(), o.Link); err != nil {
				return nil, err
			}
			closers = append(closers, func() error { return os.Remove(o.Link) })
			where += " (linked at " + o.Link + ")"
		}
		env.Announce(fmt.Sprintf("%s: modbus rtu on %s, slave %d; try: estate modbus read --serial %s --slave %d --profile %s",
			p.Name, where, o.Slave, sim.Path(), o.Slave, o.Profile),
			"simulated modbus rtu serving", "profile", p.Name, "line", sim.Path(), "link", o.Link, "slave", o.Slave)
	case o.RTUOverTCP:
		s := NewSlave(p)
		ln, err := (&Server{RTU: true, Slaves: map[byte]*Slave{byte(o.Slave): s}, Baud: o.Baud}).Listen(o.Listen)
		if err != nil {
			return nil, err
		}
		closers = append(closers, ln.Close)
		serve(s)
		env.Announce(fmt.Sprintf("%s: modbus rtu over tcp on %s, slave %d", p.Name, ln.Addr(), o.Slave),
			"simulated modbus rtu over tcp serving", "profile", p.Name, "addr", ln.Addr(), "slave", o.Slave)
	default:
		host, portText, err := net.SplitHostPort(o.Listen)
		if err != nil {
			return nil, fmt.Errorf("listen %q is not host:port", o.Listen)
		}
		port, _ := strconv.Atoi(portText)
		for i := range o.Count {
			addr := o.Listen
			if o.Count > 1 {
				addr = net.JoinHostPort(host, strconv.Itoa(port+i))
			}
			sim := NewSimulator(p, addr)
			if err := sim.Start(); err != nil {
				return nil, err
			}
			closers = append(closers, sim.Stop)
			serve(sim.Slave)
			if i == 0 || i == o.Count-1 {
				env.Announce(fmt.Sprintf("%s: modbus tcp on %s, any unit id", p.Name, sim.Addr()),
					"simulated modbus tcp serving", "profile", p.Name, "addr", sim.Addr())
			}
		}
		if o.Count > 1 {
			env.Printf("%d devices serving\n", o.Count)
		}
	}
	env.Printf("Ctrl-C stops\n")
	done := make(chan struct{})
	for _, s := range slaves {
		go func() {
			sc.Run(ctx, s, 200*time.Millisecond)
			done <- struct{}{}
		}()
	}
	return func() error {
		for range slaves {
			<-done
		}
		closeAll()
		if err := ctx.Err(); err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
		return nil
	}, nil
}
