package dlt645

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sync"
	"time"

	"github.com/estatehq/estate/devices/serial"
)

// SimMeter is a simulated household prepaid meter: the household draws power,
// the remaining amount runs down, below alarm level 2 the meter warns before
// tripping, and past the overdraft limit its relay opens and the load stops.
type SimMeter struct {
	Addr           Address
	Balance        float64 // yuan; negative while in overdraft
	DrainPerSecond float64 // yuan per second while the relay is closed
	PricePerKWh    float64 // 0.6 if zero
	Alarm1, Alarm2 float64 // yuan: red digits below Alarm1, pre-trip warning below Alarm2
	OverdraftLimit float64 // yuan the meter lends before tripping
	EnergyKWh      float64 // forward active energy total
	PowerFailures  int     // 掉电总次数
	// Silent meters do not answer (broken wire, no power).
	Silent bool
	// Unsupported identifiers get the error reply "no requested data".
	Unsupported map[DI]bool
	// Password is the control password relay commands need, as the data
	// field carries it (PA P0 P1 P2: see WireCodes).
	Password [4]byte
	// AllowDirectClose: the meter accepts 1CH (合闸直接); without it the
	// command is refused ("other error"), as by models that do not have it.
	AllowDirectClose bool
	// ClockSet is the time the last clock broadcast carried (zero: never set).
	ClockSet time.Time

	relayOpen bool
	// remoteTrip: the relay was opened by a relay command and stays open
	// until a command allows it to close, whatever the balance.
	remoteTrip bool
	last       time.Time
	elapsed    float64
}

// price is yuan per kWh.
func (m *SimMeter) price() float64 {
	if m.PricePerKWh > 0 {
		return m.PricePerKWh
	}
	return 0.6
}

// advance runs the meter's clock forward to now.
func (m *SimMeter) advance(now time.Time) {
	if m.last.IsZero() {
		m.last = now
	}
	dt := now.Sub(m.last).Seconds()
	m.last = now
	m.elapsed += dt
	if m.relayOpen || m.Silent {
		return
	}
	spent := m.DrainPerSecond * dt
	m.Balance -= spent
	m.EnergyKWh += spent / m.price()
	if m.Balance <= -m.OverdraftLimit {
		m.relayOpen = true
	}
}

// TopUp adds money; a tripped relay closes again once the balance is positive.
func (m *SimMeter) TopUp(yuan float64) {
	m.Balance += yuan
	if m.Balance > 0 && !m.remoteTrip {
		m.relayOpen = false
	}
}

// RelayOpen tells whether the meter has tripped.
func (m *SimMeter) RelayOpen() bool { return m.relayOpen }

// value is the meter's current value of an identifier, if it has one.
func (m *SimMeter) value(di DI) (float64, bool) {
	if m.Unsupported[di] {
		return 0, false
	}
	load := !m.relayOpen
	voltage := 220 + 2*math.Sin(m.elapsed/7)
	current := 0.0
	if load {
		current = 4.5 + 0.5*math.Sin(m.elapsed/3)
	}
	switch di {
	case 0x00000000, 0x00010000:
		return m.EnergyKWh, true
	case 0x00010100:
		return m.EnergyKWh * 0.4, true
	case 0x00010200:
		return m.EnergyKWh * 0.6, true
	case 0x00020000:
		return 0, true
	case 0x02010100:
		return voltage, true
	case 0x02020100:
		return current, true
	case 0x02030000, 0x02030100:
		return voltage * current / 1000, true
	case 0x02060000:
		return 0.98, true
	case 0x02800002:
		return 50 + 0.02*math.Sin(m.elapsed), true
	case 0x00900200:
		return math.Max(m.Balance, 0), true
	case 0x00900201:
		return math.Max(-m.Balance, 0), true
	case 0x00900100:
		return math.Max(m.Balance, 0) / m.price(), true
	case 0x00900101:
		return math.Max(-m.Balance, 0) / m.price(), true
	case 0x04001001:
		return m.Alarm1, true
	case 0x04001002:
		return m.Alarm2, true
	case 0x04001003:
		return m.OverdraftLimit, true
	case 0x03110000:
		return float64(m.PowerFailures), true
	case 0x04000503:
		w := 2 << 8 // bits 8-9 = 10: a money-prepaid meter
		if m.relayOpen {
			w |= 1<<Status3RelayOpen | 1<<Status3RelayCommandOff
		} else if m.Balance < m.Alarm2 {
			w |= 1 << Status3PreTripAlarm
		}
		return float64(w), true
	}
	return 0, false
}

// SimBus is a line of simulated meters on a pseudo-terminal pair. It answers
// as real meters do: one reply per request, after the time the bytes take on
// the wire at the line's baud rate and the meter's turnaround, so that a sweep
// takes as long as on a real bus.
type SimBus struct {
	pty *serial.PTY
	// Settings give the wire time; a zero Baud answers at once.
	Settings serial.Settings
	// Turnaround is the meter's delay before it answers (the standard allows
	// 20 to 500 ms; 20 ms if zero when pacing).
	Turnaround time.Duration
	// MaxValueBytes splits a reply into follow-up frames above this many
	// value bytes (the meter's own frame limit); 0 means the standard's.
	MaxValueBytes int

	mu       sync.Mutex
	meters   []*SimMeter
	requests int
	pending  map[Address][]byte // follow-up data still to send
}

// NewSimBus opens a pseudo-terminal pair for a line of meters; link, when not
// empty, is a path made to point at the line the driver opens.
func NewSimBus(link string) (*SimBus, error) {
	p, err := serial.OpenPTY(link)
	if err != nil {
		return nil, err
	}
	return &SimBus{pty: p, pending: map[Address][]byte{}}, nil
}

// Path is the serial port the driver opens.
func (s *SimBus) Path() string { return s.pty.Path() }

// Add puts a meter on the line.
func (s *SimBus) Add(m *SimMeter) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.meters = append(s.meters, m)
}

// With runs f on the meter with that address under the bus's lock (to read or
// change its state while the bus runs).
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

// Requests is how many requests the bus has seen.
// ClockSet is when the meter at a's clock was last set by broadcast (zero: never).
func (s *SimBus) ClockSet(a Address) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.meters {
		if m.Addr == a {
			return m.ClockSet
		}
	}
	return time.Time{}
}

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
				reply := s.answer(f)
				if reply == nil {
					continue
				}
				s.pace(f, reply)
				if _, err := s.pty.Master.Write(reply); err != nil && ctx.Err() == nil {
					return fmt.Errorf("dlt645 simulator write: %w", err)
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
			return fmt.Errorf("dlt645 simulator read: %w", err)
		}
	}
}

// pace waits as long as the request and the reply take on the wire, plus
// the meter's turnaround.
func (s *SimBus) pace(req Frame, reply []byte) {
	if s.Settings.Baud == 0 {
		return
	}
	turn := s.Turnaround
	if turn == 0 {
		turn = 20 * time.Millisecond
	}
	reqLen := 4 + minFrame + len(req.Data)
	time.Sleep(time.Duration(reqLen+len(reply))*s.Settings.ByteTime() + turn)
}

// answer returns the wire bytes of the reply to a request, or nil for none.
func (s *SimBus) answer(req Frame) []byte {
	if req.IsReply() {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	now := time.Now()
	var target *SimMeter
	matches := 0
	for _, m := range s.meters {
		if req.Addr.Matches(m.Addr) && !m.Silent {
			target = m
			matches++
		}
	}
	if req.Func() == FuncBroadcastTime {
		// Every meter that hears it sets its clock; none answers.
		if at, ok := broadcastTime(req.Data); ok {
			for _, m := range s.meters {
				if !m.Silent {
					m.ClockSet = at
				}
			}
		}
		return nil
	}
	if matches == 0 {
		return nil
	}
	if matches > 1 {
		// Several meters answer at once: what arrives is a collision.
		return []byte{0x68, 0x00, 0xFF, 0x13, 0x68, 0x68, 0x91}
	}
	m := target
	m.advance(now)
	reply := Frame{Addr: m.Addr, Control: req.Func() | ctrlReply}
	switch req.Func() {
	case FuncReadAddress:
		reply.Data = m.Addr[:]
	case FuncRead:
		if len(req.Data) < 4 {
			return s.refuse(m, req, ErrBitOther)
		}
		di := diFromWire(req.Data)
		value, ok := m.encode(di)
		if !ok {
			return s.refuse(m, req, ErrBitNoData)
		}
		limit := s.maxValue()
		if len(value) > limit {
			s.pending[m.Addr] = value[limit:]
			value = value[:limit]
			reply.Control |= ctrlFollowUp
		}
		reply.Data = append(di.appendWire(nil), value...)
	case FuncReadFollowUp:
		if len(req.Data) < 5 || s.pending[m.Addr] == nil {
			return s.refuse(m, req, ErrBitNoData)
		}
		di, seq := diFromWire(req.Data), req.Data[4]
		rest := s.pending[m.Addr]
		limit := s.maxValue() - 1
		if len(rest) > limit {
			s.pending[m.Addr] = rest[limit:]
			rest = rest[:limit]
			reply.Control |= ctrlFollowUp
		} else {
			delete(s.pending, m.Addr)
		}
		reply.Data = append(append(di.appendWire(nil), rest...), seq)
	case FuncRelayControl:
		if len(req.Data) < 16 {
			return s.refuse(m, req, ErrBitOther)
		}
		if [4]byte(req.Data[0:4]) != m.Password {
			return s.refuse(m, req, ErrBitPassword)
		}
		switch req.Data[8] {
		case RelayTrip:
			m.relayOpen, m.remoteTrip = true, true
		case RelayAllowClose:
			// The simulated meter closes as soon as closing is allowed, like
			// models that close on permission without a button press.
			m.remoteTrip = false
			if m.Balance > -m.OverdraftLimit {
				m.relayOpen = false
			}
		case RelayDirectClose:
			if !m.AllowDirectClose {
				return s.refuse(m, req, ErrBitOther)
			}
			m.remoteTrip = false
			if m.Balance > -m.OverdraftLimit {
				m.relayOpen = false
			}
		default:
			return s.refuse(m, req, ErrBitOther)
		}
	default:
		return s.refuse(m, req, ErrBitPassword)
	}
	out, _ := AppendEncode(nil, reply, false)
	return out
}

func (s *SimBus) maxValue() int {
	if s.MaxValueBytes > 0 {
		return s.MaxValueBytes
	}
	return MaxDataLen - 4
}

func (s *SimBus) refuse(m *SimMeter, req Frame, code byte) []byte {
	out, _ := AppendEncode(nil, Frame{Addr: m.Addr, Control: req.Func() | ctrlReply | ctrlAbnormal, Data: []byte{code}}, false)
	return out
}

// encode returns the value bytes of an identifier or a block.
func (m *SimMeter) encode(di DI) ([]byte, bool) {
	if elems, ok := blocks[di]; ok {
		if m.Unsupported[di] {
			return nil, false
		}
		var out []byte
		for _, e := range elems {
			v, ok := m.value(e)
			if !ok {
				break // a meter answers the elements it has, in order
			}
			out, _ = Items[e].Format.AppendEncode(out, v)
		}
		return out, len(out) > 0
	}
	v, ok := m.value(di)
	if !ok {
		return nil, false
	}
	out, err := Items[di].Format.AppendEncode(nil, v)
	return out, err == nil
}

// broadcastTime decodes the ss mm hh DD MM YY (BCD) of a clock broadcast.
func broadcastTime(d []byte) (time.Time, bool) {
	if len(d) < 6 {
		return time.Time{}, false
	}
	n := func(b byte) int { return int(b>>4)*10 + int(b&0x0F) }
	return time.Date(2000+n(d[5]), time.Month(n(d[4])), n(d[3]), n(d[2]), n(d[1]), n(d[0]), 0, time.Local), true
}
