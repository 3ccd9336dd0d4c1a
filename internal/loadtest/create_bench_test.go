package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/estatehq/estate/internal/testenv"
	"github.com/estatehq/estate/internal/wire"
)

// BenchmarkCreateTicketsOverHTTP is the desk as a client sees it (DESIGN §7:
// ≥ 5,000 creations/s on SQLite, ≥ 3,000/s on PostgreSQL with two
// replicas): ESTATE_BENCH_CALLERS callers (default 16) each POST
// /api/v1/tickets in a loop for ESTATE_BENCH_SECONDS (default 15) against
// real `estate desk` processes, spread over the replicas. Every creation is
// a new ticket (its own alarm key), answered 201 after its commit. One
// iteration is one whole run; creations/s, the latency percentiles and each
// desk's CPU over the window are reported.
func BenchmarkCreateTicketsOverHTTP(b *testing.B) {
	callers, seconds := envInt(b, "ESTATE_BENCH_CALLERS", 16), envInt(b, "ESTATE_BENCH_SECONDS", 15)
	for _, shape := range []struct {
		name     string
		driver   string
		replicas int
	}{{"sqlite", "sqlite", 1}, {"postgres", "postgres", 1}, {"postgres-2-replicas", "postgres", 2}} {
		b.Run(shape.name, func(b *testing.B) {
			replicas := startCreateDesks(b, shape.driver, shape.replicas)
			var rep createReport
			for b.Loop() {
				rep = runCreations(b, replicas, callers, time.Duration(seconds)*time.Second)
			}
			b.Logf("%s: %d callers, %d created in %s, %d errors; p50 %.1f ms, p99 %.1f ms; desk CPU %v",
				shape.name, callers, rep.created, rep.window, rep.errors, rep.p50, rep.p99, rep.cpuPercent)
			if rep.errors > 0 {
				b.Errorf("%d creations failed: %s", rep.errors, rep.firstError)
			}
			b.ReportMetric(float64(rep.created)/rep.window.Seconds(), "creations/s")
			b.ReportMetric(rep.p50, "p50-ms")
			b.ReportMetric(rep.p99, "p99-ms")
			for i, c := range rep.cpuPercent {
				b.ReportMetric(c, fmt.Sprintf("desk%d-cpu-%%", i+1))
			}
		})
	}
}

const createToken = "bench-create-gateway-token"

func startCreateDesks(b *testing.B, driver string, n int) []*Replica {
	dir := b.TempDir()
	cfg := DeskConfig{Driver: driver, Tokens: []Token{{"gw-bench", createToken, "gateway", "bench-site"}}}
	if driver == "sqlite" {
		cfg.Database = filepath.Join(dir, "desk.db")
	} else {
		cfg.Database = testenv.PostgreSQL(b)
	}
	bin := Binary(b)
	out := make([]*Replica, n)
	for i := range n {
		name, listen := fmt.Sprintf("desk-%d", i+1), testenv.FreeAddr(b)
		out[i] = StartReplica(b, bin, cfg.Write(b, dir, name, listen), name, listen)
	}
	return out
}

type createReport struct {
	created, errors int64
	firstError      string
	window          time.Duration
	p50, p99        float64
	cpuPercent      []float64
}

func runCreations(b *testing.B, replicas []*Replica, callers int, window time.Duration) createReport {
	b.Helper()
	// Connections are kept (one idle connection per caller), as a gateway's
	// client keeps them.
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: callers}}
	var seq, created, failed atomic.Int64
	var firstErr atomic.Value
	ctx, cancel := context.WithTimeout(context.Background(), window)
	defer cancel()
	cpu0 := make([]time.Duration, len(replicas))
	for i, r := range replicas {
		cpu0[i], _ = r.CPU()
	}
	lats := make([][]time.Duration, callers)
	start := time.Now()
	var wg sync.WaitGroup
	for c := range callers {
		wg.Go(func() {
			r := replicas[c%len(replicas)]
			for ctx.Err() == nil {
				n := seq.Add(1)
				body, _ := json.Marshal(wire.NewTicket{
					Kind: wire.Repair, Title: fmt.Sprintf("meter m%07d offline", n), Site: "bench-site",
					Building: fmt.Sprint(n%20 + 1), Unit: fmt.Sprintf("%d-%d", n%20+1, n%300+101),
					Device: fmt.Sprintf("m%07d", n), AlarmKey: fmt.Sprintf("bench-site/offline/m%07d", n),
				})
				req, _ := http.NewRequestWithContext(context.WithoutCancel(ctx), http.MethodPost, r.URL+"/api/v1/tickets", bytes.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+createToken)
				req.Header.Set("Content-Type", "application/json")
				t0 := time.Now()
				resp, err := client.Do(req)
				if err == nil {
					msg, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusCreated {
						err = fmt.Errorf("%s: %d %s", r.Name, resp.StatusCode, bytes.TrimSpace(msg))
					}
				}
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				lats[c] = append(lats[c], time.Since(t0))
				created.Add(1)
			}
		})
	}
	wg.Wait()
	rep := createReport{created: created.Load(), errors: failed.Load(), window: time.Since(start)}
	if s, ok := firstErr.Load().(string); ok {
		rep.firstError = s
	}
	for i, r := range replicas {
		c1, _ := r.CPU()
		rep.cpuPercent = append(rep.cpuPercent, 100*(c1-cpu0[i]).Seconds()/rep.window.Seconds())
	}
	all := slices.Concat(lats...)
	slices.Sort(all)
	if len(all) > 0 {
		rep.p50 = float64(percentile(all, 0.50).Microseconds()) / 1000
		rep.p99 = float64(percentile(all, 0.99).Microseconds()) / 1000
	}
	return rep
}
