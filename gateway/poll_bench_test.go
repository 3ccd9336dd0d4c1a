package gateway

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/estatehq/estate/devices/modbus"
	"github.com/estatehq/estate/internal/config"
)

const farmEnv = "ESTATE_BENCH_SIM_FARM"

// TestHelperSimFarm is not a test: BenchmarkPoller1000 runs the test binary
// again with farmEnv set to serve its simulated devices from another process,
// so that the poller's CPU and memory are measured alone.
func TestHelperSimFarm(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv(farmEnv))
	if n == 0 {
		t.Skip("helper process for BenchmarkPoller1000")
	}
	p, err := modbus.LoadProfile("../configs/profiles/eastron-sdm630.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sc := modbus.DefaultScript(p)
	start := time.Now()
	out := bufio.NewWriter(os.Stdout)
	var sims []*modbus.Simulator
	for range n {
		sim := modbus.NewSimulator(p, "127.0.0.1:0")
		if err := sim.Start(); err != nil {
			t.Fatal(err)
		}
		sc.Apply(sim.Slave, 0)
		sims = append(sims, sim)
		fmt.Fprintln(out, sim.Addr())
	}
	_ = out.Flush()
	// Values move once a second, a tenth of the devices every 100 ms (a burst
	// of all would stall the farm, not the poller); the farm stops when the
	// benchmark closes stdin.
	go func() {
		for tick := 0; ; tick++ {
			time.Sleep(100 * time.Millisecond)
			for i := tick % 10; i < len(sims); i += 10 {
				sc.Apply(sims[i].Slave, time.Since(start))
			}
		}
	}()
	_, _ = io.Copy(io.Discard, os.Stdin)
}

// BenchmarkPoller1000 polls 1,000 simulated Eastron SDM630 meters (36 points,
// three merged reads each) over Modbus TCP every second through the gateway's
// whole poller (scheduler, driver, decoding, health, alarm rules, telemetry
// encoding to a stub InfluxDB) for 10 s, and reports readings/s, points/s,
// requests/s, the poller's CPU (percent of one core) and memory, and the jitter.
func BenchmarkPoller1000(b *testing.B) {
	const devices = 1000
	window := 10 * time.Second
	if testing.Short() {
		window = 3 * time.Second
	}
	farm := exec.Command(os.Args[0], "-test.run=^TestHelperSimFarm$")
	farm.Env = append(os.Environ(), farmEnv+"="+strconv.Itoa(devices))
	stdin, _ := farm.StdinPipe()
	stdout, _ := farm.StdoutPipe()
	farm.Stderr = os.Stderr
	if err := farm.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = stdin.Close(); _ = farm.Wait() }()
	var addrs []string
	sc := bufio.NewScanner(stdout)
	for len(addrs) < devices && sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); strings.HasPrefix(line, "127.0.0.1:") {
			addrs = append(addrs, line)
		}
	}
	if len(addrs) < devices {
		b.Fatalf("simulator farm started %d devices", len(addrs))
	}

	var written atomic.Int64
	influx := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		written.Add(n)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer influx.Close()

	dir := b.TempDir()
	cfg := &config.Config{
		File:     filepath.Join(dir, "site.yaml"),
		Site:     config.Site{ID: "bench"},
		Gateway:  config.Gateway{ID: "gw", ProfilesDir: "", OfflineAfter: 3, DeskURL: "http://127.0.0.1:1", DeskToken: "0123456789abcdef", StateDir: dir},
		InfluxDB: config.InfluxDB{URL: influx.URL, Bucket: "estate/autogen", BatchSize: 5000, FlushInterval: time.Second, Timeout: 5 * time.Second},
		Rules:    []config.Rule{{Name: "undervoltage", Family: "meter", Point: "voltage_l1", Below: ptr(190.0), Severity: "warning", Ticket: "none"}},
	}
	cfg.Gateway.ProfilesDir, _ = filepath.Abs("../configs/profiles")
	all := map[string]time.Duration{"fast": time.Second, "normal": time.Second, "slow": time.Second}
	for i, addr := range addrs {
		cfg.Devices = append(cfg.Devices, config.Device{ID: fmt.Sprintf("m%04d", i), Family: "meter", Protocol: modbus.ProtocolTCP,
			Profile: "eastron-sdm630", Address: addr, SlaveID: 1, PollInterval: time.Second, Timeout: time.Second, PollGroups: all})
	}
	cfg.ApplyDefaults()
	g, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	requests := 0
	for _, d := range g.devices.Polled {
		requests += d.Driver.(*modbus.Driver).Requests()
	}
	sinkCtx, stopSinks := context.WithCancel(context.Background())
	sinkDone := make(chan struct{})
	go func() { _ = g.telemetry.Run(sinkCtx); close(sinkDone) }()
	defer func() { stopSinks(); <-sinkDone; g.devices.Close() }()

	s := g.newScheduler()
	ctx, cancel := context.WithCancel(context.Background())
	schedDone := make(chan struct{})
	b.ResetTimer()
	go func() { s.Run(ctx); close(schedDone) }()
	time.Sleep(2 * time.Second) // connect and settle
	before, cpu0, t0 := s.Stats(), cpuTime(), time.Now()
	time.Sleep(window)
	after, cpu1, elapsed := s.Stats(), cpuTime(), time.Since(t0)
	cancel()
	<-schedDone
	b.StopTimer()

	readings := float64(after.Runs-after.Errors-(before.Runs-before.Errors)) / elapsed.Seconds()
	b.ReportMetric(readings, "readings/s")
	b.ReportMetric(readings*36, "points/s")
	b.ReportMetric(readings*float64(requests)/devices, "requests/s")
	b.ReportMetric(100*(cpu1-cpu0).Seconds()/elapsed.Seconds(), "cpu%")
	b.ReportMetric(float64(memKB("VmRSS"))/1024, "rss-MB")
	b.ReportMetric(float64(after.Skipped-before.Skipped), "skipped")
	b.ReportMetric(float64(after.Errors-before.Errors), "errors")
	b.ReportMetric(float64(after.JitterP50.Microseconds())/1000, "jitter-p50-ms")
	b.ReportMetric(float64(after.JitterP99.Microseconds())/1000, "jitter-p99-ms")
	b.Logf("jitter mean %v p50 %v p99 %v max %v; runs %d", after.JitterMean, after.JitterP50, after.JitterP99, after.JitterMax, after.Runs-before.Runs)
	if written.Load() == 0 {
		b.Error("no telemetry reached the stub InfluxDB")
	}
}

func ptr[T any](v T) *T { return &v }

// cpuTime is the CPU time (user and system) this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// memKB reads a field (VmRSS, VmHWM) of /proc/self/status in kB.
func memKB(field string) int {
	data, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			return n
		}
	}
	return 0
}
