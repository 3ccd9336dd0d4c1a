package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/estatehq/estate/devices"
	_ "github.com/estatehq/estate/devices/all" // every family registers its simulators
)

// `estate sim KIND …` serves a simulated device that engineers run to try a
// configuration without hardware. The kinds are the ones the families
// register (devices.RegisterSimulator), the same that a configuration's
// simulators: section names: this command only turns flags into a kind's
// options and runs it until Ctrl-C.
func init() {
	register("sim", command{"sim KIND [flags]", "serve a simulated device (see estate sim)", simCommand})
}

func simCommand(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
		printSimUsage(stdout)
		return 0
	}
	if len(args) == 0 {
		printSimUsage(stderr)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return runSim(ctx, args[0], args[1:], stdout, stderr)
}

// runSim serves the simulator of kind name (or an earlier name of it) with
// its flags in args until ctx ends.
func runSim(ctx context.Context, name string, args []string, stdout, stderr io.Writer) int {
	kind := name
	if name == "firepanel" {
		var code int
		if kind, args, code = firepanelMode(args, stderr); code != 0 {
			return code
		}
	}
	usage, summary := "sim "+name+" [flags]", ""
	for _, k := range devices.Simulators() {
		if k.Name == kind || slices.Contains(k.Aliases, kind) {
			usage, summary = "sim "+k.Name+" "+k.Usage, k.Summary
		}
	}
	fs := flagSetWithUsage("sim "+name, usage, summary, stderr)
	build, ok := devices.SimulatorFlags(kind, fs)
	if !ok {
		names := []string{}
		for _, k := range devices.Simulators() {
			names = append(names, k.Name)
		}
		fmt.Fprintf(stderr, "estate sim: unknown %q%s\n", name, didYouMean(name, names))
		printSimUsage(stderr)
		return 2
	}
	lf := addLogFlags(fs)
	if code, ok := parseFlags(fs, args, stdout); !ok {
		return code
	}
	log, err := lf.logger(stderr)
	if err != nil {
		fmt.Fprintf(stderr, "estate sim %s: %v\n", name, err)
		return 2
	}
	if canonical, _ := devices.SimulatorName(kind); canonical != name {
		log.Warn("simulator kind renamed; the old name still works for now", "kind", name, "use", "estate sim "+canonical)
	}
	sim, err := build()
	if err != nil {
		fmt.Fprintf(stderr, "estate sim %s: %v\n", name, err)
		return 2
	}
	wait, err := sim.Start(ctx, devices.SimEnv{Log: log, Out: stdout})
	if err != nil {
		fmt.Fprintf(stderr, "estate sim %s: %v\n", name, err)
		return 1
	}
	if err := wait(); err != nil {
		fmt.Fprintf(stderr, "estate sim %s: %v\n", name, err)
		return 1
	}
	return 0
}

// firepanelMode turns `estate sim firepanel --mode M`, the one name both fire
// panels had, into the kind firepanel_M, without the --mode flag.
func firepanelMode(args []string, stderr io.Writer) (kind string, rest []string, code int) {
	mode := "crt" // the default it had
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			rest = append(rest, args[i:]...)
			break
		}
		flagName, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || flagName != "mode" {
			rest = append(rest, a)
			continue
		}
		if !hasValue && i+1 < len(args) {
			i++
			value = args[i]
		}
		mode = value
	}
	if mode != "gbt26875" && mode != "crt" {
		fmt.Fprintf(stderr, "estate sim firepanel: --mode must be gbt26875 or crt\n")
		return "", nil, 2
	}
	return "firepanel_" + mode, rest, 0
}

func printSimUsage(w io.Writer) {
	fmt.Fprintf(w, "usage:\n")
	var old, cliOnly []string
	for _, k := range devices.Simulators() {
		fmt.Fprintf(w, "  estate sim %s %s\n      %s\n", k.Name, k.Usage, k.Summary)
		for _, a := range k.Aliases {
			old = append(old, a+" ("+k.Name+")")
		}
		if !k.Configurable {
			cliOnly = append(cliOnly, k.Name)
		}
	}
	old = append(old, "firepanel --mode gbt26875|crt (firepanel_gbt26875, firepanel_crt)")
	fmt.Fprintf(w, "\nThe same kinds serve a configuration's simulators: section (all but %s).\n"+
		"Earlier names still work, with a warning: %s.\n", strings.Join(cliOnly, ", "), strings.Join(old, ", "))
}
