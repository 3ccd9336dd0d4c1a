package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
)

// Reader reads records in sequence order from a starting seq. It reads only
// what Append has completed, so it can follow the spool as it grows. A reader
// is used by one goroutine.
type Reader struct {
	s    *Spool
	next uint64 // seq of the next record to return

	f       *os.File
	segBase uint64
	segLast uint64 // last seq of the segment as last seen
	size    int64  // bytes of the segment known to be complete
	active  bool   // the segment is still being appended to
	off     int64  // file offset of the next record
	buf     []byte
	bufOff  int64 // file offset of buf[0]
}

// NewReader returns a reader positioned at seq from (or at the oldest record
// still in the spool, if from was dropped).
func (s *Spool) NewReader(from uint64) *Reader {
	return &Reader{s: s, next: from, buf: make([]byte, 0, 64<<10)}
}

// Pos is the seq the next call to Next will look for.
func (r *Reader) Pos() uint64 { return r.next }

// Seek repositions the reader at seq.
func (r *Reader) Seek(seq uint64) {
	if seq == r.next {
		return
	}
	if seq < r.next {
		r.closeFile() // records are found by scanning forward from a segment's start
	}
	r.next = seq
}

// Next returns the next record; ok is false when the reader has caught up with
// the appenders. rec.Data is valid until the following call. A corrupt record
// (the disk changed under the spool) is reported once as an error and the rest
// of its segment is skipped.
func (r *Reader) Next() (rec Record, ok bool, err error) {
	for {
		if r.f == nil {
			found, err := r.openSegment()
			if err != nil || !found {
				return Record{}, false, err
			}
		}
		if r.off >= r.size {
			// Out of known bytes: the segment may have grown, ended or gone.
			r.size, r.active = r.segmentState()
			if r.off >= r.size {
				if r.active {
					return Record{}, false, nil
				}
				r.closeFile()
				r.next = max(r.next, r.segLast+1)
				continue
			}
		}
		rec, n, derr := r.decodeAt()
		if derr != nil {
			bad := fmt.Errorf("spool: segment %020d at byte %d: %w", r.segBase, r.off, derr)
			r.s.log.Error("spool record unreadable; skipping the rest of its segment", "err", bad)
			r.s.opts.Metrics.dropped.WithLabelValues("corrupt").Inc()
			r.closeFile()
			r.next = max(r.next, r.segLast+1)
			return Record{}, false, bad
		}
		r.off += int64(n)
		if rec.Seq < r.next {
			continue // before the position asked for
		}
		r.next = rec.Seq + 1
		return rec, true, nil
	}
}

// decodeAt decodes the record at r.off, reading the file as needed.
func (r *Reader) decodeAt() (Record, int, error) {
	if err := r.ensure(recordHeaderLen); err != nil {
		return Record{}, 0, err
	}
	l := int64(binary.LittleEndian.Uint32(r.buf[r.off-r.bufOff:]))
	if l > MaxRecordLen {
		return Record{}, 0, errLength
	}
	if err := r.ensure(recordHeaderLen + l); err != nil {
		return Record{}, 0, err
	}
	return decodeRecord(r.buf[r.off-r.bufOff:])
}

// ensure makes bytes [r.off, r.off+n) of the segment available in buf.
func (r *Reader) ensure(n int64) error {
	if r.off+n > r.size {
		return errShort
	}
	if r.off >= r.bufOff && r.off+n <= r.bufOff+int64(len(r.buf)) {
		return nil
	}
	want := min(max(n, 64<<10), r.size-r.off)
	if int64(cap(r.buf)) < want {
		r.buf = make([]byte, want)
	}
	r.buf = r.buf[:want]
	got, err := r.f.ReadAt(r.buf, r.off)
	r.buf, r.bufOff = r.buf[:got], r.off
	if int64(got) < n {
		if err == nil || errors.Is(err, io.EOF) {
			return errShort
		}
		return fmt.Errorf("read: %w", err)
	}
	return nil
}

// openSegment opens the segment holding r.next, or the first after it.
func (r *Reader) openSegment() (bool, error) {
	s := r.s
	s.mu.Lock()
	i := sort.Search(len(s.segs), func(i int) bool { return s.segs[i].last >= r.next || s.segs[i].base > r.next })
	if i == len(s.segs) {
		s.mu.Unlock()
		return false, nil
	}
	g := *s.segs[i] // a copy: the fields change under s.mu
	s.mu.Unlock()
	f, err := os.Open(g.path)
	if errors.Is(err, os.ErrNotExist) {
		// Dropped or removed since we looked: look again from its end.
		r.next = max(r.next, g.last+1)
		return r.openSegment()
	}
	if err != nil {
		return false, fmt.Errorf("spool: open segment: %w", err)
	}
	r.f, r.segBase, r.segLast, r.off = f, g.base, g.last, int64(segmentHeaderLen)
	r.size, r.active = 0, true // learnt on the first Next
	r.buf, r.bufOff = r.buf[:0], r.off
	r.next = max(r.next, g.base)
	return true, nil
}

// segmentState reports the reader's segment's complete size and whether it
// is still being appended to. A removed segment (sent, or dropped while full)
// is read to the end of what its open file holds.
func (r *Reader) segmentState() (size int64, active bool) {
	s := r.s
	s.mu.Lock()
	i := sort.Search(len(s.segs), func(i int) bool { return s.segs[i].base >= r.segBase })
	if i < len(s.segs) && s.segs[i].base == r.segBase {
		g := s.segs[i]
		size, active, r.segLast = g.size, i == len(s.segs)-1 && !s.closed, g.last
		s.mu.Unlock()
		return size, active
	}
	s.mu.Unlock()
	st, err := r.f.Stat()
	if err != nil {
		return 0, false
	}
	return st.Size(), false
}

func (r *Reader) closeFile() {
	if r.f != nil {
		r.f.Close()
		r.f = nil
	}
	r.buf, r.bufOff = r.buf[:0], 0
}

// Close releases the reader's file.
func (r *Reader) Close() { r.closeFile() }
