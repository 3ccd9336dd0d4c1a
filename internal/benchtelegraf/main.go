// Command benchtelegraf runs Telegraf's modbus input and Estate's gateway in
// turn on the same simulated fleet and the same InfluxDB, and prints what
// each cost per reading: `make bench-telegraf` (docs/testing.md,
// "Performance targets"). It is a measurement, not a test: nothing in
// `make test` runs it.
//
// The fleet is served by this process (so that the pollers' CPU is measured
// alone): E Modbus TCP endpoints, each answering any unit id, with P float32
// input registers from address 0. Telegraf (request mode, max_insert) and
// `estate gateway` (spool on, fsync interval, one threshold rule on every
// device, batch 5,000, a desk beside it that is not counted) poll every
// device every second. Each run warms up, then measures over a window: the
// process's utime+stime from /proc, the readings InfluxDB received with
// timestamps in the window, the requests the fleet answered over the whole
// run, and the peak RSS (VmHWM).
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/estatehq/estate/devices/modbus"
	"github.com/estatehq/estate/internal/benchsummary"
)

type options struct {
	estate, telegraf string
	influx           string
	endpoints, units int
	points           []int
	runs             int
	warmup, window   time.Duration
	basePort         int
	workDir          string
	only             string
	profile          bool
	maxProcs, gcPct  int
}

func main() {
	var o options
	var points string
	flag.StringVar(&o.estate, "estate", "bin/estate", "the estate binary")
	flag.StringVar(&o.telegraf, "telegraf", ".tools/telegraf-1.37.2/telegraf", "the telegraf binary")
	flag.StringVar(&o.influx, "influxdb", "http://127.0.0.1:18096", "InfluxDB 1.8 both write to")
	flag.IntVar(&o.endpoints, "endpoints", 40, "Modbus TCP endpoints of the fleet")
	flag.IntVar(&o.units, "units", 25, "unit ids polled on each endpoint")
	flag.StringVar(&points, "points", "40,100", "float32 points per device, one fleet shape each (comma separated)")
	flag.IntVar(&o.runs, "runs", 2, "paired runs of each poller per shape (alternating)")
	flag.DurationVar(&o.warmup, "warmup", 10*time.Second, "time before the window opens")
	flag.DurationVar(&o.window, "window", 60*time.Second, "measured window")
	flag.IntVar(&o.basePort, "port", 16500, "first port of the fleet (endpoints take consecutive ports); the desk uses port-1")
	flag.StringVar(&o.workDir, "dir", "var/bench-telegraf", "working folder (configs, state, logs)")
	flag.StringVar(&o.only, "only", "", "run only this poller: telegraf or estate")
	flag.BoolVar(&o.profile, "pprof", false, "save a 30 s CPU profile of the gateway in each Estate run (its metrics listener serves /debug/pprof)")
	flag.IntVar(&o.maxProcs, "max-procs", -2, "gateway.runtime.max_procs of Estate's runs (-2: the gateway's default)")
	flag.IntVar(&o.gcPct, "gc-percent", -2, "gateway.runtime.gc_percent of Estate's runs (-2: the gateway's default)")
	flag.Parse()
	for _, p := range strings.Split(points, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n < 1 || n > 1000 {
			log.Fatalf("--points: %q is not a number of points 1..1000", p)
		}
		o.points = append(o.points, n)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		log.Fatal(err)
	}
}

// result is one run of one poller.
type result struct {
	poller      string
	points      int
	readingsPS  float64
	cpuPerM     float64 // CPU-seconds per million readings
	peakRSSMB   float64
	requests    uint64
	cpuSeconds  float64
	readings    int64
	windowCount time.Duration
}

func run(ctx context.Context, o options) error {
	if err := os.MkdirAll(o.workDir, 0o755); err != nil {
		return err
	}
	abs, err := filepath.Abs(o.workDir)
	if err != nil {
		return err
	}
	o.workDir = abs
	// The pollers run in their own folders: their binaries are found from here.
	for _, bin := range []*string{&o.estate, &o.telegraf} {
		if *bin, err = filepath.Abs(*bin); err != nil {
			return err
		}
	}
	if _, err := os.Stat(o.estate); err != nil {
		return fmt.Errorf("--estate: %w (make build)", err)
	}
	if _, err := os.Stat(o.telegraf); err != nil && o.only != "estate" {
		return fmt.Errorf("--telegraf: %w (make bench-telegraf installs it)", err)
	}
	var all []result
	for _, pts := range o.points {
		fleet, err := startFleet(o, pts)
		if err != nil {
			return err
		}
		for i := range o.runs {
			for _, poller := range []string{"telegraf", "estate"} {
				if o.only != "" && o.only != poller {
					continue
				}
				if err := ctx.Err(); err != nil {
					fleet.close()
					return err
				}
				r, err := runOne(ctx, o, fleet, poller, pts, i)
				if err != nil {
					fleet.close()
					return fmt.Errorf("%s, %d points, run %d: %w", poller, pts, i+1, err)
				}
				log.Printf("%s %d points run %d: %.0f readings/s, %.2f CPU-s per million, %.0f MB peak RSS, %d requests",
					poller, pts, i+1, r.readingsPS, r.cpuPerM, r.peakRSSMB, r.requests)
				all = append(all, r)
			}
		}
		fleet.close()
	}
	printTable(os.Stdout, o, all)
	return writeResults(filepath.Join(o.workDir, "results.json"), o, all)
}

// writeResults leaves the runs where `make bench`'s summary finds them
// (benchsummary.ReadTelegraf), so that its table carries the last
// side-by-side with its date.
func writeResults(path string, o options, all []result) error {
	host, _ := os.Hostname()
	rep := benchsummary.TelegrafReport{At: time.Now().UTC(), Host: host, Endpoints: o.endpoints, Units: o.units}
	runs := map[string]int{}
	for _, r := range all {
		k := fmt.Sprint(r.poller, r.points)
		runs[k]++
		rep.Runs = append(rep.Runs, benchsummary.TelegrafRun{Poller: r.poller, Points: r.points, Run: runs[k],
			ReadingsPS: r.readingsPS, CPUPerM: r.cpuPerM, PeakRSSMB: r.peakRSSMB, Requests: r.requests})
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("results: %w", err)
	}
	log.Printf("results: %s", path)
	return nil
}

// fleet is the simulated meters: one server per endpoint, any unit id.
type fleet struct {
	profilePath string
	servers     []*modbus.Server
	listeners   []*modbus.Listener
	stop        context.CancelFunc
	done        chan struct{}
}

func (f *fleet) answered() uint64 {
	var n uint64
	for _, s := range f.servers {
		n += s.Answered()
	}
	return n
}

func (f *fleet) close() {
	f.stop()
	<-f.done
	for _, l := range f.listeners {
		_ = l.Close()
	}
}

// profileYAML is a register map of n float32 input registers from address 0.
func profileYAML(n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "name: bench-float32-%d\ndescription: %d float32 input registers from address 0 (benchmark fleet)\nfamily: meter\nsource: benchmark shape of docs/testing.md\npoints:\n", n, n)
	for i := range n {
		fmt.Fprintf(&b, "  - {name: p%d, table: input, address: %d, type: float32}\n", i, 2*i)
	}
	return b.String()
}

func startFleet(o options, pts int) (*fleet, error) {
	dir := filepath.Join(o.workDir, "profiles")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, fmt.Sprintf("bench-float32-%d.yaml", pts))
	if err := os.WriteFile(path, []byte(profileYAML(pts)), 0o644); err != nil {
		return nil, err
	}
	p, err := modbus.LoadProfile(path)
	if err != nil {
		return nil, err
	}
	sc := modbus.DefaultScript(p)
	ctx, cancel := context.WithCancel(context.Background())
	f := &fleet{profilePath: path, stop: cancel, done: make(chan struct{})}
	var slaves []*modbus.Slave
	for i := range o.endpoints {
		s := modbus.NewSlave(p)
		sc.Apply(s, 0)
		srv := &modbus.Server{Any: s}
		ln, err := srv.Listen(fmt.Sprintf("127.0.0.1:%d", o.basePort+i))
		if err != nil {
			cancel()
			close(f.done)
			f.close()
			return nil, err
		}
		f.servers = append(f.servers, srv)
		f.listeners = append(f.listeners, ln)
		slaves = append(slaves, s)
	}
	// Values move every second, as a real meter's do, so that neither poller
	// is measured on a constant.
	go func() {
		defer close(f.done)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		start := time.Now()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				for _, s := range slaves {
					sc.Apply(s, time.Since(start))
				}
			}
		}
	}()
	return f, nil
}

func runOne(ctx context.Context, o options, f *fleet, poller string, pts, run int) (result, error) {
	db := fmt.Sprintf("bench_%s_%d_%d", poller, pts, run+1)
	if err := influxQuery(o.influx, "", "DROP DATABASE "+db); err != nil {
		return result{}, err
	}
	if err := influxQuery(o.influx, "", "CREATE DATABASE "+db); err != nil {
		return result{}, err
	}
	dir := filepath.Join(o.workDir, fmt.Sprintf("%s-%d-%d", poller, pts, run+1))
	_ = os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return result{}, err
	}
	var procs []*exec.Cmd
	defer func() {
		for _, p := range procs {
			stopProcess(p)
		}
	}()
	var target *exec.Cmd
	measurement := "modbus"
	switch poller {
	case "telegraf":
		conf := filepath.Join(dir, "telegraf.conf")
		if err := os.WriteFile(conf, []byte(telegrafConfig(o, pts, db)), 0o644); err != nil {
			return result{}, err
		}
		cmd, err := startProcess(dir, "telegraf", o.telegraf, "--config", conf)
		if err != nil {
			return result{}, err
		}
		procs = append(procs, cmd)
		target = cmd
	case "estate":
		measurement = "meter"
		conf := filepath.Join(dir, "site.yaml")
		if err := os.WriteFile(conf, []byte(estateConfig(o, f, pts, db, dir)), 0o644); err != nil {
			return result{}, err
		}
		desk, err := startProcess(dir, "desk", o.estate, "desk", "--config", conf)
		if err != nil {
			return result{}, err
		}
		procs = append(procs, desk)
		if err := waitHTTP(ctx, fmt.Sprintf("http://127.0.0.1:%d/healthz", o.basePort-1), 30*time.Second); err != nil {
			return result{}, fmt.Errorf("desk: %w (see %s)", err, dir)
		}
		gw, err := startProcess(dir, "gateway", o.estate, "gateway", "--config", conf)
		if err != nil {
			return result{}, err
		}
		procs = append(procs, gw)
		target = gw
	}
	start := f.answered()
	if err := sleepCtx(ctx, o.warmup); err != nil {
		return result{}, err
	}
	if target.ProcessState != nil {
		return result{}, fmt.Errorf("%s exited (see %s)", poller, dir)
	}
	cpu0, err := cpuSeconds(target.Process.Pid)
	if err != nil {
		return result{}, err
	}
	t0 := time.Now()
	if poller == "estate" && o.profile {
		go saveProfile(fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/profile?seconds=30", o.basePort-2), filepath.Join(dir, "cpu.pprof"))
	}
	if err := sleepCtx(ctx, o.window); err != nil {
		return result{}, err
	}
	cpu1, err := cpuSeconds(target.Process.Pid)
	if err != nil {
		return result{}, err
	}
	t1 := time.Now()
	rss, err := peakRSS(target.Process.Pid)
	if err != nil {
		return result{}, err
	}
	// The readings of the window's last second are still on their way: both
	// flush every second; give them a few.
	if err := sleepCtx(ctx, 5*time.Second); err != nil {
		return result{}, err
	}
	requests := f.answered() - start
	for _, p := range procs {
		stopProcess(p)
	}
	procs = nil
	n, err := countReadings(o.influx, db, measurement, t0, t1)
	if err != nil {
		return result{}, err
	}
	secs := t1.Sub(t0).Seconds()
	r := result{poller: poller, points: pts, readings: n, cpuSeconds: cpu1 - cpu0,
		readingsPS: float64(n) / secs, peakRSSMB: rss, requests: requests, windowCount: t1.Sub(t0)}
	if n > 0 {
		r.cpuPerM = r.cpuSeconds / (float64(n) / 1e6)
	}
	_ = influxQuery(o.influx, "", "DROP DATABASE "+db)
	return r, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

func telegrafConfig(o options, pts int, db string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `[agent]
  interval = "1s"
  round_interval = true
  flush_interval = "1s"
  flush_jitter = "0s"
  collection_jitter = "0s"
  metric_batch_size = 5000
  metric_buffer_limit = 1000000
  omit_hostname = true
  quiet = true

[[outputs.influxdb_v2]]
  urls = [%q]
  token = ""
  organization = ""
  bucket = "%s/autogen"
`, o.influx, db)
	for e := range o.endpoints {
		fmt.Fprintf(&b, `
[[inputs.modbus]]
  name = "ep%d"
  controller = "tcp://127.0.0.1:%d"
  timeout = "1s"
  configuration_type = "request"
`, e, o.basePort+e)
		for u := 1; u <= o.units; u++ {
			fmt.Fprintf(&b, `  [[inputs.modbus.request]]
    slave_id = %d
    byte_order = "ABCD"
    register = "input"
    optimization = "max_insert"
    optimization_max_register_fill = 50
    fields = [
`, u)
			for i := range pts {
				fmt.Fprintf(&b, "      { address=%d, name=\"p%d\", type=\"FLOAT32\" },\n", 2*i, i)
			}
			b.WriteString("    ]\n")
		}
	}
	return b.String()
}

const benchGatewayToken = "bench-gateway-token-0123456789"

func estateConfig(o options, f *fleet, pts int, db, dir string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `site: {id: bench, name: Bench, timezone: Asia/Shanghai}
gateway:
  id: gw-bench
  profiles_dir: %q
  desk_url: http://127.0.0.1:%d
  desk_token: %s
  metrics_listen: 127.0.0.1:%d
  pprof: true
  state_dir: %q
%s
influxdb:
  url: %s
  bucket: %s/autogen
  batch_size: 5000
  flush_interval: 1s
  spool: {fsync: interval}
desk:
  listen: 127.0.0.1:%d
  database: %q
  tokens:
    - {name: gw-bench, token: %s, role: gateway, site: bench}
rules:
  - name: p0_high
    family: meter
    point: p0
    above: 1000000
    severity: warning
    ticket: none
    title: "{device} p0 {value}"
devices:
`, filepath.Dir(f.profilePath), o.basePort-1, benchGatewayToken, o.basePort-2, filepath.Join(dir, "state"), runtimeYAML(o),
		o.influx, db, o.basePort-1, filepath.Join(dir, "desk.db"), benchGatewayToken)
	for e := range o.endpoints {
		for u := 1; u <= o.units; u++ {
			fmt.Fprintf(&b, "  - {id: m%d-%d, family: meter, protocol: modbus_tcp, profile: bench-float32-%d, address: \"127.0.0.1:%d\", slave_id: %d, poll_interval: 1s, timeout: 1s}\n",
				e, u, pts, o.basePort+e, u)
		}
	}
	return b.String()
}

func runtimeYAML(o options) string {
	var b strings.Builder
	b.WriteString("  runtime:\n")
	if o.maxProcs != -2 {
		fmt.Fprintf(&b, "    max_procs: %d\n", o.maxProcs)
	}
	if o.gcPct != -2 {
		fmt.Fprintf(&b, "    gc_percent: %d\n", o.gcPct)
	}
	b.WriteString("    memory_limit_mb: 0\n")
	return b.String()
}

func startProcess(dir, name, bin string, args ...string) (*exec.Cmd, error) {
	logf, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() { _ = cmd.Wait(); _ = logf.Close() }()
	return cmd, nil
}

func stopProcess(cmd *exec.Cmd) {
	if cmd.Process == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if err := cmd.Process.Signal(syscall.Signal(0)); err != nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
}

func waitHTTP(ctx context.Context, u string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		resp, err := http.Get(u)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode < 500 {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not answer within %s", u, within)
		}
		if err := sleepCtx(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
}

// cpuSeconds is utime+stime of a process (and of its threads).
func cpuSeconds(pid int) (float64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name may hold spaces; fields count from after its ')'.
	rest := string(data[bytes.LastIndexByte(data, ')')+2:])
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100, nil // USER_HZ is 100 on Linux
}

func peakRSS(pid int) (float64, error) {
	fh, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024, nil
		}
	}
	return 0, errors.New("no VmHWM")
}

func saveProfile(u, path string) {
	resp, err := http.Get(u)
	if err != nil {
		log.Printf("pprof: %v", err)
		return
	}
	defer resp.Body.Close()
	out, err := os.Create(path)
	if err != nil {
		return
	}
	defer out.Close()
	_, _ = io.Copy(out, resp.Body)
	log.Printf("pprof: %s", path)
}

func influxQuery(base, db, q string) error {
	_, err := influxGet(base, db, q)
	return err
}

func influxGet(base, db, q string) ([]byte, error) {
	v := url.Values{"q": {q}}
	if db != "" {
		v.Set("db", db)
	}
	resp, err := http.Post(base+"/query", "application/x-www-form-urlencoded", strings.NewReader(v.Encode()))
	if err != nil {
		return nil, fmt.Errorf("influxdb %s: %w", base, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("influxdb %q: %s: %s", q, resp.Status, body)
	}
	return body, nil
}

// countReadings sums the counts of every point field (p0, p1, …) of the
// measurement with timestamps in [t0, t1).
func countReadings(base, db, measurement string, t0, t1 time.Time) (int64, error) {
	q := fmt.Sprintf("SELECT count(/^p[0-9]+$/) FROM %q WHERE time >= %d AND time < %d", measurement, t0.UnixNano(), t1.UnixNano())
	body, err := influxGet(base, db, q)
	if err != nil {
		return 0, err
	}
	var out struct {
		Results []struct {
			Series []struct {
				Columns []string `json:"columns"`
				Values  [][]any  `json:"values"`
			} `json:"series"`
			Error string `json:"error"`
		} `json:"results"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return 0, err
	}
	var n int64
	for _, r := range out.Results {
		if r.Error != "" {
			return 0, errors.New(r.Error)
		}
		for _, s := range r.Series {
			for _, row := range s.Values {
				for i, c := range s.Columns {
					if c == "time" || i >= len(row) {
						continue
					}
					if f, ok := row[i].(float64); ok {
						n += int64(f)
					}
				}
			}
		}
	}
	return n, nil
}

func printTable(w io.Writer, o options, all []result) {
	host, _ := os.Hostname()
	fmt.Fprintf(w, "\n%d endpoints × %d unit ids, float32 input registers, polled every 1 s; %s warm-up, %s window; %s, %s\n\n",
		o.endpoints, o.units, o.warmup, o.window, time.Now().UTC().Format("2006-01-02 15:04 MST"), host)
	fmt.Fprintln(w, "| points | poller | readings/s | CPU-s per million readings | peak RSS | requests (whole run) |")
	fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- |")
	for _, pts := range o.points {
		var tg []result
		for _, r := range all {
			if r.points == pts && r.poller == "telegraf" {
				tg = append(tg, r)
			}
		}
		for _, poller := range []string{"telegraf", "estate"} {
			var rs []result
			for _, r := range all {
				if r.points == pts && r.poller == poller {
					rs = append(rs, r)
				}
			}
			if len(rs) == 0 {
				continue
			}
			var readings, cpu, rss, reqs []string
			for i, r := range rs {
				readings = append(readings, fmt.Sprintf("%.0f", r.readingsPS))
				c := fmt.Sprintf("%.2f", r.cpuPerM)
				if poller == "estate" && i < len(tg) && tg[i].cpuPerM > 0 {
					c += fmt.Sprintf(" (%.2f×)", r.cpuPerM/tg[i].cpuPerM)
				}
				cpu = append(cpu, c)
				rss = append(rss, fmt.Sprintf("%.0f", r.peakRSSMB))
				reqs = append(reqs, strconv.FormatUint(r.requests, 10))
			}
			fmt.Fprintf(w, "| %d | %s | %s | %s | %s MB | %s |\n", pts, poller,
				strings.Join(readings, ", "), strings.Join(cpu, ", "), strings.Join(rss, ", "), strings.Join(reqs, ", "))
		}
	}
}
