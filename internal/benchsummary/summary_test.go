package benchsummary

import (
	"strings"
	"testing"
	"time"
)

const sample = `goos: linux
goarch: amd64
pkg: github.com/estatehq/estate/devices/dlt645
cpu: AMD EPYC
BenchmarkDecode-2                	 9755594	       118.3 ns/op	       0 B/op	       0 allocs/op
BenchmarkSweep60At2400-2         	       2	32073912480 ns/op	       98.40 %wire	        31.55 wire-s/sweep
--- BENCH: BenchmarkSweep60At2400-2
    bench_test.go:99: a log line 1 2
PASS
ok  	github.com/estatehq/estate/devices/dlt645	80.1s
pkg: github.com/estatehq/estate/internal/loadtest
BenchmarkCreateTicketsOverHTTP
BenchmarkCreateTicketsOverHTTP/sqlite-2         	       1	5006389286 ns/op	       576.9 creations/s	        10.53 p50-ms	       408.4 p99-ms
pkg: github.com/estatehq/estate/gateway/outbox
BenchmarkAlarmToTicket-2   	     300	   4000000 ns/op	         3.10 p50-ms	        61.00 p99-ms
`

func TestParse(t *testing.T) {
	rs, err := Parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 4 {
		t.Fatalf("%d results: %+v", len(rs), rs)
	}
	if rs[1].Pkg != "github.com/estatehq/estate/devices/dlt645" || rs[1].Name != "BenchmarkSweep60At2400" || rs[1].Metrics["%wire"] != 98.4 {
		t.Errorf("sweep: %+v", rs[1])
	}
	if rs[2].Name != "BenchmarkCreateTicketsOverHTTP/sqlite" || rs[2].Metrics["creations/s"] != 576.9 {
		t.Errorf("sub-benchmark: %+v", rs[2])
	}
	if _, err := Parse(strings.NewReader("BenchmarkX-2 1 12x ns/op\n")); err == nil {
		t.Error("a value that is not a number must be an error")
	}
}

func TestJudge(t *testing.T) {
	rs, _ := Parse(strings.NewReader(sample))
	for _, c := range []struct {
		target        Target
		measured, met string
	}{
		{Target{Figure: "bus", Pkg: "/devices/dlt645", Bench: "BenchmarkSweep60At2400", Metric: "%wire", AtLeast: true, Bound: 90}, "98.40 %wire", "yes"},
		{Target{Figure: "http", Pkg: "/internal/loadtest", Bench: "BenchmarkCreateTicketsOverHTTP/sqlite", Metric: "creations/s", AtLeast: true, Bound: 5000}, "577 creations/s", "**no**"},
		{Target{Figure: "p99", Pkg: "/gateway/outbox", Bench: "BenchmarkAlarmToTicket", Metric: "p99-ms", Bound: 50}, "61 p99-ms", "**no**"},
		{Target{Figure: "p50", Pkg: "/gateway/outbox", Bench: "BenchmarkAlarmToTicket", Metric: "p50-ms", Bound: 50}, "3.10 p50-ms", "yes"},
		// Same name in another package is not the figure.
		{Target{Figure: "cjt", Pkg: "/devices/cjt188", Bench: "BenchmarkSweep60At2400", Metric: "%wire", AtLeast: true, Bound: 90}, "not run", "—"},
		{Target{Figure: "metric", Pkg: "/devices/dlt645", Bench: "BenchmarkDecode", Metric: "msgs/s", AtLeast: true, Bound: 1}, "no msgs/s reported", "—"},
	} {
		row := Judge([]Target{c.target}, rs)[0]
		if row.Measured != c.measured || row.Met != c.met {
			t.Errorf("%s: measured %q met %q, want %q %q", c.target.Figure, row.Measured, row.Met, c.measured, c.met)
		}
	}
}

func TestEveryTargetNamesABenchmark(t *testing.T) {
	for _, tg := range Targets {
		if tg.Figure == "" || tg.Pkg == "" || !strings.HasPrefix(tg.Bench, "Benchmark") || tg.Metric == "" {
			t.Errorf("incomplete target %+v", tg)
		}
	}
}

func TestTelegrafRows(t *testing.T) {
	if rows := TelegrafRows(nil); len(rows) != 1 || rows[0].Measured != "not run" {
		t.Errorf("no report: %+v", rows)
	}
	r := &TelegrafReport{At: time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC), Endpoints: 40, Units: 25, Runs: []TelegrafRun{
		{Poller: "telegraf", Points: 40, CPUPerM: 3.0, Requests: 70000}, {Poller: "estate", Points: 40, CPUPerM: 2.0, PeakRSSMB: 50, Requests: 70500},
		{Poller: "telegraf", Points: 40, CPUPerM: 3.0, Requests: 70000}, {Poller: "estate", Points: 40, CPUPerM: 1.4, PeakRSSMB: 52, Requests: 69000},
		{Poller: "telegraf", Points: 100, CPUPerM: 4.0, Requests: 134000}, {Poller: "estate", Points: 100, CPUPerM: 1.6, PeakRSSMB: 160, Requests: 136000},
	}}
	rows := TelegrafRows(r)
	if len(rows) != 6 {
		t.Fatalf("%d rows: %+v", len(rows), rows)
	}
	want := []struct{ measured, met string }{
		{"0.67×, 0.47×", "**no**"}, // the worst pair counts
		{"52 MB", "yes"},
		{"70500 vs 70000, 69000 vs 70000", "yes"}, // within one poll of the fleet (1,000 requests)
		{"0.40×", "yes"},
		{"160 MB", "**no**"},
		{"136000 vs 134000", "**no**"},
	}
	for i, w := range want {
		if rows[i].Measured != w.measured || rows[i].Met != w.met {
			t.Errorf("row %d %q: %q %q, want %q %q", i, rows[i].Figure, rows[i].Measured, rows[i].Met, w.measured, w.met)
		}
	}
	if !strings.Contains(rows[0].Figure, "1000 devices × 40 points") || !strings.Contains(rows[0].Figure, "2026-12-03") {
		t.Errorf("figure names the shape and the day: %q", rows[0].Figure)
	}
}

func TestPrint(t *testing.T) {
	var b strings.Builder
	Print(&b, []Row{{"a", "≤ 1", "2", "**no**"}})
	if !strings.Contains(b.String(), "| figure (DESIGN §7) | target | measured | met |\n| --- | --- | --- | --- |\n") {
		t.Errorf("%s", b.String())
	}
}
