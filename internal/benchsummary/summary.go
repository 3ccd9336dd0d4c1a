// Package benchsummary turns the output of `go test -bench` (and the last
// `make bench-telegraf` run) into one table of the performance targets of
// DESIGN §7: each figure, its target, what this run measured and whether it
// is met. `make bench` prints it last.
//
// The targets are data (Targets): a figure is a benchmark's reported metric
// compared with a bound. Parsing and judging are pure functions, so the table
// is tested without running a benchmark.
package benchsummary

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Result is one benchmark line: its package, its name without the -GOMAXPROCS
// suffix, and every metric it reported (ns/op, B/op, custom units).
type Result struct {
	Pkg     string
	Name    string
	Metrics map[string]float64
}

var procSuffix = regexp.MustCompile(`-\d+$`)

// Parse reads `go test -bench` output: "pkg:" lines name the package of the
// benchmark lines that follow; a benchmark line is its name, the iteration
// count and value-unit pairs. Anything else (logs, PASS, ok) is skipped.
func Parse(r io.Reader) ([]Result, error) {
	var out []Result
	pkg := ""
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = strings.TrimSpace(p)
			continue
		}
		if !strings.HasPrefix(line, "Benchmark") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 || len(f)%2 != 0 {
			continue // "BenchmarkX" alone (a sub-benchmark's parent) or a log line
		}
		if _, err := strconv.ParseInt(f[1], 10, 64); err != nil {
			continue
		}
		res := Result{Pkg: pkg, Name: procSuffix.ReplaceAllString(f[0], ""), Metrics: map[string]float64{}}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, fmt.Errorf("benchmark line %q: value %q: %w", line, f[i], err)
			}
			res.Metrics[f[i+1]] = v
		}
		out = append(out, res)
	}
	return out, sc.Err()
}

// Target is one figure of DESIGN §7 read from a benchmark.
type Target struct {
	Figure  string
	Pkg     string // import path suffix of the benchmark's package
	Bench   string // benchmark name (sub-benchmarks with /)
	Metric  string
	AtLeast bool // met when measured ≥ Bound; else when ≤ Bound
	Bound   float64
	Note    string // how the benchmark measures it, when not obvious
}

// Targets are DESIGN §7's figures that `make bench` measures. The Telegraf
// comparisons come from `make bench-telegraf` (TelegrafRows).
var Targets = []Target{
	{Figure: "RTU bus (Modbus RTU, 9600 baud)", Pkg: "/gateway", Bench: "BenchmarkRTUBusWireLimit", Metric: "wire-%", AtLeast: true, Bound: 90},
	{Figure: "DL/T 645 bus (60 meters, 2400 baud)", Pkg: "/devices/dlt645", Bench: "BenchmarkSweep60At2400", Metric: "%wire", AtLeast: true, Bound: 90},
	{Figure: "CJ/T 188 bus (60 meters, 2400 baud)", Pkg: "/devices/cjt188", Bench: "BenchmarkSweep60At2400", Metric: "%wire", AtLeast: true, Bound: 90},
	{Figure: "MQTT messages/s through decode", Pkg: "/devices/mqtt", Bench: "BenchmarkPipeline", Metric: "msgs/s", AtLeast: true, Bound: 50000},
	{Figure: "MQTT messages/s through mosquitto (QoS 0)", Pkg: "/devices/mqtt", Bench: "BenchmarkMosquittoThroughput", Metric: "msgs/s", AtLeast: true, Bound: 50000},
	{Figure: "alarm → ticket committed, p99, 1,000 devices polled beside it", Pkg: "/gateway/outbox", Bench: "BenchmarkAlarmToTicketWhilePolling", Metric: "p99-ms", Bound: 50, Note: "one alarm at a time; the fleet's simulators in the same process"},
	{Figure: "gateway peak RSS, 1,000 devices × 100 points polled", Pkg: "/gateway", Bench: "BenchmarkPoller1000/float32-100-points", Metric: "rss-MB", Bound: 150, Note: "stub InfluxDB"},
	{Figure: "desk creations/s over HTTP, SQLite", Pkg: "/internal/loadtest", Bench: "BenchmarkCreateTicketsOverHTTP/sqlite", Metric: "creations/s", AtLeast: true, Bound: 5000},
	{Figure: "desk creations/s over HTTP, PostgreSQL, two replicas", Pkg: "/internal/loadtest", Bench: "BenchmarkCreateTicketsOverHTTP/postgres-2-replicas", Metric: "creations/s", AtLeast: true, Bound: 3000},
	{Figure: "ticket list p99, SQLite (newest page)", Pkg: "/desk/store", Bench: "BenchmarkListTickets/sqlite/newest", Metric: "p99-ms", Bound: 20},
	{Figure: "ticket list p99, SQLite (site + status)", Pkg: "/desk/store", Bench: "BenchmarkListTickets/sqlite/site_status", Metric: "p99-ms", Bound: 20},
	{Figure: "ticket list p99, SQLite (search)", Pkg: "/desk/store", Bench: "BenchmarkListTickets/sqlite/search_common", Metric: "p99-ms", Bound: 20},
	{Figure: "ticket list p99, PostgreSQL (newest page)", Pkg: "/desk/store", Bench: "BenchmarkListTickets/postgres/newest", Metric: "p99-ms", Bound: 20},
	{Figure: "ticket list p99, PostgreSQL (site + status)", Pkg: "/desk/store", Bench: "BenchmarkListTickets/postgres/site_status", Metric: "p99-ms", Bound: 20},
	{Figure: "ticket list p99, PostgreSQL (search)", Pkg: "/desk/store", Bench: "BenchmarkListTickets/postgres/search_common", Metric: "p99-ms", Bound: 20},
	{Figure: "two replicas serving 100 gateways: failed actions", Pkg: "/internal/loadtest", Bench: "BenchmarkHundredGateways", Metric: "failed-actions", Bound: 0},
}

// Row is one line of the summary.
type Row struct {
	Figure, Target, Measured, Met string
}

// Judge is the summary rows of targets against results: a target whose
// benchmark did not run (filtered out, or failed) says so, never "met".
func Judge(targets []Target, results []Result) []Row {
	var rows []Row
	for _, tg := range targets {
		row := Row{Figure: tg.Figure, Target: bound(tg), Measured: "not run", Met: "—"}
		for _, r := range results {
			if r.Name != tg.Bench || !strings.HasSuffix(r.Pkg, tg.Pkg) {
				continue
			}
			v, ok := r.Metrics[tg.Metric]
			if !ok {
				row.Measured = "no " + tg.Metric + " reported"
				break
			}
			row.Measured = format(v) + " " + tg.Metric
			if met(tg, v) {
				row.Met = "yes"
			} else {
				row.Met = "**no**"
			}
			break
		}
		if tg.Note != "" {
			row.Figure += " (" + tg.Note + ")"
		}
		rows = append(rows, row)
	}
	return rows
}

func met(tg Target, v float64) bool {
	if tg.AtLeast {
		return v >= tg.Bound
	}
	return v <= tg.Bound
}

func bound(tg Target) string {
	op := "≤"
	if tg.AtLeast {
		op = "≥"
	}
	return op + " " + format(tg.Bound) + " " + tg.Metric
}

func format(v float64) string {
	switch {
	case v == math.Trunc(v) && math.Abs(v) < 1e15:
		return addThousands(strconv.FormatInt(int64(v), 10))
	case math.Abs(v) >= 100:
		return addThousands(strconv.FormatInt(int64(math.Round(v)), 10))
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}

func addThousands(s string) string {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// TelegrafReport is what `make bench-telegraf` leaves in its folder
// (results.json): the fleet's shape and every run of both pollers.
type TelegrafReport struct {
	At        time.Time     `json:"at"`
	Host      string        `json:"host"`
	Endpoints int           `json:"endpoints"`
	Units     int           `json:"units"`
	Runs      []TelegrafRun `json:"runs"`
}

// TelegrafRun is one run of one poller on one fleet shape.
type TelegrafRun struct {
	Poller     string  `json:"poller"` // telegraf or estate
	Points     int     `json:"points"`
	Run        int     `json:"run"`
	ReadingsPS float64 `json:"readings_per_second"`
	CPUPerM    float64 `json:"cpu_seconds_per_million_readings"`
	PeakRSSMB  float64 `json:"peak_rss_mb"`
	Requests   uint64  `json:"requests"`
}

// ReadTelegraf reads a results.json; a missing file is (nil, nil).
func ReadTelegraf(path string) (*TelegrafReport, error) {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var r TelegrafReport
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &r, nil
}

// TelegrafRows are the side-by-side figures: per fleet shape, Estate's CPU
// per reading against Telegraf's (the worst of the paired runs, which must be
// ≤ 0.5×), Estate's peak RSS (≤ 150 MB) and its requests (no more than
// Telegraf's, give or take one poll of the fleet, since the two runs start
// and stop a poll apart).
func TelegrafRows(r *TelegrafReport) []Row {
	if r == nil {
		return []Row{{Figure: "CPU per reading against Telegraf (make bench-telegraf)", Target: "≤ 0.5×", Measured: "not run", Met: "—"}}
	}
	when := r.At.UTC().Format("2006-01-02")
	var rows []Row
	shapes := map[int]bool{}
	var order []int
	for _, run := range r.Runs {
		if !shapes[run.Points] {
			shapes[run.Points] = true
			order = append(order, run.Points)
		}
	}
	for _, pts := range order {
		var tg, es []TelegrafRun
		for _, run := range r.Runs {
			if run.Points != pts {
				continue
			}
			if run.Poller == "telegraf" {
				tg = append(tg, run)
			} else if run.Poller == "estate" {
				es = append(es, run)
			}
		}
		shape := fmt.Sprintf("%d devices × %d points (bench-telegraf, %s)", r.Endpoints*r.Units, pts, when)
		worst, rss := 0.0, 0.0
		var ratios []string
		for i, e := range es {
			rss = math.Max(rss, e.PeakRSSMB)
			if i < len(tg) && tg[i].CPUPerM > 0 {
				q := e.CPUPerM / tg[i].CPUPerM
				worst = math.Max(worst, q)
				ratios = append(ratios, fmt.Sprintf("%.2f×", q))
			}
		}
		if len(ratios) == 0 {
			rows = append(rows, Row{Figure: "CPU per reading against Telegraf, " + shape, Target: "≤ 0.5×", Measured: "no paired runs", Met: "—"})
			continue
		}
		rows = append(rows, Row{Figure: "CPU per reading against Telegraf, " + shape, Target: "≤ 0.5×",
			Measured: strings.Join(ratios, ", "), Met: yesNo(worst <= 0.5)})
		rows = append(rows, Row{Figure: "gateway peak RSS, " + shape, Target: "≤ 150 MB",
			Measured: fmt.Sprintf("%.0f MB", rss), Met: yesNo(rss <= 150)})
		slack := uint64(r.Endpoints * r.Units)
		okReq := true
		var reqs []string
		for i, e := range es {
			if i < len(tg) {
				reqs = append(reqs, fmt.Sprintf("%d vs %d", e.Requests, tg[i].Requests))
				okReq = okReq && e.Requests <= tg[i].Requests+slack
			}
		}
		rows = append(rows, Row{Figure: "Modbus requests, Estate vs Telegraf, " + shape, Target: "≤ Telegraf's",
			Measured: strings.Join(reqs, ", "), Met: yesNo(okReq)})
	}
	return rows
}

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}

// Print writes rows as a Markdown table, the form docs/testing.md keeps.
func Print(w io.Writer, rows []Row) {
	fmt.Fprintln(w, "| figure (DESIGN §7) | target | measured | met |")
	fmt.Fprintln(w, "| --- | --- | --- | --- |")
	for _, r := range rows {
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", r.Figure, r.Target, r.Measured, r.Met)
	}
}
