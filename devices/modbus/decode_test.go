package modbus

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

func point(t testing.TB, typ, order string, length int) *Point {
	t.Helper()
	pt := &Point{Name: "p", Table: TableHolding, Type: typ, Order: order, Length: length}
	if errs := pt.normalise(); len(errs) > 0 {
		t.Fatalf("%s %s: %v", typ, order, errs)
	}
	return pt
}

func TestDecodeKnownBytes(t *testing.T) {
	cases := []struct {
		typ, order string
		raw        []byte
		want       float64
	}{
		{"uint16", "ABCD", []byte{0x12, 0x34}, 0x1234},
		{"uint16", "BADC", []byte{0x34, 0x12}, 0x1234},
		{"int16", "ABCD", []byte{0xff, 0xfe}, -2},
		{"int32", "ABCD", []byte{0xff, 0xff, 0xff, 0xfe}, -2},
		{"uint32", "CDAB", []byte{0x56, 0x78, 0x12, 0x34}, 0x12345678},
		{"uint32", "DCBA", []byte{0x78, 0x56, 0x34, 0x12}, 0x12345678},
		{"uint32", "BADC", []byte{0x34, 0x12, 0x78, 0x56}, 0x12345678},
		// 230.5 V as float32 0x43668000, SDM630 style high word first.
		{"float32", "ABCD", []byte{0x43, 0x66, 0x80, 0x00}, 230.5},
		{"float32", "CDAB", []byte{0x80, 0x00, 0x43, 0x66}, 230.5},
		{"float64", "ABCD", []byte{0x40, 0x6c, 0xd0, 0, 0, 0, 0, 0}, 230.5},
		{"int64", "ABCD", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, -1},
		{"uint64", "CDAB", []byte{0, 2, 0, 0, 0, 0, 0, 0}, 2},
		{"uint64", "ABCD", []byte{0, 2, 0, 0, 0, 0, 0, 0}, 2 << 48},
		{"bcd", "ABCD", []byte{0x12, 0x34}, 1234},
		{"bcd", "CDAB", []byte{0x56, 0x78, 0x12, 0x34}, 12345678},
	}
	for _, c := range cases {
		length := 0
		if c.typ == "bcd" {
			length = len(c.raw) / 2
		}
		pt := point(t, c.typ, c.order, length)
		got, err := pt.Decode(c.raw)
		if err != nil || got != c.want {
			t.Errorf("%s %s % x: got %v, %v; want %v", c.typ, c.order, c.raw, got, err, c.want)
		}
	}
}

func TestDecodeScaleBitsAndErrors(t *testing.T) {
	pt := point(t, "uint32", "ABCD", 0)
	pt.Scale, pt.Offset = 0.01, -1
	if v, _ := pt.Decode([]byte{0, 0, 0x30, 0x39}); math.Abs(v-122.45) > 1e-9 {
		t.Errorf("scaled: %v", v)
	}
	bit := &Point{Name: "b", Table: TableHolding, Type: "bool", Bit: 9}
	if errs := bit.normalise(); len(errs) > 0 {
		t.Fatal(errs)
	}
	if v, _ := bit.Decode([]byte{0x02, 0x00}); v != 1 {
		t.Errorf("bit 9 of 0x0200: %v", v)
	}
	if v, _ := bit.Decode([]byte{0xfd, 0xff}); v != 0 {
		t.Errorf("bit 9 of 0xfdff: %v", v)
	}
	if _, err := point(t, "float32", "ABCD", 0).Decode([]byte{0x7f, 0xc0, 0, 0}); err == nil {
		t.Error("NaN decoded")
	}
	if _, err := point(t, "bcd", "ABCD", 0).Decode([]byte{0x1a, 0x00}); err == nil {
		t.Error("bad BCD nibble decoded")
	}
	if _, err := point(t, "uint16", "ABCD", 0).Decode([]byte{1}); err == nil {
		t.Error("short input decoded")
	}
	s := point(t, "string", "ABCD", 3)
	if got, err := s.DecodeText([]byte("SDM6\x00\x00")); err != nil || got != "SDM6" {
		t.Errorf("string: %q %v", got, err)
	}
	sw := point(t, "string", "BADC", 2)
	if got, err := sw.DecodeText([]byte("DS6M")); err != nil || got != "SDM6" {
		t.Errorf("swapped string: %q %v", got, err)
	}
	if _, err := s.DecodeText([]byte("SD\x01M6 ")); err == nil {
		t.Error("control character decoded as text")
	}
	if _, err := s.Decode([]byte("SDM6\x00\x00")); err == nil {
		t.Error("string decoded as a number")
	}
}

// Every type in every order comes back as it was encoded.
func TestEncodeDecodeRoundTrip(t *testing.T) {
	values := []float64{0, 1, 42, 230.5, 65535, 1e6, 12345678}
	for _, typ := range Types {
		if typ == "string" || typ == "bool" {
			continue
		}
		for _, o := range orders {
			length := 0
			if typ == "bcd" {
				length = 4
			}
			pt := point(t, typ, o, length)
			for _, v := range values {
				if pt.width == 1 && v > 65535 || pt.kind == kindInt16 && v > 32767 ||
					v != math.Trunc(v) && pt.kind != kindFloat32 && pt.kind != kindFloat64 {
					continue
				}
				got, err := pt.Decode(pt.Encode(v))
				if err != nil || math.Abs(got-v) > math.Abs(v)*1e-6 {
					t.Errorf("%s %s: %v came back as %v (%v)", typ, o, v, got, err)
				}
			}
		}
	}
	s := point(t, "string", "BADC", 4)
	if got, _ := s.DecodeText(s.EncodeText("ABC")); got != "ABC" {
		t.Errorf("string round trip: %q", got)
	}
}

func TestDecodeDoesNotAllocate(t *testing.T) {
	pt := point(t, "float32", "CDAB", 0)
	raw := pt.Encode(230.5)
	if n := testing.AllocsPerRun(100, func() { _, _ = pt.Decode(raw) }); n != 0 {
		t.Errorf("Decode allocates %v times", n)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(uint8(7), uint8(3), []byte{0x43, 0x66, 0x80, 0x00}, 0.1)
	f.Add(uint8(10), uint8(0), []byte{0x12, 0x34, 0x56, 0x78}, 1.0)
	f.Add(uint8(9), uint8(1), []byte("SN12"), 1.0)
	f.Add(uint8(0), uint8(2), []byte{0xff, 0xff}, 1.0)
	f.Fuzz(func(t *testing.T, typ, ord uint8, raw []byte, scale float64) {
		typeName := Types[int(typ)%len(Types)]
		pt := &Point{Name: "p", Table: TableHolding, Type: typeName, Order: orders[int(ord)%len(orders)], Scale: scale}
		if typeName == "string" || typeName == "bcd" {
			pt.Length = max(1, min(len(raw)/2, 4))
		}
		if typeName == "bool" {
			pt.Bit = int(ord) % 16
		}
		if errs := pt.normalise(); len(errs) > 0 {
			return // a string in a byte order strings do not have
		}
		// Any bytes, of any length: an error or a finite number, never a panic.
		v, err := pt.Decode(raw)
		if err == nil && (math.IsNaN(v) || math.IsInf(v, 0)) && !math.IsInf(scale, 0) && !math.IsNaN(scale) {
			if typeName != "float64" && typeName != "float32" {
				t.Fatalf("%s: non-finite %v from % x", typeName, v, raw)
			}
		}
		if err == nil && len(raw) != int(pt.width)*2 {
			t.Fatalf("%s decoded %d bytes, wants %d", typeName, len(raw), pt.width*2)
		}
		text, err := pt.DecodeText(raw)
		if err == nil && typeName == "string" && strings.ContainsFunc(text, func(r rune) bool { return r < 0x20 || r > 0x7e }) {
			t.Fatalf("text %q is not printable ASCII", text)
		}
		_ = fmt.Sprint(v)
	})
}

func FuzzParseProfile(f *testing.F) {
	f.Add([]byte(testProfile))
	f.Add([]byte("name: x\npoints:\n  - {name: a, table: input, address: 65535, type: float64}\n"))
	f.Add([]byte("name: x\nlimits: {even_address: true, max_registers_per_read: 3}\npoints:\n  - {name: a, table: holding, address: 7, type: string, length: 3}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseProfile("fuzz", data)
		if err != nil {
			return
		}
		// A profile that loads plans reads within every limit, covering each point.
		checkPlan(t, p, planReads(p, p.Limits.MaxGap), p.Limits.MaxGap)
		s := NewSlave(p)
		for _, pt := range p.Points {
			if err := s.Set(pt.Name, 1); err != nil {
				t.Fatal(err)
			}
		}
	})
}
