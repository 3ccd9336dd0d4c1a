// Command estate is the building-device gateway and service desk.
//
//	estate demo    --config configs/demo.yaml   gateway, desk and simulated devices in one process
//	estate gateway --config site.yaml           poll devices, write telemetry, raise tickets on a desk
//	estate desk    --config desk.yaml           serve the service-desk API
//	estate desk backup|restore|import|export    its database's backups, households from and to CSV/XLSX
//	estate config add-devices|export-devices    devices of a site configuration from and to a table
//	estate check   CONFIG                       validate a configuration without starting anything
//	estate outbox  list|retry --config F        the alarm actions waiting for the desk, and its dead letter
//
// Each command lives in its own file and registers itself in init.
package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// command is one `estate` subcommand.
type command struct {
	usage   string // "check CONFIG"
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

var commands = map[string]command{}

func register(name string, c command) { commands[name] = c }

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
	if name == "help" || name == "-h" || name == "--help" {
		printUsage(stdout)
		return 0
	}
	fmt.Fprintf(stderr, "estate: unknown command %q\n\n", name)
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
		fmt.Fprintf(w, "  estate %-32s %s\n", c.usage, c.summary)
	}
}

// subcommands dispatches commands that have their own subcommands
// (`estate modbus read …`).
func subcommands(group string, subs map[string]command, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		if c, ok := subs[args[0]]; ok {
			return c.run(args[1:], stdout, stderr)
		}
		fmt.Fprintf(stderr, "estate %s: unknown %q\n", group, args[0])
	}
	names := make([]string, 0, len(subs))
	for n := range subs {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintf(stderr, "usage:\n")
	for _, n := range names {
		fmt.Fprintf(stderr, "  estate %s %-28s %s\n", group, subs[n].usage, subs[n].summary)
	}
	if len(names) == 0 {
		fmt.Fprintf(stderr, "  (none available: %s)\n", strings.TrimSpace(group))
	}
	return 2
}
