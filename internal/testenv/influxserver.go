package testenv

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// InfluxServer is an InfluxDB instance of a test's own, for tests that stop
// and start it (outages, crashes). It runs deploy/influxdb/influxdb.sh on a
// port of its own (see FreeAddr) and a folder under t.TempDir(), with database estate.
type InfluxServer struct {
	t      testing.TB
	script string
	Port   int
	Dir    string
	URL    string
}

// OwnInfluxDB prepares (but does not start) an InfluxDB of the test's own on
// a free loopback port; it is stopped when the test ends. It needs the influxd
// that `make test` builds, and is missing (skip, or fail in CI) without it.
//
// The port is drawn, not fixed: with fixed ports, two checkouts testing at
// once on one machine started their servers on the same port, and the second
// test used the first one's InfluxDB (the deploy script takes a server that
// already answers for its own).
func OwnInfluxDB(t testing.TB) *InfluxServer {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, ".tools", "bin", "influxd")); err != nil {
		missing(t, "influxd (.tools/bin/influxd, built by deploy/influxdb/influxdb.sh install)")
	}
	port := freePort(t, 1000) // the script puts the RPC (backup) port 1000 above the HTTP one
	s := &InfluxServer{t: t, script: filepath.Join(root, "deploy", "influxdb", "influxdb.sh"),
		Port: port, Dir: t.TempDir(), URL: fmt.Sprintf("http://127.0.0.1:%d", port)}
	t.Cleanup(func() { s.run("stop") })
	return s
}

// Start starts the server (keeping its data from an earlier Start) and
// returns once it answers, with database estate created.
func (s *InfluxServer) Start() {
	s.t.Helper()
	// Whatever answers while this server is down is someone else's: the script
	// would take it for this one and the test would write to a stranger.
	client := &http.Client{Timeout: 200 * time.Millisecond}
	if resp, err := client.Get(s.URL + "/ping"); err == nil {
		resp.Body.Close()
		s.t.Fatalf("port %d answers before this test's InfluxDB started: another process took it", s.Port)
	}
	if out, err := s.run("start"); err != nil {
		s.t.Fatalf("start InfluxDB on %d: %v\n%s", s.Port, err, out)
	}
}

// Stop stops the server (SIGTERM, then SIGKILL after 10 s).
func (s *InfluxServer) Stop() {
	s.t.Helper()
	if out, err := s.run("stop"); err != nil {
		s.t.Fatalf("stop InfluxDB on %d: %v\n%s", s.Port, err, out)
	}
	// The port must be closed before the test relies on the outage.
	client := &http.Client{Timeout: 200 * time.Millisecond}
	for range 50 {
		resp, err := client.Get(s.URL + "/ping")
		if err != nil {
			return
		}
		resp.Body.Close()
		time.Sleep(100 * time.Millisecond)
	}
	s.t.Fatalf("InfluxDB on %d still answers after stop", s.Port)
}

func (s *InfluxServer) run(cmd string) ([]byte, error) {
	c := exec.Command("bash", s.script, cmd, "--port", fmt.Sprint(s.Port), "--dir", s.Dir, "--db", "estate")
	return c.CombinedOutput()
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("testenv: no go.mod above the working directory")
		}
		dir = parent
	}
}
