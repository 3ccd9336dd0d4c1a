package telemetry

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/estatehq/estate/devices"
)

// fakeInflux answers writes the way InfluxDB 2.x does when it is throttling,
// failing, given too large a body or a bad line. Only the logic around the
// client is under test here; the real InfluxDB tests are in influx_test.go.
type fakeInflux struct {
	mu       sync.Mutex
	requests int
	times    []time.Time
	stored   map[string]int
	maxLines int
}

func (f *fakeInflux) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body := io.Reader(r.Body)
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	data, _ := io.ReadAll(body)
	lines := strings.Split(string(data), "\n")
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests++
	f.times = append(f.times, time.Now())
	switch {
	case f.requests == 1:
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusTooManyRequests)
		return
	case f.requests == 2:
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	case len(lines) > f.maxLines:
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		return
	}
	for _, l := range lines {
		if strings.Contains(l, "device=broken") {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"code":"invalid","message":"unable to parse points: field type conflict"}`))
			return
		}
	}
	for _, l := range lines {
		f.stored[l]++
	}
	w.WriteHeader(http.StatusNoContent)
}

func TestRetryAfterServerErrorsTooLargeAndBadLines(t *testing.T) {
	fake := &fakeInflux{stored: map[string]int{}, maxLines: 40}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	dir := t.TempDir()
	cfg := testConfig(srv.URL, "estate", dir)
	cfg.BatchSize, cfg.MaxInFlight = 300, 1
	w := startWriter(t, cfg)

	broken := &devices.Info{ID: "broken", Site: "test-site", Family: "meter", Model: "x"}
	var want []string
	for i := range 300 {
		r := reading(i)
		if i == 123 {
			r.Device = broken
		}
		w.AddReading(r)
		if i != 123 {
			want = append(want, string(AppendReading(nil, r)))
		}
	}
	w.waitDrained(t, 30*time.Second)
	w.stop(t)

	fake.mu.Lock()
	defer fake.mu.Unlock()
	if len(fake.times) < 3 || fake.times[1].Sub(fake.times[0]) < 900*time.Millisecond {
		t.Fatalf("Retry-After: 1 not honoured: requests at %v", fake.times)
	}
	for _, l := range want {
		if fake.stored[l] != 1 {
			t.Fatalf("line stored %d times: %s", fake.stored[l], l)
		}
	}
	if len(fake.stored) != len(want) {
		t.Fatalf("stored %d distinct lines, want %d", len(fake.stored), len(want))
	}
	f, err := os.Open(cfg.Spool.DeadLetterFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	var entries []DeadLetterEntry
	for sc.Scan() {
		var e DeadLetterEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatal(err)
		}
		entries = append(entries, e)
	}
	if len(entries) != 1 || !strings.Contains(entries[0].Line, "device=broken") ||
		entries[0].Status != 400 || !strings.Contains(entries[0].Error, "field type conflict") {
		t.Fatalf("dead letters: %+v", entries)
	}
	logs := w.logs.String()
	if !strings.Contains(logs, "InfluxDB write failing") || !strings.Contains(logs, "moved to the dead-letter file") {
		t.Fatalf("logs:\n%s", logs)
	}
}

// retentionInflux refuses every point as InfluxDB 1.8 does for points older
// than the retention period: 400, partial write, dropped=<all>.
type retentionInflux struct {
	mu       sync.Mutex
	requests int
}

func (f *retentionInflux) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	zr, err := gzip.NewReader(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	data, _ := io.ReadAll(zr)
	f.mu.Lock()
	f.requests++
	f.mu.Unlock()
	n := strings.Count(string(data), "\n") + 1
	w.Header().Set("X-Influxdb-Error", fmt.Sprintf("partial write: points beyond retention policy dropped=%d", n))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	_, _ = fmt.Fprintf(w, `{"error":"partial write: points beyond retention policy dropped=%d"}`, n)
}

func TestAllDroppedBatchDeadLetteredInOneRequest(t *testing.T) {
	fake := &retentionInflux{}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	cfg := testConfig(srv.URL, "estate", t.TempDir())
	cfg.BatchSize, cfg.MaxInFlight = 100, 1
	w := startWriter(t, cfg)
	for i := range 1000 {
		w.AddReading(reading(i))
	}
	w.waitDrained(t, 30*time.Second)
	w.stop(t)
	if got := testutil.ToFloat64(w.m.pointsDeadLettered); got != 1000 {
		t.Fatalf("dead-lettered %v, want 1000", got)
	}
	fake.mu.Lock()
	defer fake.mu.Unlock()
	if fake.requests > 20 {
		t.Fatalf("%d requests for 1000 points all refused: the batches were split needlessly", fake.requests)
	}
}
