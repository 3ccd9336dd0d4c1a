package spool

import (
	"fmt"
	"os"
	"time"
)

// Inspect reads a spool folder without opening it for writing (no lock, no
// repair), for `estate status` while the gateway runs. A segment being
// written or torn is read up to its last complete record.
func Inspect(dir string) (Stats, error) {
	var st Stats
	if _, err := os.Stat(dir); err != nil {
		return st, fmt.Errorf("spool: %w", err)
	}
	acked, err := loadCursor(dir)
	if err != nil {
		return st, err
	}
	segs, err := listSegments(dir)
	if err != nil {
		return st, err
	}
	oldestSeq := uint64(0)
	for i, g := range segs {
		info, err := os.Stat(g.path)
		if err != nil {
			continue // removed since the listing: sent
		}
		st.Bytes += info.Size()
		st.Segments++
		if i < len(segs)-1 {
			g.last = segs[i+1].base - 1
		} else {
			data, err := os.ReadFile(g.path)
			if err != nil {
				return st, fmt.Errorf("spool: %w", err)
			}
			if r := scanSegment(data, g.base); r.records > 0 {
				g.last = r.last
			}
		}
		if g.last < g.base {
			continue
		}
		st.Backlog += g.records() - acked.count(g.base, g.last)
		if oldestSeq == 0 {
			if f := acked.firstUnacked(g.base); f <= g.last {
				oldestSeq = f
				st.Oldest = timeOfSeq(g, f)
			}
		}
	}
	return st, nil
}

// timeOfSeq reads the time of record seq in segment g (zero if unreadable).
func timeOfSeq(g *segment, seq uint64) time.Time {
	data, err := os.ReadFile(g.path)
	if err != nil || len(data) < segmentHeaderLen {
		return time.Time{}
	}
	for off := segmentHeaderLen; off < len(data); {
		rec, n, err := decodeRecord(data[off:])
		if err != nil {
			return time.Time{}
		}
		if rec.Seq == seq {
			return time.Unix(0, rec.Time)
		}
		off += n
	}
	return time.Time{}
}
