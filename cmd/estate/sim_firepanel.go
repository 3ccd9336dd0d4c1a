package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/estatehq/estate/devices/firepanel"
)

func init() {
	registerSim("firepanel", command{"firepanel --mode gbt26875 --connect HOST:PORT | --mode crt [--link PATH] [--gap D]",
		"a fire panel: a GB/T 26875.3 transmission device over TCP, or a CRT text panel on a pseudo-terminal", simFirePanel})
}

func simFirePanel(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sim firepanel", flag.ContinueOnError)
	fs.SetOutput(stderr)
	mode := fs.String("mode", "crt", "gbt26875 (transmission device, connects to the gateway) or crt (text lines on a serial line)")
	connect := fs.String("connect", "127.0.0.1:9030", "gbt26875: the gateway's listening address (the device's address)")
	link := fs.String("link", "var/sim/fire-crt", "crt: path of a link to the line (the device's serial.port)")
	gap := fs.Duration("gap", 5*time.Second, "time between scripted events (alarm, fault, fault cleared, reset), repeated")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch *mode {
	case "gbt26875":
		u := &firepanel.UITD{Source: [6]byte{0x01}, Script: firepanel.DemoScript(*gap), Repeat: true}
		fmt.Fprintf(stdout, "GB/T 26875.3 transmission device sending to %s every %s (alarm, fault, fault cleared, reset); Ctrl-C stops\n", *connect, *gap)
		_ = u.DialAndServe(ctx, *connect)
		c, r := u.Counts()
		fmt.Fprintf(stdout, "confirmed %d frames, resent %d\n", c, r)
	case "crt":
		if *link != "" {
			if err := os.MkdirAll(dirOf(*link), 0o755); err != nil {
				fmt.Fprintf(stderr, "estate sim firepanel: %v\n", err)
				return 1
			}
		}
		p, err := firepanel.NewCRTPanel(*link)
		if err != nil {
			fmt.Fprintf(stderr, "estate sim firepanel: %v\n", err)
			return 1
		}
		p.Script, p.Repeat = firepanel.DemoScript(*gap), true
		fmt.Fprintf(stdout, "CRT fire panel printing GB 18030 lines (template crt-loop-address) on %s every %s; Ctrl-C stops\n", p.Path(), *gap)
		if err := p.Run(ctx); err != nil {
			fmt.Fprintf(stderr, "estate sim firepanel: %v\n", err)
			return 1
		}
	default:
		fmt.Fprintf(stderr, "estate sim firepanel: --mode must be gbt26875 or crt\n")
		return 2
	}
	return 0
}
