package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"

	"github.com/estatehq/estate/gateway"
	"github.com/estatehq/estate/internal/testenv"
	"github.com/estatehq/estate/internal/wire"
)

// The serial demo end to end: DL/T 645 prepaid meters on a simulated bus
// (through a pseudo-terminal and devices/serial) become top-up tickets, and the
// simulated fire panels' alarms (GB/T 26875.3 over TCP, CRT lines on a
// pseudo-terminal) reach InfluxDB as events.
func TestDemoSerialEndToEnd(t *testing.T) {
	influxURL, bucket := testenv.InfluxDB(t)
	data, err := os.ReadFile("../../configs/demo-serial.yaml")
	if err != nil {
		t.Fatal(err)
	}
	profiles, _ := filepath.Abs("../../configs/profiles")
	dir := t.TempDir()
	text := strings.NewReplacer(
		"127.0.0.1:8080", testenv.FreeAddr(t),
		"127.0.0.1:19030", testenv.FreeAddr(t),
		"http://127.0.0.1:18086", influxURL,
		"estate/autogen", bucket,
		"profiles_dir: profiles", "profiles_dir: "+profiles,
		"var/demo-serial/", dir+"/",
		"baud: 2400", "baud: 9600",
		"poll_interval: 10s", "poll_interval: 1s",
		"initial_balance: 14", "initial_balance: 10.5",
		"drain_per_second: 0.2", "drain_per_second: 0.5",
	).Replace(string(data))
	cfg, err := LoadConfigText(t, text)
	if err != nil {
		t.Fatalf("demo-serial config: %v", err)
	}

	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	byDevice := map[string]int{}
	done := make(chan error, 1)
	gw := make(chan *gateway.Gateway, 1)
	go func() {
		done <- RunDemo(ctx, cfg, log, io.Discard, func(g *gateway.Gateway) {
			gw <- g
			g.OnTicket = func(tk wire.Ticket) {
				mu.Lock()
				byDevice[tk.Device]++
				mu.Unlock()
			}
		})
	}()
	deadline := time.After(40 * time.Second)
	for {
		mu.Lock()
		n := len(byDevice)
		mu.Unlock()
		if n == 3 {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("demo stopped: %v", err)
		case <-deadline:
			t.Fatalf("tickets by device: %v, want one for each of the 3 meters", byDevice)
		case <-time.After(100 * time.Millisecond):
		}
	}
	// More polls of the low balances (still one ticket each), counted by the
	// gateway, and the panels' first alarms (5 s after start) in InfluxDB:
	// waited for, not assumed from the time.
	g := <-gw
	meters := []string{"meter-2-1-101", "meter-2-1-102", "meter-2-1-103"}
	polls := func(id string) uint64 { d, _ := g.Health().Get(id); return d.Polls }
	ticketed := map[string]uint64{}
	for _, id := range meters {
		ticketed[id] = polls(id)
	}
	waitFor(t, 60*time.Second, "3 more polls of each low balance", func() bool {
		for _, id := range meters {
			if polls(id) < ticketed[id]+3 {
				return false
			}
		}
		return true
	})
	waitFor(t, 60*time.Second, "both panels' fire alarms in InfluxDB", func() bool {
		seen := fireAlarms(t, influxURL, bucket)
		return seen["fire-uitd-2"] && seen["fire-panel-2"]
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("demo: %v", err)
	}
	mu.Lock()
	for _, d := range meters {
		if byDevice[d] != 1 {
			t.Errorf("device %s: %d tickets, want 1", d, byDevice[d])
		}
	}
	mu.Unlock()

	if seen := fireAlarms(t, influxURL, bucket); !seen["fire-uitd-2"] || !seen["fire-panel-2"] {
		t.Errorf("fire alarms in InfluxDB from %v, want fire-uitd-2 and fire-panel-2", seen)
	}
}

// fireAlarms is the set of devices with an active fire alarm event in InfluxDB.
func fireAlarms(t *testing.T, influxURL, bucket string) map[string]bool {
	t.Helper()
	client := influxdb2.NewClient(influxURL, "")
	defer client.Close()
	q := fmt.Sprintf(`from(bucket: %q) |> range(start: -5m)
		|> filter(fn: (r) => r._measurement == "event" and r.type == "fire_alarm" and r._field == "active")`, bucket)
	res, err := client.QueryAPI("").Query(context.Background(), q)
	if err != nil {
		t.Fatalf("query: %v", err)
	}
	seen := map[string]bool{}
	for res.Next() {
		if v, ok := res.Record().Value().(bool); ok && v {
			seen[fmt.Sprint(res.Record().ValueByKey("device"))] = true
		}
	}
	if res.Err() != nil {
		t.Fatal(res.Err())
	}
	return seen
}
