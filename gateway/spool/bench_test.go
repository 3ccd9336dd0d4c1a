package spool

import (
	"fmt"
	"testing"
	"time"
)

// A typical spooled point: one meter reading of 8 fields in line protocol.
var benchPoint = []byte(`meter,building=3,device=meter-3-1201,model=sdm630,site=sunrise-garden,unit=3-1201 ` +
	`energy=123456.75,voltage=229.8,current=4.25,power=976.5,balance=87.5,overdraft=0,relay=1,frequency=50.01,quality="good" 1700000000123456789`)

// BenchmarkAppend measures points/s into the spool and bytes per point on disk
// for each fsync policy (always: one fsync per Append, shared by concurrent appenders).
func BenchmarkAppend(b *testing.B) {
	for _, sync := range []Sync{SyncNever, SyncInterval, SyncAlways} {
		for _, perCall := range []int{1, 100} {
			b.Run(fmt.Sprintf("fsync=%s/points_per_append=%d", sync, perCall), func(b *testing.B) {
				s, err := Open(b.TempDir(), Options{SegmentBytes: 16 << 20, MaxBytes: 256 << 20, Sync: sync, SyncInterval: time.Second}, quiet())
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				entries := make([]Entry, perCall)
				for i := range entries {
					entries[i] = Entry{Time: int64(i), Data: benchPoint}
				}
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					if _, err := s.Append(entries...); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				points := float64(b.N * perCall)
				b.ReportMetric(points/b.Elapsed().Seconds(), "points/s")
				// Over the size limit the oldest segments go: divide what is on
				// disk by what it holds.
				st := s.Stats()
				b.ReportMetric(float64(st.Bytes)/float64(st.Backlog), "disk_bytes/point")
			})
		}
	}
}

// BenchmarkRead measures how fast a backlog is read back from disk.
func BenchmarkRead(b *testing.B) {
	s, err := Open(b.TempDir(), Options{SegmentBytes: 16 << 20, MaxBytes: 1 << 30, Sync: SyncNever}, quiet())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const n = 100_000
	for i := range n {
		if _, err := s.Append(Entry{Time: int64(i), Data: benchPoint}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r := s.NewReader(1)
		for {
			_, ok, err := r.Next()
			if err != nil {
				b.Fatal(err)
			}
			if !ok {
				break
			}
		}
		r.Close()
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "points/s")
}
