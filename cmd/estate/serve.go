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

func init() {
	register("demo", command{"demo --config FILE", "run gateway, desk and simulated devices on loopback",
		func(a []string, o, e io.Writer) int { return serve("demo", a, o, e) }})
	register("gateway", command{"gateway --config FILE", "poll devices and report to a desk",
		func(a []string, o, e io.Writer) int { return serve("gateway", a, o, e) }})
	register("desk", command{"desk --config FILE", "serve the service-desk API (desk backup|restore|import|export: its operations)", deskCommand})
	register("check", command{"check FILE", "validate a configuration and exit", check})
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

// newLogger builds the slog logger of a long-running command.
func newLogger(level string, w io.Writer) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: lvl})), nil
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
	log, err := newLogger(*level, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "estate %s: %v\n", cmd, err)
		return 2
	}
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
		app.ApplyGatewayRuntime(cfg.Gateway.Runtime, log)
		err = app.RunGateway(ctx, cfg, log, nil, nil)
	case "desk":
		err = app.RunDesk(ctx, cfg, log, nil, nil)
	}
	if err != nil {
		log.Error("estate "+cmd+" stopped with an error", "err", err)
		return 1
	}
	return 0
}
