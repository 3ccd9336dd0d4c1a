package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/estatehq/estate/devices/cjt188"
	"github.com/estatehq/estate/devices/serial"
	"github.com/estatehq/estate/internal/app"
)

var cjt188Commands = map[string]command{}

func init() {
	cjt188Commands["discover"] = command{"discover --port PATH [--baud B] [--parity E] [--timeout D]",
		"find the addresses of the water meters on a line (broadcast, then narrowing on collisions)", cjt188Discover}
	cjt188Commands["set-address"] = command{"set-address --port PATH --to ADDR [--from ADDR]",
		"give a meter a new address (the only meter on the line, or the one at --from)", cjt188SetAddress}
	cjt188Commands["valve"] = command{"valve --config FILE --device ID --open|--close",
		"open or close a water meter's valve (needs cjt188.valve_control)", cjt188Valve}
	register("cjt188", command{"cjt188 discover|set-address|valve …", "commands to CJ/T 188 water meters (see estate cjt188)",
		func(a []string, o, e io.Writer) int { return subcommands("cjt188", cjt188Commands, a, o, e) }})
}

// lineFlags are a commissioning command's line: the port and its settings.
func lineFlags(fs *flag.FlagSet) func() serial.Settings {
	port := fs.String("port", "", "serial port of the line (/dev/ttyUSB0)")
	baud := fs.Int("baud", cjt188.DefaultBaud, "baud rate")
	parity := fs.String("parity", string(rune(cjt188.DefaultParity)), "parity: N, E or O")
	return func() serial.Settings {
		return serial.Resolve(&serial.Config{Port: *port, Baud: *baud, Parity: *parity}, cjt188.DefaultBaud, cjt188.DefaultParity)
	}
}

// cjt188Discover lists the meters on a line. It opens the line itself, so
// the gateway that polls that line must be stopped first.
func cjt188Discover(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("cjt188 discover", stderr)
	line := lineFlags(fs)
	timeout := fs.Duration("timeout", 500*time.Millisecond, "how long each probe listens")
	highFirst := fs.Bool("high-first", false, "send identifiers DI1 first (810A as 81 0A) for meters that want it")
	if code, ok := parseFlags(fs, args, stdout); !ok {
		return code
	}
	s := line()
	if s.Port == "" {
		fmt.Fprintln(stderr, "usage: estate cjt188 discover --port PATH [--baud B] [--parity E] [--timeout D] [--high-first]")
		return 2
	}
	bus := cjt188.NewBus(s, nil)
	if *highFirst {
		bus.Order = cjt188.HighFirst
	}
	defer bus.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	probes := 0
	found, err := bus.Discover(ctx, *timeout, func(a cjt188.Address, n int, err error) {
		probes++
		if err != nil {
			fmt.Fprintf(stderr, "  %s: several meters answer, narrowing\n", a)
		}
	})
	for _, f := range found {
		fmt.Fprintf(stdout, "%s  type %02X\n", f.Addr, f.Type)
	}
	fmt.Fprintf(stdout, "%d meter(s) on %s (%s), %d probe(s)\n", len(found), s.Port, s, probes)
	if err != nil {
		fmt.Fprintf(stderr, "estate cjt188 discover: %v\n", err)
		return 1
	}
	return 0
}

func cjt188SetAddress(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("cjt188 set-address", stderr)
	line := lineFlags(fs)
	from := fs.String("from", "", "the meter's present address (default: the broadcast address, for the only meter on the line)")
	to := fs.String("to", "", "the new 14-digit address")
	if code, ok := parseFlags(fs, args, stdout); !ok {
		return code
	}
	s := line()
	if s.Port == "" || *to == "" {
		fmt.Fprintln(stderr, "usage: estate cjt188 set-address --port PATH --to ADDR [--from ADDR]")
		return 2
	}
	newAddr, err := cjt188.ParseAddress(*to)
	if err != nil {
		fmt.Fprintf(stderr, "estate cjt188 set-address: --to: %v\n", err)
		return 2
	}
	old := cjt188.Broadcast
	if *from != "" {
		if old, err = cjt188.ParseAddress(*from); err != nil {
			fmt.Fprintf(stderr, "estate cjt188 set-address: --from: %v\n", err)
			return 2
		}
	}
	bus := cjt188.NewBus(s, nil)
	defer bus.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := bus.WriteAddress(ctx, cjt188.TypeAny, old, newAddr, time.Second); err != nil {
		fmt.Fprintf(stderr, "estate cjt188 set-address: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "meter %s: address set to %s\n", old, newAddr)
	return 0
}

// cjt188Valve opens or closes one configured meter's valve. It opens the
// meter's line itself, so the gateway that polls that line must be stopped.
func cjt188Valve(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("cjt188 valve", stderr)
	path := fs.String("config", "", "site configuration")
	id := fs.String("device", "", "id of the water meter")
	openIt := fs.Bool("open", false, "open the valve (开阀)")
	closeIt := fs.Bool("close", false, "close the valve (关阀)")
	if code, ok := parseFlags(fs, args, stdout); !ok {
		return code
	}
	if *path == "" || *id == "" || *openIt == *closeIt {
		fmt.Fprintln(stderr, "usage: estate cjt188 valve --config FILE --device ID --open|--close")
		return 2
	}
	cfg, err := app.LoadConfig(*path)
	if err != nil {
		fmt.Fprintln(stderr, "estate cjt188 valve: the configuration has problems:")
		printProblems(stderr, err)
		return 1
	}
	cdev, ok := cfg.DeviceByID(*id)
	if !ok {
		fmt.Fprintf(stderr, "estate cjt188 valve: no device %q in %s\n", *id, *path)
		return 1
	}
	password, err := cjt188.ValvePassword(cdev)
	if err != nil {
		fmt.Fprintf(stderr, "estate cjt188 valve: %v\n", err)
		return 1
	}
	dev := cjt188.DeviceOf(cdev)
	addr, err := cjt188.ParseAddress(dev.Address)
	if err != nil {
		fmt.Fprintf(stderr, "estate cjt188 valve: device %s: %v\n", dev.ID, err)
		return 1
	}
	p, err := cjt188.LoadProfile(cjt188.ProfilePath(cfg.Resolve(cfg.Gateway.ProfilesDir), dev.Profile))
	if err != nil {
		fmt.Fprintf(stderr, "estate cjt188 valve: device %s: %v\n", dev.ID, err)
		return 1
	}
	cmd, what := byte(cjt188.ValveOpen), "opened"
	if *closeIt {
		cmd, what = cjt188.ValveClose, "closed"
	}
	bus := cjt188.NewBus(cjt188.LineOf(cdev), nil)
	defer bus.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := bus.Valve(ctx, p.Type(), addr, p.Order(), cmd, password, dev.Timeout); err != nil {
		fmt.Fprintf(stderr, "estate cjt188 valve: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "water meter %s (%s): valve %s\n", dev.ID, dev.Address, what)
	return 0
}
