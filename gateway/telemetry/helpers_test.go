package telemetry

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/estatehq/estate/devices"
	"github.com/estatehq/estate/internal/config"
)

func testConfig(influxURL, bucket, dir string) config.InfluxDB {
	return config.InfluxDB{
		URL: influxURL, Bucket: bucket,
		BatchSize: 500, FlushInterval: 50 * time.Millisecond, Timeout: 3 * time.Second,
		MaxInFlight: 2, RetryInterval: 50 * time.Millisecond, MaxRetryInterval: 400 * time.Millisecond,
		ReplayRate: 100_000,
		Spool: config.TelemetrySpool{Dir: dir, MaxSizeMB: 64, SegmentSizeMB: 1, Fsync: "interval",
			FsyncInterval: 100 * time.Millisecond, DeadLetterFile: filepath.Join(dir, "dead-letter.jsonl")},
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// running is a Writer whose Run goroutine the test controls.
type running struct {
	*Writer
	// reg holds this writer's metrics (and its spool's) alone, so that a
	// test reads its own counts, not those of writers before it.
	reg    *prometheus.Registry
	logs   *syncBuffer
	cancel context.CancelFunc
	done   chan error
}

func startWriter(t testing.TB, cfg config.InfluxDB) *running {
	t.Helper()
	logs := &syncBuffer{}
	reg := prometheus.NewRegistry()
	w, err := New(cfg, slog.New(slog.NewTextHandler(io.MultiWriter(logs, testLog{t}), nil)), WithRegisterer(reg))
	if err != nil {
		t.Fatalf("new writer: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{Writer: w, reg: reg, logs: logs, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- w.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

func (r *running) stop(t testing.TB) {
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	if err := <-r.done; err != nil {
		t.Errorf("writer run: %v", err)
	}
}

// waitDrained waits until the spool holds nothing unacknowledged.
func (r *running) waitDrained(t testing.TB, within time.Duration) {
	t.Helper()
	if !poll(within, func() bool { return r.spool.Stats().Backlog == 0 }) {
		t.Fatalf("backlog still %d after %s", r.spool.Stats().Backlog, within)
	}
}

// waitFor waits until cond holds, failing the test after within: tests wait
// for the state they need, never for a fixed time that a loaded machine may
// not honour.
func waitFor(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	if !poll(within, cond) {
		t.Fatalf("timed out after %s waiting for %s", within, what)
	}
}

// poll reports whether cond held within the time given, checking it every 10 ms.
func poll(within time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

type testLog struct{ t testing.TB }

func (l testLog) Write(p []byte) (int, error) {
	if testing.Verbose() {
		l.t.Log(strings.TrimSpace(string(p)))
	}
	return len(p), nil
}

var testDevices = func() []*devices.Info {
	var ds []*devices.Info
	for i := range 5 {
		ds = append(ds, &devices.Info{ID: fmt.Sprintf("meter-%d", i), Site: "test-site", Family: "meter",
			Model: "demo-prepaid-meter", Building: "1", Unit: fmt.Sprintf("1-%d01", i)})
	}
	return ds
}()

// timeBase is the time of reading 0; a crashing child gets its parent's.
var timeBase = time.Now().Add(-time.Hour).Truncate(time.Second)

// reading i: device i%5, a distinct nanosecond time, energy encodes i.
func reading(i int) devices.Reading {
	return devices.Reading{
		Device: testDevices[i%len(testDevices)],
		Time:   timeBase.Add(time.Duration(i)*time.Millisecond + time.Duration(i%997)),
		Values: []devices.Value{
			{Point: "energy", Value: float64(i) + 0.123456789},
			{Point: "voltage", Value: 220 + float64(i%1000)/997},
			{Point: "balance", Value: -3.25e-7 * float64(i)},
		},
	}
}

// series is the result of an InfluxQL query: column names and rows.
type series struct {
	Name    string            `json:"name"`
	Tags    map[string]string `json:"tags"`
	Columns []string          `json:"columns"`
	Values  [][]any           `json:"values"`
}

func influxQL(t *testing.T, serverURL, db, q string) []series {
	t.Helper()
	u := serverURL + "/query?" + url.Values{"db": {db}, "q": {q}, "epoch": {"ns"}}.Encode()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatalf("query %q: %v", q, err)
	}
	defer resp.Body.Close()
	var out struct {
		Results []struct {
			Series []series `json:"series"`
			Error  string   `json:"error"`
		} `json:"results"`
		Error string `json:"error"`
	}
	dec := json.NewDecoder(resp.Body)
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		t.Fatalf("query %q: %v", q, err)
	}
	if out.Error != "" || len(out.Results) == 0 || out.Results[0].Error != "" {
		t.Fatalf("query %q: %+v", q, out)
	}
	return out.Results[0].Series
}

// storedEnergy returns, per device, the (time, energy) pairs stored, in time order.
func storedEnergy(t *testing.T, serverURL, db string) map[string][][2]json.Number {
	t.Helper()
	got := map[string][][2]json.Number{}
	for _, s := range influxQL(t, serverURL, db, `SELECT energy FROM meter GROUP BY device`) {
		for _, v := range s.Values {
			got[s.Tags["device"]] = append(got[s.Tags["device"]], [2]json.Number{v[0].(json.Number), v[1].(json.Number)})
		}
	}
	return got
}

// storedReadings returns the indexes of the readings stored, after checking
// that each is stored once, with its time and value, in time order per series.
func storedReadings(t *testing.T, serverURL, db string) map[int]bool {
	t.Helper()
	seen := map[int]bool{}
	for dev, rows := range storedEnergy(t, serverURL, db) {
		var prev int64
		for _, row := range rows {
			ts, _ := row[0].Int64()
			if ts <= prev {
				t.Fatalf("%s: times out of order or repeated: %d after %d", dev, ts, prev)
			}
			prev = ts
			e, _ := row[1].Float64()
			i := int(e)
			r := reading(i)
			if r.Device.ID != dev || r.Time.UnixNano() != ts || e != float64(i)+0.123456789 {
				t.Fatalf("stored %s %d %v does not match reading %d (%s %d)", dev, ts, e, i, r.Device.ID, r.Time.UnixNano())
			}
			if seen[i] {
				t.Fatalf("reading %d stored twice", i)
			}
			seen[i] = true
		}
	}
	return seen
}

// checkExactlyOnce checks that exactly the readings in want are stored, each
// once, with its time and value, in time order per series.
func checkExactlyOnce(t *testing.T, serverURL, db string, want []int) {
	t.Helper()
	seen := storedReadings(t, serverURL, db)
	for _, i := range want {
		if !seen[i] {
			t.Fatalf("reading %d is missing (%d of %d stored)", i, len(seen), len(want))
		}
	}
	if len(seen) != len(want) {
		t.Fatalf("stored %d points, want %d", len(seen), len(want))
	}
}

func dbOf(bucket string) string { return strings.SplitN(bucket, "/", 2)[0] }

func upTo(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func urlEscape(s string) string { return url.QueryEscape(s) }
