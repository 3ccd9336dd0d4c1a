package app

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/estatehq/estate/desk/maintenance"
	"github.com/estatehq/estate/internal/testenv"
	"github.com/estatehq/estate/internal/wire"
)

// TestDemoGeneratorDrivesUsagePlan runs the demo with its shipped register
// and plans: a newcomer finds the register and the plans, and the simulated
// generator's running contact, polled by the gateway and written to
// InfluxDB, brings the generator's usage plan due: a maintenance order with
// its ticket.
func TestDemoGeneratorDrivesUsagePlan(t *testing.T) {
	influxURL, bucket := testenv.InfluxDB(t)
	// The generator runs from 2 s for a minute; its plan falls due at
	// 0.005 running hours (18 s of running) instead of the demo's 0.05.
	cfg := demoConfig(t, influxURL, bucket, "{at: 20s, do: generator_run, for: 2m}", "{at: 2s, do: generator_run, for: 1m}")
	dir := filepath.Dir(cfg.File)
	csv, err := os.ReadFile("../../configs/" + demoEquipmentFile)
	if err != nil {
		t.Fatal(err)
	}
	plans, err := os.ReadFile("../../configs/" + demoPlansFile)
	if err != nil {
		t.Fatal(err)
	}
	fast := strings.Replace(string(plans), "every: 0.05}", "every: 0.005}", 1)
	if fast == string(plans) {
		t.Fatal("demo-plans.yaml has no generator usage of every: 0.05")
	}
	if err := os.MkdirAll(filepath.Join(dir, "maintenance"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, demoEquipmentFile), csv, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, demoPlansFile), []byte(fast), 0o600); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- RunDemo(ctx, cfg, slog.New(slog.NewTextHandler(testLogWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})), io.Discard, nil)
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("demo: %v", err)
		}
	}()
	get := func(path string, into any) int {
		req, _ := http.NewRequest(http.MethodGet, "http://"+cfg.Desk.Listen+"/api/v1"+path, nil)
		req.Header.Set("Authorization", "Bearer demo-admin-token-not-for-production")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0
		}
		defer resp.Body.Close()
		if resp.StatusCode == 200 {
			_ = json.NewDecoder(resp.Body).Decode(into)
		}
		return resp.StatusCode
	}
	site := cfg.Site.ID
	var reg struct {
		Equipment []struct {
			ID         string `json:"id"`
			Registered bool   `json:"registered"`
		} `json:"equipment"`
	}
	waitFor(t, 60*time.Second, "the demo's register", func() bool {
		n := 0
		if get("/equipment", &reg) == 200 {
			for _, e := range reg.Equipment {
				if e.Registered {
					n++
				}
			}
		}
		return n == 9
	})
	var pl struct {
		Plans []struct {
			ID      string `json:"id"`
			Targets []struct {
				Equipment string `json:"equipment"`
				Next      struct {
					Explain string `json:"explain"`
				} `json:"next"`
			} `json:"targets"`
		} `json:"plans"`
	}
	waitFor(t, 90*time.Second, "the demo's six plans, the generator's with its usage", func() bool {
		if get("/maintenance/"+site+"/plans", &pl) != 200 || len(pl.Plans) != 6 {
			return false
		}
		for _, p := range pl.Plans {
			if p.ID == "gen-1-weekly" {
				return len(p.Targets) == 1 && strings.Contains(p.Targets[0].Next.Explain, "running hours; now")
			}
		}
		return false
	})
	// The desk steps its plans every minute: the generator has run well
	// over 18 s by the next step.
	var orders struct {
		Orders []maintenance.Order `json:"orders"`
	}
	waitFor(t, 150*time.Second, "the generator's usage order", func() bool {
		return get("/maintenance/"+site+"/orders?plan=gen-1-weekly", &orders) == 200 && len(orders.Orders) > 0 &&
			orders.Orders[0].Ticket != 0 // the order is saved before its ticket is opened
	})
	o := orders.Orders[0]
	if o.Trigger != maintenance.TriggerUsage || o.Usage < 0.005 || o.Equipment != "gen-1" {
		t.Errorf("order: %+v", o)
	}
	var tk wire.Ticket
	if get("/tickets/"+strconv.FormatInt(o.Ticket, 10), &tk) != 200 || tk.Category != "maintenance" || tk.Device != "power-1-b1" {
		t.Errorf("the order's ticket: %+v", tk)
	}
}

// testLogWriter sends the demo's warnings to the test's log.
type testLogWriter struct{ t *testing.T }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
