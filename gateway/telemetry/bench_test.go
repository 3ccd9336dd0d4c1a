package telemetry

import (
	"fmt"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/estatehq/estate/devices"
	"github.com/estatehq/estate/internal/testenv"
)

// benchReading is a meter reading of 100 points, the fleet of the brief's
// performance targets (1,000 devices × 100 points).
func benchReading() devices.Reading {
	r := devices.Reading{Device: testDevices[0], Time: time.Unix(1700000000, 123456789)}
	for i := range 100 {
		r.Values = append(r.Values, devices.Value{Point: fmt.Sprintf("register_%03d", i), Value: 1234.5678 + float64(i)})
	}
	return r
}

// benchBase is recent: the deploy script's retention (30 days) refuses older points.
var benchBase = time.Now().Add(-2 * time.Hour)

// BenchmarkEncodeReading: allocations and time per reading in the encoder.
func BenchmarkEncodeReading(b *testing.B) {
	r := benchReading()
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendReading(buf[:0], r)
	}
	b.ReportMetric(float64(b.N*len(r.Values))/b.Elapsed().Seconds(), "fields/s")
	b.ReportMetric(float64(len(buf))/float64(len(r.Values)), "bytes/field")
}

// benchInflux is the tests' InfluxDB, or one of the benchmark's own when
// `make bench` runs without `make test`'s.
func benchInflux(b *testing.B) (string, string) {
	if os.Getenv("ESTATE_TEST_INFLUXDB_URL") != "" {
		return testenv.InfluxDB(b)
	}
	srv := testenv.OwnInfluxDB(b)
	srv.Start()
	return srv.URL, "estate/autogen"
}

// BenchmarkEndToEnd: readings of 100 fields accepted (spooled, fsync
// interval) and acknowledged by the local InfluxDB; reports fields/s.
func BenchmarkEndToEnd(b *testing.B) {
	influxURL, bucket := benchInflux(b)
	cfg := testConfig(influxURL, bucket, b.TempDir())
	cfg.BatchSize = 100 // readings of 100 fields: 10,000 fields per request
	w := startWriter(b, cfg)
	r := benchReading()
	start, cpu0 := time.Now(), cpuSeconds()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		r.Time = benchBase.Add(time.Duration(i) * time.Microsecond)
		w.AddReading(r)
		i++
	}
	w.waitDrained(b, 5*time.Minute)
	secs, cpu := time.Since(start).Seconds(), cpuSeconds()-cpu0
	b.ReportMetric(float64(b.N*len(r.Values))/secs, "fields/s")
	b.ReportMetric(float64(b.N)/secs, "readings/s")
	b.ReportMetric(cpu/float64(b.N*len(r.Values))*1e6, "cpu_s/Mfields")
}

// BenchmarkReplay: a 10-minute backlog of 100 readings/s (60,000 readings,
// 6 million fields) spooled while InfluxDB is unreachable, then replayed with
// no rate limit; reports the replay rate.
func BenchmarkReplay(b *testing.B) {
	influxURL, bucket := benchInflux(b)
	for b.Loop() {
		b.StopTimer()
		dir := b.TempDir()
		cfg := testConfig(influxURL, bucket, dir)
		cfg.BatchSize, cfg.ReplayRate = 100, 1_000_000_000
		cfg.Spool.MaxSizeMB = 512 // the whole backlog (about 150 MB) is kept
		down := cfg
		down.URL = "http://127.0.0.1:1" // nothing listens: the outage
		w := startWriter(b, down)
		r := benchReading()
		const readings = 10 * 60 * 100
		for i := range readings {
			r.Time = benchBase.Add(time.Duration(i) * time.Microsecond)
			w.AddReading(r)
		}
		w.stop(b)
		b.StartTimer()
		start, cpu0 := time.Now(), cpuSeconds()
		w = startWriter(b, cfg)
		w.waitDrained(b, 10*time.Minute)
		secs, cpu := time.Since(start).Seconds(), cpuSeconds()-cpu0
		b.StopTimer()
		w.stop(b)
		b.ReportMetric(readings/secs, "readings/s")
		b.ReportMetric(readings*100/secs, "fields/s")
		b.ReportMetric(cpu/(readings*100)*1e6, "cpu_s/Mfields")
		b.StartTimer()
	}
}

// cpuSeconds is the CPU time (user + system) this process has used: the
// gateway's own cost, InfluxDB being another process.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
