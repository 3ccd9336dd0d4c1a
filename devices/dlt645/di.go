package dlt645

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// DI is a data identifier as the standard writes it, DI3 DI2 DI1 DI0
// ("00 01 00 00" is 0x00010000); on the wire it goes DI0 first.
type DI uint32

// ParseDI reads "00 01 00 00", "00010000" or "0x00010000".
func ParseDI(s string) (DI, error) {
	t := strings.TrimPrefix(strings.TrimPrefix(strings.ReplaceAll(strings.TrimSpace(s), " ", ""), "0x"), "0X")
	if len(t) != 8 {
		return 0, fmt.Errorf("data identifier %q: want 4 bytes such as \"00 01 00 00\"", s)
	}
	v, err := strconv.ParseUint(t, 16, 32)
	if err != nil {
		return 0, fmt.Errorf("data identifier %q: not hexadecimal", s)
	}
	return DI(v), nil
}

func (d DI) String() string {
	return fmt.Sprintf("%02X %02X %02X %02X", byte(d>>24), byte(d>>16), byte(d>>8), byte(d))
}

// appendWire appends the identifier in wire order (DI0 first), without the 0x33.
func (d DI) appendWire(dst []byte) []byte {
	return binary.LittleEndian.AppendUint32(dst, uint32(d))
}

func diFromWire(b []byte) DI { return DI(binary.LittleEndian.Uint32(b)) }

// Format is how a value is coded: Bytes of packed BCD, low byte first, with
// Decimals digits after the point (XXXXXX.XX is 4 bytes, 2 decimals). Signed
// values carry the sign in the top bit of the last (most significant) byte, as
// DL/T 645-2007 codes currents, powers and combined energies. Binary values
// (status words) are plain little-endian bit fields.
type Format struct {
	Bytes    int
	Decimals int
	Signed   bool
	Binary   bool
}

// ParseFormat reads the standard's notation: "XXXXXX.XX", "XXX.XXX", "XXXX"
// (BCD), or "bits16" for a 2-byte status word.
func ParseFormat(s string, signed bool) (Format, error) {
	if strings.HasPrefix(s, "bits") {
		n, err := strconv.Atoi(s[4:])
		if err != nil || n <= 0 || n%8 != 0 || n > 64 {
			return Format{}, fmt.Errorf("format %q: bits8, bits16, bits24 or bits32", s)
		}
		return Format{Bytes: n / 8, Binary: true}, nil
	}
	digits, decimals, seenPoint := 0, 0, false
	for _, r := range s {
		switch {
		case r == 'X' || r == 'x' || r == 'N' || r == 'n':
			digits++
			if seenPoint {
				decimals++
			}
		case r == '.' && !seenPoint:
			seenPoint = true
		default:
			return Format{}, fmt.Errorf("format %q: use X for each digit and one '.', such as XXXXXX.XX", s)
		}
	}
	if digits == 0 || digits%2 != 0 || digits > 14 {
		return Format{}, fmt.Errorf("format %q: an even number of digits (2 to 14, what a float64 holds exactly) is needed, one byte per two", s)
	}
	return Format{Bytes: digits / 2, Decimals: decimals, Signed: signed}, nil
}

// ErrNotBCD is a value whose digits are not decimal (a meter that fills
// unavailable data with FF, or a corrupted byte).
var ErrNotBCD = errors.New("dlt645: value is not BCD")

// Decode turns the value's bytes (0x33 already removed) into a number.
func (f Format) Decode(b []byte) (float64, error) {
	if len(b) != f.Bytes {
		return 0, fmt.Errorf("dlt645: %d bytes for a %d-byte value", len(b), f.Bytes)
	}
	if f.Binary {
		var v uint64
		for i := len(b) - 1; i >= 0; i-- {
			v = v<<8 | uint64(b[i])
		}
		return float64(v), nil
	}
	var v uint64
	negative := false
	for i := len(b) - 1; i >= 0; i-- {
		c := b[i]
		if f.Signed && i == len(b)-1 {
			negative = c&0x80 != 0
			c &= 0x7F
		}
		hi, lo := c>>4, c&0x0F
		if hi > 9 || lo > 9 {
			return 0, fmt.Errorf("%w: byte %02X", ErrNotBCD, b[i])
		}
		v = v*100 + uint64(hi)*10 + uint64(lo)
	}
	x := float64(v) / pow10[f.Decimals]
	if negative {
		x = -x
	}
	return x, nil
}

var pow10 = [...]float64{1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16}

// AppendEncode appends value in this format (used by the simulator). A value
// too large for the digits is an error, as is a negative one for an unsigned
// format.
func (f Format) AppendEncode(dst []byte, value float64) ([]byte, error) {
	if f.Binary {
		v := uint64(value)
		for range f.Bytes {
			dst = append(dst, byte(v))
			v >>= 8
		}
		return dst, nil
	}
	negative := value < 0
	if negative && !f.Signed {
		return dst, fmt.Errorf("dlt645: %g is negative for an unsigned value", value)
	}
	v := uint64(math.Round(math.Abs(value) * pow10[f.Decimals]))
	digits := 2 * f.Bytes
	if f.Signed {
		digits-- // the top bit is the sign: the top digit is at most 7
	}
	limit := uint64(pow10[min(digits, 16)])
	if f.Signed {
		limit = 8 * uint64(pow10[digits])
	}
	if v >= limit {
		return dst, fmt.Errorf("dlt645: %g does not fit %d BCD bytes with %d decimals", value, f.Bytes, f.Decimals)
	}
	for i := range f.Bytes {
		c := byte(v%10) | byte(v/10%10)<<4
		v /= 100
		if i == f.Bytes-1 && negative {
			c |= 0x80
		}
		dst = append(dst, c)
	}
	return dst, nil
}

// Item is one entry of the data-identifier table.
type Item struct {
	DI      DI
	Name    string // in English; the standard's Chinese name in Chinese
	Chinese string
	Format  Format
	Unit    string
}

func bcd(bytes, decimals int) Format { return Format{Bytes: bytes, Decimals: decimals} }
func signedBCD(bytes, decimals int) Format {
	return Format{Bytes: bytes, Decimals: decimals, Signed: true}
}
func bits(bytes int) Format { return Format{Bytes: bytes, Binary: true} }

// Items is the data-identifier table that profiles draw on (DL/T 645-2007
// appendix A). Profiles may name other identifiers with their own format.
var Items = map[DI]Item{}

func init() {
	for _, it := range []Item{
		{0x00000000, "combined active energy total", "组合有功总电能", signedBCD(4, 2), "kWh"},
		{0x00010000, "forward active energy total", "正向有功总电能", bcd(4, 2), "kWh"},
		{0x00010100, "forward active energy tariff 1", "正向有功费率1电能", bcd(4, 2), "kWh"},
		{0x00010200, "forward active energy tariff 2", "正向有功费率2电能", bcd(4, 2), "kWh"},
		{0x00010300, "forward active energy tariff 3", "正向有功费率3电能", bcd(4, 2), "kWh"},
		{0x00010400, "forward active energy tariff 4", "正向有功费率4电能", bcd(4, 2), "kWh"},
		{0x00020000, "reverse active energy total", "反向有功总电能", bcd(4, 2), "kWh"},
		{0x02010100, "phase A voltage", "A相电压", bcd(2, 1), "V"},
		{0x02010200, "phase B voltage", "B相电压", bcd(2, 1), "V"},
		{0x02010300, "phase C voltage", "C相电压", bcd(2, 1), "V"},
		{0x02020100, "phase A current", "A相电流", signedBCD(3, 3), "A"},
		{0x02020200, "phase B current", "B相电流", signedBCD(3, 3), "A"},
		{0x02020300, "phase C current", "C相电流", signedBCD(3, 3), "A"},
		{0x02030000, "total active power", "瞬时总有功功率", signedBCD(3, 4), "kW"},
		{0x02030100, "phase A active power", "瞬时A相有功功率", signedBCD(3, 4), "kW"},
		{0x02030200, "phase B active power", "瞬时B相有功功率", signedBCD(3, 4), "kW"},
		{0x02030300, "phase C active power", "瞬时C相有功功率", signedBCD(3, 4), "kW"},
		{0x02060000, "total power factor", "总功率因数", signedBCD(2, 3), ""},
		{0x02800002, "grid frequency", "电网频率", bcd(2, 2), "Hz"},
		{0x00900100, "remaining energy", "(当前)剩余电量", bcd(4, 2), "kWh"},
		{0x00900101, "overdraft energy", "(当前)透支电量", bcd(4, 2), "kWh"},
		{0x00900200, "remaining amount", "(当前)剩余金额", bcd(4, 2), "CNY"},
		{0x00900201, "overdraft amount", "(当前)透支金额", bcd(4, 2), "CNY"},
		{0x04000F01, "alarm energy 1 limit", "报警电量1限值", bcd(4, 2), "kWh"},
		{0x04000F02, "alarm energy 2 limit", "报警电量2限值", bcd(4, 2), "kWh"},
		{0x04000F04, "overdraft energy limit", "透支电量限值", bcd(4, 2), "kWh"},
		{0x04001001, "alarm amount 1 limit", "报警金额1限值", bcd(4, 2), "CNY"},
		{0x04001002, "alarm amount 2 limit", "报警金额2限值", bcd(4, 2), "CNY"},
		{0x04001003, "overdraft amount limit", "透支金额限值", bcd(4, 2), "CNY"},
		{0x03110000, "power-failure count", "掉电总次数", bcd(3, 0), ""},
		{0x04000501, "running status word 1", "电表运行状态字1", bits(2), ""},
		{0x04000502, "running status word 2", "电表运行状态字2", bits(2), ""},
		{0x04000503, "running status word 3", "电表运行状态字3", bits(2), ""},
	} {
		Items[it.DI] = it
	}
}

// Bits of running status word 3 (04 00 05 03) that a prepaid meter reports.
const (
	Status3RelayOpen       = 4 // 继电器状态: 0 closed (power on), 1 open (tripped)
	Status3RelayCommandOff = 6 // 继电器命令状态: 0 close, 1 open
	Status3PreTripAlarm    = 7 // 预跳闸报警状态: 1 the meter is warning before a trip
)

// blocks are the data blocks (an identifier with FF) a meter may answer in one
// frame, with the identifiers of their elements in order. A meter may answer
// fewer elements (fewer tariffs); the ones present are used.
var blocks = map[DI][]DI{
	0x0201FF00: {0x02010100, 0x02010200, 0x02010300},
	0x0202FF00: {0x02020100, 0x02020200, 0x02020300},
	0x0203FF00: {0x02030000, 0x02030100, 0x02030200, 0x02030300},
	0x0001FF00: {0x00010000, 0x00010100, 0x00010200, 0x00010300, 0x00010400},
}

// blockOf returns the block an identifier belongs to, if any.
func blockOf(d DI) (DI, bool) {
	for b, elems := range blocks {
		for _, e := range elems {
			if e == d {
				return b, true
			}
		}
	}
	return 0, false
}
