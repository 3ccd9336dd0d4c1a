package main

// estate config: changes to a site configuration made from tables.
//
//	estate config add-devices site.yaml devices.csv [--dry-run]
//	estate config export-devices site.yaml [--format csv|xlsx] [--to FILE]

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/estatehq/estate/internal/app"
	"github.com/estatehq/estate/internal/devicecsv"
	"github.com/estatehq/estate/internal/tabular"
)

func init() {
	register("config", command{"config add-devices|export-devices …", "add devices to a site configuration from CSV, or export them", func(a []string, o, e io.Writer) int {
		return subcommands("config", configSubs, a, o, e)
	}})
}

var configSubs = map[string]command{
	"add-devices":    {"add-devices CONFIG DEVICES.csv", "add the table's devices to the configuration, checked as estate check does", configAddDevices},
	"export-devices": {"export-devices CONFIG", "write the configuration's devices as CSV or XLSX", configExportDevices},
}

func checkText(path string, data []byte) error {
	_, err := app.CheckConfig(path, data)
	return err
}

func configAddDevices(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("config add-devices", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dryRun := fs.Bool("dry-run", false, "check and report; leave the configuration as it is")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "usage: estate config add-devices CONFIG DEVICES.csv [--dry-run]\n\n"+
			"DEVICES.csv (or .xlsx) has a column per device key: id, family, protocol, profile, building,\n"+
			"floor, unit, tags (separated by ;), poll_interval, timeout and the protocol's own keys\n"+
			"(address, slave_id, …; nested options as serial.port). The devices are added after the\n"+
			"configuration's last device, its comments and layout untouched, once the whole\n"+
			"configuration passes estate check; every problem is reported as file:row: column: problem.\n\n")
		fs.PrintDefaults()
	}
	pos, code, ok := parseInterleaved(fs, args, stdout)
	if !ok {
		return code
	}
	if len(pos) != 2 {
		fs.Usage()
		return 2
	}
	cfgPath, table := pos[0], pos[1]
	text, err := os.ReadFile(cfgPath)
	if err != nil {
		fmt.Fprintf(stderr, "estate config add-devices: %v\n", err)
		return 1
	}
	data, err := os.ReadFile(table)
	if err != nil {
		fmt.Fprintf(stderr, "estate config add-devices: %v\n", err)
		return 1
	}
	out, n, ps, err := devicecsv.Add(cfgPath, text, table, data, checkText)
	if err != nil {
		fmt.Fprintf(stderr, "estate config add-devices: %v\n", err)
		return 1
	}
	if len(ps) > 0 {
		for _, p := range ps {
			fmt.Fprintln(stderr, p.String())
		}
		fmt.Fprintf(stderr, "%d problem(s); %s was not changed\n", len(ps), cfgPath)
		return 1
	}
	if *dryRun {
		fmt.Fprintf(stdout, "%s: %d devices check; dry run: %s was not changed\n", table, n, cfgPath)
		return 0
	}
	if err := devicecsv.WriteFile(cfgPath, out); err != nil {
		fmt.Fprintf(stderr, "estate config add-devices: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: added %d devices from %s\n", cfgPath, n, table)
	return 0
}

func configExportDevices(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("config export-devices", flag.ContinueOnError)
	fs.SetOutput(stderr)
	format := fs.String("format", "", "csv or xlsx (default: from --to's extension, else csv)")
	to := fs.String("to", "", "the file to write (default: standard output)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "usage: estate config export-devices CONFIG [--format csv|xlsx] [--to FILE]\n\n"+
			"The table has the columns estate config add-devices reads.\n\n")
		fs.PrintDefaults()
	}
	pos, code, ok := parseInterleaved(fs, args, stdout)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		fs.Usage()
		return 2
	}
	if *format == "" {
		*format = "csv"
		if strings.EqualFold(filepath.Ext(*to), ".xlsx") {
			*format = "xlsx"
		}
	}
	if *format != "csv" && *format != "xlsx" {
		fmt.Fprintf(stderr, "estate config export-devices: --format %q: csv or xlsx\n", *format)
		return 2
	}
	text, err := os.ReadFile(pos[0])
	if err != nil {
		fmt.Fprintf(stderr, "estate config export-devices: %v\n", err)
		return 1
	}
	out := stdout
	var f *os.File
	if *to != "" {
		if f, err = os.OpenFile(*to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640); err != nil {
			fmt.Fprintf(stderr, "estate config export-devices: %v (nothing is overwritten)\n", err)
			return 1
		}
		out = f
	}
	n, err := devicecsv.Export(out, *format, pos[0], text)
	if f != nil {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(*to)
		}
	}
	if err != nil {
		var ps tabular.Problems
		if errors.As(err, &ps) {
			for _, p := range ps {
				fmt.Fprintln(stderr, p.String())
			}
		} else {
			fmt.Fprintf(stderr, "estate config export-devices: %v\n", err)
		}
		return 1
	}
	if f != nil {
		fmt.Fprintf(stderr, "%s: %d devices of %s\n", *to, n, pos[0])
	}
	return 0
}
