package cjt188

import (
	"bytes"
	"testing"
)

// FuzzDecode feeds the decoder and the scanner arbitrary bytes: they must
// never panic, a decoded frame must encode back to the same bytes, and the
// scanner must not return more frames than the bytes could hold.
func FuzzDecode(f *testing.F) {
	req, _ := AppendEncode(nil, Request(TypeColdWater, Address{0x44, 0x33, 0x22, 0x11, 0x00, 0x33, 0x78}, FuncReadData, DIMeterData, LowFirst, 0), true)
	f.Add(req)
	m := &SimMeter{Addr: Address{1}, Type: TypeColdWater, Volume: 12.5, Balance: 30}
	d, _ := m.data(DIMeterData, testTime)
	reply, _ := AppendEncode(nil, Request(TypeColdWater, m.Addr, FuncReadData|ctrlReply, DIMeterData, LowFirst, 3, d...), false)
	f.Add(reply)
	p, _ := m.data(DIPurchase, testTime)
	purchase, _ := AppendEncode(nil, Request(TypeColdWater, m.Addr, FuncReadData|ctrlReply, DIPurchase, HighFirst, 4, p...), true)
	f.Add(purchase)
	refused, _ := AppendEncode(nil, Frame{Type: TypeColdWater, Addr: m.Addr, Control: 0xC4, Data: []byte{1, 3, 0}}, false)
	f.Add(refused)
	f.Add([]byte{0x68, 0x10, 0xFF})
	f.Add([]byte{0xFE, 0xFE, 0x68})
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, n, err := Decode(b)
		if err == nil {
			if n <= 0 || n > len(b) {
				t.Fatalf("used %d of %d bytes", n, len(b))
			}
			again, err := AppendEncode(nil, fr, false)
			if err != nil {
				t.Fatalf("a decoded frame does not encode: %v", err)
			}
			if !bytes.HasSuffix(b[:n], again) {
				t.Fatalf("decoded % X from % X, encodes as % X", fr.Data, b[:n], again)
			}
			_, _ = ParseReply(fr, FuncReadData, DIMeterData)
			_ = ReplyError(fr)
		}
		var s Scanner
		s.Write(b)
		frames := 0
		for {
			if _, ok := s.Next(); !ok {
				break
			}
			frames++
		}
		if frames*minFrame > len(b) {
			t.Fatalf("%d frames from %d bytes", frames, len(b))
		}
	})
}

// FuzzProfile checks that profile text either loads or is refused, never panics.
func FuzzProfile(f *testing.F) {
	f.Add([]byte(prepaidProfile))
	f.Add([]byte("name: x\nprotocol: cjt188\npoints: [{name: v, di: '901F', offset: 300, format: volume}]\n"))
	f.Add([]byte("name: x\nprotocol: cjt188\nflow_from: q\npoints: [{name: q, di: '9O1F', format: st, bit: 99}]\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseProfile("fuzz", b)
		if err == nil && len(p.Points) == 0 {
			t.Fatal("a profile without points loaded")
		}
	})
}
