package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/estatehq/estate/desk"
	"github.com/estatehq/estate/internal/config"
)

// Files beside the demo's configuration that give a newcomer an equipment
// register and maintenance plans to look at
// (configs/maintenance/demo-equipment.csv, configs/maintenance/demo-plans.yaml).
const (
	demoEquipmentFile = "maintenance/demo-equipment.csv"
	demoPlansFile     = "maintenance/demo-plans.yaml"
)

// seedDemoPlant imports the demo's register and makes its plans through the
// desk's API, on a desk whose register of the site is still empty (so that
// a newcomer's own changes stay across restarts). A plan that reads
// telemetry is refused until the gateway has reported its device and
// InfluxDB holds the point: it is retried until it is accepted, for at
// most five minutes, or until ctx ends.
func seedDemoPlant(ctx context.Context, cfg *config.Config, log *slog.Logger) {
	csvPath, plansPath := cfg.Resolve(demoEquipmentFile), cfg.Resolve(demoPlansFile)
	csv, err := os.ReadFile(csvPath)
	if err != nil {
		log.Debug("demo register not seeded", "file", csvPath, "err", err)
		return
	}
	token := ""
	for _, t := range cfg.Desk.Tokens {
		if t.Role == desk.RoleAdmin && t.Site == "" {
			token = t.Token
		}
	}
	if token == "" {
		return
	}
	base := "http://" + cfg.Desk.Listen + "/api/v1"
	site := cfg.Site.ID
	client := &http.Client{Timeout: 10 * time.Second}
	call := func(method, path, ct string, body []byte) (int, []byte, error) {
		req, err := http.NewRequestWithContext(ctx, method, base+path, bytes.NewReader(body))
		if err != nil {
			return 0, nil, err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		out, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return resp.StatusCode, out, err
	}
	code, out, err := call("GET", "/equipment/"+site+"?format=csv", "", nil)
	if err != nil || code != 200 {
		log.Warn("demo register: cannot read the register", "status", code, "err", err)
		return
	}
	if lines := strings.Count(strings.TrimSpace(string(out)), "\n"); lines > 0 {
		return // the register has entries: the demo was seeded before, or someone keeps it
	}
	code, out, err = call("POST", "/equipment/"+site+"/import?name=demo-equipment.csv", "text/csv", csv)
	if err != nil || code != 200 {
		log.Warn("demo register not imported", "status", code, "err", err, "answer", string(out))
		return
	}
	var doc struct {
		Plans []map[string]any `yaml:"plans"`
	}
	data, err := os.ReadFile(plansPath)
	if err == nil {
		err = yaml.Unmarshal(data, &doc)
	}
	if err != nil {
		log.Warn("demo plans not made", "file", plansPath, "err", err)
		return
	}
	pending := doc.Plans
	deadline := time.Now().Add(5 * time.Minute)
	for len(pending) > 0 {
		var again []map[string]any
		for _, p := range pending {
			id := fmt.Sprint(p["id"])
			delete(p, "id")
			body, _ := json.Marshal(p)
			p["id"] = id
			code, out, err := call("PUT", "/maintenance/"+site+"/plans/"+id, "application/json", body)
			switch {
			case err != nil && ctx.Err() != nil:
				return
			case code == 200:
				log.Info("demo maintenance plan made", "plan", id)
			case code == 422 && time.Now().Before(deadline):
				again = append(again, p) // its device's telemetry is not in yet
			default:
				log.Warn("demo maintenance plan not made", "plan", id, "status", code, "err", err, "answer", string(out))
			}
		}
		pending = again
		if len(pending) == 0 {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(3 * time.Second):
		}
	}
}
