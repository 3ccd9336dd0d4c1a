package modbus

import (
	"encoding/binary"
	"testing"
)

// A counted point answers each read covering it with the number of such
// reads, and tells the observer; reads that miss it, and writes, do not count.
func TestSlaveCountReads(t *testing.T) {
	p, err := ParseProfile("counted", []byte(`name: counted
points:
  - {name: seq, table: holding, address: 0, type: uint32}
  - {name: v,   table: holding, address: 2, type: float32}
  - {name: on,  table: coil,    address: 0, type: bool}
`))
	if err != nil {
		t.Fatal(err)
	}
	s := NewSlave(p)
	var seen []uint64
	if err := s.CountReads("seq", func(n uint64) { seen = append(seen, n) }); err != nil {
		t.Fatal(err)
	}
	read := func(addr, qty uint16) []byte {
		pdu := []byte{3, 0, 0, 0, 0}
		binary.BigEndian.PutUint16(pdu[1:], addr)
		binary.BigEndian.PutUint16(pdu[3:], qty)
		return s.Handle(pdu)
	}
	for want := uint32(1); want <= 3; want++ {
		resp := read(0, 4)
		if len(resp) != 10 || resp[0] != 3 {
			t.Fatalf("answer % x", resp)
		}
		if got := binary.BigEndian.Uint32(resp[2:6]); got != want {
			t.Fatalf("read %d answered seq %d", want, got)
		}
	}
	read(2, 2)                      // does not cover seq
	read(1, 3)                      // covers half of it
	s.Handle([]byte{6, 0, 2, 0, 1}) // a write
	if v, _ := s.Get("seq"); v != 3 {
		t.Errorf("seq %v after reads that missed it, want 3", v)
	}
	if len(seen) != 3 || seen[0] != 1 || seen[2] != 3 {
		t.Errorf("observed %v, want [1 2 3]", seen)
	}
	if err := s.CountReads("on", nil); err == nil {
		t.Error("a coil accepted as a read counter")
	}
	if err := s.CountReads("nope", nil); err == nil {
		t.Error("an unknown point accepted as a read counter")
	}
}
