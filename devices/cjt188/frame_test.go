package cjt188

import (
	"bytes"
	"errors"
	"testing"
)

// A read of 901F built by hand from the standard's frame: FE×4, 68, T = 10H
// (cold water), A0..A6 = 44 33 22 11 00 33 78 (meter 0011223344 of
// manufacturer 7833), C = 01H, L = 03H, DI0 DI1 = 1F 90, SER = 00, CS, 16.
// CS = 68+10+44+33+22+11+00+33+78+01+03+1F+90+00 mod 256 = 80H.
func TestEncodeReadRequestByHand(t *testing.T) {
	addr, err := ParseAddress("78330011223344")
	if err != nil {
		t.Fatal(err)
	}
	got, err := AppendEncode(nil, Request(TypeColdWater, addr, FuncReadData, DIMeterData, LowFirst, 0), true)
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{0xFE, 0xFE, 0xFE, 0xFE, 0x68, 0x10, 0x44, 0x33, 0x22, 0x11, 0x00, 0x33, 0x78, 0x01, 0x03, 0x1F, 0x90, 0x00, 0x80, 0x16}
	if !bytes.Equal(got, want) {
		t.Errorf("encoded\n% X\nwant\n% X", got, want)
	}
	if addr.String() != "78330011223344" {
		t.Errorf("address prints as %s", addr)
	}
	hi, _ := AppendEncode(nil, Request(TypeColdWater, addr, FuncReadData, DIMeterData, HighFirst, 0), false)
	if hi[11] != 0x90 || hi[12] != 0x1F {
		t.Errorf("high_first puts DI1 first: % X", hi)
	}
}

// A meter's reply to 901F built by hand: current volume 556677.00 m³ (00 77 66
// 55 2C), settlement-day volume 556600.00 (00 00 66 55 2C), time
// 2015-05-11 22:01:31 (31 01 22 11 05 15 20), ST 05 00 (valve closed,
// battery low).
func TestDecodeMeterDataByHand(t *testing.T) {
	data := []byte{0x1F, 0x90, 0x07,
		0x00, 0x77, 0x66, 0x55, 0x2C,
		0x00, 0x00, 0x66, 0x55, 0x2C,
		0x31, 0x01, 0x22, 0x11, 0x05, 0x15, 0x20,
		0x05, 0x00}
	frame := []byte{0xFE, 0xFE, 0x68, 0x10, 0x44, 0x33, 0x22, 0x11, 0x00, 0x33, 0x78, 0x81, byte(len(data))}
	frame = append(frame, data...)
	frame = append(frame, checksum(frame[2:]), 0x16)
	f, n, err := Decode(frame)
	if err != nil || n != len(frame) {
		t.Fatalf("decode: %v (used %d of %d)", err, n, len(frame))
	}
	r, err := ParseReply(f, FuncReadData, DIMeterData)
	if err != nil {
		t.Fatal(err)
	}
	if r.SER != 7 || len(r.Value) != 19 {
		t.Fatalf("reply %+v", r)
	}
	p := mustProfile(t, prepaidProfile)
	want := map[string]float64{"volume": 556677, "settlement_volume": 556600, "valve": ValveStateClosed, "battery_low": 1}
	for _, pt := range p.Points {
		w, ok := want[pt.Name]
		if !ok {
			continue
		}
		v, err := pt.value(r.Value)
		if err != nil || v != w {
			t.Errorf("%s = %v, %v; want %v", pt.Name, v, err, w)
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	good, _ := AppendEncode(nil, Request(TypeColdWater, Address{1}, FuncReadData, DIMeterData, LowFirst, 1), false)
	bad := append([]byte(nil), good...)
	bad[len(bad)-2]++
	noEnd := append([]byte(nil), good...)
	noEnd[len(noEnd)-1] = 0x17
	for _, tc := range []struct {
		name string
		in   []byte
		want error
	}{
		{"checksum", bad, ErrChecksum},
		{"end byte", noEnd, ErrFraming},
		{"no start", []byte{0x10, 0x68}, ErrFraming},
		{"half a frame", good[:8], ErrTruncated},
		{"only wake-up bytes", []byte{0xFE, 0xFE}, ErrTruncated},
	} {
		if _, n, err := Decode(tc.in); !errors.Is(err, tc.want) || n != 0 {
			t.Errorf("%s: %v (used %d), want %v", tc.name, err, n, tc.want)
		}
	}
	if _, err := AppendEncode(nil, Frame{Data: make([]byte, 256)}, false); !errors.Is(err, ErrLength) {
		t.Errorf("256 data bytes: %v", err)
	}
}

// The scanner finds frames among noise, echoes of broken frames and
// wake-up bytes, and counts what it skipped.
func TestScannerResynchronises(t *testing.T) {
	a, _ := AppendEncode(nil, Request(TypeColdWater, Address{1}, FuncReadData, DIMeterData, LowFirst, 1), true)
	b, _ := AppendEncode(nil, Request(TypeColdWater, Address{2}, FuncReadData, DIPurchase, LowFirst, 2), true)
	broken := append([]byte(nil), a...)
	broken[len(broken)-2] ^= 0xFF
	var s Scanner
	s.Write([]byte{0x00, 0x13})
	s.Write(broken)
	s.Write(b[:5])
	if _, ok := s.Next(); ok {
		t.Fatal("a frame from noise and half a frame")
	}
	s.Write(b[5:])
	f, ok := s.Next()
	if !ok || f.Addr != (Address{2}) {
		t.Fatalf("frame %+v, %v", f, ok)
	}
	if s.Broken != 1 || s.Discarded == 0 {
		t.Errorf("broken %d, discarded %d", s.Broken, s.Discarded)
	}
}

func TestAddressAndFormats(t *testing.T) {
	for _, bad := range []string{"", "123456789012345", "12x4"} {
		if _, err := ParseAddress(bad); err == nil {
			t.Errorf("address %q accepted", bad)
		}
	}
	a, _ := ParseAddress("101")
	if a != (Address{0x01, 0x01}) || !Broadcast.Matches(a) || !(Address{0x01, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA}).Matches(a) || (Address{0x02, 0xAA}).Matches(a) {
		t.Errorf("address 101 = % X or its matches are wrong", a)
	}
	vol := formats["volume"]
	for _, tc := range []struct {
		raw  []byte
		want float64
		err  bool
	}{
		{[]byte{0x50, 0x34, 0x12, 0x00, UnitM3}, 1234.50, false},
		{[]byte{0x00, 0x50, 0x02, 0x00, UnitLitre}, 0.25, false}, // 250.00 L
		{[]byte{0x5A, 0x00, 0x00, 0x00, UnitM3}, 0, true},        // not BCD
		{[]byte{0x00, 0x00, 0x00, 0x00, 0x77}, 0, true},          // no such unit
	} {
		v, err := vol.Decode(tc.raw)
		if (err != nil) != tc.err || !tc.err && v != tc.want {
			t.Errorf("% X: %v, %v; want %v (error %v)", tc.raw, v, err, tc.want, tc.err)
		}
	}
	out, err := formats["XXXXXX.XX"].AppendEncode(nil, 12.34)
	if err != nil || !bytes.Equal(out, []byte{0x34, 0x12, 0x00, 0x00}) {
		t.Errorf("12.34 yuan encodes as % X, %v", out, err)
	}
	if _, err := formats["XX"].AppendEncode(nil, 100); err == nil {
		t.Error("100 fits one BCD byte")
	}
	if s := Status(0x0007); s.Valve() != ValveStateFault || !s.BatteryLow() {
		t.Errorf("status %s", s)
	}
}
