package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// On disk a segment is a fixed header followed by records:
//
//	segment header: "ESPOOL" 0x00 0x01                      (8 bytes)
//	record:         length  uint32 LE  (of the data)
//	                crc     uint32 LE  (CRC-32C of seq, time and data)
//	                seq     uint64 LE  (sequence number, +1 per record)
//	                time    int64  LE  (the point's time, Unix ns)
//	                data    length bytes
//
// The checksum covers the sequence number so that a record copied into the
// wrong place (a torn write that reuses old blocks) does not pass as valid.
const (
	segmentMagic     = "ESPOOL\x00\x01"
	segmentHeaderLen = len(segmentMagic)
	recordHeaderLen  = 24
	// MaxRecordLen bounds one record's data; a larger length in a header is
	// garbage left by a torn write, not a record.
	MaxRecordLen = 1 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Record is one spooled point.
type Record struct {
	Seq  uint64
	Time int64 // Unix nanoseconds of the point
	Data []byte
}

var (
	errShort    = errors.New("record cut short")
	errLength   = errors.New("record length out of range")
	errChecksum = errors.New("record checksum mismatch")
)

// appendRecord encodes one record onto b.
func appendRecord(b []byte, seq uint64, t int64, data []byte) []byte {
	start := len(b)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(data)))
	b = binary.LittleEndian.AppendUint32(b, 0) // checksum, filled below
	b = binary.LittleEndian.AppendUint64(b, seq)
	b = binary.LittleEndian.AppendUint64(b, uint64(t))
	b = append(b, data...)
	sum := crc32.Checksum(b[start+8:], castagnoli)
	binary.LittleEndian.PutUint32(b[start+4:], sum)
	return b
}

// decodeRecord reads the record at the start of b. It returns the record (its
// Data aliases b) and the bytes it occupies, or errShort when b ends inside it.
func decodeRecord(b []byte) (Record, int, error) {
	if len(b) < recordHeaderLen {
		return Record{}, 0, errShort
	}
	n := binary.LittleEndian.Uint32(b)
	if n > MaxRecordLen {
		return Record{}, 0, fmt.Errorf("%w: %d bytes", errLength, n)
	}
	total := recordHeaderLen + int(n)
	if len(b) < total {
		return Record{}, 0, errShort
	}
	want := binary.LittleEndian.Uint32(b[4:])
	if got := crc32.Checksum(b[8:total], castagnoli); got != want {
		return Record{}, 0, errChecksum
	}
	return Record{
		Seq:  binary.LittleEndian.Uint64(b[8:]),
		Time: int64(binary.LittleEndian.Uint64(b[16:])),
		Data: b[recordHeaderLen:total],
	}, total, nil
}

// scanResult is what a pass over a segment's bytes found.
type scanResult struct {
	records int
	first   uint64 // seq of the first record (0 when none)
	last    uint64 // seq of the last good record
	minTime int64
	maxTime int64
	good    int64 // bytes up to the end of the last good record
	problem error // why the scan stopped before the end, nil at a clean end
}

// scanSegment checks a segment's bytes: the header, then records whose
// checksums hold and whose sequence numbers follow each other, starting at
// base. It stops at the first bad record; everything after it is suspect.
func scanSegment(b []byte, base uint64) scanResult {
	var r scanResult
	if len(b) < segmentHeaderLen {
		r.problem = fmt.Errorf("segment header cut short (%d bytes)", len(b))
		return r
	}
	if string(b[:segmentHeaderLen]) != segmentMagic {
		r.problem = errors.New("not a spool segment (bad header)")
		return r
	}
	off := segmentHeaderLen
	r.good = int64(off)
	want := base
	for off < len(b) {
		rec, n, err := decodeRecord(b[off:])
		if err != nil {
			r.problem = fmt.Errorf("at byte %d: %w", off, err)
			return r
		}
		if rec.Seq != want {
			r.problem = fmt.Errorf("at byte %d: sequence %d where %d was due", off, rec.Seq, want)
			return r
		}
		if r.records == 0 {
			r.first, r.minTime, r.maxTime = rec.Seq, rec.Time, rec.Time
		}
		r.minTime, r.maxTime = min(r.minTime, rec.Time), max(r.maxTime, rec.Time)
		r.last = rec.Seq
		r.records++
		want++
		off += n
		r.good = int64(off)
	}
	return r
}
