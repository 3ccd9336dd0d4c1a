// Command estate is the building-device gateway and service desk.
//
//	estate demo    --config configs/demo.yaml   gateway, desk and simulated devices in one process
//	estate gateway --config site.yaml           poll devices, write telemetry, raise tickets on a desk
//	estate desk    --config desk.yaml           serve the service-desk API
//	estate check   CONFIG                       validate a configuration without starting anything
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/estatehq/estate/internal/app"
	"github.com/estatehq/estate/internal/config"
)

const usage = `estate: building-device gateway and service desk

usage:
  estate demo    --config FILE   run gateway, desk and simulated devices on loopback
  estate gateway --config FILE   poll devices and report to a desk
  estate desk    --config FILE   serve the service-desk API
  estate check   FILE            validate a configuration and exit
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "check":
		return check(rest, stdout, stderr)
	case "demo", "gateway", "desk":
		return serve(cmd, rest, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "estate: unknown command %q\n\n%s", cmd, usage)
	return 2
}

func check(args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprint(stderr, "usage: estate check CONFIG\n")
		return 2
	}
	cfg, err := app.LoadConfig(args[0])
	if err != nil {
		printProblems(stderr, err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: ok: site %s, %d devices, %d rules, %d desk tokens, %d simulators\n",
		args[0], cfg.Site.ID, len(cfg.Devices), len(cfg.Rules), len(cfg.Desk.Tokens), len(cfg.Simulators))
	return 0
}

func printProblems(w io.Writer, err error) {
	var ps config.Problems
	if errors.As(err, &ps) {
		for _, p := range ps {
			fmt.Fprintln(w, p.String())
		}
		fmt.Fprintf(w, "%d problem(s)\n", len(ps))
		return
	}
	fmt.Fprintln(w, err)
}

func serve(cmd string, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "configuration file (YAML)")
	level := fs.String("log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *path == "" {
		fmt.Fprintf(stderr, "estate %s: --config FILE is required (see configs/)\n", cmd)
		return 2
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		fmt.Fprintf(stderr, "estate %s: --log-level: %v\n", cmd, err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lvl}))

	cfg, err := app.LoadConfig(*path)
	if err != nil {
		fmt.Fprintf(stderr, "estate %s: the configuration has problems; nothing was started:\n", cmd)
		printProblems(stderr, err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	switch cmd {
	case "demo":
		err = app.RunDemo(ctx, cfg, log, stdout, nil)
	case "gateway":
		err = app.RunGateway(ctx, cfg, log, nil)
	case "desk":
		err = app.RunDesk(ctx, cfg, log, nil)
	}
	if err != nil {
		log.Error("estate "+cmd+" stopped with an error", "err", err)
		return 1
	}
	return 0
}
