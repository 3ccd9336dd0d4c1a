package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/estatehq/estate/devices/dlt645"
	"github.com/estatehq/estate/internal/app"
)

var dlt645Commands = map[string]command{}

func init() {
	dlt645Commands["relay"] = command{"relay --config FILE --device ID --trip|--close|--direct-close [--hours N]",
		"trip, allow closing or close a meter's relay (needs dlt645.relay_control and its password)", dlt645Relay}
	registerGroup("dlt645", "dlt645 relay …", "commands to DL/T 645 meters (see estate dlt645)", dlt645Commands)
}

// dlt645Relay sends one relay command to one configured meter. It opens the
// meter's serial line itself, so the gateway that polls that line must be
// stopped first (one program per port).
func dlt645Relay(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("dlt645 relay", stderr)
	path := fs.String("config", "", "site configuration")
	id := fs.String("device", "", "id of the meter")
	trip := fs.Bool("trip", false, "open the relay (跳闸)")
	allow := fs.Bool("close", false, "allow the relay to close (合闸允许, 1BH: the customer closes it)")
	direct := fs.Bool("direct-close", false, "close the relay at once (合闸直接, 1CH; only where the meter's profile has relay.allow_direct_close)")
	hours := fs.Int("hours", 24, "how long the command holds, in hours")
	if code, ok := parseFlags(fs, args, stdout); !ok {
		return code
	}
	chosen := 0
	for _, b := range []bool{*trip, *allow, *direct} {
		if b {
			chosen++
		}
	}
	if *path == "" || *id == "" || chosen != 1 {
		fmt.Fprintln(stderr, "usage: estate dlt645 relay --config FILE --device ID --trip|--close|--direct-close [--hours N]")
		return 2
	}
	cfg, err := app.LoadConfig(*path)
	if err != nil {
		fmt.Fprintln(stderr, "estate dlt645 relay: the configuration has problems:")
		printProblems(stderr, err)
		return 1
	}
	cdev, ok := cfg.DeviceByID(*id)
	dev := dlt645.DeviceOf(cdev)
	if !ok {
		fmt.Fprintf(stderr, "estate dlt645 relay: no device %q in %s\n", *id, *path)
		return 1
	}
	relay, err := dlt645.RelayOf(cfg, cdev)
	if err != nil {
		fmt.Fprintf(stderr, "estate dlt645 relay: %v\n", err)
		return 1
	}
	addr, err := dlt645.ParseAddress(dev.Address)
	if err != nil {
		fmt.Fprintf(stderr, "estate dlt645 relay: device %s: %v\n", dev.ID, err)
		return 1
	}
	cmd, what := byte(dlt645.RelayAllowClose), "allowed to close"
	switch {
	case *trip:
		cmd, what = dlt645.RelayTrip, "tripped"
	case *direct:
		cmd, what = dlt645.RelayDirectClose, "closed (direct close)"
	}
	if err := relay.Check(cmd, dev.ID, dev.Profile); err != nil {
		fmt.Fprintf(stderr, "estate dlt645 relay: %v\n", err)
		return 1
	}
	bus := dlt645.NewBus(dlt645.LineOf(cdev), nil)
	defer bus.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := bus.ControlRelay(ctx, addr, relay.Password, relay.Operator, cmd, time.Now().Add(time.Duration(*hours)*time.Hour), dev.Timeout); err != nil {
		fmt.Fprintf(stderr, "estate dlt645 relay: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "meter %s (%s): relay %s\n", dev.ID, dev.Address, what)
	return 0
}
