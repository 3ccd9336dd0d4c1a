package dlt645

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A public worked example of DL/T 645-2007 (meter 000000000161): the read of
// 00 01 00 00 and its reply 000000.26 kWh, then a read of phase A voltage
// answered with 100.1 V, byte for byte with their checksums.
func TestPublicWorkedExample(t *testing.T) {
	addr, err := ParseAddress("000000000161")
	if err != nil {
		t.Fatal(err)
	}
	req, err := AppendEncode(nil, ReadRequest(addr, 0x00010000), true)
	if err != nil {
		t.Fatal(err)
	}
	if want := unhex(t, "FE FE FE FE 68 61 01 00 00 00 00 68 11 04 33 33 34 33 14 16"); !bytes.Equal(req, want) {
		t.Fatalf("request\n got % X\nwant % X", req, want)
	}
	cases := []struct {
		wire string
		di   DI
		want float64
	}{
		{"68 61 01 00 00 00 00 68 91 08 33 33 34 33 59 33 33 33 8A 16", 0x00010000, 0.26},
		{"68 61 01 00 00 00 00 68 91 06 33 34 34 35 34 43 10 16", 0x02010100, 100.1},
	}
	for _, c := range cases {
		f, n, err := Decode(unhex(t, c.wire))
		if err != nil || n != len(unhex(t, c.wire)) {
			t.Fatalf("%s: n=%d err=%v", c.wire, n, err)
		}
		if f.Addr != addr || f.Control != 0x91 {
			t.Fatalf("%s: addr %s control %02X", c.wire, f.Addr, f.Control)
		}
		r, err := ParseReadReply(f, c.di)
		if err != nil {
			t.Fatal(err)
		}
		v, err := Items[c.di].Format.Decode(r.Value)
		if err != nil || v != c.want {
			t.Fatalf("%s: %v %v, want %v", c.di, v, err, c.want)
		}
	}
}

// The example: a read of 00 00 00 00 (68 … 68 11 04 33 33 33 33 …)
// answered with 317.76 kWh, built from the standard's rules (BCD 00031776, low
// byte first, +33 each: A9 4A 36 33).
func TestCombinedEnergy31776(t *testing.T) {
	addr, _ := ParseAddress("201203040506")
	req, _ := AppendEncode(nil, ReadRequest(addr, 0x00000000), false)
	if !bytes.Contains(req, unhex(t, "68 11 04 33 33 33 33")) {
		t.Fatalf("request % X", req)
	}
	reply := []byte{0x68, 0x06, 0x05, 0x04, 0x03, 0x12, 0x20, 0x68, 0x91, 0x08, 0x33, 0x33, 0x33, 0x33, 0xA9, 0x4A, 0x36, 0x33}
	reply = append(reply, checksum(reply), 0x16)
	f, _, err := Decode(reply)
	if err != nil {
		t.Fatal(err)
	}
	r, err := ParseReadReply(f, 0)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := Items[0].Format.Decode(r.Value); err != nil || v != 317.76 {
		t.Fatalf("got %v %v", v, err)
	}
	if f.Addr.String() != "201203040506" {
		t.Fatalf("address %s", f.Addr)
	}
}

func TestAddress(t *testing.T) {
	a, err := ParseAddress("161")
	if err != nil || a != (Address{0x61, 0x01, 0, 0, 0, 0}) {
		t.Fatalf("%v %v", a, err)
	}
	w, err := ParseAddress("AAAAAAAA0161")
	if err != nil || !w.Matches(a) || w.Matches(Address{0x62, 0x01}) {
		t.Fatalf("wildcard %v %v", w, err)
	}
	if !Broadcast.Matches(a) || !Wildcard.Matches(a) {
		t.Fatal("broadcast and all-AA must match every meter")
	}
	for _, bad := range []string{"", "1234567890123", "12345678901Z"} {
		if _, err := ParseAddress(bad); err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	good, _ := AppendEncode(nil, ReadRequest(Address{1}, 0x00010000), false)
	badCS := bytes.Clone(good)
	badCS[len(badCS)-2]++
	badEnd := bytes.Clone(good)
	badEnd[len(badEnd)-1] = 0x17
	long := bytes.Clone(good)
	long[9] = 201
	cases := []struct {
		name string
		in   []byte
		want error
	}{
		{"truncated", good[:len(good)-1], ErrTruncated},
		{"checksum", badCS, ErrChecksum},
		{"end byte", badEnd, ErrFraming},
		{"length", long, ErrLength},
		{"no start", []byte{0x00, 0x68, 1, 2, 3, 4, 5, 6, 0x68, 0x11, 0, 0x16}, ErrFraming},
	}
	for _, c := range cases {
		if _, _, err := Decode(c.in); !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}
	if _, err := AppendEncode(nil, Frame{Data: make([]byte, 201)}, false); !errors.Is(err, ErrLength) {
		t.Errorf("encode of 201 bytes: %v", err)
	}
}

func TestErrorReply(t *testing.T) {
	f := Frame{Addr: Address{1}, Control: 0xD1, Data: []byte{ErrBitNoData}}
	err := ReplyError(f)
	var er *ErrorReply
	if !errors.As(err, &er) || !er.NoData() || !strings.Contains(err.Error(), "no requested data") {
		t.Fatalf("%v", err)
	}
	if _, err := ParseReadReply(f, 0x00010000); !errors.As(err, &er) {
		t.Fatalf("ParseReadReply: %v", err)
	}
	pw := ReplyError(Frame{Control: 0xD1, Data: []byte{ErrBitPassword | ErrBitOther}})
	if !strings.Contains(pw.Error(), "password") || !strings.Contains(pw.Error(), "other") {
		t.Fatalf("%v", pw)
	}
	if ReplyError(Frame{Control: 0x91}) != nil {
		t.Fatal("a normal reply is not an error")
	}
}

func TestFollowUp(t *testing.T) {
	first := Frame{Addr: Address{1}, Control: 0xB1, Data: append(DI(0x0001FF00).appendWire(nil), 0x00, 0x01, 0x00, 0x00)}
	r, err := ParseReadReply(first, 0x0001FF00)
	if err != nil || !r.FollowUp {
		t.Fatalf("%+v %v", r, err)
	}
	req := FollowUpRequest(Address{1}, 0x0001FF00, 1)
	if req.Control != 0x12 || len(req.Data) != 5 || req.Data[4] != 1 {
		t.Fatalf("%+v", req)
	}
	last := Frame{Addr: Address{1}, Control: 0x92, Data: append(DI(0x0001FF00).appendWire(nil), 0x11, 0x00, 0x00, 0x00, 0x01)}
	r, err = ParseReadReply(last, 0x0001FF00)
	if err != nil || r.FollowUp || r.Seq != 1 || len(r.Value) != 4 {
		t.Fatalf("%+v %v", r, err)
	}
}

func TestFormats(t *testing.T) {
	cases := []struct {
		format string
		signed bool
		wire   []byte
		value  float64
	}{
		{"XXXXXX.XX", false, []byte{0x76, 0x17, 0x03, 0x00}, 317.76},
		{"XXX.X", false, []byte{0x01, 0x22}, 220.1},
		{"XXX.XXX", true, []byte{0x00, 0x05, 0x80}, -0.5},
		{"XX.XXXX", true, []byte{0x00, 0x10, 0x00}, 0.1},
		{"XX.XXXX", true, []byte{0x00, 0x10, 0x81}, -1.1},
		{"XXXXXX", false, []byte{0x12, 0x00, 0x00}, 12},
		{"bits16", false, []byte{0x10, 0x02}, 0x0210},
	}
	for _, c := range cases {
		f, err := ParseFormat(c.format, c.signed)
		if err != nil {
			t.Fatal(err)
		}
		v, err := f.Decode(c.wire)
		if err != nil || v != c.value {
			t.Errorf("%s decode % X: %v %v, want %v", c.format, c.wire, v, err, c.value)
		}
		back, err := f.AppendEncode(nil, c.value)
		if err != nil || !bytes.Equal(back, c.wire) {
			t.Errorf("%s encode %v: % X %v, want % X", c.format, c.value, back, err, c.wire)
		}
	}
	if _, err := (Format{Bytes: 2, Decimals: 1}).Decode([]byte{0xFF, 0xFF}); !errors.Is(err, ErrNotBCD) {
		t.Errorf("FF FF: %v", err)
	}
	if _, err := (Format{Bytes: 2, Decimals: 1}).AppendEncode(nil, 1000); err == nil {
		t.Error("1000.0 does not fit XXX.X")
	}
	if _, err := (Format{Bytes: 2, Decimals: 1}).AppendEncode(nil, -1); err == nil {
		t.Error("negative unsigned")
	}
	for _, bad := range []string{"", "XXX", "XX.X.X", "XXAB", "bits7"} {
		if _, err := ParseFormat(bad, false); err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
}

func TestScannerResynchronises(t *testing.T) {
	a, _ := AppendEncode(nil, Frame{Addr: Address{1}, Control: 0x91, Data: []byte{0, 0, 1, 0, 0x26, 0, 0, 0}}, true)
	b, _ := AppendEncode(nil, Frame{Addr: Address{2}, Control: 0x91, Data: []byte{0, 1, 1, 2, 0x01, 0x10}}, false)
	broken := bytes.Clone(b)
	broken[len(broken)-2] ^= 0xFF
	var s Scanner
	stream := append(append(append(append([]byte{0x00, 0x13, 0x68, 0x55}, a...), 0xEE, 0xEE), broken...), b...)
	for i := 0; i < len(stream); i += 3 { // arrive in small pieces
		s.Write(stream[i:min(i+3, len(stream))])
	}
	var got []Frame
	for {
		f, ok := s.Next()
		if !ok {
			break
		}
		got = append(got, f)
	}
	if len(got) != 2 || got[0].Addr != (Address{1}) || got[1].Addr != (Address{2}) {
		t.Fatalf("frames %+v", got)
	}
	if s.Errors[ErrChecksum] != 1 || s.Discarded == 0 {
		t.Fatalf("errors %v discarded %d", s.Errors, s.Discarded)
	}
}

func TestControlRequests(t *testing.T) {
	at := time.Date(2024, 5, 1, 14, 23, 5, 0, time.UTC)
	bt := BroadcastTimeRequest(at)
	if bt.Addr != Broadcast || bt.Control != 0x08 || !bytes.Equal(bt.Data, []byte{0x05, 0x23, 0x14, 0x01, 0x05, 0x24}) {
		t.Fatalf("%+v", bt)
	}
	rc := RelayControlRequest(Address{1}, [4]byte{0x02, 0, 0, 0}, [4]byte{}, RelayTrip, at)
	if rc.Control != 0x1C || len(rc.Data) != 16 || rc.Data[8] != 0x1A {
		t.Fatalf("%+v", rc)
	}
}

func FuzzDecode(f *testing.F) {
	good, _ := AppendEncode(nil, ReadRequest(Address{0x61, 0x01}, 0x00010000), true)
	f.Add(good)
	f.Add([]byte{0x68, 0x61, 0x01, 0, 0, 0, 0, 0x68, 0x91, 0x08, 0x33, 0x33, 0x34, 0x33, 0x59, 0x33, 0x33, 0x33, 0x8A, 0x16})
	f.Add([]byte{0x68, 1, 2, 3, 4, 5, 6, 0x68, 0xD1, 0x01, 0x35, 0x00, 0x16})
	f.Add([]byte{0xFE, 0xFE, 0x68})
	f.Fuzz(func(t *testing.T, in []byte) {
		fr, n, err := Decode(in)
		if err != nil {
			return
		}
		if n > len(in) || len(fr.Data) > MaxDataLen {
			t.Fatalf("n=%d len=%d data=%d", n, len(in), len(fr.Data))
		}
		// What decodes must encode back to the same bytes (less the preamble).
		out, err := AppendEncode(nil, fr, false)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out, bytes.TrimLeft(in[:n], "\xFE")) {
			t.Fatalf("round trip\n in % X\nout % X", in[:n], out)
		}
		var s Scanner
		s.Write(in)
		for {
			if _, ok := s.Next(); !ok {
				break
			}
		}
	})
}

func FuzzFormat(f *testing.F) {
	f.Add([]byte{0x76, 0x17, 0x03, 0x00}, uint8(4), uint8(2), true)
	f.Add([]byte{0x01, 0x22}, uint8(2), uint8(1), false)
	f.Fuzz(func(t *testing.T, in []byte, n, dec uint8, signed bool) {
		fm := Format{Bytes: int(n%7) + 1, Decimals: int(dec % 8), Signed: signed}
		if len(in) < fm.Bytes {
			return
		}
		raw := in[:fm.Bytes]
		v, err := fm.Decode(raw)
		if err != nil {
			return
		}
		back, err := fm.AppendEncode(nil, v)
		if err != nil {
			t.Fatalf("decoded %v from % X but cannot encode it: %v", v, raw, err)
		}
		v2, err := fm.Decode(back)
		if err != nil || v2 != v {
			t.Fatalf("% X → %v → % X → %v %v", raw, v, back, v2, err)
		}
	})
}
