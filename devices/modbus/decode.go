package modbus

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
)

// kind is a point type compiled from its name, so that decoding a reading is
// a switch on a small integer and allocates nothing.
type kind uint8

const (
	kindBool kind = iota
	kindInt16
	kindUint16
	kindInt32
	kindUint32
	kindInt64
	kindUint64
	kindFloat32
	kindFloat64
	kindString
	kindBCD
)

var (
	kindByName = map[string]kind{"bool": kindBool, "int16": kindInt16, "uint16": kindUint16, "int32": kindInt32,
		"uint32": kindUint32, "int64": kindInt64, "uint64": kindUint64, "float32": kindFloat32,
		"float64": kindFloat64, "string": kindString, "bcd": kindBCD}
	// kindWidth is the size of fixed-size types in registers (bool: one bit or one register).
	kindWidth = [...]uint16{kindBool: 1, kindInt16: 1, kindUint16: 1, kindInt32: 2, kindUint32: 2,
		kindInt64: 4, kindUint64: 4, kindFloat32: 2, kindFloat64: 4}
)

// order is a byte order compiled from its name.
type order uint8

const (
	orderABCD order = iota // big-endian: high word first, high byte first
	orderDCBA              // fully little-endian
	orderBADC              // bytes swapped inside each register
	orderCDAB              // registers in reverse order, bytes big-endian inside each
)

// Errors of decoding a point's registers.
var (
	errNotNumber = errors.New("register value is not a number")
	errBadBCD    = errors.New("register value is not binary-coded decimal")
	errNotASCII  = errors.New("register value is not ASCII text")
	errTextPoint = errors.New("a string point has text, not a number")
)

// Decode turns the raw big-endian register bytes of one point into its value in
// engineering units. raw must hold exactly Width()*2 bytes. It does not allocate.
func (pt *Point) Decode(raw []byte) (float64, error) {
	if len(raw) != int(pt.width)*2 || pt.width == 0 {
		return 0, fmt.Errorf("point %s: %d bytes for %s, want %d", pt.Name, len(raw), pt.Type, pt.width*2)
	}
	var v float64
	if pt.kind == kindBCD {
		var buf [8]byte
		b := reorder(buf[:len(raw)], raw, pt.order)
		var n uint64
		for _, c := range b {
			hi, lo := c>>4, c&0x0f
			if hi > 9 || lo > 9 {
				return 0, fmt.Errorf("point %s: %w (% x)", pt.Name, errBadBCD, raw)
			}
			n = n*100 + uint64(hi)*10 + uint64(lo)
		}
		return float64(n)*pt.Scale + pt.Offset, nil
	}
	if pt.kind == kindString {
		return 0, fmt.Errorf("point %s: %w", pt.Name, errTextPoint)
	}
	var buf [8]byte
	b := reorder(buf[:len(raw)], raw, pt.order)
	switch pt.kind {
	case kindBool:
		if binary.BigEndian.Uint16(b)>>uint(pt.Bit)&1 == 1 {
			v = 1
		}
		return v, nil // scale and offset do not apply to a bit
	case kindInt16:
		v = float64(int16(binary.BigEndian.Uint16(b)))
	case kindUint16:
		v = float64(binary.BigEndian.Uint16(b))
	case kindInt32:
		v = float64(int32(binary.BigEndian.Uint32(b)))
	case kindUint32:
		v = float64(binary.BigEndian.Uint32(b))
	case kindFloat32:
		v = float64(math.Float32frombits(binary.BigEndian.Uint32(b)))
	case kindInt64:
		v = float64(int64(binary.BigEndian.Uint64(b)))
	case kindUint64:
		v = float64(binary.BigEndian.Uint64(b))
	case kindFloat64:
		v = math.Float64frombits(binary.BigEndian.Uint64(b))
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("point %s: %w", pt.Name, errNotNumber)
	}
	return v*pt.Scale + pt.Offset, nil
}

// DecodeText returns the text of a string point (ASCII, trailing NULs and
// spaces removed) or, for any other point, its decoded value as text.
func (pt *Point) DecodeText(raw []byte) (string, error) {
	if pt.kind != kindString {
		v, err := pt.Decode(raw)
		if err != nil {
			return "", err
		}
		return fmt.Sprint(v), nil
	}
	if len(raw) != int(pt.width)*2 {
		return "", fmt.Errorf("point %s: %d bytes for a %d-register string", pt.Name, len(raw), pt.width)
	}
	b := make([]byte, len(raw))
	reorder(b, raw, pt.order)
	if i := strings.IndexByte(string(b), 0); i >= 0 {
		for _, c := range b[i:] {
			if c != 0 && c != ' ' {
				return "", fmt.Errorf("point %s: %w (text after the terminating NUL)", pt.Name, errNotASCII)
			}
		}
		b = b[:i]
	}
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return "", fmt.Errorf("point %s: %w (byte 0x%02x)", pt.Name, errNotASCII, c)
		}
	}
	return strings.TrimRight(string(b), " "), nil
}

// Encode is the inverse of Decode, used by the simulators and for writes: it
// returns the registers' wire bytes for a value in engineering units. A bool
// point in a register sets only its bit (the other bits are zero).
func (pt *Point) Encode(value float64) []byte {
	b := make([]byte, int(pt.width)*2)
	if pt.kind == kindBool {
		if value != 0 {
			binary.BigEndian.PutUint16(b, 1<<uint(pt.Bit))
		}
		return reorder(make([]byte, len(b)), b, pt.order)
	}
	raw := (value - pt.Offset) / pt.Scale
	switch pt.kind {
	case kindInt16:
		binary.BigEndian.PutUint16(b, uint16(int16(clampRound(raw, math.MinInt16, math.MaxInt16))))
	case kindUint16:
		binary.BigEndian.PutUint16(b, uint16(clampRound(raw, 0, math.MaxUint16)))
	case kindInt32:
		binary.BigEndian.PutUint32(b, uint32(int32(clampRound(raw, math.MinInt32, math.MaxInt32))))
	case kindUint32:
		binary.BigEndian.PutUint32(b, uint32(clampRound(raw, 0, math.MaxUint32)))
	case kindFloat32:
		binary.BigEndian.PutUint32(b, math.Float32bits(float32(raw)))
	case kindInt64:
		binary.BigEndian.PutUint64(b, uint64(int64(clampRound(raw, math.MinInt64, maxInt64Float))))
	case kindUint64:
		binary.BigEndian.PutUint64(b, uint64(clampRound(raw, 0, maxUint64Float)))
	case kindFloat64:
		binary.BigEndian.PutUint64(b, math.Float64bits(raw))
	case kindBCD:
		n := uint64(clampRound(raw, 0, math.Pow10(len(b)*2)-1))
		for i := len(b) - 1; i >= 0; i-- {
			lo := n % 10
			n /= 10
			hi := n % 10
			n /= 10
			b[i] = byte(hi<<4 | lo)
		}
	case kindString:
		// A number put into a string point is written as its text.
		return pt.EncodeText(fmt.Sprint(value))
	}
	// Every byte order is its own inverse, so the same shuffle puts bytes on the wire.
	return reorder(make([]byte, len(b)), b, pt.order)
}

// EncodeText returns the wire bytes of a string point's text, padded with NULs
// (and cut to the point's length).
func (pt *Point) EncodeText(s string) []byte {
	b := make([]byte, int(pt.width)*2)
	copy(b, s)
	if pt.order == orderBADC {
		return reorder(make([]byte, len(b)), b, pt.order)
	}
	return b
}

// The largest floats that convert to int64 and uint64 without overflow.
var (
	maxInt64Float  = math.Nextafter(math.MaxInt64, 0)
	maxUint64Float = math.Nextafter(math.MaxUint64, 0)
)

func clampRound(v, lo, hi float64) float64 {
	v = math.Round(v)
	switch {
	case math.IsNaN(v):
		return 0
	case v < lo:
		return lo
	case v > hi:
		return hi
	}
	return v
}

// reorder copies wire bytes into dst in ABCD (big-endian) order.
func reorder(dst, src []byte, o order) []byte {
	n := len(src)
	switch o {
	case orderDCBA:
		for i := range n {
			dst[i] = src[n-1-i]
		}
	case orderBADC:
		for i := 0; i+1 < n; i += 2 {
			dst[i], dst[i+1] = src[i+1], src[i]
		}
	case orderCDAB:
		for w := 0; w < n/2; w++ {
			copy(dst[w*2:w*2+2], src[n-2-w*2:n-w*2])
		}
	default:
		copy(dst, src)
	}
	return dst
}
