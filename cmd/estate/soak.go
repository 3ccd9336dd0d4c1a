package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/estatehq/estate/internal/soak"
)

func init() {
	register("soak", command{"soak [--duration 30m] [--postgres URL]", "run a whole simulated estate under faults and kills; report what was lost", runSoak})
}

// runSoak is `estate soak` (make soak): see internal/soak and docs/testing.md.
func runSoak(args []string, stdout, stderr io.Writer) int {
	o := soak.Defaults()
	fs := newFlagSet("soak", stderr)
	fs.DurationVar(&o.Duration, "duration", o.Duration, "how long devices run and faults come (settling and counting come on top)")
	fs.StringVar(&o.PostgresURL, "postgres", os.Getenv("ESTATE_TEST_POSTGRES_URL"), "PostgreSQL server for the desks (a fresh database is made and dropped); empty: one desk on SQLite")
	fs.IntVar(&o.Desks, "desks", o.Desks, "desks on the PostgreSQL database (1 or 2; one without --postgres)")
	fs.IntVar(&o.TCPEndpoints, "tcp-endpoints", o.TCPEndpoints, "Modbus TCP endpoints (the first behind the Modbus proxy)")
	fs.IntVar(&o.RTUEndpoints, "rtu-endpoints", o.RTUEndpoints, "Modbus RTU-over-TCP endpoints")
	fs.IntVar(&o.UnitsPerEndpoint, "units", o.UnitsPerEndpoint, "meters (unit ids) on each Modbus endpoint")
	fs.IntVar(&o.DLT645Meters, "dlt645", o.DLT645Meters, "DL/T 645 meters on a pseudo-terminal")
	fs.IntVar(&o.MQTTDevices, "mqtt", o.MQTTDevices, "MQTT devices")
	fs.IntVar(&o.FirePanels, "fire", o.FirePanels, "fire panels (each raises one fire alarm)")
	fs.IntVar(&o.Incidents, "incidents", o.Incidents, "meters that raise a fault (one repair ticket each)")
	fs.DurationVar(&o.PollInterval, "poll", o.PollInterval, "poll interval of the meters and publish interval of the MQTT devices")
	fs.DurationVar(&o.FaultEvery, "fault-every", o.FaultEvery, "mean time between two faults")
	fs.DurationVar(&o.Warmup, "warmup", o.Warmup, "quiet time at the start (no fault begins)")
	fs.DurationVar(&o.Cooldown, "cooldown", o.Cooldown, "quiet time at the end of --duration")
	fs.DurationVar(&o.OfflineFor, "offline-for", o.OfflineFor, "the device_offline rule's for (and the endpoint incident's window)")
	seed := fs.Uint64("seed", 0, "random seed of the fault plan (0: from the clock; the report names it)")
	dir := fs.String("dir", "", "working folder (default var/soak/run-TIME)")
	report := fs.String("report", "var/soak/report.md", "where the Markdown report is written (it is printed too)")
	if code, ok := parseFlags(fs, args, stdout); !ok {
		return code
	}
	if o.PostgresURL == "" {
		o.Desks = 1
	}
	o.Seed = *seed
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "estate soak: %v\n", err)
		return 1
	}
	root, err := os.Getwd()
	if err != nil {
		fmt.Fprintf(stderr, "estate soak: %v\n", err)
		return 1
	}
	if _, err := os.Stat(filepath.Join(root, "deploy", "influxdb", "influxdb.sh")); err != nil {
		fmt.Fprintf(stderr, "estate soak: run it from the repository (deploy/influxdb/influxdb.sh starts its InfluxDB): %v\n", err)
		return 2
	}
	o.Root = root
	o.Dir = *dir
	if o.Dir == "" {
		o.Dir = filepath.Join(root, "var", "soak", "run-"+time.Now().UTC().Format("20060102-150405"))
	}
	if o.Dir, err = filepath.Abs(o.Dir); err != nil {
		fmt.Fprintf(stderr, "estate soak: %v\n", err)
		return 1
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		fmt.Fprintf(stderr, "estate soak: %v\n", err)
		return 1
	}
	logf, err := os.Create(filepath.Join(o.Dir, "soak.log"))
	if err != nil {
		fmt.Fprintf(stderr, "estate soak: %v\n", err)
		return 1
	}
	defer logf.Close()
	o.Log = slog.New(slog.NewTextHandler(logf, nil))
	o.Progress = stderr
	o.Command = func(role, config string) *exec.Cmd { return exec.Command(self, role, "--config", config) }

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	r, err := soak.Run(ctx, o)
	if err != nil {
		fmt.Fprintf(stderr, "estate soak: %v\n", err)
		return 1
	}
	md := r.Markdown()
	fmt.Fprint(stdout, md)
	if *report != "" {
		if err := os.MkdirAll(filepath.Dir(*report), 0o755); err == nil {
			_ = os.WriteFile(*report, []byte(md), 0o644)
		}
		_ = os.WriteFile(filepath.Join(o.Dir, "report.md"), []byte(md), 0o644)
	}
	if len(r.Failures) > 0 {
		return 1
	}
	return 0
}
