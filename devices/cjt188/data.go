package cjt188

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// DI is a data identifier as the standard prints it: 901F is DI1 = 90H,
// DI0 = 1FH.
type DI uint16

// Identifiers a water meter answers (CJ/T 188-2004 §6, tables of 数据标识).
const (
	DIMeterData    DI = 0x901F // 计量数据: current and settlement-day volume, time, ST
	DIPurchase     DI = 0x8105 // 购入金额: purchase number, amounts, remaining, ST
	DIReadAddress  DI = 0x810A // 读地址
	DIValveControl DI = 0xA017 // 写阀门控制: 55H open, 99H close
	DIWriteAddress DI = 0xA018 // 写地址
)

// Valve commands of A017.
const (
	ValveOpen  = 0x55 // 开阀
	ValveClose = 0x99 // 关阀
)

// ParseDI reads an identifier as the standard prints it ("901F", "90 1F").
func ParseDI(s string) (DI, error) {
	t := strings.ReplaceAll(strings.TrimSpace(s), " ", "")
	v, err := strconv.ParseUint(t, 16, 16)
	if err != nil || len(t) != 4 {
		return 0, fmt.Errorf("data identifier %q: want 4 hex digits such as 901F", s)
	}
	return DI(v), nil
}

func (d DI) String() string { return fmt.Sprintf("%04X", uint16(d)) }

// Order is the byte order of the identifier on the wire. CJ/T 188 sends
// multi-byte fields low byte first, so DI0 (1FH of 901F) goes first; some
// meters send DI1 first ("90 1F"). A profile says which its meters want;
// replies are recognised in either order.
type Order int

const (
	// LowFirst is DI0 then DI1: 901F goes as 1F 90.
	LowFirst Order = iota
	// HighFirst is DI1 then DI0: 901F goes as 90 1F.
	HighFirst
)

// ParseOrder reads a profile's di_order ("" is low_first).
func ParseOrder(s string) (Order, error) {
	switch s {
	case "", "low_first":
		return LowFirst, nil
	case "high_first":
		return HighFirst, nil
	}
	return 0, fmt.Errorf("%q: use low_first (DI0 first: 1F 90, the default) or high_first (90 1F)", s)
}

func (o Order) String() string {
	if o == HighFirst {
		return "high_first"
	}
	return "low_first"
}

func (d DI) appendWire(dst []byte, o Order) []byte {
	if o == HighFirst {
		return append(dst, byte(d>>8), byte(d))
	}
	return append(dst, byte(d), byte(d>>8))
}

// diFromWire reads an identifier from two bytes in order o.
func diFromWire(b []byte, o Order) DI {
	if o == HighFirst {
		return DI(b[0])<<8 | DI(b[1])
	}
	return DI(b[1])<<8 | DI(b[0])
}

// Request builds a request of function fn for identifier di with serial
// number ser and the data that follows them.
func Request(t byte, addr Address, fn byte, di DI, o Order, ser byte, data ...byte) Frame {
	d := di.appendWire(make([]byte, 0, 3+len(data)), o)
	d = append(d, ser)
	d = append(d, data...)
	return Frame{Type: t, Addr: addr, Control: fn, Data: d}
}

// Reply is the useful part of a normal reply: its identifier, serial number
// and the data after them.
type Reply struct {
	DI    DI
	SER   byte
	Value []byte
}

// ErrorReply is a meter's abnormal reply (D6 of C set): it could not do what
// was asked. Status is the ST word it sent, when it sent one.
type ErrorReply struct {
	Func      byte
	Status    uint16
	HasStatus bool
}

func (e *ErrorReply) Error() string {
	if e.HasStatus {
		return fmt.Sprintf("cjt188: meter refused function %02X (status %s)", e.Func, Status(e.Status))
	}
	return fmt.Sprintf("cjt188: meter refused function %02X", e.Func)
}

// ReplyError returns the meter's refusal carried by an abnormal reply, or nil.
// An abnormal reply's data is SER and ST (CJ/T 188-2004: 异常应答).
func ReplyError(f Frame) error {
	if !f.IsReply() || !f.IsError() {
		return nil
	}
	e := &ErrorReply{Func: f.Func()}
	if len(f.Data) >= 3 {
		e.Status, e.HasStatus = uint16(f.Data[len(f.Data)-2])|uint16(f.Data[len(f.Data)-1])<<8, true
	}
	return e
}

// ParseReply checks that f is a normal reply to function fn for di and
// returns its data; the identifier is accepted in either byte order.
func ParseReply(f Frame, fn byte, di DI) (Reply, error) {
	if err := ReplyError(f); err != nil {
		return Reply{}, err
	}
	if !f.IsReply() || f.Func() != fn {
		return Reply{}, fmt.Errorf("cjt188: control %02X does not answer function %02X", f.Control, fn)
	}
	if len(f.Data) < 3 {
		return Reply{}, fmt.Errorf("cjt188: reply of %d bytes has no identifier and serial number", len(f.Data))
	}
	got := diFromWire(f.Data, LowFirst)
	if got != di {
		if alt := diFromWire(f.Data, HighFirst); alt == di {
			got = alt
		} else {
			return Reply{}, fmt.Errorf("cjt188: reply for %s, asked %s", got, di)
		}
	}
	return Reply{DI: got, SER: f.Data[2], Value: f.Data[3:]}, nil
}

// Status is the status word ST (two bytes, the first one sent is the low
// byte). CJ/T 188-2004: D0 D1 valve (00 open, 01 closed, 11 abnormal), D2
// battery (1 low); D3–D7 reserved; the high byte is the manufacturer's.
type Status uint16

// Valve states of ST D1 D0.
const (
	ValveStateOpen   = 0
	ValveStateClosed = 1
	ValveStateFault  = 3
)

// Valve is the valve state: ValveStateOpen, ValveStateClosed or
// ValveStateFault (10 is not defined; it reads as a fault too).
func (s Status) Valve() int {
	v := int(s & 0x03)
	if v == 2 {
		return ValveStateFault
	}
	return v
}

// BatteryLow is ST D2.
func (s Status) BatteryLow() bool { return s&0x04 != 0 }

func (s Status) String() string {
	valve := [...]string{"valve open", "valve closed", "valve fault", "valve fault"}[s.Valve()]
	batt := "battery ok"
	if s.BatteryLow() {
		batt = "battery low"
	}
	return fmt.Sprintf("%04X: %s, %s", uint16(s), valve, batt)
}

// Units of volume and flow (CJ/T 188-2004 appendix, 单位代号).
const (
	UnitLitre    = 0x29
	UnitM3       = 0x2C
	UnitLitreH   = 0x32
	UnitM3H      = 0x35
	unitM3Tenths = 0x2D // some meters: 0.1 m³ steps in the unit code
)

// Format is how a point's bytes are coded.
type Format struct {
	Name string
	// Bytes is the width of the field.
	Bytes int
	// Decimals of a BCD field.
	Decimals int
	// Unit: a BCD volume followed by its unit byte, converted to m³ (or m³/h).
	Unit bool
	// Binary fields (status words, counts) are little-endian integers.
	Binary bool
}

// Formats a profile may give a point.
var formats = map[string]Format{
	"volume":    {Name: "volume", Bytes: 5, Decimals: 2, Unit: true}, // XXXXXX.XX + unit byte (m³)
	"flow":      {Name: "flow", Bytes: 5, Decimals: 4, Unit: true},   // XXXX.XXXX + unit byte (m³/h)
	"XXXXXX.XX": {Name: "XXXXXX.XX", Bytes: 4, Decimals: 2},          // amounts (yuan)
	"XXXXXXXX":  {Name: "XXXXXXXX", Bytes: 4},
	"XX":        {Name: "XX", Bytes: 1}, // BCD byte (purchase number)
	"XXXX":      {Name: "XXXX", Bytes: 2},
	"st":        {Name: "st", Bytes: 2, Binary: true}, // the status word
	"bin8":      {Name: "bin8", Bytes: 1, Binary: true},
}

// ParseFormat looks a format up by its name.
func ParseFormat(s string) (Format, error) {
	f, ok := formats[s]
	if !ok {
		return Format{}, fmt.Errorf("format %q: use volume, flow, XXXXXX.XX, XXXXXXXX, XXXX, XX, st or bin8", s)
	}
	return f, nil
}

// ErrBCD is a field that is not BCD.
var ErrBCD = errors.New("cjt188: not a BCD value")

// Decode decodes a field of the format from raw (at least f.Bytes long).
func (f Format) Decode(raw []byte) (float64, error) {
	if len(raw) < f.Bytes {
		return 0, fmt.Errorf("cjt188: %s needs %d bytes, got %d", f.Name, f.Bytes, len(raw))
	}
	if f.Binary {
		var v uint64
		for i := f.Bytes - 1; i >= 0; i-- {
			v = v<<8 | uint64(raw[i])
		}
		return float64(v), nil
	}
	digits := f.Bytes
	if f.Unit {
		digits--
	}
	v, err := bcd(raw[:digits])
	if err != nil {
		return 0, err
	}
	x := float64(v)
	for range f.Decimals {
		x /= 10
	}
	if f.Unit {
		switch raw[digits] {
		case UnitM3, UnitM3H:
		case UnitLitre, UnitLitreH:
			x /= 1000
		case unitM3Tenths:
			x *= 10
		default:
			return 0, fmt.Errorf("cjt188: unit code %02X is not a volume or flow unit", raw[digits])
		}
	}
	return x, nil
}

// AppendEncode appends v in the format (volumes in m³, flows in m³/h).
func (f Format) AppendEncode(dst []byte, v float64) ([]byte, error) {
	if f.Binary {
		u := uint64(v)
		for range f.Bytes {
			dst = append(dst, byte(u))
			u >>= 8
		}
		return dst, nil
	}
	digits := f.Bytes
	if f.Unit {
		digits--
	}
	scaled := v
	for range f.Decimals {
		scaled *= 10
	}
	if scaled < 0 {
		return dst, fmt.Errorf("cjt188: %s cannot hold a negative value %g", f.Name, v)
	}
	n := uint64(scaled + 0.5)
	for i := range digits {
		_ = i
		d := n % 100
		n /= 100
		dst = append(dst, byte(d/10)<<4|byte(d%10))
	}
	if n != 0 {
		return dst, fmt.Errorf("cjt188: %g does not fit %s", v, f.Name)
	}
	if f.Unit {
		u := byte(UnitM3)
		if f.Name == "flow" {
			u = UnitM3H
		}
		dst = append(dst, u)
	}
	return dst, nil
}

// bcd decodes little-endian packed BCD (the first byte holds the two lowest digits).
func bcd(b []byte) (uint64, error) {
	var v uint64
	for i := len(b) - 1; i >= 0; i-- {
		hi, lo := b[i]>>4, b[i]&0x0F
		if hi > 9 || lo > 9 {
			return 0, fmt.Errorf("%w: % X", ErrBCD, b)
		}
		v = v*100 + uint64(hi)*10 + uint64(lo)
	}
	return v, nil
}
