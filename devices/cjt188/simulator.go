package cjt188

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/estatehq/estate/devices/serial"
)

// SimMeter is a simulated prepaid water meter: the household draws water at
// Flow while the valve is open, the remaining amount runs down at the price,
// and at zero the meter closes its valve (arrears) until it is topped up.
type SimMeter struct {
	Addr Address
	Type byte // 0x10 if zero
	// Volume is the current accumulated volume, m³; SettlementVolume the
	// volume on the last settlement day.
	Volume, SettlementVolume float64
	// Flow is the household's draw while the valve is open, m³/h.
	Flow float64
	// Speed runs the meter's use faster than the clock (600: a real second
	// is ten minutes of use), so a demo sees a balance drain in a minute.
	Speed float64
	// PricePerM3 is yuan per m³ (4 if zero).
	PricePerM3 float64
	// Balance is the remaining amount, yuan; PurchaseCount, LastPurchase and
	// TotalPurchased are the purchase data of 8105.
	Balance        float64
	PurchaseCount  int
	LastPurchase   float64
	TotalPurchased float64
	// ValveFault and BatteryLow are faults a test or a script injects.
	ValveFault, BatteryLow bool
	// Silent meters do not answer (broken wire, flat battery).
	Silent bool
	// Password, when set, is what a valve command must carry after the valve byte.
	Password []byte

	// closed: the valve is shut, by a command (remote) or for arrears.
	closed, remote bool
	last           time.Time
}

func (m *SimMeter) price() float64 {
	if m.PricePerM3 > 0 {
		return m.PricePerM3
	}
	return 4
}

func (m *SimMeter) speed() float64 {
	if m.Speed > 0 {
		return m.Speed
	}
	return 1
}

// advance runs the meter's clock forward to now.
func (m *SimMeter) advance(now time.Time) {
	if m.last.IsZero() {
		m.last = now
	}
	dt := now.Sub(m.last).Hours() * m.speed()
	m.last = now
	if m.closed || m.ValveFault || m.Silent {
		return
	}
	used := m.Flow * dt
	if cost := used * m.price(); cost >= m.Balance {
		used = m.Balance / m.price()
		m.Balance = 0
		m.closed = true // arrears: the meter shuts its valve at zero
	} else {
		m.Balance -= cost
	}
	m.Volume += used
}

// TopUp records a purchase; a valve closed for arrears opens again.
func (m *SimMeter) TopUp(yuan float64) {
	m.Balance += yuan
	m.PurchaseCount++
	m.LastPurchase = yuan
	m.TotalPurchased += yuan
	if m.Balance > 0 && !m.remote {
		m.closed = false
	}
}

// ValveClosed tells whether the valve is shut.
func (m *SimMeter) ValveClosed() bool { return m.closed }

// Status is the meter's status word.
func (m *SimMeter) Status() Status {
	var s Status
	switch {
	case m.ValveFault:
		s = ValveStateFault
	case m.closed:
		s = ValveStateClosed
	}
	if m.BatteryLow {
		s |= 0x04
	}
	return s
}

// data returns the value bytes of an identifier (after DI and SER).
func (m *SimMeter) data(di DI, now time.Time) ([]byte, bool) {
	st := uint16(m.Status())
	switch di {
	case DIMeterData:
		out, _ := formats["volume"].AppendEncode(nil, m.Volume)
		out, _ = formats["volume"].AppendEncode(out, m.SettlementVolume)
		out = appendTime(out, now)
		return append(out, byte(st), byte(st>>8)), true
	case DIPurchase:
		out, _ := formats["XX"].AppendEncode(nil, float64(m.PurchaseCount%100))
		out, _ = formats["XXXXXX.XX"].AppendEncode(out, m.LastPurchase)
		out, _ = formats["XXXXXX.XX"].AppendEncode(out, m.TotalPurchased)
		out, _ = formats["XXXXXX.XX"].AppendEncode(out, m.Balance)
		return append(out, byte(st), byte(st>>8)), true
	}
	return nil, false
}

// appendTime appends the real time: ss mm hh DD MM YY YY (BCD, the year's
// low two digits first).
func appendTime(dst []byte, t time.Time) []byte {
	b := func(v int) byte { return byte(v/10)<<4 | byte(v%10) }
	return append(dst, b(t.Second()), b(t.Minute()), b(t.Hour()), b(t.Day()), b(int(t.Month())), b(t.Year()%100), b(t.Year()/100))
}

// SimBus is a line of simulated water meters on a pseudo-terminal pair. It
// answers as real meters do: one reply per request, after the time the bytes
// take on the wire at the line's baud rate and the meter's turnaround.
type SimBus struct {
	pty *serial.PTY
	// Settings give the wire time; a zero Baud answers at once.
	Settings serial.Settings
	// Turnaround is the meter's delay before it answers (20 ms if zero when pacing).
	Turnaround time.Duration

	mu       sync.Mutex
	meters   []*SimMeter
	requests int
}

// NewSimBus opens a pseudo-terminal pair for a line of meters; link, when not
// empty, is a path made to point at the line the driver opens.
func NewSimBus(link string) (*SimBus, error) {
	p, err := serial.OpenPTY(link)
	if err != nil {
		return nil, err
	}
	return &SimBus{pty: p}, nil
}

// Path is the serial port the driver opens.
func (s *SimBus) Path() string { return s.pty.Path() }

// Add puts a meter on the line.
func (s *SimBus) Add(m *SimMeter) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m.Type == 0 {
		m.Type = TypeColdWater
	}
	s.meters = append(s.meters, m)
}

// With runs f on the meter with that address under the bus's lock (to read
// or change its state while the bus runs).
func (s *SimBus) With(addr Address, f func(*SimMeter)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.meters {
		if m.Addr == addr {
			m.advance(time.Now())
			f(m)
			return true
		}
	}
	return false
}

// each runs f on every meter under the bus's lock, its clock advanced.
func (s *SimBus) each(f func(*SimMeter)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	for _, m := range s.meters {
		m.advance(now)
		f(m)
	}
}

// Requests is how many requests the bus has seen.
func (s *SimBus) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Run answers requests until ctx ends, then closes the line.
func (s *SimBus) Run(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { _ = s.pty.Close() })
	defer stop()
	var sc Scanner
	buf := make([]byte, 512)
	for {
		n, err := s.pty.Master.Read(buf)
		if n > 0 {
			sc.Write(buf[:n])
			for {
				f, ok := sc.Next()
				if !ok {
					break
				}
				reply := s.answer(f, time.Now())
				if reply == nil {
					continue
				}
				s.pace(f, reply)
				if _, err := s.pty.Master.Write(reply); err != nil && ctx.Err() == nil {
					return fmt.Errorf("cjt188 simulator write: %w", err)
				}
			}
		}
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, os.ErrClosed) {
				return nil
			}
			if errors.Is(err, io.EOF) {
				continue
			}
			return fmt.Errorf("cjt188 simulator read: %w", err)
		}
	}
}

func (s *SimBus) pace(req Frame, reply []byte) {
	if s.Settings.Baud == 0 {
		return
	}
	turn := s.Turnaround
	if turn == 0 {
		turn = 20 * time.Millisecond
	}
	reqLen := len(Preamble) + minFrame + len(req.Data)
	time.Sleep(time.Duration(reqLen+len(reply))*s.Settings.ByteTime() + turn)
}

// answer returns the wire bytes of the reply to a request, or nil for none.
func (s *SimBus) answer(req Frame, now time.Time) []byte {
	if req.IsReply() || len(req.Data) < 3 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	var hit []*SimMeter
	for _, m := range s.meters {
		if req.Addr.Matches(m.Addr) && (req.Type == TypeAny || req.Type == m.Type) && !m.Silent {
			hit = append(hit, m)
		}
	}
	if len(hit) == 0 {
		return nil
	}
	var replies [][]byte
	for _, m := range hit {
		m.advance(now)
		replies = append(replies, s.reply(m, req, now))
	}
	if len(replies) == 1 {
		return replies[0]
	}
	// Several meters answer at once: on the wire their bytes mix (an M-Bus
	// master sees the lower current of any sender), a frame that fails its
	// checksum or its delimiters.
	out := append([]byte(nil), replies[0]...)
	for _, r := range replies[1:] {
		for i := range min(len(out), len(r)) {
			out[i] &= r[i]
		}
	}
	if len(out) > 2 {
		out[len(out)-2] = checksum(out[:len(out)-2]) ^ 0x5A
	}
	return out
}

func (s *SimBus) reply(m *SimMeter, req Frame, now time.Time) []byte {
	// Answer in the byte order the request used.
	order := LowFirst
	di := diFromWire(req.Data, LowFirst)
	if _, ok := known[di]; !ok {
		if alt := diFromWire(req.Data, HighFirst); known[alt] {
			di, order = alt, HighFirst
		}
	}
	ser := req.Data[2]
	ok := func(data ...byte) []byte {
		f := Request(m.Type, m.Addr, req.Func()|ctrlReply, di, order, ser, data...)
		out, _ := AppendEncode(nil, f, false)
		return out
	}
	refuse := func() []byte {
		st := uint16(m.Status())
		out, _ := AppendEncode(nil, Frame{Type: m.Type, Addr: m.Addr, Control: req.Func() | ctrlReply | ctrlAbnormal,
			Data: []byte{ser, byte(st), byte(st >> 8)}}, false)
		return out
	}
	switch req.Func() {
	case FuncReadData:
		d, found := m.data(di, now)
		if !found {
			return refuse()
		}
		return ok(d...)
	case FuncReadAddress:
		if di != DIReadAddress {
			return refuse()
		}
		return ok()
	case FuncWriteAddress:
		if di != DIWriteAddress || len(req.Data) < 10 {
			return refuse()
		}
		var to Address
		copy(to[:], req.Data[3:10])
		out := ok() // the reply comes from the old address
		m.Addr = to
		return out
	case FuncWriteData:
		if di != DIValveControl || len(req.Data) < 4 || m.ValveFault {
			return refuse()
		}
		if string(req.Data[4:]) != string(m.Password) {
			return refuse()
		}
		switch req.Data[3] {
		case ValveOpen:
			if m.Balance <= 0 {
				return refuse() // in arrears: the meter keeps its valve shut
			}
			m.closed, m.remote = false, false
		case ValveClose:
			m.closed, m.remote = true, true
		default:
			return refuse()
		}
		st := uint16(m.Status())
		return ok(byte(st), byte(st>>8))
	}
	return refuse()
}

// known are the identifiers the simulator answers.
var known = map[DI]bool{DIMeterData: true, DIPurchase: true, DIReadAddress: true, DIValveControl: true, DIWriteAddress: true}
