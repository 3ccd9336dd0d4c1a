package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/estatehq/estate/devices/dlt645"
	"github.com/estatehq/estate/devices/serial"
)

func init() {
	registerSim("dlt645", command{"dlt645 [--link PATH] [--meters N] [--first ADDR] [--balance Y] [--drain Y/s] [--silent N] [--baud B]",
		"a bus of DL/T 645-2007 prepaid meters on a pseudo-terminal", simDLT645})
}

func simDLT645(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sim dlt645", flag.ContinueOnError)
	fs.SetOutput(stderr)
	link := fs.String("link", "var/sim/dlt645-bus", "path of a link to the line (the device's serial.port); empty for none")
	meters := fs.Int("meters", 3, "how many meters on the bus")
	first := fs.Uint64("first", 101, "address of the first meter (the next ones follow)")
	balance := fs.Float64("balance", 30, "starting balance of each meter, yuan")
	drain := fs.Float64("drain", 0.2, "yuan spent per second by each household")
	silent := fs.Int("silent", 0, "how many meters (the last ones) never answer")
	baud := fs.Int("baud", 2400, "line speed the replies are paced at (0: answer at once)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *link != "" {
		if err := os.MkdirAll(dirOf(*link), 0o755); err != nil {
			fmt.Fprintf(stderr, "estate sim dlt645: %v\n", err)
			return 1
		}
	}
	bus, err := dlt645.NewSimBus(*link)
	if err != nil {
		fmt.Fprintf(stderr, "estate sim dlt645: %v\n", err)
		return 1
	}
	bus.Settings = serial.Settings{Baud: *baud, DataBits: 8, Parity: 'E', StopBits: 1}
	for i := range *meters {
		addr, err := dlt645.ParseAddress(strconv.FormatUint(*first+uint64(i), 10))
		if err != nil {
			fmt.Fprintf(stderr, "estate sim dlt645: %v\n", err)
			return 2
		}
		bus.Add(&dlt645.SimMeter{Addr: addr, Balance: *balance, DrainPerSecond: *drain, Alarm1: 10, Alarm2: 5,
			OverdraftLimit: 5, EnergyKWh: 1200, Silent: i >= *meters-*silent})
	}
	fmt.Fprintf(stdout, "%d DL/T 645 meters (addresses from %012d, %d silent) on %s, paced at %d baud; balance %.2f yuan, -%.2f/s; Ctrl-C stops\n",
		*meters, *first, *silent, bus.Path(), *baud, *balance, *drain)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := bus.Run(ctx); err != nil {
		fmt.Fprintf(stderr, "estate sim dlt645: %v\n", err)
		return 1
	}
	return 0
}

// dirOf is the folder of a path ("." for a bare name).
func dirOf(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			return p[:i]
		}
	}
	return "."
}
