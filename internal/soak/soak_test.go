package soak

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/estatehq/estate/internal/testenv"
)

// The test binary is also the soak's gateway and desks: the soak starts it
// again with ESTATE_SOAK_CHILD set, and it runs `estate ROLE` instead of tests.
func TestMain(m *testing.M) {
	if role := os.Getenv("ESTATE_SOAK_CHILD"); role != "" {
		os.Exit(RunChild(role, os.Getenv("ESTATE_SOAK_CONFIG"), os.Stderr))
	}
	os.Exit(m.Run())
}

// needed fails in CI (CI=true) and skips elsewhere when a component is missing.
func needed(t *testing.T, what string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is required in CI (CI=true) but is missing; run the tests with `make test`", what)
	}
	t.Skipf("%s is not available; run the tests with `make test`", what)
}

func repoRoot(t *testing.T) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the working directory")
		}
		dir = parent
	}
}

// TestShortSoak is the short version of `make soak`: a small estate (29
// devices of every protocol) for a few minutes with every kind of fault at
// least once (latency, bandwidth, resets and black holes on the proxies of
// InfluxDB, the desk, the broker and a Modbus endpoint; an outage storm;
// SIGKILL of the gateway, a desk and InfluxDB), and nothing may be lost or
// duplicated. ESTATE_SOAK_SEED replays a run's fault plan.
func TestShortSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("the short soak takes several minutes")
	}
	root := repoRoot(t)
	if _, err := os.Stat(filepath.Join(root, ".tools", "bin", "influxd")); err != nil {
		needed(t, "influxd (.tools/bin/influxd, built by deploy/influxdb/influxdb.sh install)")
	}
	testenv.MosquittoTool(t, "mosquitto")
	pg := os.Getenv("ESTATE_TEST_POSTGRES_URL")
	if pg == "" && os.Getenv("CI") == "true" {
		needed(t, "PostgreSQL (ESTATE_TEST_POSTGRES_URL)")
	}

	o := Options{
		Duration: 4 * time.Minute, Warmup: 20 * time.Second, Cooldown: 20 * time.Second,
		TCPEndpoints: 3, RTUEndpoints: 1, UnitsPerEndpoint: 5,
		DLT645Meters: 3, MQTTDevices: 4, FirePanels: 2,
		PollInterval: 2 * time.Second, OfflineFor: 15 * time.Second,
		Incidents:  4,
		FaultEvery: 10 * time.Second, FaultMin: 3 * time.Second, FaultMax: 30 * time.Second, DowntimeMax: 8 * time.Second,
		Desks: 1, PostgresURL: pg,
		Dir: t.TempDir(), Root: root,
	}
	if pg != "" {
		o.Desks = 2
	}
	if v := os.Getenv("ESTATE_SOAK_SEED"); v != "" {
		seed, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("ESTATE_SOAK_SEED=%q: %v", v, err)
		}
		o.Seed = seed
	} else {
		o.Seed = uint64(time.Now().UnixNano())
	}
	self := os.Args[0]
	o.Command = func(role, config string) *exec.Cmd {
		cmd := exec.Command(self, "-test.run=^$")
		cmd.Env = append(os.Environ(), "ESTATE_SOAK_CHILD="+role, "ESTATE_SOAK_CONFIG="+config)
		return cmd
	}
	logf, err := os.Create(filepath.Join(o.Dir, "soak.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	o.Log = slog.New(slog.NewTextHandler(logf, nil))
	o.Progress = testWriter{t}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	r, err := Run(ctx, o)
	if err != nil {
		t.Fatalf("soak (seed %d) could not run: %v", o.Seed, err)
	}
	md := r.Markdown()
	t.Log("\n" + md)

	// Every kind of fault happened.
	kinds := map[string]int{}
	for _, f := range r.Faults {
		if !f.Began.IsZero() {
			kinds[f.String()]++
		}
	}
	var missing []string
	for _, p := range proxyNames {
		for _, k := range toxicKinds {
			if kinds[k+" on "+p] == 0 {
				missing = append(missing, k+" on "+p)
			}
		}
	}
	for _, k := range []string{faultKillGW, faultKillDesk, faultKillInflux, faultStorm + " on " + proxyModbus} {
		if kinds[k] == 0 {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		t.Errorf("faults that never happened: %s", strings.Join(missing, ", "))
	}
	if len(r.Failures) > 0 {
		t.Fatalf("the soak (seed %d; ESTATE_SOAK_SEED=%d replays its plan) found %d problem(s):\n- %s", o.Seed, o.Seed, len(r.Failures), strings.Join(r.Failures, "\n- "))
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestPlanHasEveryFault: the plan of any seed holds every toxic on every
// proxy, every kill and the storm, and keeps gateway kills away from the storm.
func TestPlanHasEveryFault(t *testing.T) {
	o := Defaults()
	o.Duration = 5 * time.Minute
	o.Warmup, o.Cooldown = 20*time.Second, 20*time.Second
	o.UnitsPerEndpoint, o.PollInterval, o.OfflineFor = 5, 2*time.Second, 15*time.Second
	for seed := range uint64(50) {
		fs := plan(o, newRand(seed))
		seen := map[string]bool{}
		var storm *fault
		for _, f := range fs {
			seen[f.String()] = true
			if f.Kind == faultStorm {
				storm = f
			}
			if f.At < o.Warmup || f.At > o.Duration-o.Cooldown {
				t.Errorf("seed %d: %s at %v, outside the active part", seed, f, f.At)
			}
		}
		for _, p := range proxyNames {
			for _, k := range toxicKinds {
				if !seen[k+" on "+p] {
					t.Errorf("seed %d: no %s on %s", seed, k, p)
				}
			}
		}
		for _, k := range []string{faultKillGW, faultKillDesk, faultKillInflux} {
			if !seen[k] {
				t.Errorf("seed %d: no %s", seed, k)
			}
		}
		if storm == nil {
			t.Fatalf("seed %d: no storm", seed)
		}
		for _, f := range fs {
			if f.Kind == faultKillGW && f.At+f.For > storm.At-10*time.Second && f.At < storm.At+storm.For+30*time.Second {
				t.Errorf("seed %d: gateway killed at %v, in the storm (%v for %v)", seed, f.At, storm.At, storm.For)
			}
		}
	}
}

func TestIncidentKey(t *testing.T) {
	for in, want := range map[string]string{
		"soak/fire_alarm/fire-00/system 1 component 1023": "soak/fire_alarm/fire-00",
		"soak/soak_fault/m-01-02":                         "soak/soak_fault/m-01-02",
		"odd":                                             "odd",
	} {
		if got := incidentKey(in); got != want {
			t.Errorf("incidentKey(%q) = %q, want %q", in, got, want)
		}
	}
}
