package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"

	"github.com/estatehq/estate/internal/testenv"
)

// TestDemoMQTTDevices runs the shipped demo with its scripts brought forward:
// the simulated elevator box and door controller publish through the embedded,
// authenticated broker, and the gateway's events (entrapment inferred after
// its time, forced and held doors) reach InfluxDB.
func TestDemoMQTTDevices(t *testing.T) {
	influxURL, bucket := testenv.InfluxDB(t)
	cfg := demoConfig(t, influxURL, bucket,
		"mqtt: {entrapment_after: 20s}", "mqtt: {entrapment_after: 2s}",
		`mqtt: {topic_id: "405419896", held_open_after: 30s}`, `mqtt: {topic_id: "405419896", held_open_after: 2s}`,
		"{at: 60s, do: entrapment, for: 50s}", "{at: 1s, do: entrapment, for: 6s}",
		"{at: 40s, do: forced, for: 8s}", "{at: 1s, do: forced, for: 2s}",
		"{at: 70s, do: held, for: 45s}", "{at: 5s, do: held, for: 5s}",
		"{at: 150s, do: fault, for: 40s}", "{at: 2s, do: fault, for: 30s}",
	)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- RunDemo(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard, nil) }()

	client := influxdb2.NewClient(influxURL, "")
	defer client.Close()
	want := map[string]bool{"lift-1-a/entrapment": false, "lift-1-a/fault": false, "door-1-lobby/door_forced": false, "door-1-lobby/door_held": false}
	var floors int
	// The loop ends as soon as every event is in; the bound is for a loaded
	// machine, where the demo's start (a dozen simulators, the desk's bcrypt
	// logins, InfluxDB) alone has taken over 20 s.
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		select {
		case err := <-done:
			t.Fatalf("demo stopped: %v", err)
		case <-time.After(time.Second):
		}
		q := fmt.Sprintf(`from(bucket: %q) |> range(start: -5m)
			|> filter(fn: (r) => r._measurement == "event" and r._field == "active" and r._value == true)`, bucket)
		res, err := client.QueryAPI("").Query(context.Background(), q)
		if err != nil {
			t.Fatalf("query: %v", err)
		}
		for res.Next() {
			key := fmt.Sprint(res.Record().ValueByKey("device"), "/", res.Record().ValueByKey("type"))
			if _, ok := want[key]; ok {
				want[key] = true
			}
		}
		res, err = client.QueryAPI("").Query(context.Background(), fmt.Sprintf(`from(bucket: %q) |> range(start: -5m)
			|> filter(fn: (r) => r._measurement == "elevator" and r._field == "floor") |> count()`, bucket))
		if err != nil {
			t.Fatalf("query: %v", err)
		}
		for res.Next() {
			if n, ok := res.Record().Value().(int64); ok {
				floors = int(n)
			}
		}
		all := floors > 0
		for _, seen := range want {
			all = all && seen
		}
		if all {
			break
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("demo: %v", err)
	}
	for k, seen := range want {
		if !seen {
			t.Errorf("no %s event in InfluxDB", k)
		}
	}
	if floors == 0 {
		t.Error("no elevator readings in InfluxDB")
	}
}
