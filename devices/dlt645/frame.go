// Package dlt645 reads household and feeder electricity meters that speak
// DL/T 645-2007 on RS-485: the frame codec, the table of data identifiers
// with their BCD formats, a bus that runs one transaction at a time on a
// serial port (devices/serial), the poll driver of each meter (the meters of
// one port share its line; the gateway's scheduler runs their polls one at a
// time per port), and a simulated bus of prepaid meters on a pseudo-terminal
// pair.
package dlt645

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Frame delimiters and limits of DL/T 645-2007.
const (
	startByte = 0x68
	endByte   = 0x16
	wakeByte  = 0xFE
	// MaxDataLen is the largest data field the standard allows (L ≤ 200 for a read reply).
	MaxDataLen = 200
	// headerLen is 68 A0..A5 68 C L; a frame is headerLen + L + CS + 16.
	headerLen = 10
	minFrame  = headerLen + 2
	// dataOffset is added to every data byte on the wire.
	dataOffset = 0x33
)

// Control codes (the function bits D4..D0 of C), as the master sends them.
const (
	FuncBroadcastTime = 0x08
	FuncRead          = 0x11
	FuncReadFollowUp  = 0x12
	FuncReadAddress   = 0x13
	FuncRelayControl  = 0x1C
)

// Bits of the control code.
const (
	ctrlReply    = 0x80 // D7: sent by the meter
	ctrlAbnormal = 0x40 // D6: the meter could not do it (error byte follows)
	ctrlFollowUp = 0x20 // D5: more frames follow (read them with 0x12)
	ctrlFuncMask = 0x1F
)

// Address is a meter's communication address: 12 BCD digits, stored as on the
// wire (A0, the two lowest digits, first). A byte 0xAA is a wildcard.
type Address [6]byte

var (
	// Broadcast is the address every meter obeys (only for broadcast time).
	Broadcast = Address{0x99, 0x99, 0x99, 0x99, 0x99, 0x99}
	// Wildcard is the all-AA address that a single meter on a line answers
	// (used with read address 0x13).
	Wildcard = Address{0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA}
)

// ParseAddress reads the 12-digit address as printed on the meter's nameplate
// (most significant digit first); "AA" pairs are wildcards. Shorter addresses
// are padded with leading zeros, as meters print them without.
func ParseAddress(s string) (Address, error) {
	var a Address
	s = strings.ReplaceAll(strings.TrimSpace(s), " ", "")
	if len(s) == 0 || len(s) > 12 {
		return a, fmt.Errorf("meter address %q: want up to 12 digits", s)
	}
	s = strings.Repeat("0", 12-len(s)) + s
	for i := range 6 {
		pair := s[10-2*i : 12-2*i]
		if strings.EqualFold(pair, "AA") {
			a[i] = 0xAA
			continue
		}
		if pair[0] < '0' || pair[0] > '9' || pair[1] < '0' || pair[1] > '9' {
			return a, fmt.Errorf("meter address %q: %q is neither two decimal digits nor the wildcard AA", s, pair)
		}
		a[i] = (pair[0]-'0')<<4 | (pair[1] - '0')
	}
	return a, nil
}

// String prints the address as on the nameplate, most significant digit first.
func (a Address) String() string {
	var b [12]byte
	for i := range 6 {
		hex.Encode(b[10-2*i:12-2*i], a[i:i+1])
	}
	return strings.ToUpper(string(b[:]))
}

// Matches tells whether a meter with address own must act on a frame sent to a:
// the same address, the broadcast address, or a match where a has wildcards.
func (a Address) Matches(own Address) bool {
	if a == Broadcast {
		return true
	}
	for i := range a {
		if a[i] != 0xAA && a[i] != own[i] {
			return false
		}
	}
	return true
}

// Frame is one DL/T 645-2007 frame with its data field already decoded (the
// 0x33 taken off each byte).
type Frame struct {
	Addr    Address
	Control byte
	Data    []byte
}

// Func is the function code (D4..D0) of the control byte.
func (f Frame) Func() byte { return f.Control & ctrlFuncMask }

// IsReply tells whether the meter sent the frame.
func (f Frame) IsReply() bool { return f.Control&ctrlReply != 0 }

// IsError tells whether the frame is an abnormal reply (0xD1, 0xD2 …).
func (f Frame) IsError() bool { return f.Control&ctrlAbnormal != 0 }

// HasFollowUp tells whether the meter has more frames for this read.
func (f Frame) HasFollowUp() bool { return f.Control&ctrlFollowUp != 0 }

// Errors of the codec. A frame that fails these is counted and skipped; the
// stream re-synchronises on the next start byte.
var (
	ErrTruncated = errors.New("dlt645: truncated frame")
	ErrChecksum  = errors.New("dlt645: bad checksum")
	ErrFraming   = errors.New("dlt645: bad frame delimiters")
	ErrLength    = errors.New("dlt645: data length over 200")
)

// AppendEncode appends the wire form of f to dst: the optional FE FE FE FE
// wake-up preamble, the frame with 0x33 added to each data byte, CS and 16.
func AppendEncode(dst []byte, f Frame, preamble bool) ([]byte, error) {
	if len(f.Data) > MaxDataLen {
		return dst, fmt.Errorf("%w: %d bytes", ErrLength, len(f.Data))
	}
	if preamble {
		dst = append(dst, wakeByte, wakeByte, wakeByte, wakeByte)
	}
	start := len(dst)
	dst = append(dst, startByte)
	dst = append(dst, f.Addr[:]...)
	dst = append(dst, startByte, f.Control, byte(len(f.Data)))
	for _, b := range f.Data {
		dst = append(dst, b+dataOffset)
	}
	dst = append(dst, checksum(dst[start:]), endByte)
	return dst, nil
}

func checksum(b []byte) byte {
	var s byte
	for _, c := range b {
		s += c
	}
	return s
}

// Decode reads one frame from the start of buf, which may begin with wake-up
// bytes. It returns the frame and how many bytes it used; with ErrTruncated
// nothing is used (wait for more bytes). Data of the returned frame is a new
// slice, not an alias of buf.
func Decode(buf []byte) (Frame, int, error) {
	return decodeInto(buf, nil)
}

func decodeInto(buf, data []byte) (Frame, int, error) {
	var f Frame
	skip := 0
	for skip < len(buf) && buf[skip] == wakeByte {
		skip++
	}
	b := buf[skip:]
	if len(b) < minFrame {
		if len(b) > 0 && b[0] != startByte {
			return f, 0, ErrFraming
		}
		return f, 0, ErrTruncated
	}
	if b[0] != startByte || b[7] != startByte {
		return f, 0, ErrFraming
	}
	l := int(b[9])
	if l > MaxDataLen {
		return f, 0, ErrLength
	}
	total := headerLen + l + 2
	if len(b) < total {
		return f, 0, ErrTruncated
	}
	if b[total-1] != endByte {
		return f, 0, ErrFraming
	}
	if checksum(b[:total-2]) != b[total-2] {
		return f, 0, ErrChecksum
	}
	copy(f.Addr[:], b[1:7])
	f.Control = b[8]
	if data == nil {
		data = make([]byte, l)
	}
	data = data[:l]
	for i := range l {
		data[i] = b[headerLen+i] - dataOffset
	}
	f.Data = data
	return f, skip + total, nil
}

// ErrorReply is the meter's answer that it could not do what was asked: the
// error byte (ERR) of an abnormal reply, one bit per reason.
type ErrorReply struct {
	Func byte
	Code byte
}

// Bits of the error byte (DL/T 645-2007, table of 错误信息字 ERR).
const (
	ErrBitOther        = 1 << 0 // 其他错误
	ErrBitNoData       = 1 << 1 // 无请求数据
	ErrBitPassword     = 1 << 2 // 密码错/未授权
	ErrBitBaudFixed    = 1 << 3 // 通信速率不能更改
	ErrBitYearZones    = 1 << 4 // 年时区数超
	ErrBitDaySlots     = 1 << 5 // 日时段数超
	ErrBitTariffs      = 1 << 6 // 费率数超
	errBitNamesPresent = 7
)

var errBitNames = [errBitNamesPresent]string{
	"other error", "no requested data", "wrong password or not authorised",
	"baud rate cannot be changed", "too many yearly time zones",
	"too many daily time slots", "too many tariffs",
}

func (e *ErrorReply) Error() string {
	var reasons []string
	for i, n := range errBitNames {
		if e.Code&(1<<i) != 0 {
			reasons = append(reasons, n)
		}
	}
	if len(reasons) == 0 {
		reasons = append(reasons, fmt.Sprintf("unknown error byte %02X", e.Code))
	}
	return fmt.Sprintf("dlt645: meter refused function %02X: %s", e.Func, strings.Join(reasons, ", "))
}

// NoData tells whether the meter says it does not have the asked data.
func (e *ErrorReply) NoData() bool { return e.Code&ErrBitNoData != 0 }

// ReplyError returns the meter's refusal carried by an abnormal reply, or nil.
func ReplyError(f Frame) error {
	if !f.IsReply() || !f.IsError() {
		return nil
	}
	code := byte(ErrBitOther)
	if len(f.Data) > 0 {
		code = f.Data[0]
	}
	return &ErrorReply{Func: f.Func(), Code: code}
}
