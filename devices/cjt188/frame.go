// Package cjt188 reads water meters that speak CJ/T 188 (the 2004 and 2018
// editions share the frame) on M-Bus or RS-485: the frame codec, the data of
// the identifiers a prepaid water meter answers (volumes, the status word with
// the valve and the battery, the purchase data with the remaining amount), a
// bus that runs one transaction at a time on a serial port (devices/serial),
// the poll driver of each meter (the meters of one port share its line; the
// gateway's scheduler runs their polls one at a time per port), valve control
// behind a per-device switch, reading, writing and discovering addresses, and
// a simulated bus of prepaid water meters on a pseudo-terminal pair.
package cjt188

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Frame delimiters and limits of CJ/T 188.
const (
	startByte = 0x68
	endByte   = 0x16
	wakeByte  = 0xFE
	// MaxDataLen is the largest data field a frame carries (L is one byte;
	// the longest reply of the standard, a heat meter's 901F, is 46 bytes).
	MaxDataLen = 255
	// headerLen is 68 T A0..A6 C L; a frame is headerLen + L + CS + 16.
	headerLen = 11
	minFrame  = headerLen + 2
)

// Meter types (T) of CJ/T 188. Water meters are 10H to 19H.
const (
	TypeColdWater     = 0x10 // 冷水水表
	TypeHotWater      = 0x11 // 生活热水水表
	TypeDrinkingWater = 0x12 // 直饮水水表
	TypeReclaimed     = 0x13 // 中水水表
	// TypeAny is the wildcard type a master sends when it does not know the
	// meter's (read address, discovery).
	TypeAny = 0xAA
)

// IsWaterType tells whether T is one of the water meters' types (10H–19H).
func IsWaterType(t byte) bool { return t >= 0x10 && t <= 0x19 }

// Control codes (D5..D0 of C) as the master sends them.
const (
	FuncReadData     = 0x01 // 读数据
	FuncReadKeyVer   = 0x09 // 读密钥版本号
	FuncReadAddress  = 0x03 // 读地址
	FuncWriteData    = 0x04 // 写数据 (valve control, prices, time)
	FuncWriteAddress = 0x15 // 写地址
	FuncWriteSync    = 0x16 // 写机电同步数据
)

// Bits of the control code.
const (
	ctrlReply    = 0x80 // D7: sent by the meter
	ctrlAbnormal = 0x40 // D6: the meter could not do it
	ctrlFuncMask = 0x3F
)

// Address is a meter's 7-byte address: A0..A4 the meter number (10 BCD
// digits), A5 A6 the manufacturer code, stored as on the wire (A0, the two
// lowest digits, first). 0xAA is a wildcard byte.
type Address [7]byte

// Broadcast is the all-AA address: every meter that hears it answers, so it
// is for a line with one meter (read address) or a search (discovery).
var Broadcast = Address{0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA}

// ParseAddress reads the 14-digit address as printed on the meter (most
// significant digit first, the manufacturer code first); "AA" pairs are
// wildcards. Shorter addresses are padded with leading zeros.
func ParseAddress(s string) (Address, error) {
	var a Address
	s = strings.ReplaceAll(strings.TrimSpace(s), " ", "")
	if len(s) == 0 || len(s) > 14 {
		return a, fmt.Errorf("water meter address %q: want up to 14 digits", s)
	}
	s = strings.Repeat("0", 14-len(s)) + s
	for i := range 7 {
		pair := s[12-2*i : 14-2*i]
		if strings.EqualFold(pair, "AA") {
			a[i] = 0xAA
			continue
		}
		if pair[0] < '0' || pair[0] > '9' || pair[1] < '0' || pair[1] > '9' {
			return a, fmt.Errorf("water meter address %q: %q is neither two decimal digits nor the wildcard AA", s, pair)
		}
		a[i] = (pair[0]-'0')<<4 | (pair[1] - '0')
	}
	return a, nil
}

// String prints the address as on the meter, most significant digit first.
func (a Address) String() string {
	var b [14]byte
	for i := range 7 {
		hex.Encode(b[12-2*i:14-2*i], a[i:i+1])
	}
	return strings.ToUpper(string(b[:]))
}

// Matches tells whether a meter with address own must act on a frame sent
// to a: the same address, or a match where a has wildcard bytes.
func (a Address) Matches(own Address) bool {
	for i := range a {
		if a[i] != 0xAA && a[i] != own[i] {
			return false
		}
	}
	return true
}

// Frame is one CJ/T 188 frame. Data is the data field as sent (CJ/T 188,
// unlike DL/T 645, adds no 33H to its bytes): for requests and normal
// replies it begins with the data identifier and the serial number SER.
type Frame struct {
	Type    byte
	Addr    Address
	Control byte
	Data    []byte
}

// Func is the function code (D5..D0) of the control byte.
func (f Frame) Func() byte { return f.Control & ctrlFuncMask }

// IsReply tells whether the meter sent the frame.
func (f Frame) IsReply() bool { return f.Control&ctrlReply != 0 }

// IsError tells whether the frame is an abnormal reply (C1H, C4H, D5H …).
func (f Frame) IsError() bool { return f.Control&ctrlAbnormal != 0 }

// Errors of the codec. A frame that fails these is counted and skipped; the
// stream re-synchronises on the next start byte.
var (
	ErrTruncated = errors.New("cjt188: truncated frame")
	ErrChecksum  = errors.New("cjt188: bad checksum")
	ErrFraming   = errors.New("cjt188: bad frame delimiters")
	ErrLength    = errors.New("cjt188: data longer than 255 bytes")
)

// Preamble is the wake-up bytes sent before a request (FE FE FE FE; the
// standard asks for two to four, M-Bus converters want some to settle).
var Preamble = []byte{wakeByte, wakeByte, wakeByte, wakeByte}

// AppendEncode appends the wire form of f to dst: the optional FE wake-up
// preamble, 68 T A0..A6 C L DATA, the checksum (the sum of every byte from
// 68 to the last data byte, modulo 256) and 16.
func AppendEncode(dst []byte, f Frame, preamble bool) ([]byte, error) {
	if len(f.Data) > MaxDataLen {
		return dst, fmt.Errorf("%w: %d bytes", ErrLength, len(f.Data))
	}
	if preamble {
		dst = append(dst, Preamble...)
	}
	start := len(dst)
	dst = append(dst, startByte, f.Type)
	dst = append(dst, f.Addr[:]...)
	dst = append(dst, f.Control, byte(len(f.Data)))
	dst = append(dst, f.Data...)
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
func Decode(buf []byte) (Frame, int, error) { return decodeInto(buf, nil) }

// decodeInto is Decode with the data copied into data's array when it is
// large enough (the bus's receive path allocates nothing).
func decodeInto(buf, data []byte) (Frame, int, error) {
	var f Frame
	skip := 0
	for skip < len(buf) && buf[skip] == wakeByte {
		skip++
	}
	b := buf[skip:]
	if len(b) == 0 {
		return f, 0, ErrTruncated
	}
	if b[0] != startByte {
		return f, 0, ErrFraming
	}
	if len(b) < headerLen {
		return f, 0, ErrTruncated
	}
	l := int(b[10])
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
	f.Type = b[1]
	copy(f.Addr[:], b[2:9])
	f.Control = b[9]
	if cap(data) < l {
		data = make([]byte, l)
	}
	data = data[:l]
	copy(data, b[headerLen:headerLen+l])
	f.Data = data
	return f, skip + total, nil
}
