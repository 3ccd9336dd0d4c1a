package app

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/estatehq/estate/devices/modbus"
	"github.com/estatehq/estate/gateway"
	"github.com/estatehq/estate/gateway/health"
	"github.com/estatehq/estate/internal/config"
	"github.com/estatehq/estate/internal/testenv"
	"github.com/estatehq/estate/internal/wire"
)

// syncBuffer is a log sink the test reads while the demo writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) count(s string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Count(b.buf.String(), s)
}

// waitFor polls cond every 50 ms for at most limit.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %s waiting for %s", limit, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A meter that stops answering is marked offline while the gateway keeps
// running, and comes back online when it answers again.
func TestSilentMeterGoesOfflineAndBack(t *testing.T) {
	influxURL, bucket := testenv.InfluxDB(t)
	cfg := demoConfig(t, influxURL, bucket)
	cfg.Simulators = nil
	dev, ok := cfg.DeviceByID("meter-1-1-101")
	if !ok {
		t.Fatal("the demo has no meter-1-1-101")
	}
	profile, err := modbus.LoadProfile(modbus.ProfilePath(cfg.Resolve(cfg.Gateway.ProfilesDir), dev.Profile))
	if err != nil {
		t.Fatal(err)
	}
	sim := modbus.NewSimulator(profile, modbus.DeviceOf(dev).Address)
	if err := sim.Set("balance", 50); err != nil {
		t.Fatal(err)
	}
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	defer sim.Stop()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var gw *gateway.Gateway
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- RunDemo(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard, func(g *gateway.Gateway) {
			gw = g
			close(ready)
		})
	}()
	<-ready
	state := func() health.State { d, _ := gw.Health().Get(dev.ID); return d.State }
	waitFor(t, 10*time.Second, "the meter online", func() bool { return state() == health.Online })

	if err := sim.Stop(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, "the meter offline", func() bool { return state() == health.Offline })
	select {
	case err := <-done:
		t.Fatalf("gateway stopped when the meter went silent: %v", err)
	default:
	}
	d, _ := gw.Health().Get(dev.ID)
	if d.ConsecutiveFailures < cfg.Gateway.OfflineAfter || d.Errors == 0 || d.LastError == "" || d.LastSeen.IsZero() {
		t.Errorf("offline health: %+v", d)
	}

	restarted := modbus.NewSimulator(profile, modbus.DeviceOf(dev).Address)
	_ = restarted.Set("balance", 50)
	if err := restarted.Start(); err != nil {
		t.Fatal(err)
	}
	defer restarted.Stop()
	waitFor(t, 15*time.Second, "the meter back online", func() bool { return state() == health.Online })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// With InfluxDB unreachable the demo keeps polling and ticketing, logs one
// error rather than one per point, and writes the buffered readings with a
// recovery line once InfluxDB answers.
func TestInfluxDBOutageKeepsTicketingAndRecovers(t *testing.T) {
	influxURL, bucket := testenv.InfluxDB(t)
	deadAddr := testenv.FreeAddr(t)
	cfg := demoConfig(t, "http://"+deadAddr, bucket,
		"initial_balance: 22", "initial_balance: 11",
		"drain_per_second: 0.5", "drain_per_second: 1")
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ticketed := make(chan struct{})
	var once sync.Once
	done := make(chan error, 1)
	go func() {
		done <- RunDemo(ctx, cfg, slog.New(slog.NewTextHandler(logs, nil)), io.Discard, func(g *gateway.Gateway) {
			g.OnTicket = func(wire.Ticket) { once.Do(func() { close(ticketed) }) }
		})
	}()
	select {
	case <-ticketed:
	case err := <-done:
		t.Fatalf("demo stopped: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("no ticket while InfluxDB was down")
	}
	waitFor(t, 10*time.Second, "the outage logged", func() bool { return logs.count("InfluxDB write failing") > 0 })
	// More polls and more failed flushes, counted on the demo's /metrics
	// rather than assumed from the time: none of them may log again.
	failed := scrape(t, cfg, "estate_telemetry_write_errors_total")
	waitFor(t, 30*time.Second, "three more failed flushes", func() bool {
		return scrape(t, cfg, "estate_telemetry_write_errors_total") >= failed+3
	})
	if n := logs.count("InfluxDB write failing"); n != 1 {
		t.Errorf("outage logged %d times, want once", n)
	}
	// The one registry carries the runtime's metrics too, and nothing is left
	// on the default registry that /metrics no longer serves.
	if scrape(t, cfg, "go_goroutines") == 0 || scrape(t, cfg, "estate_gateway_polls_total") == 0 {
		t.Error("/metrics lacks the Go runtime's or the gateway's metrics")
	}
	if mfs, err := prometheus.DefaultGatherer.Gather(); err == nil {
		for _, mf := range mfs {
			if strings.HasPrefix(mf.GetName(), "estate_") {
				t.Errorf("%s is registered on the default registry, which nothing serves", mf.GetName())
			}
		}
	}

	// InfluxDB "comes back" on the address the gateway writes to.
	target, _ := url.Parse(influxURL)
	ln, err := net.Listen("tcp", deadAddr)
	if err != nil {
		t.Fatalf("take over the dead address: %v", err)
	}
	proxy := &http.Server{Handler: httputil.NewSingleHostReverseProxy(target), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = proxy.Serve(ln) }()
	defer proxy.Close()
	waitFor(t, 45*time.Second, "the recovery line", func() bool { return logs.count("InfluxDB writes succeed again") == 1 })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("demo: %v", err)
	}

	// Readings taken during the outage were written after it.
	client := influxdb2.NewClient(influxURL, "")
	defer client.Close()
	res, err := client.QueryAPI("").Query(context.Background(), fmt.Sprintf(`from(bucket: %q) |> range(start: -5m)
		|> filter(fn: (r) => r._measurement == "meter" and r._field == "balance") |> count()`, bucket))
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for res.Next() {
		n, _ = res.Record().Value().(int64)
	}
	if n < 10 {
		t.Errorf("%d readings in InfluxDB after the outage; the ones buffered during it are missing", n)
	}
}

// scrape sums every series of a metric on the demo desk's /metrics (which
// serves the gateway's metrics too: the demo runs both on one registry).
func scrape(t *testing.T, cfg *config.Config, name string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + cfg.Desk.Listen + "/metrics")
	if err != nil {
		t.Fatalf("scrape /metrics: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape /metrics: status %d", resp.StatusCode)
	}
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, name)
		if !ok || rest == "" || (rest[0] != ' ' && rest[0] != '{') {
			continue // another metric, or a longer name with this prefix
		}
		fields := strings.Fields(line)
		v, err := strconv.ParseFloat(fields[len(fields)-1], 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", line, err)
		}
		sum += v
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("scrape /metrics: %v", err)
	}
	return sum
}
