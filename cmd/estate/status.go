package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/estatehq/estate/gateway/spool"
	"github.com/estatehq/estate/gateway/telemetry"
	"github.com/estatehq/estate/internal/app"
)

func init() {
	register("status", command{"status --config FILE | --spool DIR", "show the telemetry backlog, the last write and errors", status})
}

// status prints a short human summary of telemetry delivery: the spool's
// backlog (read from its folder, safe while the gateway runs) and what the
// running writer last published in the spool's status file.
func status(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("status", stderr)
	path := fs.String("config", "", "the gateway's configuration (YAML)")
	dir := fs.String("spool", "", "the telemetry spool folder (instead of --config)")
	if code, ok := parseFlags(fs, args, stdout); !ok {
		return code
	}
	if (*path == "") == (*dir == "") {
		fmt.Fprint(stderr, "usage: estate status --config FILE | --spool DIR\n")
		return 2
	}
	maxMB := 0
	if *path != "" {
		cfg, err := app.LoadConfig(*path)
		if err != nil {
			fmt.Fprintf(stderr, "estate status: the configuration has problems:\n")
			printProblems(stderr, err)
			return 1
		}
		*dir, maxMB = cfg.InfluxDB.Spool.Dir, cfg.InfluxDB.Spool.MaxSizeMB
	}
	st, err := spool.Inspect(*dir)
	if err != nil {
		fmt.Fprintf(stderr, "estate status: %v\n", err)
		return 1
	}
	now := time.Now()
	abs, _ := filepath.Abs(*dir)
	limit := ""
	if maxMB > 0 {
		limit = fmt.Sprintf(" of %d MB", maxMB)
	}
	fmt.Fprintf(stdout, "telemetry spool   %s\n", abs)
	fmt.Fprintf(stdout, "  size            %s%s in %d segment(s)\n", byteSize(st.Bytes), limit, st.Segments)
	if st.Backlog == 0 {
		fmt.Fprintf(stdout, "  backlog         none: every accepted point is in InfluxDB\n")
	} else {
		fmt.Fprintf(stdout, "  backlog         %d point(s) waiting, oldest taken %s (%s ago)\n",
			st.Backlog, st.Oldest.Format(time.RFC3339), ago(now, st.Oldest))
	}

	ws, err := telemetry.ReadStatus(*dir)
	if err != nil {
		fmt.Fprintf(stdout, "  writer          no status published yet (%v)\n", err)
		return 0
	}
	running := processAlive(ws.PID) && now.Sub(ws.Updated) < 30*time.Second
	state := "not running (last seen " + ago(now, ws.Updated) + " ago)"
	if running {
		state = fmt.Sprintf("running (pid %d, updated %s ago)", ws.PID, ago(now, ws.Updated))
	}
	fmt.Fprintf(stdout, "  writer          %s\n", state)
	up := "up"
	if !ws.InfluxDBUp {
		up = "DOWN: writes are failing and points wait in the spool"
	}
	fmt.Fprintf(stdout, "  InfluxDB        %s\n", up)
	if ws.LastWrite.IsZero() {
		fmt.Fprintf(stdout, "  last write      none since the writer started\n")
	} else {
		fmt.Fprintf(stdout, "  last write      %s (%s ago)\n", ws.LastWrite.Format(time.RFC3339), ago(now, ws.LastWrite))
	}
	if ws.LastError != "" {
		fmt.Fprintf(stdout, "  last error      %s (%s ago)\n", ws.LastError, ago(now, ws.LastErrorAt))
	}
	fmt.Fprintf(stdout, "  since start     %d accepted, %d written, %d dead-lettered\n", ws.Accepted, ws.Written, ws.DeadLettered)
	return 0
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
