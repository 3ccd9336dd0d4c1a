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
	register("demo", command{"demo --config FILE [flags]", "run gateway, desk and simulated devices on loopback",
		func(a []string, o, e io.Writer) int { return serve("demo", a, o, e) }})
	register("gateway", command{"gateway --config FILE [flags]", "poll devices and report to a desk",
		func(a []string, o, e io.Writer) int { return serve("gateway", a, o, e) }})
	register("desk", command{"desk --config FILE [flags]", "serve the service-desk API (desk backup|restore|import|export: its operations)", deskCommand})
	register("check", command{"check [--env-file F] FILE…", "validate configurations and exit (1 on any problem)", check})
}

// envFileFlag adds --env-file: NAME=value lines for the ${NAME} secrets, the
// file a unit's EnvironmentFile= names (/etc/estate/estate.env).
func envFileFlag(fs *flag.FlagSet) *string {
	return fs.String("env-file", "", "read NAME=value lines for the configuration's ${NAME} secrets from this file (exported variables win)")
}

func check(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("check", stderr)
	envFile := envFileFlag(fs)
	if code, ok := parseFlags(fs, args, stdout); !ok {
		return code
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	if *envFile != "" {
		if err := config.LoadEnvFile(*envFile); err != nil {
			fmt.Fprintf(stderr, "estate check: %v\n", err)
			return 1
		}
	}
	code := 0
	for _, path := range fs.Args() {
		cfg, err := app.LoadConfig(path)
		if cfg != nil {
			printWarnings(stderr, cfg)
		}
		if err != nil {
			printProblems(stderr, err)
			code = 1
			continue
		}
		fmt.Fprintf(stdout, "%s: ok: site %s, %d devices, %d rules, %d desk tokens, %d simulators",
			path, cfg.Site.ID, len(cfg.Devices), len(cfg.Rules), len(cfg.Desk.Tokens), len(cfg.Simulators))
		if n := len(cfg.Warnings()); n > 0 {
			fmt.Fprintf(stdout, ", %d warning(s)", n)
		}
		fmt.Fprintln(stdout)
	}
	return code
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

func printWarnings(w io.Writer, cfg *config.Config) {
	for _, p := range cfg.Warnings() {
		fmt.Fprintf(w, "warning: %s\n", p)
	}
}

// logFlags are the flags of every long-running command's logger.
type logFlags struct{ level, format *string }

func addLogFlags(fs *flag.FlagSet) logFlags {
	return logFlags{
		level:  fs.String("log-level", "info", "debug, info, warn or error"),
		format: fs.String("log-format", "text", "text (key=value lines) or json (one JSON object a line, for journald and log shippers)"),
	}
}

func (f logFlags) logger(w io.Writer) (*slog.Logger, error) { return newLogger(*f.level, *f.format, w) }

// newLogger builds the slog logger of a long-running command.
func newLogger(level, format string, w io.Writer) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format: %q is neither text nor json", format)
}

func serve(cmd string, args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return serveContext(ctx, cmd, args, stdout, stderr)
}

// serveContext runs a long-running command until ctx ends (a signal, or a test).
func serveContext(ctx context.Context, cmd string, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet(cmd, stderr)
	path := fs.String("config", "", "configuration file (YAML)")
	envFile := envFileFlag(fs)
	lf := addLogFlags(fs)
	if code, ok := parseFlags(fs, args, stdout); !ok {
		return code
	}
	if *path == "" || fs.NArg() > 0 {
		fmt.Fprintf(stderr, "estate %s: --config FILE is required (see /etc/estate or configs/)\n", cmd)
		return 2
	}
	log, err := lf.logger(stderr)
	if err != nil {
		fmt.Fprintf(stderr, "estate %s: %v\n", cmd, err)
		return 2
	}
	if *envFile != "" {
		if err := config.LoadEnvFile(*envFile); err != nil {
			fmt.Fprintf(stderr, "estate %s: %v\n", cmd, err)
			return 1
		}
	}
	cfg, err := app.LoadConfig(*path)
	if err != nil {
		fmt.Fprintf(stderr, "estate %s: the configuration has problems; nothing was started:\n", cmd)
		printProblems(stderr, err)
		return 1
	}
	for _, w := range cfg.Warnings() {
		log.Warn("configuration", "warning", w.String())
	}

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
