// Command estate is the building-device gateway and service desk.
//
//	estate demo    --config configs/demo.yaml   gateway, desk and simulated devices in one process
//	estate gateway --config site.yaml           poll devices, write telemetry, raise tickets on a desk
//	estate desk    --config desk.yaml           serve the service-desk API
//	estate desk backup|restore|import|export    its database's backups, households from and to CSV/XLSX
//	estate config add-devices|export-devices    devices of a site configuration from and to a table
//	estate check   CONFIG                       validate a configuration without starting anything
//	estate outbox  list|retry --config F        the alarm actions waiting for the desk, and its dead letter
//	estate status  --config F                   devices, outbox, desk and telemetry of a gateway
//	estate hash-password                        a bcrypt hash for desk.staff[].password_hash
//	estate version                              what this binary is
//
// Each command lives in its own file and registers itself in init.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/estatehq/estate/internal/config"
)

// command is one `estate` subcommand.
type command struct {
	usage   string // "check CONFIG"
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

var commands = map[string]command{}

// groups are the commands with subcommands of their own (`estate modbus
// read`), by group name, so that usage and help reach every one of them.
var groups = map[string]map[string]command{}

func register(name string, c command) { commands[name] = c }

// registerGroup registers a command whose first argument names a subcommand.
func registerGroup(name, usage, summary string, subs map[string]command) {
	groups[name] = subs
	register(name, command{usage, summary, func(a []string, o, e io.Writer) int { return subcommands(name, subs, a, o, e) }})
}

// isHelp reports whether an argument asks for help.
func isHelp(a string) bool { return a == "-h" || a == "--help" || a == "-help" || a == "help" }

// newFlagSet returns the flag set of a command ("status", "modbus read"),
// whose usage names the command as registered and lists its flags.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	usage, summary := name, ""
	group, sub, isSub := strings.Cut(name, " ")
	if c, ok := groups[group][sub]; isSub && ok {
		usage, summary = group+" "+c.usage, c.summary
	} else if c, ok := commands[name]; ok {
		usage, summary = c.usage, c.summary
	}
	return flagSetWithUsage(name, usage, summary, stderr)
}

func flagSetWithUsage(name, usage, summary string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "usage: estate %s\n", usage)
		if summary != "" {
			fmt.Fprintf(w, "\n%s\n", summary)
		}
		n := 0
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n > 0 {
			fmt.Fprintf(w, "\nflags:\n")
			fs.PrintDefaults()
		}
	}
	return fs
}

// parseFlags parses a command's flags. On -h or --help it prints the usage
// to stdout and the command exits 0 (ok false, code 0); on a bad flag the
// problem and the usage go to standard error, exit 2.
func parseFlags(fs *flag.FlagSet, args []string, stdout io.Writer) (code int, ok bool) {
	out := fs.Output()
	var buf bytes.Buffer
	fs.SetOutput(&buf)
	err := fs.Parse(args)
	fs.SetOutput(out)
	switch {
	case err == nil:
		return 0, true
	case errors.Is(err, flag.ErrHelp):
		fs.SetOutput(stdout)
		fs.Usage()
		fs.SetOutput(out)
		return 0, false
	}
	_, _ = io.Copy(out, &buf)
	return 2, false
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		printUsage(stderr)
		return 2
	}
	name, rest := args[0], args[1:]
	if c, ok := commands[name]; ok {
		return c.run(rest, stdout, stderr)
	}
	if isHelp(name) {
		if len(rest) > 0 { // estate help status
			if c, ok := commands[rest[0]]; ok {
				return c.run(append(rest[1:], "--help"), stdout, stderr)
			}
		}
		printUsage(stdout)
		return 0
	}
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	fmt.Fprintf(stderr, "estate: unknown command %q%s\n\n", name, didYouMean(name, names))
	printUsage(stderr)
	return 2
}

func printUsage(w io.Writer) {
	fmt.Fprint(w, "estate: building-device gateway and service desk\n\nusage:\n")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		c := commands[n]
		if len(c.usage) > 32 {
			fmt.Fprintf(w, "  estate %s\n  %-39s %s\n", c.usage, "", c.summary)
			continue
		}
		fmt.Fprintf(w, "  estate %-32s %s\n", c.usage, c.summary)
	}
	fmt.Fprint(w, "\n`estate COMMAND --help` shows a command's flags. The long-running commands (demo, gateway,\n"+
		"desk, sim) log with log/slog: --log-format text (default) or json, --log-level debug|info|warn|error.\n")
}

// subcommands dispatches commands that have their own subcommands
// (`estate modbus read …`).
func subcommands(group string, subs map[string]command, args []string, stdout, stderr io.Writer) int {
	out, code := stderr, 2
	if len(args) > 0 {
		if c, ok := subs[args[0]]; ok {
			return c.run(args[1:], stdout, stderr)
		}
		if isHelp(args[0]) {
			out, code = stdout, 0
		} else {
			names := make([]string, 0, len(subs))
			for n := range subs {
				names = append(names, n)
			}
			fmt.Fprintf(stderr, "estate %s: unknown %q%s\n", group, args[0], didYouMean(args[0], names))
		}
	}
	names := make([]string, 0, len(subs))
	for n := range subs {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintf(out, "usage:\n")
	for _, n := range names {
		fmt.Fprintf(out, "  estate %s %-28s %s\n", group, subs[n].usage, subs[n].summary)
	}
	if len(names) == 0 {
		fmt.Fprintf(out, "  (none available: %s)\n", strings.TrimSpace(group))
	}
	fmt.Fprintf(out, "\n`estate %s SUBCOMMAND --help` shows a subcommand's flags.\n", group)
	return code
}

// didYouMean is config.DidYouMean, for command names.
func didYouMean(word string, names []string) string { return config.DidYouMean(word, names) }
