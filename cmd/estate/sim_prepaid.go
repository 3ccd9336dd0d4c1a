package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/estatehq/estate/devices/modbus"
)

func init() {
	registerSim("prepaid-meter", command{"prepaid-meter [--listen ADDR] [--balance Y] [--drain Y/s]",
		"a household prepaid meter on Modbus TCP whose balance runs down", simPrepaid})
}

func simPrepaid(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sim prepaid-meter", flag.ContinueOnError)
	fs.SetOutput(stderr)
	profile := fs.String("profile", "configs/profiles/demo-prepaid-meter.yaml", "register map to serve")
	listen := fs.String("listen", "127.0.0.1:5020", "host:port to serve Modbus TCP on")
	balance := fs.Float64("balance", 22, "starting balance, yuan")
	drain := fs.Float64("drain", 0.5, "yuan spent per second")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	p, err := modbus.LoadProfile(*profile)
	if err != nil {
		fmt.Fprintf(stderr, "estate sim prepaid-meter: %v\n", err)
		return 1
	}
	sim := modbus.NewSimulator(p, *listen)
	if err := sim.Start(); err != nil {
		fmt.Fprintf(stderr, "estate sim prepaid-meter: %v\n", err)
		return 1
	}
	defer sim.Stop()
	fmt.Fprintf(stdout, "prepaid meter (profile %s) on modbus tcp://%s, slave any; balance %.2f yuan, -%.2f/s; Ctrl-C stops\n",
		p.Name, *listen, *balance, *drain)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	(&modbus.PrepaidMeter{Sim: sim, InitialBalance: *balance, DrainPerSecond: *drain}).Run(ctx)
	return 0
}
