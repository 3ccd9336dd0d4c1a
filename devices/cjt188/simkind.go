package cjt188

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/estatehq/estate/devices"
	"github.com/estatehq/estate/devices/serial"
	"github.com/estatehq/estate/internal/config"
)

// A bus of CJ/T 188 prepaid water meters on a pseudo-terminal. Configured,
// the simulator makes its device's serial.port a link to the line, and puts
// on it every cjt188 device of the configuration that names that port.
func init() {
	devices.RegisterSimulator("water_meter_bus", devices.SimulatorKind[SimBusOptions]{
		Summary:   "a bus of CJ/T 188 prepaid water meters on a pseudo-terminal",
		Usage:     "[--link PATH] [--meters N] [--first ADDR] [--balance Y] [--flow M3H] [--speed X] [--price Y] [--silent N] [--baud B]",
		Flags:     simBusFlags,
		Configure: configureSimBus,
		Validate:  validateSimBus,
		Start:     startSimBus,
	})
}

// SimBusOptions are a simulated CJ/T 188 bus's.
type SimBusOptions struct {
	// Link is a path made a link to the line (the devices' serial.port); empty for none.
	Link string `yaml:"-"`
	// Settings pace the replies at the line's baud rate (Baud 0: answer at once).
	Settings serial.Settings `yaml:"-"`
	// Meters are the addresses of the meters on the bus, with their types.
	Meters []string `yaml:"-"`
	Types  []byte   `yaml:"-"`
	// Silent is how many meters (the last ones) never answer.
	Silent int `yaml:"-"`
	// InitialBalance is each meter's remaining amount at start (yuan).
	InitialBalance float64 `yaml:"initial_balance"`
	// Flow is each household's draw while its valve is open (m³/h).
	Flow float64 `yaml:"flow"`
	// Speed runs the use faster than the clock (600: a second is ten minutes).
	Speed float64 `yaml:"speed"`
	// PricePerM3 is the water price (yuan per m³).
	PricePerM3 float64 `yaml:"price_per_m3"`
	// Faults are scripted: at a time after start, a meter (by address; all
	// when empty) gets a fault for a while (0: for good): valve_fault,
	// battery_low, silent; or a top-up of Amount yuan (top_up).
	Faults []SimFault `yaml:"faults"`
}

// SimFault is one scripted happening of a simulated water meter.
type SimFault struct {
	At     time.Duration `yaml:"at"`
	Do     string        `yaml:"do"`
	For    time.Duration `yaml:"for"`
	Meter  string        `yaml:"meter"`
	Amount float64       `yaml:"amount"`
}

var faultKinds = map[string]bool{"valve_fault": true, "battery_low": true, "silent": true, "top_up": true}

func simBusFlags(fs *flag.FlagSet, o *SimBusOptions) func() error {
	fs.StringVar(&o.Link, "link", "var/sim/water-bus", "path of a link to the line (the devices' serial.port); empty for none")
	meters := fs.Int("meters", 3, "how many meters on the bus")
	first := fs.Uint64("first", 101, "address of the first meter (the next ones follow)")
	fs.Float64Var(&o.InitialBalance, "balance", 30, "starting remaining amount of each meter, yuan")
	fs.Float64Var(&o.Flow, "flow", 0.6, "each household's draw while the valve is open, m³/h")
	fs.Float64Var(&o.Speed, "speed", 1, "run the use this many times faster than the clock")
	fs.Float64Var(&o.PricePerM3, "price", 4, "water price, yuan per m³")
	fs.IntVar(&o.Silent, "silent", 0, "how many meters (the last ones) never answer")
	baud := fs.Int("baud", 2400, "line speed the replies are paced at (0: answer at once)")
	return func() error {
		o.Settings = serial.Settings{Baud: *baud, DataBits: 8, Parity: 'E', StopBits: 1}
		if *meters < 1 || *meters > 250 {
			return fmt.Errorf("--meters: 1 to 250")
		}
		for i := range *meters {
			a := strconv.FormatUint(*first+uint64(i), 10)
			if _, err := ParseAddress(a); err != nil {
				return err
			}
			o.Meters = append(o.Meters, a)
			o.Types = append(o.Types, TypeColdWater)
		}
		return checkSimOptions(o)
	}
}

func checkSimOptions(o *SimBusOptions) error {
	if o.InitialBalance < 0 || o.Flow < 0 || o.Speed < 0 || o.PricePerM3 < 0 {
		return fmt.Errorf("balance, flow, speed and price must not be negative")
	}
	return nil
}

// configureSimBus serves the device's line and every meter configured on it.
func configureSimBus(cfg *config.Config, cdev config.Device, o *SimBusOptions) {
	o.InitialBalance, o.Flow, o.Speed, o.PricePerM3 = 30, 0.6, 1, 4
	if cdev.Protocol != Protocol {
		return // reported by validateSimBus
	}
	dev := DeviceOf(cdev)
	if dev.Serial == nil {
		return // reported by validateSimBus
	}
	o.Link = dev.Serial.Port
	o.Settings = lineOf(dev)
	for _, cd := range cfg.Devices {
		if cd.Protocol != Protocol {
			continue
		}
		if d := DeviceOf(cd); d.Serial != nil && d.Serial.Port == o.Link {
			t := byte(TypeColdWater)
			if p, err := profileFor(cfg, cd); err == nil {
				t = p.meterType
			}
			o.Meters = append(o.Meters, d.Address)
			o.Types = append(o.Types, t)
		}
	}
}

func validateSimBus(cfg *config.Config, dev *config.Device, o *SimBusOptions, path string) []config.Problem {
	var ps []config.Problem
	if dev != nil && (dev.Protocol != Protocol || DeviceOf(*dev).Serial == nil) {
		ps = append(ps, cfg.Problemf(path+".device", "a water_meter_bus simulator serves a CJ/T 188 line; device %s uses %s", dev.ID, dev.Protocol))
	}
	if err := checkSimOptions(o); err != nil {
		ps = append(ps, cfg.Problemf(path, "%v", err))
	}
	for i, f := range o.Faults {
		at := fmt.Sprintf("%s.faults[%d]", path, i)
		if !faultKinds[f.Do] {
			ps = append(ps, cfg.Problemf(at+".do", "%q is not one of valve_fault, battery_low, silent, top_up", f.Do))
		}
		if f.At < 0 || f.For < 0 {
			ps = append(ps, cfg.Problemf(at+".at", "at and for must not be negative"))
		}
		if f.Meter != "" {
			if _, err := ParseAddress(f.Meter); err != nil {
				ps = append(ps, cfg.Problemf(at+".meter", "%v", err))
			}
		}
		if f.Do == "top_up" && f.Amount <= 0 {
			ps = append(ps, cfg.Problemf(at+".amount", "a top_up needs a positive amount (yuan)"))
		}
	}
	return ps
}

func startSimBus(ctx context.Context, env devices.SimEnv, o *SimBusOptions) (func() error, error) {
	if o.Link != "" {
		if err := os.MkdirAll(filepath.Dir(o.Link), 0o755); err != nil {
			return nil, err
		}
	}
	bus, err := NewSimBus(o.Link)
	if err != nil {
		return nil, err
	}
	bus.Settings = o.Settings
	var meters []*SimMeter
	for i, a := range o.Meters {
		addr, err := ParseAddress(a)
		if err != nil {
			return nil, err
		}
		t := byte(TypeColdWater)
		if i < len(o.Types) {
			t = o.Types[i]
		}
		m := &SimMeter{Addr: addr, Type: t, Balance: o.InitialBalance, Flow: o.Flow, Speed: o.Speed, PricePerM3: o.PricePerM3,
			Volume: 100 + float64(i), SettlementVolume: 95 + float64(i), Silent: i >= len(o.Meters)-o.Silent}
		if o.InitialBalance > 0 {
			m.PurchaseCount, m.LastPurchase, m.TotalPurchased = 1, o.InitialBalance, o.InitialBalance
		}
		meters = append(meters, m)
		bus.Add(m)
	}
	from := "-"
	if len(meters) > 0 {
		from = meters[0].Addr.String()
	}
	env.Announce(fmt.Sprintf("%d CJ/T 188 water meters (addresses from %s, %d silent) on %s, paced at %d baud; balance %.2f yuan, %.2f m³/h ×%g at %.2f yuan/m³; Ctrl-C stops",
		len(meters), from, o.Silent, bus.Path(), o.Settings.Baud, o.InitialBalance, o.Flow, o.Speed, o.PricePerM3),
		"simulated CJ/T 188 water bus serving", "port", o.Link, "line", bus.Path(), "meters", len(meters),
		"balance", o.InitialBalance, "flow", o.Flow, "speed", o.Speed)
	var wg sync.WaitGroup
	done := make(chan error, 1)
	go func() { done <- bus.Run(ctx) }()
	for _, f := range o.Faults {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runFault(ctx, env, bus, f)
		}()
	}
	return func() error {
		err := <-done
		wg.Wait()
		return err
	}, nil
}

// runFault applies one scripted fault at its time, and lifts it after For.
func runFault(ctx context.Context, env devices.SimEnv, bus *SimBus, f SimFault) {
	sleep := func(d time.Duration) bool {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return true
		}
	}
	var target Address
	if f.Meter != "" {
		target, _ = ParseAddress(f.Meter)
	}
	apply := func(on bool) {
		bus.each(func(m *SimMeter) {
			if f.Meter != "" && m.Addr != target {
				return
			}
			{
				switch f.Do {
				case "valve_fault":
					m.ValveFault = on
				case "battery_low":
					m.BatteryLow = on
				case "silent":
					m.Silent = on
				case "top_up":
					if on {
						m.TopUp(f.Amount)
					}
				}
			}
		})
		env.Logger().Info("simulated water meter", "do", f.Do, "on", on, "meter", f.Meter)
	}
	if !sleep(f.At) {
		return
	}
	apply(true)
	if f.For > 0 && f.Do != "top_up" && sleep(f.For) {
		apply(false)
	}
}
