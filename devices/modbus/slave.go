package modbus

import (
	"encoding/binary"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Slave is one simulated Modbus device: a register bank laid out by a profile,
// so that the simulator and the driver agree by construction, and the faults
// it is told to show. The TCP and RTU servers hand it request PDUs.
//
// Every table answers for the addresses from its profile's lowest point to
// the end of its highest (registers in between read as zero, as on most
// meters); outside that span, and on addresses set in Faults.Exceptions, it
// answers with an exception.
type Slave struct {
	profile *Profile

	mu     sync.Mutex
	banks  map[string]*bank
	faults Faults

	requests atomic.Uint64

	// counter, when set, is a point that counts the reads covering it.
	counter *readCounter
}

// readCounter is a register point whose value is the number of read
// requests that covered it (CountReads).
type readCounter struct {
	table   string
	addr    uint16
	width   uint16
	pt      *Point
	n       uint64
	observe func(n uint64)
}

// bank is one table's values from address lo on.
type bank struct {
	lo   uint16
	regs []uint16 // register tables
	bits []bool   // bit tables
}

// Faults make a simulated device misbehave the way real ones do.
type Faults struct {
	// Silent: the device does not answer at all (unplugged, wrong baud rate).
	Silent bool
	// Delay is added before every answer (a slow meter).
	Delay time.Duration
	// WrongSlave: answers carry another slave id (a miswired address switch).
	WrongSlave bool
	// CorruptCRC: RTU answers have a wrong checksum (noise on the line).
	CorruptCRC bool
	// Garbage: answers are replaced by bytes that are no Modbus frame.
	Garbage bool
	// Truncate: answers stop halfway.
	Truncate bool
	// Exceptions answers reads and writes touching these addresses (in any
	// table) with the exception code given.
	Exceptions map[uint16]byte
	// Only, when set, limits the faults above but Exceptions to requests
	// that start at one of these addresses.
	Only []uint16
}

// forRequest is the faults that apply to one request PDU.
func (f Faults) forRequest(pdu []byte) Faults {
	if len(f.Only) == 0 {
		return f
	}
	if len(pdu) >= 3 && slices.Contains(f.Only, binary.BigEndian.Uint16(pdu[1:3])) {
		return f
	}
	return Faults{Exceptions: f.Exceptions}
}

// NewSlave returns a simulated device for a profile; every point starts at zero.
func NewSlave(p *Profile) *Slave {
	s := &Slave{profile: p, banks: map[string]*bank{}}
	for _, table := range tables {
		lo, hi, found := uint32(0xFFFF), uint32(0), false
		for i := range p.Points {
			pt := &p.Points[i]
			if pt.Table != table {
				continue
			}
			found = true
			lo = min(lo, uint32(pt.Address))
			hi = max(hi, uint32(pt.Address)+uint32(pt.width))
		}
		if !found {
			continue
		}
		if p.Limits.EvenAddress && !IsBitTable(table) {
			lo &^= 1
			if hi%2 == 1 && hi < 0x10000 {
				hi++
			}
		}
		b := &bank{lo: uint16(lo)}
		if IsBitTable(table) {
			b.bits = make([]bool, hi-lo)
		} else {
			b.regs = make([]uint16, hi-lo)
		}
		s.banks[table] = b
	}
	return s
}

// Profile is the register map the slave serves.
func (s *Slave) Profile() *Profile { return s.profile }

// Requests is how many requests the slave has been sent.
func (s *Slave) Requests() uint64 { return s.requests.Load() }

// SetFaults replaces the slave's faults.
func (s *Slave) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f
}

// Faults returns the slave's current faults.
func (s *Slave) Faults() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults
}

// CountReads makes a register point (an unsigned integer of 16 or 32 bits)
// the slave's own record of what it answered: every read request covering the
// point is answered with the count of such requests so far (1 for the first),
// and observe, when not nil, is told each count before the answer leaves (it
// runs with the slave locked and must be quick). A soak counts a reading the
// gateway stored against the answer that carried it this way.
func (s *Slave) CountReads(point string, observe func(n uint64)) error {
	pt, ok := s.profile.Point(point)
	if !ok {
		return fmt.Errorf("modbus simulator: profile %s has no point %q", s.profile.Name, point)
	}
	if IsBitTable(pt.Table) || pt.kind == kindBool {
		return fmt.Errorf("modbus simulator: point %s is not a register count", point)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counter = &readCounter{table: pt.Table, addr: pt.Address, width: uint16(pt.width), pt: pt, observe: observe}
	return nil
}

// countRead advances the read counter when a read of table from addr, qty
// registers, covers it; s.mu is held.
func (s *Slave) countRead(table string, b *bank, addr, qty uint16) {
	c := s.counter
	if c == nil || c.table != table || uint32(c.addr) < uint32(addr) || uint32(c.addr)+uint32(c.width) > uint32(addr)+uint32(qty) {
		return
	}
	c.n++
	s.putRaw(b, int(c.addr)-int(b.lo), c.pt.Encode(float64(c.n)))
	if c.observe != nil {
		c.observe(c.n)
	}
}

// Set writes a point's value (in engineering units) into its registers.
func (s *Slave) Set(point string, value float64) error {
	pt, ok := s.profile.Point(point)
	if !ok {
		return fmt.Errorf("modbus simulator: profile %s has no point %q", s.profile.Name, point)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.banks[pt.Table]
	off := int(pt.Address) - int(b.lo)
	if b.bits != nil {
		b.bits[off] = value != 0
		return nil
	}
	raw := pt.Encode(value)
	if pt.kind == kindBool {
		// Only the point's bit changes; the register's other bits stay.
		mask := binary.BigEndian.Uint16(pt.Encode(1))
		b.regs[off] = b.regs[off]&^mask | binary.BigEndian.Uint16(raw)
		return nil
	}
	s.putRaw(b, off, raw)
	return nil
}

// SetText writes a string point's text.
func (s *Slave) SetText(point, text string) error {
	pt, ok := s.profile.Point(point)
	if !ok {
		return fmt.Errorf("modbus simulator: profile %s has no point %q", s.profile.Name, point)
	}
	if IsBitTable(pt.Table) {
		return fmt.Errorf("modbus simulator: point %s is a bit", point)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.banks[pt.Table]
	s.putRaw(b, int(pt.Address)-int(b.lo), pt.EncodeText(text))
	return nil
}

func (s *Slave) putRaw(b *bank, off int, raw []byte) {
	for w := 0; w+1 < len(raw); w += 2 {
		b.regs[off+w/2] = uint16(raw[w])<<8 | uint16(raw[w+1])
	}
}

// Get reads a point back in engineering units (what a client would decode).
func (s *Slave) Get(point string) (float64, error) {
	pt, ok := s.profile.Point(point)
	if !ok {
		return 0, fmt.Errorf("modbus simulator: profile %s has no point %q", s.profile.Name, point)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.banks[pt.Table]
	off := int(pt.Address) - int(b.lo)
	if b.bits != nil {
		if b.bits[off] {
			return 1, nil
		}
		return 0, nil
	}
	raw := make([]byte, int(pt.width)*2)
	for w := range int(pt.width) {
		binary.BigEndian.PutUint16(raw[2*w:], b.regs[off+w])
	}
	return pt.Decode(raw)
}

// Registers returns raw register values of a table (for tests that compare a
// third-party client's view).
func (s *Slave) Registers(table string, addr, qty uint16) ([]uint16, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]uint16, qty)
	b, ok := s.banks[table]
	if !ok || b.regs == nil {
		return nil, fmt.Errorf("no %s registers", table)
	}
	for i := range qty {
		off := int(addr) + int(i) - int(b.lo)
		if off < 0 || off >= len(b.regs) {
			return nil, fmt.Errorf("%s register %d is not served", table, int(addr)+int(i))
		}
		out[i] = b.regs[off]
	}
	return out, nil
}

// exception builds an exception response PDU.
func exception(fc, code byte) []byte { return []byte{fc | 0x80, code} }

// Handle answers one request PDU (function code and data) with a response
// PDU, which may be an exception. It does not apply the transport faults
// (silence, delay, framing): the servers do.
func (s *Slave) Handle(pdu []byte) []byte {
	s.requests.Add(1)
	if len(pdu) < 1 {
		return exception(0, 1)
	}
	fc, data := pdu[0], pdu[1:]
	var table string
	switch fc {
	case 1, 5, 15:
		table = TableCoil
	case 2:
		table = TableDiscrete
	case 3, 6, 16:
		table = TableHolding
	case 4:
		table = TableInput
	default:
		return exception(fc, 1)
	}
	if len(data) < 4 {
		return exception(fc, 3)
	}
	addr, qty := binary.BigEndian.Uint16(data[0:2]), binary.BigEndian.Uint16(data[2:4])
	switch fc {
	case 5, 6:
		qty = 1
	case 1, 2:
		if qty < 1 || qty > protocolMaxBits {
			return exception(fc, 3)
		}
	case 3, 4:
		if qty < 1 || qty > protocolMaxRegisters {
			return exception(fc, 3)
		}
	case 15, 16:
		if len(data) < 5 || qty < 1 || qty > 1968 || int(data[4]) != len(data)-5 {
			return exception(fc, 3)
		}
		if fc == 16 && (qty > 123 || int(data[4]) != 2*int(qty)) || fc == 15 && int(data[4]) != (int(qty)+7)/8 {
			return exception(fc, 3)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for a := uint32(addr); a < uint32(addr)+uint32(qty); a++ {
		if code, ok := s.faults.Exceptions[uint16(a)]; ok {
			return exception(fc, code)
		}
	}
	b, ok := s.banks[table]
	if !ok || addr < b.lo || int(addr-b.lo)+int(qty) > max(len(b.regs), len(b.bits)) {
		return exception(fc, 2)
	}
	off := int(addr - b.lo)
	switch fc {
	case 1, 2:
		out := make([]byte, 2+(int(qty)+7)/8)
		out[0], out[1] = fc, byte((int(qty)+7)/8)
		for i := range int(qty) {
			if b.bits[off+i] {
				out[2+i/8] |= 1 << uint(i%8)
			}
		}
		return out
	case 3, 4:
		s.countRead(table, b, addr, qty)
		out := make([]byte, 2+2*int(qty))
		out[0], out[1] = fc, byte(2*qty)
		for i := range int(qty) {
			binary.BigEndian.PutUint16(out[2+2*i:], b.regs[off+i])
		}
		return out
	case 5:
		v := binary.BigEndian.Uint16(data[2:4])
		if v != 0xFF00 && v != 0 {
			return exception(fc, 3)
		}
		b.bits[off] = v == 0xFF00
		return append([]byte{fc}, data[:4]...)
	case 6:
		b.regs[off] = binary.BigEndian.Uint16(data[2:4])
		return append([]byte{fc}, data[:4]...)
	case 15:
		for i := range int(qty) {
			b.bits[off+i] = data[5+i/8]>>uint(i%8)&1 == 1
		}
		return append([]byte{fc}, data[:4]...)
	default: // 16
		for i := range int(qty) {
			b.regs[off+i] = binary.BigEndian.Uint16(data[5+2*i:])
		}
		return append([]byte{fc}, data[:4]...)
	}
}

// putRawForTest sets one holding register directly.
func (s *Slave) putRawForTest(addr, v uint16) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.banks[TableHolding]
	if b == nil || addr < b.lo || int(addr-b.lo) >= len(b.regs) {
		return fmt.Errorf("no holding register %d", addr)
	}
	b.regs[addr-b.lo] = v
	return nil
}
