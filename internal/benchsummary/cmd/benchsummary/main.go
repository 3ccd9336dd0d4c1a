// Command benchsummary prints DESIGN §7's targets against a `go test -bench`
// output and the last `make bench-telegraf` run: `make bench` runs it on its
// own output.
//
//	go run ./internal/benchsummary/cmd/benchsummary [--telegraf var/bench-telegraf/results.json] BENCH_OUTPUT
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"time"

	"github.com/estatehq/estate/internal/benchsummary"
)

func main() {
	tg := flag.String("telegraf", "var/bench-telegraf/results.json", "results of the last make bench-telegraf (skipped when missing)")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: benchsummary [--telegraf FILE] BENCH_OUTPUT")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	f, err := os.Open(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchsummary:", err)
		os.Exit(1)
	}
	defer f.Close()
	results, err := benchsummary.Parse(f)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchsummary:", err)
		os.Exit(1)
	}
	rep, err := benchsummary.ReadTelegraf(*tg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchsummary:", err)
		os.Exit(1)
	}
	host, _ := os.Hostname()
	fmt.Printf("\nDESIGN §7 targets, %s, %s (%d CPUs, %s)\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"), host, runtime.NumCPU(), runtime.GOARCH)
	benchsummary.Print(os.Stdout, append(benchsummary.TelegrafRows(rep), benchsummary.Judge(benchsummary.Targets, results)...))
}
