package telemetry

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/estatehq/estate/internal/testenv"
)

func TestExactlyNPointsWithValuesAndTimes(t *testing.T) {
	influxURL, bucket := testenv.InfluxDB(t)
	w := startWriter(t, testConfig(influxURL, bucket, t.TempDir()))
	const n = 20_000
	for i := range n {
		w.AddReading(reading(i))
	}
	w.waitDrained(t, 60*time.Second)
	checkExactlyOnce(t, influxURL, dbOf(bucket), upTo(n))

	// Every field and tag of the schema, not only energy.
	s := influxQL(t, influxURL, dbOf(bucket), `SELECT * FROM meter WHERE device = 'meter-3' ORDER BY time ASC LIMIT 1`)
	if len(s) != 1 || len(s[0].Values) != 1 {
		t.Fatalf("no meter-3 point: %+v", s)
	}
	row := map[string]string{}
	for i, c := range s[0].Columns {
		row[c] = fmt.Sprint(s[0].Values[0][i])
	}
	r := reading(3)
	want := map[string]string{"time": fmt.Sprint(r.Time.UnixNano()), "site": "test-site", "device": "meter-3",
		"model": "demo-prepaid-meter", "building": "1", "unit": "1-301", "quality": "good",
		"energy": "3.123456789"}
	for k, v := range want {
		if row[k] != v {
			t.Errorf("%s = %q, want %q (row %v)", k, row[k], v, row)
		}
	}
	for k, v := range map[string]float64{"voltage": 220 + 3.0/997, "balance": -3.25e-7 * 3} {
		if got, err := strconv.ParseFloat(row[k], 64); err != nil || got != v {
			t.Errorf("%s = %q, want exactly %v", k, row[k], v)
		}
	}
}

func TestOutageEveryPointArrivesOnce(t *testing.T) {
	srv := testenv.OwnInfluxDB(t)
	srv.Start()
	dir := t.TempDir()
	cfg := testConfig(srv.URL, "estate/autogen", dir)
	// A write slower than this is an outage of its own: on a loaded machine
	// 3 s happen, and would log a second outage the test did not make.
	cfg.Timeout = 20 * time.Second
	w := startWriter(t, cfg)

	// A steady stream of 1 reading per 2 ms; InfluxDB goes away for a while in the middle.
	stopProducing := make(chan struct{})
	produced := make(chan int)
	go func() {
		i := 0
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopProducing:
				produced <- i
				return
			case <-tick.C:
				w.AddReading(reading(i))
				i++
			}
		}
	}()
	// Each phase lasts until the writer shows what the phase is for, not for a
	// fixed time that a loaded machine may spend elsewhere: points reach
	// InfluxDB; the outage is seen and a backlog builds up (about a second of
	// readings); InfluxDB is back and live points reach it again.
	waitFor(t, 30*time.Second, "points written before the outage", func() bool {
		return testutil.ToFloat64(w.m.pointsWritten) >= 500
	})
	srv.Stop()
	waitFor(t, 30*time.Second, "the outage seen and a backlog", func() bool {
		return testutil.ToFloat64(w.m.influxUp) == 0 && testutil.ToFloat64(w.m.pointsRetried) > 0 &&
			w.spool.Stats().Backlog >= 500
	})
	if st := w.spool.Stats(); st.Backlog == 0 {
		t.Fatal("nothing waiting in the spool during the outage")
	}
	srv.Start()
	waitFor(t, 30*time.Second, "InfluxDB writable again", func() bool { return testutil.ToFloat64(w.m.influxUp) == 1 })
	recovered := testutil.ToFloat64(w.m.pointsWritten)
	waitFor(t, 30*time.Second, "points written after the outage", func() bool {
		return testutil.ToFloat64(w.m.pointsWritten) >= recovered+500
	})
	close(stopProducing)
	n := <-produced
	w.waitDrained(t, 60*time.Second)
	checkExactlyOnce(t, srv.URL, "estate", upTo(n))
	if testutil.ToFloat64(w.m.pointsRetried) == 0 {
		t.Error("no write was retried: the outage was not seen")
	}
	logs := w.logs.String()
	// One line when writes start failing and one when they succeed again,
	// however many retries between (a write slower than the timeout on a
	// loaded machine may add a short outage of its own, with its own pair).
	failing, back := strings.Count(logs, "InfluxDB write failing"), strings.Count(logs, "InfluxDB writes succeed again")
	if failing < 1 || failing != back || failing > 2 {
		t.Errorf("want one outage line and one recovery line per outage, not one per retry (%v points retried):\n%s",
			testutil.ToFloat64(w.m.pointsRetried), logs)
	}
	w.stop(t)
	st, err := ReadStatus(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !st.InfluxDBUp || st.Written < uint64(n) || st.Accepted != uint64(n) || st.BacklogPoints != 0 ||
		st.LastWrite.IsZero() || !strings.Contains(st.LastError, "connection refused") {
		t.Errorf("status after the outage: %+v", st)
	}
	t.Logf("%d readings through an outage", n)
}

// TestMain lets the test binary act as a gateway that is killed (see TestSIGKILLDuringOutage).
func TestMain(m *testing.M) {
	if dir := os.Getenv("ESTATE_TELEMETRY_CRASH_SPOOL"); dir != "" {
		base, err := strconv.ParseInt(os.Getenv("ESTATE_TELEMETRY_CRASH_BASE"), 10, 64)
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		timeBase = time.Unix(0, base)
		crashingGateway(dir, os.Getenv("ESTATE_TELEMETRY_CRASH_URL"))
		return
	}
	os.Exit(m.Run())
}

// crashingGateway accepts readings with InfluxDB unreachable and prints the
// index of each reading once AddReading returned, until it is killed.
func crashingGateway(dir, influxURL string) {
	cfg := testConfig(influxURL, "estate/autogen", dir)
	w, err := New(cfg, discardLogger())
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	go func() { _ = w.Run(context.Background()) }()
	out := bufio.NewWriter(os.Stdout)
	for i := 0; ; i++ {
		w.AddReading(reading(i))
		fmt.Fprintln(out, i)
		out.Flush()
		// Paces the stream like a gateway's polls (not synchronisation): the
		// parent kills it at some arbitrary point of an ongoing stream.
		time.Sleep(100 * time.Microsecond)
	}
}

func TestSIGKILLDuringOutage(t *testing.T) {
	srv := testenv.OwnInfluxDB(t) // not started yet: the outage
	dir := t.TempDir()
	confirmed := -1 // the highest reading index any round had accepted
	for round := range 2 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "ESTATE_TELEMETRY_CRASH_SPOOL="+dir, "ESTATE_TELEMETRY_CRASH_URL="+srv.URL,
			"ESTATE_TELEMETRY_CRASH_BASE="+strconv.FormatInt(timeBase.UnixNano(), 10))
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := bufio.NewScanner(stdout)
		// Killed after a number of readings, not after a time: on a loaded
		// machine a fixed time may pass before the child accepted any. The
		// second round goes further than the first, past what was spooled.
		want := (round + 1) * 3000
		for n := 0; n < want && lines.Scan(); n++ {
			i, err := strconv.Atoi(lines.Text())
			if err != nil {
				t.Fatalf("child: %s", lines.Text())
			}
			confirmed = max(confirmed, i)
		}
		_ = cmd.Process.Signal(syscall.SIGKILL)
		for lines.Scan() {
			if i, err := strconv.Atoi(lines.Text()); err == nil {
				confirmed = max(confirmed, i)
			}
		}
		_ = cmd.Wait()
		t.Logf("round %d: killed after %d readings accepted", round, confirmed+1)
	}
	// The child restarts from reading 0 in round 2: the same readings, the
	// same points (InfluxDB keeps one per series and time).
	srv.Start()
	w := startWriter(t, testConfig(srv.URL, "estate/autogen", dir))
	w.waitDrained(t, 60*time.Second)
	checkExactlyOnce(t, srv.URL, "estate", upTo(confirmed+1))
}

func TestBadPointsDeadLetteredRestWritten(t *testing.T) {
	influxURL, bucket := testenv.InfluxDB(t)
	db := dbOf(bucket)
	// An earlier writer made meter.energy a string: float energies now conflict.
	resp, err := http.Post(influxURL+"/write?db="+db, "text/plain",
		strings.NewReader(fmt.Sprintf(`meter,device=legacy energy="n/a" %d`, timeBase.UnixNano())))
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("seed string field: %v %v", err, resp)
	}
	resp.Body.Close()
	dir := t.TempDir()
	cfg := testConfig(influxURL, bucket, dir)
	w := startWriter(t, cfg)
	const n = 300
	var good []int
	bad := 0
	for i := range n {
		r := reading(i)
		if i%100 == 7 {
			bad++ // a meter reading: its float energy conflicts
		} else {
			d := *r.Device
			d.Family = "power"
			r.Device = &d
			good = append(good, i)
		}
		w.AddReading(r)
	}
	w.waitDrained(t, 60*time.Second)
	if got := testutil.ToFloat64(w.m.pointsDeadLettered); got != float64(bad) {
		t.Errorf("dead-lettered %v points, want %d", got, bad)
	}
	s := influxQL(t, influxURL, db, `SELECT count(energy) FROM power`)
	if len(s) != 1 || fmt.Sprint(s[0].Values[0][1]) != fmt.Sprint(len(good)) {
		t.Fatalf("power points stored: %+v, want %d", s, len(good))
	}
	f, err := os.Open(cfg.Spool.DeadLetterFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var entries []DeadLetterEntry
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e DeadLetterEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("dead-letter line %q: %v", sc.Text(), err)
		}
		entries = append(entries, e)
	}
	if len(entries) != bad {
		t.Fatalf("dead-letter file has %d entries, want %d", len(entries), bad)
	}
	for _, e := range entries {
		if e.Status != 400 || !strings.Contains(e.Error, "field type conflict") || !strings.HasPrefix(e.Line, "meter,") {
			t.Errorf("dead-letter entry %+v", e)
		}
	}
}

func TestSpoolFullKeepsNewest(t *testing.T) {
	srv := testenv.OwnInfluxDB(t) // down while the spool fills
	dir := t.TempDir()
	cfg := testConfig(srv.URL, "estate/autogen", dir)
	cfg.Spool.SegmentSizeMB, cfg.Spool.MaxSizeMB = 1, 2
	w := startWriter(t, cfg)
	const n = 40_000 // about 7 MB of points: more than three times the limit
	for i := range n {
		w.AddReading(reading(i))
	}
	st := w.spool.Stats()
	if st.Bytes > 2<<20 || st.Backlog >= n {
		t.Fatalf("spool %+v: want at most 2 MB and some points dropped", st)
	}
	if !strings.Contains(w.logs.String(), "spool full; dropped its oldest segment") {
		t.Fatal("the drop was not logged")
	}
	kept := int(st.Backlog)
	srv.Start()
	w.waitDrained(t, 60*time.Second)
	stored := storedReadings(t, srv.URL, "estate")
	for i := n - kept; i < n; i++ {
		if !stored[i] {
			t.Fatalf("reading %d of the newest %d is missing", i, kept)
		}
	}
	// Besides the newest, only batches that were already in flight (in
	// memory, retrying) when their segment was dropped may arrive.
	if extra := len(stored) - kept; extra > cfg.MaxInFlight*cfg.BatchSize {
		t.Fatalf("%d dropped readings stored; at most %d were in flight", extra, cfg.MaxInFlight*cfg.BatchSize)
	}
	// Read from the writer's registry: the spool counts where the writer was told to.
	if got := gathered(t, w.reg, "estate_spool_dropped_points_total", "full"); got < float64(n-kept-cfg.MaxInFlight*cfg.BatchSize) {
		t.Fatalf("drops counted %v, want about %d", got, n-kept)
	}
	t.Logf("%d readings, %d kept by the spool, %d stored", n, kept, len(stored))
}

// gathered reads a counter of a registry (one label value).
func gathered(t *testing.T, reg prometheus.Gatherer, name, label string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetValue() == label {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}
