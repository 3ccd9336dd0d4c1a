package main

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/estatehq/estate/gateway/spool"
	"github.com/estatehq/estate/gateway/telemetry"
)

func TestStatusShowsBacklog(t *testing.T) {
	dir := t.TempDir()
	s, err := spool.Open(dir, spool.Options{SegmentBytes: 1 << 20, MaxBytes: 4 << 20, Sync: spool.SyncNever},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	old := time.Now().Add(-90 * time.Second)
	for i := range 10 {
		if _, err := s.Append(spool.Entry{Time: old.Add(time.Duration(i)).UnixNano(), Data: []byte("m v=1")}); err != nil {
			t.Fatal(err)
		}
	}
	var out, errOut bytes.Buffer
	if code := run([]string{"status", "--spool", dir}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{"backlog         10 point(s) waiting", "(1m30s ago)", "no status published yet"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}

	// With the status a running writer publishes.
	ws := telemetry.Status{Updated: time.Now(), InfluxDBUp: false, LastWrite: time.Now().Add(-time.Minute),
		LastError: "Post \"http://127.0.0.1:8086/api/v2/write\": connection refused", LastErrorAt: time.Now(),
		Accepted: 10, Written: 0, PID: os.Getpid()}
	b, _ := json.Marshal(ws)
	if err := os.WriteFile(filepath.Join(dir, telemetry.StatusFile), b, 0o600); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if code := run([]string{"status", "--spool", dir}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{"writer          running (pid", "InfluxDB        DOWN", "last write      ", "(1m0s ago)",
		"last error      Post", "connection refused", "10 accepted, 0 written, 0 dead-lettered"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	t.Log("\n" + out.String())
	if code := run([]string{"status"}, &out, &errOut); code != 2 {
		t.Errorf("status without --config or --spool: exit %d", code)
	}
}

func TestInfluxDBExampleConfigChecks(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"check", "../../configs/influxdb.example.yaml"}, &out, &errOut); code != 0 {
		t.Fatalf("the example does not pass estate check:\n%s%s", out.String(), errOut.String())
	}
}
