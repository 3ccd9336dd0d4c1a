package cjt188

import (
	"bytes"
	"errors"
)

// Scanner finds frames in a byte stream that may hold line noise, wake-up
// bytes, echoes and broken frames (two meters answering at once): each
// broken frame is counted and the stream re-synchronised on the next start
// byte.
type Scanner struct {
	buf []byte
	// data receives the frames' data (reused: a frame's Data is valid until
	// the next call of Next on a scanner with Reuse set).
	data []byte
	// Reuse makes Next decode into one buffer instead of allocating.
	Reuse bool
	// Discarded counts bytes skipped; Broken counts broken frames.
	Discarded int
	Broken    int
	m         *metrics
}

// Write adds received bytes.
func (s *Scanner) Write(p []byte) { s.buf = append(s.buf, p...) }

// Reset drops everything buffered (a new transaction begins) and the counts
// of the last one.
func (s *Scanner) Reset() { s.buf, s.Discarded, s.Broken = s.buf[:0], 0, 0 }

// Pending is how many bytes wait for the rest of their frame.
func (s *Scanner) Pending() int { return len(s.buf) }

// Next returns the next whole frame, or ok false when more bytes are needed.
func (s *Scanner) Next() (f Frame, ok bool) {
	for {
		i := bytes.IndexByte(s.buf, startByte)
		if i < 0 {
			s.discard(len(s.buf))
			return f, false
		}
		s.discard(i)
		var data []byte
		if s.Reuse {
			if s.data == nil {
				s.data = make([]byte, MaxDataLen)
			}
			data = s.data
		}
		f, n, err := decodeInto(s.buf, data)
		switch {
		case err == nil:
			s.buf = s.buf[n:]
			return f, true
		case errors.Is(err, ErrTruncated):
			return f, false
		default:
			s.Broken++
			if s.m != nil {
				kind := "framing"
				if errors.Is(err, ErrChecksum) {
					kind = "checksum"
				}
				s.m.frameErrors.WithLabelValues(kind).Inc()
			}
			s.discard(1) // this 68 was not a frame's start: look for the next one
		}
	}
}

func (s *Scanner) discard(n int) {
	if n == 0 {
		return
	}
	garbage := 0
	for _, b := range s.buf[:n] {
		if b != wakeByte {
			garbage++
		}
	}
	s.Discarded += garbage
	if s.m != nil {
		s.m.discardedBytes.Add(float64(garbage))
	}
	s.buf = append(s.buf[:0], s.buf[n:]...)
}
