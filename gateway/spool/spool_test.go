package spool

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// logTo returns a logger writing into buf (guarded for concurrent use).
func logTo(buf *lockedBuffer) *slog.Logger { return slog.New(slog.NewTextHandler(buf, nil)) }

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func open(t testing.TB, dir string, opts Options) *Spool {
	t.Helper()
	s, err := Open(dir, opts, quiet())
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return s
}

func payload(i uint64) []byte { return fmt.Appendf(nil, "meter,device=m%d energy=%d.5 %d", i%7, i, i) }

func appendN(t testing.TB, s *Spool, from, n uint64) {
	t.Helper()
	for i := from; i < from+n; i++ {
		if _, err := s.Append(Entry{Time: int64(i), Data: payload(i)}); err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
	}
}

// readAll reads every record from seq from and checks each is the payload of its seq.
func readAll(t testing.TB, s *Spool, from uint64) []uint64 {
	t.Helper()
	r := s.NewReader(from)
	defer r.Close()
	var seqs []uint64
	for {
		rec, ok, err := r.Next()
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if !ok {
			return seqs
		}
		if !bytes.Equal(rec.Data, payload(rec.Seq)) || rec.Time != int64(rec.Seq) {
			t.Fatalf("record %d: data %q time %d", rec.Seq, rec.Data, rec.Time)
		}
		seqs = append(seqs, rec.Seq)
	}
}

func wantRange(t testing.TB, got []uint64, from, to uint64) {
	t.Helper()
	if uint64(len(got)) != to-from+1 {
		t.Fatalf("want seqs %d..%d (%d), got %d records (first %v)", from, to, to-from+1, len(got), got[:min(len(got), 3)])
	}
	for i, seq := range got {
		if seq != from+uint64(i) {
			t.Fatalf("record %d has seq %d, want %d", i, seq, from+uint64(i))
		}
	}
}

func smallSegments() Options {
	return Options{SegmentBytes: 4 << 10, MaxBytes: 1 << 20, Sync: SyncNever}
}

func TestAppendReadAcrossSegmentsAndReopen(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, smallSegments())
	appendN(t, s, 1, 500)
	if st := s.Stats(); st.Segments < 5 || st.Backlog != 500 || st.Oldest.UnixNano() != 1 {
		t.Fatalf("stats %+v: want several segments, 500 waiting, oldest at 1ns", st)
	}
	wantRange(t, readAll(t, s, 1), 1, 500)
	wantRange(t, readAll(t, s, 321), 321, 500)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(Entry{Data: []byte("x")}); err != ErrClosed {
		t.Fatalf("append after close: %v", err)
	}

	s = open(t, dir, smallSegments())
	defer s.Close()
	if s.NextSeq() != 501 {
		t.Fatalf("next seq after reopen %d, want 501", s.NextSeq())
	}
	appendN(t, s, 501, 10)
	wantRange(t, readAll(t, s, 1), 1, 510)
}

func TestReaderFollowsAppends(t *testing.T) {
	s := open(t, t.TempDir(), smallSegments())
	defer s.Close()
	r := s.NewReader(1)
	defer r.Close()
	for i := uint64(1); i <= 300; i++ {
		appendN(t, s, i, 1)
		rec, ok, err := r.Next()
		if err != nil || !ok || rec.Seq != i {
			t.Fatalf("after append %d: rec %d ok %v err %v", i, rec.Seq, ok, err)
		}
		if _, ok, _ := r.Next(); ok {
			t.Fatalf("reader ran ahead of the appenders at %d", i)
		}
	}
}

func TestAckPersistsAndRemovesSentSegments(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, smallSegments())
	appendN(t, s, 1, 400)
	before := s.Stats().Segments
	// Out of order: a later range first, then the gap.
	if err := s.Ack(201, 300); err != nil {
		t.Fatal(err)
	}
	if s.FirstUnacked(1) != 1 || !s.Acked(250) || s.Acked(301) {
		t.Fatal("out-of-order ack not recorded")
	}
	if err := s.Ack(1, 200); err != nil {
		t.Fatal(err)
	}
	if got := s.FirstUnacked(1); got != 301 {
		t.Fatalf("first unacked %d, want 301", got)
	}
	st := s.Stats()
	if st.Backlog != 100 || st.Segments >= before || st.Oldest.UnixNano() != 301 {
		t.Fatalf("stats after ack %+v (segments before %d)", st, before)
	}
	s.Close()

	s = open(t, dir, smallSegments())
	defer s.Close()
	from := s.FirstUnacked(1)
	if from != 301 {
		t.Fatalf("cursor after reopen %d, want 301", from)
	}
	wantRange(t, readAll(t, s, from), 301, 400)
}

func TestTornTailIsTruncatedAndReported(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(b []byte) []byte
		keep   uint64 // records that must survive
	}{
		{"cut inside last record", func(b []byte) []byte { return b[:len(b)-5] }, 99},
		{"cut inside last header", func(b []byte) []byte { return b[:len(b)-len(payload(100))-recordHeaderLen+3] }, 99},
		{"garbage appended", func(b []byte) []byte {
			return append(b, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21)
		}, 100},
		{"zeros appended (block preallocated)", func(b []byte) []byte { return append(b, make([]byte, 4096)...) }, 100},
		{"bit flipped in record 51", func(b []byte) []byte {
			off := segmentHeaderLen
			for i := 1; i < 51; i++ {
				_, n, _ := decodeRecord(b[off:])
				off += n
			}
			b[off+recordHeaderLen+2] ^= 0x10
			return b
		}, 50},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			opts := Options{SegmentBytes: 1 << 20, MaxBytes: 4 << 20, Sync: SyncNever}
			s := open(t, dir, opts)
			appendN(t, s, 1, 100)
			s.Close()
			path := filepath.Join(dir, fmt.Sprintf("%020d.seg", 1))
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, tc.damage(b), 0o600); err != nil {
				t.Fatal(err)
			}
			var logs lockedBuffer
			// Metrics of this open alone: other tests' spools count elsewhere.
			opts.Metrics = NewMetrics(prometheus.NewRegistry())
			s, err = Open(dir, opts, logTo(&logs))
			if err != nil {
				t.Fatalf("a torn segment must not block start-up: %v", err)
			}
			defer s.Close()
			wantRange(t, readAll(t, s, 1), 1, tc.keep)
			if got := testutil.ToFloat64(opts.Metrics.truncations); got != 1 {
				t.Errorf("truncations counted %v, want 1", got)
			}
			if !bytes.Contains([]byte(logs.String()), []byte("truncated to its last good record")) {
				t.Errorf("truncation not logged: %s", logs.String())
			}
			// Appending continues with the next seq and everything reads back.
			appendN(t, s, tc.keep+1, 10)
			wantRange(t, readAll(t, s, 1), 1, tc.keep+10)
		})
	}
}

func TestSpoolFullDropsOldestSegmentLogsTimeRange(t *testing.T) {
	var logs lockedBuffer
	reg := prometheus.NewRegistry()
	opts := Options{SegmentBytes: 4 << 10, MaxBytes: 16 << 10, Sync: SyncNever, Metrics: NewMetrics(reg)}
	s, err := Open(t.TempDir(), opts, logTo(&logs))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const n = 2000
	appendN(t, s, 1, n)
	st := s.Stats()
	if st.Bytes > opts.MaxBytes {
		t.Fatalf("spool holds %d bytes, over its %d limit", st.Bytes, opts.MaxBytes)
	}
	got := readAll(t, s, 1)
	if len(got) == 0 || got[len(got)-1] != n {
		t.Fatalf("the newest point must be kept; last read %v", got[len(got)-1:])
	}
	wantRange(t, got, got[0], n)
	lost := testutil.ToFloat64(opts.Metrics.dropped.WithLabelValues("full"))
	if lost != float64(got[0]-1) {
		t.Fatalf("dropped counter says %v, but the oldest kept is %d", lost, got[0])
	}
	// The injected registry is what serves them, under the documented name.
	want := fmt.Sprintf("# HELP estate_spool_dropped_points_total Unsent points the spool lost, by reason (full, corrupt).\n"+
		"# TYPE estate_spool_dropped_points_total counter\nestate_spool_dropped_points_total{reason=\"full\"} %d\n", got[0]-1)
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "estate_spool_dropped_points_total"); err != nil {
		t.Fatal(err)
	}
	if st.Backlog != uint64(len(got)) {
		t.Fatalf("backlog %d, want %d", st.Backlog, len(got))
	}
	out := logs.String()
	for _, want := range []string{"spool full", "points_lost=", "from=1970-01-01T00:00:00.000000001Z", "to="} {
		if !bytes.Contains([]byte(out), []byte(want)) {
			t.Fatalf("log lacks %q:\n%s", want, out)
		}
	}
}

func TestConcurrentAppendersWithFsync(t *testing.T) {
	s := open(t, t.TempDir(), Options{SegmentBytes: 64 << 10, MaxBytes: 64 << 20, Sync: SyncAlways})
	defer s.Close()
	const writers, each = 8, 50
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				d := fmt.Appendf(nil, "w%d-%d", w, i)
				if _, err := s.Append(Entry{Time: 1, Data: d}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	r := s.NewReader(1)
	defer r.Close()
	seen := map[string]bool{}
	for {
		rec, ok, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		seen[string(rec.Data)] = true
	}
	if len(seen) != writers*each {
		t.Fatalf("read %d distinct records, want %d", len(seen), writers*each)
	}
}

func TestSecondOpenOfSameFolderRefused(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, smallSegments())
	defer s.Close()
	if _, err := Open(dir, smallSegments(), quiet()); err == nil {
		t.Fatal("two processes (or two gateways) must not share one spool")
	}
}

func TestOptionsValidated(t *testing.T) {
	for _, o := range []Options{
		{SegmentBytes: 1 << 20, MaxBytes: 1 << 20},
		{Sync: "sometimes"},
	} {
		if _, err := Open(t.TempDir(), o, quiet()); err == nil {
			t.Errorf("options %+v accepted", o)
		}
	}
}

func TestAckSet(t *testing.T) {
	type op struct{ from, to uint64 }
	for _, tc := range []struct {
		name    string
		ops     []op
		through uint64
		ranges  [][2]uint64
	}{
		{"in order", []op{{1, 10}, {11, 20}}, 20, nil},
		{"gap then fill", []op{{11, 20}, {1, 10}}, 20, nil},
		{"two islands", []op{{5, 6}, {9, 9}}, 0, [][2]uint64{{5, 6}, {9, 9}}},
		{"adjacent islands merge", []op{{5, 6}, {8, 9}, {7, 7}}, 0, [][2]uint64{{5, 9}}},
		{"overlap", []op{{5, 10}, {8, 15}, {1, 3}}, 3, [][2]uint64{{5, 15}}},
		{"spanning several", []op{{3, 3}, {5, 5}, {7, 7}, {2, 8}}, 0, [][2]uint64{{2, 8}}},
		{"below cursor ignored", []op{{1, 10}, {3, 5}}, 10, nil},
		{"straddling cursor", []op{{1, 10}, {8, 12}}, 12, nil},
		{"island swallowed by cursor", []op{{4, 6}, {1, 5}}, 6, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var a ackSet
			for _, o := range tc.ops {
				a.add(o.from, o.to)
			}
			if a.Through != tc.through || fmt.Sprint(a.Ranges) != fmt.Sprint(tc.ranges) {
				t.Fatalf("got through %d ranges %v, want %d %v", a.Through, a.Ranges, tc.through, tc.ranges)
			}
			// has and count agree with a brute-force check.
			var n uint64
			for seq := uint64(1); seq <= 20; seq++ {
				want := seq <= tc.through
				for _, r := range tc.ranges {
					want = want || r[0] <= seq && seq <= r[1]
				}
				if a.has(seq) != want {
					t.Fatalf("has(%d) = %v", seq, !want)
				}
				if want {
					n++
				}
			}
			if got := a.count(1, 20); got != n {
				t.Fatalf("count %d, want %d", got, n)
			}
		})
	}
}

func TestDamagedCursorResendsRatherThanLoses(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, smallSegments())
	appendN(t, s, 1, 50)
	s.Ack(1, 20)
	s.Close()
	if err := os.WriteFile(filepath.Join(dir, cursorFile), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	s = open(t, dir, smallSegments())
	defer s.Close()
	if s.FirstUnacked(1) > 21 {
		t.Fatalf("damaged cursor skipped points: first unacked %d", s.FirstUnacked(1))
	}
	got := readAll(t, s, s.FirstUnacked(1))
	if got[len(got)-1] != 50 {
		t.Fatal("points lost after a damaged cursor")
	}
}

func TestSyncIntervalRuns(t *testing.T) {
	m := NewMetrics(prometheus.NewRegistry())
	s := open(t, t.TempDir(), Options{Sync: SyncInterval, SyncInterval: 10 * time.Millisecond, SegmentBytes: 1 << 20, MaxBytes: 4 << 20, Metrics: m})
	appendN(t, s, 1, 10)
	// Appends under the interval policy return without an fsync (ten records
	// roll no segment): only the interval's timer makes one here.
	waitFor(t, 5*time.Second, "an interval fsync", func() bool { return testutil.ToFloat64(m.fsyncs) > 0 })
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestInspectWhileOpen(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, smallSegments())
	defer s.Close()
	appendN(t, s, 1, 300)
	if err := s.Ack(1, 120); err != nil {
		t.Fatal(err)
	}
	if err := s.Ack(200, 210); err != nil {
		t.Fatal(err)
	}
	got, err := Inspect(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := s.Stats()
	if got.Backlog != 300-120-11 || got.Backlog != want.Backlog || got.Bytes != want.Bytes ||
		got.Segments != want.Segments || !got.Oldest.Equal(time.Unix(0, 121)) {
		t.Fatalf("inspect %+v, spool says %+v", got, want)
	}
}

// waitFor polls cond until it holds, failing the test after timeout: tests
// wait for what they assert, never for a fixed time.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
