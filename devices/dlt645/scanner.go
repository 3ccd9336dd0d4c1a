package dlt645

import (
	"bytes"
	"errors"
)

// Scanner finds frames in a byte stream that may hold line noise, wake-up
// bytes, echoes and broken frames: each broken frame is counted and the
// stream re-synchronised on the next start byte.
type Scanner struct {
	buf []byte
	// Discarded counts bytes skipped; Errors counts broken frames by error.
	Discarded int
	Errors    map[error]int
	// m, when set (a Bus's scanner), also counts into the metrics; a
	// simulator's scanner counts only in the fields above.
	m *metrics
}

// Write adds received bytes.
func (s *Scanner) Write(p []byte) { s.buf = append(s.buf, p...) }

// Reset drops everything buffered (a new transaction begins).
func (s *Scanner) Reset() { s.buf = s.buf[:0] }

// Next returns the next whole frame, or ok false when more bytes are needed.
func (s *Scanner) Next() (f Frame, ok bool) {
	for {
		i := bytes.IndexByte(s.buf, startByte)
		if i < 0 {
			s.discard(len(s.buf))
			return f, false
		}
		s.discard(i)
		f, n, err := Decode(s.buf)
		switch {
		case err == nil:
			s.buf = s.buf[n:]
			return f, true
		case errors.Is(err, ErrTruncated):
			return f, false
		default:
			s.countError(err)
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

func (s *Scanner) countError(err error) {
	if s.Errors == nil {
		s.Errors = map[error]int{}
	}
	s.Errors[err]++
	kind := "framing"
	switch {
	case errors.Is(err, ErrChecksum):
		kind = "checksum"
	case errors.Is(err, ErrLength):
		kind = "length"
	}
	if s.m != nil {
		s.m.frameErrors.WithLabelValues(kind).Inc()
	}
}
