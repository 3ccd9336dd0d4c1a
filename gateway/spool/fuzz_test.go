package spool

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// FuzzRecoverSegment writes arbitrary bytes as a segment file (as a power loss
// might leave it) and opens the spool: start-up must succeed, every record it
// then returns must be intact and in sequence, and appending must go on.
func FuzzRecoverSegment(f *testing.F) {
	var good []byte
	good = append(good, segmentMagic...)
	for i := uint64(1); i <= 5; i++ {
		good = appendRecord(good, i, int64(i), payload(i))
	}
	f.Add(good)
	f.Add(good[:len(good)-3])
	f.Add(good[:segmentHeaderLen+10])
	f.Add(append(bytes.Clone(good), make([]byte, 64)...))
	f.Add([]byte(segmentMagic))
	f.Add([]byte("ESPOOL"))
	f.Add([]byte{})
	flipped := bytes.Clone(good)
	flipped[segmentHeaderLen+30] ^= 1
	f.Add(flipped)
	wrongSeq := append([]byte(segmentMagic), appendRecord(nil, 7, 1, []byte("x"))...)
	f.Add(wrongSeq)

	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%020d.seg", 1)), data, 0o600); err != nil {
			t.Fatal(err)
		}
		opts := Options{SegmentBytes: 1 << 20, MaxBytes: 4 << 20, Sync: SyncNever}
		s, err := Open(dir, opts, quiet())
		if err != nil {
			t.Fatalf("open must survive any segment content: %v", err)
		}
		recovered := readSeqs(t, s)
		for i, seq := range recovered {
			if seq != uint64(i+1) {
				t.Fatalf("recovered seq %d at position %d", seq, i)
			}
		}
		next := uint64(len(recovered)) + 1
		if s.NextSeq() != next {
			t.Fatalf("next seq %d after recovering %d records", s.NextSeq(), len(recovered))
		}
		if _, err := s.Append(Entry{Time: 9, Data: []byte("after")}); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		// A second recovery finds exactly the same records plus the new one.
		s, err = Open(dir, opts, quiet())
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		again := readSeqs(t, s)
		if len(again) != len(recovered)+1 || again[len(again)-1] != next {
			t.Fatalf("reopen found %v, first recovery %v", again, recovered)
		}
	})
}

func readSeqs(t *testing.T, s *Spool) []uint64 {
	t.Helper()
	r := s.NewReader(1)
	defer r.Close()
	var seqs []uint64
	for {
		rec, ok, err := r.Next()
		if err != nil {
			t.Fatalf("read after recovery: %v", err)
		}
		if !ok {
			return seqs
		}
		seqs = append(seqs, rec.Seq)
	}
}
