package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/estatehq/estate/gateway/heartbeat"
	"github.com/estatehq/estate/gateway/outbox"
	"github.com/estatehq/estate/gateway/spool"
	"github.com/estatehq/estate/gateway/statedb"
	"github.com/estatehq/estate/gateway/telemetry"
	"github.com/estatehq/estate/internal/app"
	"github.com/estatehq/estate/internal/config"
)

func init() {
	register("status", command{"status --config FILE | --spool DIR",
		"a gateway at a glance: its devices, the outbox, whether the desk answers, the telemetry backlog (times in site time)", status})
}

// status prints a short human summary of a gateway: what its running process
// last published (the devices' health and the desk's answer to its heartbeat,
// heartbeat.WithStatusFile), a probe of the desk now, the outbox of its state
// file and the telemetry spool (each read from its file, safe while the
// gateway runs). Times are in the site's time zone, as the staff read them.
func status(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("status", stderr)
	path := fs.String("config", "", "the gateway's configuration (YAML)")
	dir := fs.String("spool", "", "only the telemetry spool in this folder (instead of --config)")
	envFile := envFileFlag(fs)
	timeout := fs.Duration("timeout", 3*time.Second, "how long the desk may take to answer the probe")
	if code, ok := parseFlags(fs, args, stdout); !ok {
		return code
	}
	if (*path == "") == (*dir == "") || fs.NArg() > 0 {
		fmt.Fprint(stderr, "usage: estate status --config FILE | --spool DIR\n")
		return 2
	}
	if *envFile != "" {
		if err := config.LoadEnvFile(*envFile); err != nil {
			fmt.Fprintf(stderr, "estate status: %v\n", err)
			return 1
		}
	}
	now := time.Now()
	loc := time.Local
	maxMB := 0
	if *path != "" {
		cfg, err := app.LoadConfig(*path)
		if err != nil && !onlyUnsetSecrets(err) {
			fmt.Fprintf(stderr, "estate status: the configuration has problems:\n")
			printProblems(stderr, err)
			return 1
		}
		if cfg.Site.Timezone != "" {
			if l, err := time.LoadLocation(cfg.Site.Timezone); err == nil {
				loc = l
			}
		}
		gatewayStatus(stdout, cfg, now, loc, *timeout)
		*dir, maxMB = cfg.InfluxDB.Spool.Dir, cfg.InfluxDB.Spool.MaxSizeMB
	}
	if err := telemetryStatus(stdout, *dir, maxMB, now, loc); err != nil {
		fmt.Fprintf(stderr, "estate status: %v\n", err)
		return 1
	}
	return 0
}

// stamp is a time in the site's zone, with how long ago it was.
func stamp(t time.Time, now time.Time, loc *time.Location) string {
	if t.IsZero() {
		return "never"
	}
	return fmt.Sprintf("%s (%s ago)", t.In(loc).Format("2006-01-02 15:04:05 MST"), ago(now, t))
}

func gatewayStatus(w io.Writer, cfg *config.Config, now time.Time, loc *time.Location, timeout time.Duration) {
	name := cfg.Site.ID
	if cfg.Site.Name != "" {
		name += " (" + cfg.Site.Name + ")"
	}
	fmt.Fprintf(w, "site              %s, times in %s\n", name, loc)
	pub, err := heartbeat.ReadPublished(heartbeat.StatusFileName(cfg.Gateway.StateDir, cfg.Gateway.ID))
	running := err == nil && processAlive(pub.PID) && now.Sub(pub.At) < 3*max(pub.Interval, time.Second)+5*time.Second
	switch {
	case err != nil:
		fmt.Fprintf(w, "gateway           %s: no status published (has it run from this folder? %v)\n", cfg.Gateway.ID, err)
	case running:
		fmt.Fprintf(w, "gateway           %s: running (pid %d), last heartbeat %s\n", cfg.Gateway.ID, pub.PID, stamp(pub.At, now, loc))
	default:
		fmt.Fprintf(w, "gateway           %s: NOT RUNNING; what it last published, %s:\n", cfg.Gateway.ID, stamp(pub.At, now, loc))
	}

	// The desk: the probe now, and how it took the last heartbeat (which
	// proves the token too).
	probe := probeDesk(cfg.Gateway.DeskURL, timeout)
	fmt.Fprintf(w, "desk              %s: %s\n", cfg.Gateway.DeskURL, probe)
	if err == nil {
		if pub.DeskOK {
			fmt.Fprintf(w, "  last heartbeat  accepted %s\n", stamp(pub.At, now, loc))
		} else {
			fmt.Fprintf(w, "  last heartbeat  REFUSED or lost: %s; last accepted %s\n", oneLine(pub.DeskError, 120), stamp(pub.DeskLastOK, now, loc))
		}
	}

	if err == nil {
		counts := map[string]int{}
		for _, d := range pub.Devices {
			counts[d.State]++
		}
		var parts []string
		for _, s := range []string{"online", "degraded", "offline", "unknown"} {
			if counts[s] > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
			}
		}
		fmt.Fprintf(w, "devices           %d: %s\n", len(pub.Devices), strings.Join(parts, ", "))
		tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  ID\tSTATE\tLAST SEEN\tFAILURES\tPOLLS\tERRORS\tLAST ERROR")
		for _, d := range pub.Devices {
			seen := "never"
			if !d.LastSeen.IsZero() {
				seen = d.LastSeen.In(loc).Format("01-02 15:04:05")
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\t%d\t%d\t%s\n", d.ID, d.State, seen, d.ConsecutiveFailures, d.Polls, d.Errors, oneLine(d.LastError, 60))
		}
		_ = tw.Flush()
	} else {
		fmt.Fprintf(w, "devices           %d configured; their health is known once the gateway runs\n", len(cfg.Devices))
	}

	state := statedb.Path(cfg.Gateway.StateDir, cfg.Gateway.ID)
	if _, err := os.Stat(state); err != nil {
		fmt.Fprintf(w, "outbox            no state file %s yet\n", state)
		return
	}
	db, err := statedb.Open(state)
	if err != nil {
		fmt.Fprintf(w, "outbox            %s: %v\n", state, err)
		return
	}
	defer db.Close()
	entries, err := outbox.List(context.Background(), db, false)
	if err != nil {
		fmt.Fprintf(w, "outbox            %s: %v\n", state, err)
		return
	}
	dead, oldest := 0, time.Time{}
	for _, e := range entries {
		if !e.Dead.IsZero() {
			dead++
		}
		if oldest.IsZero() || e.Enqueued.Before(oldest) {
			oldest = e.Enqueued
		}
	}
	switch {
	case len(entries) == 0:
		fmt.Fprintf(w, "outbox            empty: every alarm action reached the desk\n")
	default:
		fmt.Fprintf(w, "outbox            %d alarm action(s) waiting, %d in the dead letter, oldest queued %s (estate outbox list)\n",
			len(entries), dead, stamp(oldest, now, loc))
	}
}

// probeDesk asks the desk's /healthz, which needs no token.
func probeDesk(deskURL string, timeout time.Duration) string {
	if deskURL == "" {
		return "no gateway.desk_url"
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(deskURL, "/")+"/healthz", nil)
	if err != nil {
		return "UNREACHABLE: " + err.Error()
	}
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "UNREACHABLE: " + oneLine(err.Error(), 120)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Sprintf("answers %s (its store is not ready?)", resp.Status)
	}
	return fmt.Sprintf("reachable (healthz answered in %s)", time.Since(start).Round(time.Millisecond))
}

// telemetryStatus prints the spool's backlog (read from its folder) and what
// the running writer last published in the spool's status file.
func telemetryStatus(w io.Writer, dir string, maxMB int, now time.Time, loc *time.Location) error {
	st, err := spool.Inspect(dir)
	if err != nil {
		return err
	}
	abs, _ := filepath.Abs(dir)
	limit := ""
	if maxMB > 0 {
		limit = fmt.Sprintf(" of %d MB", maxMB)
	}
	fmt.Fprintf(w, "telemetry spool   %s\n", abs)
	fmt.Fprintf(w, "  size            %s%s in %d segment(s)\n", byteSize(st.Bytes), limit, st.Segments)
	if st.Backlog == 0 {
		fmt.Fprintf(w, "  backlog         none: every accepted point is in InfluxDB\n")
	} else {
		fmt.Fprintf(w, "  backlog         %d point(s) waiting, oldest taken %s\n", st.Backlog, stamp(st.Oldest, now, loc))
	}

	ws, err := telemetry.ReadStatus(dir)
	if err != nil {
		fmt.Fprintf(w, "  writer          no status published yet (%v)\n", err)
		return nil
	}
	running := processAlive(ws.PID) && now.Sub(ws.Updated) < 30*time.Second
	state := "not running (last seen " + stamp(ws.Updated, now, loc) + ")"
	if running {
		state = fmt.Sprintf("running (pid %d, updated %s ago)", ws.PID, ago(now, ws.Updated))
	}
	fmt.Fprintf(w, "  writer          %s\n", state)
	up := "up"
	if !ws.InfluxDBUp {
		up = "DOWN: writes are failing and points wait in the spool"
	}
	fmt.Fprintf(w, "  InfluxDB        %s\n", up)
	if ws.LastWrite.IsZero() {
		fmt.Fprintf(w, "  last write      none since the writer started\n")
	} else {
		fmt.Fprintf(w, "  last write      %s\n", stamp(ws.LastWrite, now, loc))
	}
	if ws.LastError != "" {
		fmt.Fprintf(w, "  last error      %s (%s ago)\n", ws.LastError, ago(now, ws.LastErrorAt))
	}
	fmt.Fprintf(w, "  since start     %d accepted, %d written, %d dead-lettered\n", ws.Accepted, ws.Written, ws.DeadLettered)
	return nil
}

func ago(now, t time.Time) string {
	if t.IsZero() {
		return "?"
	}
	return now.Sub(t).Round(time.Second).String()
}

func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	_, err := os.Stat(fmt.Sprintf("/proc/%d", pid))
	return err == nil
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
