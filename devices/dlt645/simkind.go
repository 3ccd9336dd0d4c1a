package dlt645

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/estatehq/estate/devices"
	"github.com/estatehq/estate/devices/serial"
	"github.com/estatehq/estate/internal/config"
)

// A bus of DL/T 645 prepaid meters on a pseudo-terminal. Configured, the
// simulator makes its device's serial.port a link to the line, and puts on it
// every dlt645 device of the configuration that names that port, each with
// the configured balance and drain.
func init() {
	devices.RegisterSimulator("dlt645_bus", devices.SimulatorKind[SimBusOptions]{
		Summary:   "a bus of DL/T 645-2007 prepaid meters on a pseudo-terminal",
		Usage:     "[--link PATH] [--meters N] [--first ADDR] [--balance Y] [--drain Y/s] [--silent N] [--baud B] [--password HEX] [--allow-direct-close]",
		Aliases:   []string{"dlt645"},
		Flags:     simBusFlags,
		Configure: configureSimBus,
		Validate:  validateSimBus,
		Start:     startSimBus,
	})
}

// SimBusOptions are a simulated DL/T 645 bus's.
type SimBusOptions struct {
	// Link is a path made a link to the line (the devices' serial.port); empty for none.
	Link string `yaml:"-"`
	// Settings pace the replies at the line's baud rate, so that a sweep takes
	// as long as on a real bus (Baud 0: answer at once).
	Settings serial.Settings `yaml:"-"`
	// Meters are the addresses of the meters on the bus.
	Meters []string `yaml:"-"`
	// Silent is how many meters (the last ones) never answer.
	Silent int `yaml:"-"`
	// InitialBalance is each meter's balance at start (yuan).
	InitialBalance float64 `yaml:"initial_balance"`
	// DrainPerSecond is what each household spends (yuan per second).
	DrainPerSecond float64 `yaml:"drain_per_second"`
	// Relays are the meters' relay settings by address: the password they
	// accept (as sent, in the order of the device's profile) and whether
	// they accept direct close, from each device's dlt645: block and
	// profile; the command line gives all meters the same.
	Relays map[string]Relay `yaml:"-"`
}

func simBusFlags(fs *flag.FlagSet, o *SimBusOptions) func() error {
	fs.StringVar(&o.Link, "link", "var/sim/dlt645-bus", "path of a link to the line (the device's serial.port); empty for none")
	meters := fs.Int("meters", 3, "how many meters on the bus")
	first := fs.Uint64("first", 101, "address of the first meter (the next ones follow)")
	fs.Float64Var(&o.InitialBalance, "balance", 30, "starting balance of each meter, yuan")
	fs.Float64Var(&o.DrainPerSecond, "drain", 0.2, "yuan spent per second by each household")
	fs.IntVar(&o.Silent, "silent", 0, "how many meters (the last ones) never answer")
	baud := fs.Int("baud", 2400, "line speed the replies are paced at (0: answer at once)")
	password := fs.String("password", "", "relay control password as typed (8 hex digits, such as 02123456), sent in DL/T 645-2007's order; empty: 00000000")
	direct := fs.Bool("allow-direct-close", false, "the meters accept direct close (1CH, 合闸直接)")
	return func() error {
		o.Settings = serial.Settings{Baud: *baud, DataBits: 8, Parity: 'E', StopBits: 1}
		relay := Relay{AllowDirectClose: *direct}
		if *password != "" {
			pw, _, err := WireCodes(*password, "00000000", OrderStandard)
			if err != nil {
				return err
			}
			relay.Password = pw
		}
		o.Relays = map[string]Relay{}
		for i := range *meters {
			a := strconv.FormatUint(*first+uint64(i), 10)
			if _, err := ParseAddress(a); err != nil {
				return err
			}
			o.Meters = append(o.Meters, a)
			o.Relays[a] = relay
		}
		return nil
	}
}

// configureSimBus serves the device's line and every meter configured on it.
func configureSimBus(cfg *config.Config, cdev config.Device, o *SimBusOptions) {
	if cdev.Protocol != Protocol {
		return // reported by validateSimBus
	}
	dev := DeviceOf(cdev)
	if dev.Serial == nil {
		return // reported by validateSimBus
	}
	o.Link = dev.Serial.Port
	o.Settings = serial.Resolve(dev.Serial, DefaultBaud, DefaultParity)
	o.Relays = map[string]Relay{}
	for _, cd := range cfg.Devices {
		if cd.Protocol != Protocol {
			continue
		}
		if d := DeviceOf(cd); d.Serial != nil && d.Serial.Port == o.Link {
			o.Meters = append(o.Meters, d.Address)
			// The meter accepts what its device is configured to send.
			if p, err := profileFor(cfg, cd); err == nil {
				r := Relay{AllowDirectClose: p.Relay.AllowDirectClose}
				if rc, err := relayOf(d, p); err == nil {
					r = rc
				}
				o.Relays[d.Address] = r
			}
		}
	}
}

func validateSimBus(cfg *config.Config, dev *config.Device, o *SimBusOptions, path string) []config.Problem {
	var ps []config.Problem
	if dev != nil && (dev.Protocol != Protocol || DeviceOf(*dev).Serial == nil) {
		ps = append(ps, cfg.Problemf(path+".device", "a dlt645_bus simulator serves a DL/T 645 line; device %s uses %s", dev.ID, dev.Protocol))
	}
	if o.DrainPerSecond < 0 {
		ps = append(ps, cfg.Problemf(path+".drain_per_second", "must not be negative"))
	}
	return ps
}

func startSimBus(ctx context.Context, env devices.SimEnv, o *SimBusOptions) (func() error, error) {
	if o.Link != "" {
		if err := os.MkdirAll(filepath.Dir(o.Link), 0o755); err != nil {
			return nil, err
		}
	}
	var meters []*SimMeter
	for i, a := range o.Meters {
		addr, err := ParseAddress(a)
		if err != nil {
			return nil, err
		}
		relay := o.Relays[a]
		meters = append(meters, &SimMeter{Addr: addr, Balance: o.InitialBalance, DrainPerSecond: o.DrainPerSecond,
			Alarm1: 10, Alarm2: 5, OverdraftLimit: 5, EnergyKWh: 1200, Silent: i >= len(o.Meters)-o.Silent,
			Password: relay.Password, AllowDirectClose: relay.AllowDirectClose})
	}
	bus, err := NewSimBus(o.Link)
	if err != nil {
		return nil, err
	}
	bus.Settings = o.Settings
	for _, m := range meters {
		bus.Add(m)
	}
	from := "-"
	if len(meters) > 0 {
		from = meters[0].Addr.String()
	}
	env.Announce(fmt.Sprintf("%d DL/T 645 meters (addresses from %s, %d silent) on %s, paced at %d baud; balance %.2f yuan, -%.2f/s; Ctrl-C stops",
		len(meters), from, o.Silent, bus.Path(), o.Settings.Baud, o.InitialBalance, o.DrainPerSecond),
		"simulated DL/T 645 bus serving", "port", o.Link, "line", bus.Path(), "meters", len(meters),
		"balance", o.InitialBalance, "drain_per_second", o.DrainPerSecond)
	done := make(chan error, 1)
	go func() { done <- bus.Run(ctx) }()
	return func() error { return <-done }, nil
}
