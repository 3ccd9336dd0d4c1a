package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/estatehq/estate/gateway/outbox"
	"github.com/estatehq/estate/gateway/statedb"
	"github.com/estatehq/estate/internal/app"
	"github.com/estatehq/estate/internal/config"
)

// `estate outbox list|retry`: the operator's view of the alarm actions that
// wait for the desk, read from the gateway's state file itself, so that they
// work while the gateway is stopped and are safe while it runs (SQLite takes
// turns; a running gateway picks a retried action up within seconds).
var outboxCommands = map[string]command{}

const (
	outboxListUsage  = "list --config F | --state FILE [--dead]"
	outboxRetryUsage = "retry --config F | --state FILE <id|--all>"
)

func init() {
	outboxCommands["list"] = command{outboxListUsage, "list the alarm actions not yet delivered (--dead: the dead letter)", outboxList}
	outboxCommands["retry"] = command{outboxRetryUsage, "send dead-lettered alarm actions to the desk again", outboxRetry}
	registerGroup("outbox", "outbox list|retry [flags]", "list the ticket outbox, retry its dead letter", outboxCommands)
}

// outboxFlags are the flags both subcommands take; positional arguments may
// come before or after them.
type outboxFlags struct {
	fs            *flag.FlagSet
	config, state string
	dead, all     bool
	args          []string
}

// parseOutboxFlags parses the flags; ok false ends the command with code
// (0 after --help).
func parseOutboxFlags(name string, args []string, stdout, stderr io.Writer) (f *outboxFlags, code int, ok bool) {
	f = &outboxFlags{fs: newFlagSet("outbox "+name, stderr)}
	f.fs.StringVar(&f.config, "config", "", "the gateway's configuration (YAML): its state file is gateway.state_dir/state-<gateway.id>.db")
	f.fs.StringVar(&f.state, "state", "", "the gateway's state file (instead of --config)")
	if name == "list" {
		f.fs.BoolVar(&f.dead, "dead", false, "only the dead letter")
	} else {
		f.fs.BoolVar(&f.all, "all", false, "every action in the dead letter")
	}
	for {
		if code, ok := parseFlags(f.fs, args, stdout); !ok {
			return nil, code, false
		}
		args = f.fs.Args()
		if len(args) == 0 {
			return f, 0, true
		}
		f.args = append(f.args, args[0])
		args = args[1:]
	}
}

// openState opens the state file the flags name; it never creates one.
func (f *outboxFlags) openState(stderr io.Writer) (*sql.DB, string, bool) {
	if (f.config == "") == (f.state == "") {
		fmt.Fprintf(stderr, "estate outbox: give --config FILE or --state FILE\n")
		return nil, "", false
	}
	path := f.state
	if f.config != "" {
		cfg, err := app.LoadConfig(f.config)
		if err != nil && !onlyUnsetSecrets(err) {
			fmt.Fprintf(stderr, "estate outbox: the configuration has problems:\n")
			printProblems(stderr, err)
			return nil, "", false
		}
		if cfg == nil || cfg.Gateway.ID == "" {
			fmt.Fprintf(stderr, "estate outbox: %s has no gateway.id\n", f.config)
			return nil, "", false
		}
		path = statedb.Path(cfg.Gateway.StateDir, cfg.Gateway.ID)
	}
	if _, err := os.Stat(path); err != nil {
		fmt.Fprintf(stderr, "estate outbox: no state file %s (has the gateway run here?): %v\n", path, err)
		return nil, "", false
	}
	db, err := statedb.Open(path)
	if err != nil {
		fmt.Fprintf(stderr, "estate outbox: %v\n", err)
		return nil, "", false
	}
	return db, path, true
}

// onlyUnsetSecrets reports whether every problem is a ${NAME} secret missing
// from the environment: the outbox needs no secret, and the operator's shell
// rarely has the gateway's.
func onlyUnsetSecrets(err error) bool {
	var ps config.Problems
	if !errors.As(err, &ps) || len(ps) == 0 {
		return false
	}
	for _, p := range ps {
		if !strings.HasPrefix(p.Msg, "environment variable ") {
			return false
		}
	}
	return true
}

func outboxList(args []string, stdout, stderr io.Writer) int {
	f, code, ok := parseOutboxFlags("list", args, stdout, stderr)
	if !ok {
		return code
	}
	if len(f.args) > 0 {
		fmt.Fprintf(stderr, "usage: estate outbox %s\n", outboxListUsage)
		return 2
	}
	db, path, ok := f.openState(stderr)
	if !ok {
		return 1
	}
	defer db.Close()
	entries, err := outbox.List(context.Background(), db, f.dead)
	if err != nil {
		fmt.Fprintf(stderr, "estate outbox: %v\n", err)
		return 1
	}
	what := "undelivered alarm action(s)"
	if f.dead {
		what = "alarm action(s) in the dead letter"
	}
	fmt.Fprintf(stdout, "%s: %d %s\n", path, len(entries), what)
	if len(entries) == 0 {
		return 0
	}
	now := time.Now()
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tALARM\tACTION\tATTEMPTS\tREFUSED\tQUEUED\tLAST ERROR")
	for _, e := range entries {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%d\t%s\t%s\n", e.ID, e.State(now), e.AlarmKey, e.Action, e.Attempts, e.Refusals,
			e.Enqueued.Local().Format("2006-01-02 15:04:05"), oneLine(e.LastError, 80))
	}
	_ = tw.Flush()
	return 0
}

func outboxRetry(args []string, stdout, stderr io.Writer) int {
	f, code, ok := parseOutboxFlags("retry", args, stdout, stderr)
	if !ok {
		return code
	}
	if f.all == (len(f.args) == 1) || len(f.args) > 1 {
		fmt.Fprintf(stderr, "usage: estate outbox %s\n", outboxRetryUsage)
		return 2
	}
	var id int64
	if !f.all {
		var err error
		if id, err = strconv.ParseInt(strings.TrimPrefix(f.args[0], "#"), 10, 64); err != nil || id <= 0 {
			fmt.Fprintf(stderr, "estate outbox retry: %q is not an action id (see estate outbox list --dead)\n", f.args[0])
			return 2
		}
	}
	db, _, ok := f.openState(stderr)
	if !ok {
		return 1
	}
	defer db.Close()
	ctx := context.Background()
	if f.all {
		n, err := outbox.RetryAll(ctx, db)
		if err != nil {
			fmt.Fprintf(stderr, "estate outbox: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "%d alarm action(s) back in the outbox; the gateway sends them when it runs\n", n)
		return 0
	}
	if err := outbox.Retry(ctx, db, id); err != nil {
		fmt.Fprintf(stderr, "estate outbox: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "alarm action %d back in the outbox; the gateway sends it when it runs\n", id)
	return 0
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
