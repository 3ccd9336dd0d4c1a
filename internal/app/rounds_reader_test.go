package app

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/estatehq/estate/internal/testenv"
)

// The demo's patrol reader walks the building round: its scans go over the
// embedded broker to the gateway's guard-tour driver, through the outbox to
// the desk, and confirm the round's checkpoints as visits by the reader.
func TestDemoPatrolReaderConfirmsCheckpoints(t *testing.T) {
	influxURL, bucket := testenv.InfluxDB(t)
	cfg := demoConfig(t, influxURL, bucket,
		"every: 20s", "every: 1s", "start: 45s", "start: 1s",
		// The building round falls due every day for the test, whatever the weekday.
		"weekdays: [mon, wed, fri]", "every_days: 1")
	base := "http://" + cfg.Desk.Listen
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- RunDemo(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard, nil) }()
	defer func() { cancel(); <-done }()
	type round struct {
		ID          int64
		Route       string
		Status      string
		Checkpoints []struct {
			Code    string
			Visited *struct{ Reader, Method string }
		}
	}
	var last round
	waitFor(t, 90*time.Second, "the reader's visits on the building round", func() bool {
		var list struct{ Rounds []round }
		if tryGet(base, "/api/v1/rounds", &list) != nil {
			return false
		}
		for _, r := range list.Rounds {
			if r.Route != "building-1-weekly" {
				continue
			}
			if tryGet(base, "/api/v1/rounds/"+itoa(r.ID), &last) != nil {
				return false
			}
			n := 0
			for _, cp := range last.Checkpoints {
				if cp.Visited != nil && cp.Visited.Reader == "patrol-1" && cp.Visited.Method == "reader" {
					n++
				}
			}
			return n >= 2 && last.Status == "in_progress"
		}
		return false
	})
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

func tryGet(base, path string, v any) error {
	req, _ := http.NewRequest(http.MethodGet, base+path, nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return &json.UnsupportedValueError{Str: resp.Status}
	}
	return json.NewDecoder(resp.Body).Decode(v)
}
