package spool

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// ackSet is which sequence numbers InfluxDB has acknowledged: every seq up to
// through, and the disjoint ranges above it that were acknowledged out of
// order (several writes in flight, live points sent ahead of a replayed backlog).
type ackSet struct {
	Through uint64      `json:"acked_through"`
	Ranges  [][2]uint64 `json:"ranges,omitempty"` // sorted, disjoint, each above Through+1
}

// add marks [from, to] acknowledged and reports whether anything changed.
func (a *ackSet) add(from, to uint64) bool {
	if to < from || to <= a.Through {
		return false
	}
	from = max(from, a.Through+1)
	i := sort.Search(len(a.Ranges), func(i int) bool { return a.Ranges[i][1]+1 >= from })
	j := i
	for j < len(a.Ranges) && a.Ranges[j][0] <= to+1 {
		from = min(from, a.Ranges[j][0])
		to = max(to, a.Ranges[j][1])
		j++
	}
	if j-i == 1 && a.Ranges[i] == [2]uint64{from, to} {
		return false
	}
	merged := append([][2]uint64{{from, to}}, a.Ranges[j:]...)
	a.Ranges = append(a.Ranges[:i], merged...)
	for len(a.Ranges) > 0 && a.Ranges[0][0] <= a.Through+1 {
		a.Through = max(a.Through, a.Ranges[0][1])
		a.Ranges = a.Ranges[1:]
	}
	return true
}

// has reports whether seq is acknowledged.
func (a *ackSet) has(seq uint64) bool {
	if seq <= a.Through {
		return true
	}
	i := sort.Search(len(a.Ranges), func(i int) bool { return a.Ranges[i][1] >= seq })
	return i < len(a.Ranges) && a.Ranges[i][0] <= seq
}

// count is how many seqs in [from, to] are acknowledged.
func (a *ackSet) count(from, to uint64) uint64 {
	if to < from {
		return 0
	}
	var n uint64
	if a.Through >= from {
		n += min(a.Through, to) - from + 1
	}
	for _, r := range a.Ranges {
		lo, hi := max(r[0], from), min(r[1], to)
		if lo <= hi {
			n += hi - lo + 1
		}
	}
	return n
}

// firstUnacked is the lowest seq at or after from that is not acknowledged.
func (a *ackSet) firstUnacked(from uint64) uint64 {
	seq := max(from, a.Through+1)
	for _, r := range a.Ranges {
		if r[0] > seq {
			break
		}
		if r[1] >= seq {
			seq = r[1] + 1
		}
	}
	return seq
}

const cursorFile = "cursor.json"

// loadCursor reads the acknowledged set; a missing file is an empty set. A
// damaged one is reported and treated as empty: the points are sent again
// (InfluxDB keeps one point per series and time, so nothing is doubled)
// rather than lost.
func loadCursor(dir string) (ackSet, error) {
	var a ackSet
	b, err := os.ReadFile(filepath.Join(dir, cursorFile))
	if errors.Is(err, os.ErrNotExist) {
		return a, nil
	}
	if err != nil {
		return a, fmt.Errorf("read cursor: %w", err)
	}
	if err := json.Unmarshal(b, &a); err != nil {
		return ackSet{}, fmt.Errorf("cursor %s is damaged (%v); resending from the oldest segment", filepath.Join(dir, cursorFile), err)
	}
	for i, r := range a.Ranges {
		if r[0] > r[1] || r[0] <= a.Through || (i > 0 && r[0] <= a.Ranges[i-1][1]) {
			return ackSet{}, fmt.Errorf("cursor %s has overlapping ranges; resending from the oldest segment", filepath.Join(dir, cursorFile))
		}
	}
	return a, nil
}

// saveCursor replaces the cursor file atomically: a crash leaves the old one
// or the new one, never a mix. With sync the file and its folder are fsynced
// so that the cursor survives power loss too.
func saveCursor(dir string, a *ackSet, sync bool) error {
	b, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("encode cursor: %w", err)
	}
	tmp := filepath.Join(dir, cursorFile+".tmp")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("write cursor: %w", err)
	}
	_, err = f.Write(b)
	if err == nil && sync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write cursor: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, cursorFile)); err != nil {
		return fmt.Errorf("write cursor: %w", err)
	}
	if sync {
		return syncDir(dir)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync folder: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync folder %s: %w", dir, err)
	}
	return nil
}
