// Package firepanel receives fire alarm panels: GB/T 26875.3-2011 frames from
// a user-information transmission device (over serial or TCP, the gateway
// acting as the receiving centre and sending the confirm each frame expects),
// and the text lines panels print on their CRT/printer port, parsed with
// regular-expression templates from configuration.
package firepanel

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Frame delimiters and sizes of GB/T 26875.3-2011.
const (
	startChar = 0x40 // '@'
	endChar   = 0x23 // '#'
	// headerLen is start(2) serial(2) version(2) time(6) src(6) dst(6) length(2) command(1).
	headerLen = 27
	// MaxDataLen is the largest application data unit the standard allows.
	MaxDataLen = 1024
)

// Commands (命令字节).
const (
	CmdControl  = 1 // 控制命令
	CmdSendData = 2 // 发送数据
	CmdConfirm  = 3 // 确认
	CmdRequest  = 4 // 请求
	CmdResponse = 5 // 应答
	CmdDeny     = 6 // 否认
)

// Frame is one GB/T 26875.3 frame.
type Frame struct {
	Serial  uint16 // 业务流水号
	Version [2]byte
	// Time is the time tag (时间标签, seconds) read in the site's time zone;
	// zero when the tag is not a date (TimeErr says why).
	Time time.Time
	// TimeTag is the tag as it came (秒 分 时 日 月 年). A frame whose clock was
	// never set carries 00 00 00 00 00 00: it decodes, with TimeErr set, and is
	// used with its time of receipt.
	TimeTag [6]byte
	TimeErr error
	Source  [6]byte
	Dest    [6]byte
	Command byte
	Data    []byte // 应用数据单元
}

// Codec errors; the receiver counts each and re-synchronises on the next "@@".
var (
	ErrTruncated = errors.New("gbt26875: truncated frame")
	ErrChecksum  = errors.New("gbt26875: bad checksum")
	ErrFraming   = errors.New("gbt26875: bad frame delimiters")
	ErrLength    = errors.New("gbt26875: application data over 1024 bytes")
	ErrTime      = errors.New("gbt26875: bad time tag")
)

// AppendEncode appends the wire form of f.
func AppendEncode(dst []byte, f Frame) ([]byte, error) {
	if len(f.Data) > MaxDataLen {
		return dst, ErrLength
	}
	dst = append(dst, startChar, startChar)
	start := len(dst)
	dst = binary.LittleEndian.AppendUint16(dst, f.Serial)
	dst = append(dst, f.Version[:]...)
	dst = appendTime(dst, f.Time, f.TimeTag)
	dst = append(dst, f.Source[:]...)
	dst = append(dst, f.Dest[:]...)
	dst = binary.LittleEndian.AppendUint16(dst, uint16(len(f.Data)))
	dst = append(dst, f.Command)
	dst = append(dst, f.Data...)
	var sum byte
	for _, b := range dst[start:] {
		sum += b
	}
	return append(dst, sum, endChar, endChar), nil
}

// appendTime writes a time tag: second, minute, hour, day, month, year-2000
// (binary, not BCD). A zero time writes raw, the tag as it came (all zeros
// for a frame built without a time: a clock that was never set).
func appendTime(dst []byte, t time.Time, raw [6]byte) []byte {
	if t.IsZero() {
		return append(dst, raw[:]...)
	}
	return append(dst, byte(t.Second()), byte(t.Minute()), byte(t.Hour()), byte(t.Day()), byte(t.Month()), byte(t.Year()-2000))
}

// parseTime reads a time tag; the device's clock is taken as local time of
// loc. A tag that is no date (all zeros, hour 25, 30 February) is ErrTime.
func parseTime(b []byte, loc *time.Location) (time.Time, error) {
	s, mi, h, d, mo, y := int(b[0]), int(b[1]), int(b[2]), int(b[3]), int(b[4]), int(b[5])
	if s > 59 || mi > 59 || h > 23 || d < 1 || d > 31 || mo < 1 || mo > 12 || y > 99 {
		return time.Time{}, fmt.Errorf("%w: % X", ErrTime, b)
	}
	t := time.Date(2000+y, time.Month(mo), d, h, mi, s, 0, loc)
	if t.Day() != d { // 31 April, 30 February: time.Date would roll it over
		return time.Time{}, fmt.Errorf("%w: % X (day %d of month %d)", ErrTime, b, d, mo)
	}
	return t, nil
}

// Decode reads one frame from the start of buf. With ErrTruncated nothing is
// used; wait for more bytes. The frame's Data is a new slice.
func Decode(buf []byte, loc *time.Location) (Frame, int, error) {
	var f Frame
	if len(buf) < 2 {
		return f, 0, ErrTruncated
	}
	if buf[0] != startChar || buf[1] != startChar {
		return f, 0, ErrFraming
	}
	if len(buf) < headerLen {
		return f, 0, ErrTruncated
	}
	l := int(binary.LittleEndian.Uint16(buf[24:26]))
	if l > MaxDataLen {
		return f, 0, ErrLength
	}
	total := headerLen + l + 3
	if len(buf) < total {
		return f, 0, ErrTruncated
	}
	if buf[total-2] != endChar || buf[total-1] != endChar {
		return f, 0, ErrFraming
	}
	var sum byte
	for _, b := range buf[2 : total-3] {
		sum += b
	}
	if sum != buf[total-3] {
		return f, 0, ErrChecksum
	}
	f.Serial = binary.LittleEndian.Uint16(buf[2:4])
	copy(f.Version[:], buf[4:6])
	copy(f.TimeTag[:], buf[6:12])
	// A tag that is no date does not make the frame unusable: its records
	// are kept, with their time of receipt (the receiver notes the problem).
	f.Time, f.TimeErr = parseTime(buf[6:12], loc)
	copy(f.Source[:], buf[12:18])
	copy(f.Dest[:], buf[18:24])
	f.Command = buf[26]
	f.Data = bytes.Clone(buf[headerLen : headerLen+l])
	if f.Data == nil {
		f.Data = []byte{}
	}
	return f, total, nil
}

// Confirm is the frame the receiving centre sends back for a frame that
// needs it: same serial number, addresses swapped, command 3, no data.
func Confirm(f Frame, now time.Time) Frame { return Reply(f, CmdConfirm, now, nil) }

// Deny is the 否认 (command 6) of a frame that arrived whole (its checksum
// right) but cannot be used as sent.
func Deny(f Frame, now time.Time) Frame { return Reply(f, CmdDeny, now, nil) }

// Reply answers f with cmd (确认 3, 应答 5, 否认 6): the same serial number
// and protocol version, the addresses swapped, the centre's time.
func Reply(f Frame, cmd byte, now time.Time, data []byte) Frame {
	return Frame{Serial: f.Serial, Version: f.Version, Time: now, Source: f.Dest, Dest: f.Source, Command: cmd, Data: data}
}

// TimeSync is the control command (命令 1) that sets a transmission
// device's clock: an application data unit of type 90 (同步用户信息传输装置时钟)
// with one object, the centre's time (秒 分 时 日 月 年, 6 bytes).
func TimeSync(serial uint16, version [2]byte, centre, device [6]byte, now time.Time) Frame {
	data := append([]byte{TypeTimeSync, 1}, appendTime(nil, now, [6]byte{})...)
	return Frame{Serial: serial, Version: version, Time: now, Source: centre, Dest: device, Command: CmdControl, Data: data}
}

// CommandName is a command byte's name in the standard's words.
func CommandName(c byte) string {
	switch c {
	case CmdControl:
		return "控制命令 control"
	case CmdSendData:
		return "发送数据 send data"
	case CmdConfirm:
		return "确认 confirm"
	case CmdRequest:
		return "请求 request"
	case CmdResponse:
		return "应答 response"
	case CmdDeny:
		return "否认 deny"
	}
	if c >= 128 {
		return fmt.Sprintf("user-defined command %d", c)
	}
	return fmt.Sprintf("reserved command %d", c)
}

// Scanner finds frames in a byte stream, re-synchronising on "@@" after noise
// or a broken frame, and counts what it skipped.
type Scanner struct {
	Loc       *time.Location
	buf       []byte
	Discarded int
	Errors    map[error]int
	// m, when set (a receiver's scanner), also counts into the metrics; a
	// simulator's scanner counts only in the fields above.
	m *metrics
	// log, when set, is told of each broken frame with its bytes.
	log *slog.Logger
}

// Write adds received bytes.
func (s *Scanner) Write(p []byte) { s.buf = append(s.buf, p...) }

// Next returns the next whole frame, or ok false when more bytes are needed.
func (s *Scanner) Next() (Frame, bool) {
	for {
		i := bytes.Index(s.buf, []byte{startChar, startChar})
		if i < 0 {
			keep := 0
			if n := len(s.buf); n > 0 && s.buf[n-1] == startChar {
				keep = 1 // may be the first half of the next "@@"
			}
			s.discard(len(s.buf) - keep)
			return Frame{}, false
		}
		s.discard(i)
		loc := s.Loc
		if loc == nil {
			loc = time.Local
		}
		f, n, err := Decode(s.buf, loc)
		switch {
		case err == nil:
			s.buf = s.buf[n:]
			return f, true
		case errors.Is(err, ErrTruncated):
			return Frame{}, false
		default:
			if s.Errors == nil {
				s.Errors = map[error]int{}
			}
			key := err
			if u := errors.Unwrap(err); u != nil {
				key = u
			}
			s.Errors[key]++
			if s.m != nil {
				s.m.countFrameError(key)
			}
			// Not answered: a frame that fails its checksum (or its framing)
			// cannot be trusted for the serial number and the addresses an
			// answer would repeat (a deny could name a frame the device
			// never sent, or another device); the device resends it when no
			// confirm comes (GB/T 26875.3 6.5, 重发机制).
			if s.log != nil && key == ErrChecksum {
				total := headerLen + int(binary.LittleEndian.Uint16(s.buf[24:26])) + 3
				s.log.Warn("frame with a bad checksum skipped without an answer; the device resends it",
					"bytes", fmt.Sprintf("% X", s.buf[:total]))
			} else if s.log != nil {
				s.log.Debug("broken frame skipped", "err", err)
			}
			s.discard(1)
		}
	}
}

func (s *Scanner) discard(n int) {
	if n <= 0 {
		return
	}
	s.Discarded += n
	if s.m != nil {
		s.m.discardedBytes.WithLabelValues("gbt26875").Add(float64(n))
	}
	s.buf = append(s.buf[:0], s.buf[n:]...)
}
