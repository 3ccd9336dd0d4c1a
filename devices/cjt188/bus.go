package cjt188

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/estatehq/estate/devices/serial"
)

// ErrTimeout is a meter that did not answer in time.
var ErrTimeout = errors.New("cjt188: no answer")

// ErrCollision is more than one meter answering one request (a broadcast on
// a line with several meters): what arrives is garbled or more than one frame.
var ErrCollision = errors.New("cjt188: several meters answered at once")

// Bus is one serial line shared by many meters: one transaction at a time.
// It is not safe for concurrent use; its owner (the line the meters' drivers
// share, whose polls the scheduler runs one at a time per port, or a
// commissioning command) serialises the transactions.
type Bus struct {
	Settings serial.Settings
	// Preamble sends FE FE FE FE before each request to wake meters up.
	Preamble bool
	// Order is the identifiers' byte order of commissioning requests (read
	// and write address, discovery); a meter's polls use its profile's.
	Order Order
	open  func(serial.Settings) (serial.Port, error)
	m     *metrics

	port    serial.Port
	scanner Scanner
	ser     byte
	out     []byte
	in      [256]byte
}

// NewBus returns a bus on a line; the line is opened on first use and
// reopened after a link error. Its metrics go to reg (nil: a private registry).
func NewBus(s serial.Settings, reg prometheus.Registerer) *Bus { return newBus(s, newMetrics(reg)) }

func newBus(s serial.Settings, m *metrics) *Bus {
	b := &Bus{Settings: s, Preamble: true, open: serial.Open, m: m}
	b.scanner.m = m
	b.scanner.Reuse = true
	return b
}

// Close closes the line.
func (b *Bus) Close() error {
	if b.port == nil {
		return nil
	}
	err := b.port.Close()
	b.port = nil
	return err
}

func (b *Bus) send(req Frame) error {
	if b.port == nil {
		p, err := b.open(b.Settings)
		if err != nil {
			b.m.transactions.WithLabelValues("link_error").Inc()
			return err
		}
		b.port = p
	}
	_ = b.port.Flush() // drop what a late meter sent after the last timeout
	b.scanner.Reset()
	var err error
	if b.out, err = AppendEncode(b.out[:0], req, b.Preamble); err != nil {
		return err
	}
	if _, err := b.port.Write(b.out); err != nil {
		b.linkFailed()
		return fmt.Errorf("write to %s: %w", b.Settings.Port, err)
	}
	return nil
}

// read waits until deadline for bytes into the scanner.
func (b *Bus) read() error {
	n, err := b.port.Read(b.in[:])
	if n > 0 {
		b.scanner.Write(b.in[:n])
	}
	if err != nil && !errors.Is(err, serial.ErrTimeout) {
		b.linkFailed()
		return fmt.Errorf("read from %s: %w", b.Settings.Port, err)
	}
	return nil
}

// nextSER is the serial number of the next request, one more each time. The
// meter echoes it; replies are not matched on it (a late reply is dropped by
// the flush before each request instead), so that a meter that does not echo
// it still reads.
func (b *Bus) nextSER() byte {
	b.ser++
	return b.ser
}

// Transact sends req and waits up to timeout for the reply of the same
// function from the addressed meter. Echoes, frames for other meters and
// broken frames are counted and skipped; the returned frame's Data is valid
// until the next transaction.
func (b *Bus) Transact(ctx context.Context, req Frame, timeout time.Duration) (Frame, error) {
	if err := b.send(req); err != nil {
		return Frame{}, err
	}
	// The request's own time on the wire counts towards the deadline too.
	deadline := time.Now().Add(timeout + time.Duration(len(b.out))*b.Settings.ByteTime())
	for {
		for {
			f, ok := b.scanner.Next()
			if !ok {
				break
			}
			switch {
			case !f.IsReply():
				b.m.strayFrames.WithLabelValues("echo").Inc()
			case !req.Addr.Matches(f.Addr):
				b.m.strayFrames.WithLabelValues("wrong_address").Inc()
			case f.Func() != req.Func():
				b.m.strayFrames.WithLabelValues("wrong_function").Inc()
			default:
				if ReplyError(f) != nil {
					b.m.transactions.WithLabelValues("refused").Inc()
				} else {
					b.m.transactions.WithLabelValues("ok").Inc()
				}
				return f, nil
			}
		}
		if err := ctx.Err(); err != nil {
			return Frame{}, err
		}
		if time.Now().After(deadline) {
			b.m.transactions.WithLabelValues("timeout").Inc()
			if b.scanner.Broken > 0 && req.Addr != Broadcast {
				return Frame{}, fmt.Errorf("%w from %s within %s (%d broken frames)", ErrTimeout, req.Addr, timeout, b.scanner.Broken)
			}
			return Frame{}, fmt.Errorf("%w from %s within %s", ErrTimeout, req.Addr, timeout)
		}
		if err := b.read(); err != nil {
			return Frame{}, err
		}
	}
}

func (b *Bus) linkFailed() {
	b.m.transactions.WithLabelValues("link_error").Inc()
	_ = b.Close()
}

// Read reads one identifier of a meter and returns the data after the
// identifier and SER (a copy).
func (b *Bus) Read(ctx context.Context, t byte, addr Address, di DI, o Order, timeout time.Duration) ([]byte, error) {
	f, err := b.Transact(ctx, Request(t, addr, FuncReadData, di, o, b.nextSER()), timeout)
	if err != nil {
		return nil, err
	}
	r, err := ParseReply(f, FuncReadData, di)
	if err != nil {
		return nil, err
	}
	return append([]byte(nil), r.Value...), nil
}

// ReadAddress asks the only meter on the line for its address (broadcast
// address, any type) and returns it with the meter's type.
func (b *Bus) ReadAddress(ctx context.Context, timeout time.Duration) (Address, byte, error) {
	found, err := b.Probe(ctx, Broadcast, timeout)
	if err != nil {
		return Address{}, 0, err
	}
	if len(found) == 0 {
		return Address{}, 0, fmt.Errorf("%w to read address within %s", ErrTimeout, timeout)
	}
	return found[0].Addr, found[0].Type, nil
}

// Found is a meter that answered a read-address request.
type Found struct {
	Addr Address
	Type byte
}

// Probe sends a read-address request to addr (which may hold wildcard bytes)
// and listens for the whole timeout: the meters that answered, or
// ErrCollision when more than one did (garbled frames, or several replies).
func (b *Bus) Probe(ctx context.Context, addr Address, timeout time.Duration) ([]Found, error) {
	if err := b.send(Request(TypeAny, addr, FuncReadAddress, DIReadAddress, b.Order, b.nextSER())); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(timeout + time.Duration(len(b.out))*b.Settings.ByteTime())
	var found []Found
	for {
		for {
			f, ok := b.scanner.Next()
			if !ok {
				break
			}
			if !f.IsReply() || f.Func() != FuncReadAddress || !addr.Matches(f.Addr) || ReplyError(f) != nil {
				b.m.strayFrames.WithLabelValues("wrong_function").Inc()
				continue
			}
			a := f.Addr
			// A reply may carry the address after DI and SER too (some
			// meters put the header's address there only).
			if len(f.Data) >= 10 {
				copy(a[:], f.Data[3:10])
			}
			found = append(found, Found{Addr: a, Type: f.Type})
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if time.Now().After(deadline) {
			break
		}
		if err := b.read(); err != nil {
			return nil, err
		}
	}
	switch {
	case b.scanner.Broken > 0 || len(found) > 1 || (len(found) == 0 && (b.scanner.Discarded > 0 || b.scanner.Pending() > 0)):
		b.m.transactions.WithLabelValues("collision").Inc()
		return found, fmt.Errorf("%w (to %s: %d replies, %d broken frames)", ErrCollision, addr, len(found), b.scanner.Broken)
	case len(found) == 0:
		b.m.transactions.WithLabelValues("timeout").Inc()
	default:
		b.m.transactions.WithLabelValues("ok").Inc()
	}
	return found, nil
}

// WriteAddress gives the meter at addr (Broadcast when it is the only one
// on the line) a new address (control 15H, identifier A018).
func (b *Bus) WriteAddress(ctx context.Context, t byte, addr, to Address, timeout time.Duration) error {
	f, err := b.Transact(ctx, Request(t, addr, FuncWriteAddress, DIWriteAddress, b.Order, b.nextSER(), to[:]...), timeout)
	if err != nil {
		return fmt.Errorf("write address of %s: %w", addr, err)
	}
	if err := ReplyError(f); err != nil {
		return fmt.Errorf("write address of %s: %w", addr, err)
	}
	return nil
}

// Valve opens (ValveOpen) or closes (ValveClose) a meter's valve (control
// 04H, identifier A017), with the meter's password after the valve byte when
// it wants one, and returns the meter's refusal as an *ErrorReply.
func (b *Bus) Valve(ctx context.Context, t byte, addr Address, o Order, cmd byte, password []byte, timeout time.Duration) error {
	data := append([]byte{cmd}, password...)
	f, err := b.Transact(ctx, Request(t, addr, FuncWriteData, DIValveControl, o, b.nextSER(), data...), timeout)
	if err != nil {
		return fmt.Errorf("valve control of %s: %w", addr, err)
	}
	if err := ReplyError(f); err != nil {
		return fmt.Errorf("valve control of %s: %w", addr, err)
	}
	return nil
}

// Discover finds the addresses of the meters on the line: a read-address
// request to the broadcast address, and where several meters answer at once,
// the search narrows one address byte at a time (A0 first, each of its 100
// BCD values with the other bytes left as wildcards) for meters that accept
// wildcard bytes. visit, when not nil, is told of each probe (progress).
func (b *Bus) Discover(ctx context.Context, timeout time.Duration, visit func(Address, int, error)) ([]Found, error) {
	var out []Found
	var walk func(prefix Address, depth int) error
	walk = func(prefix Address, depth int) error {
		found, err := b.Probe(ctx, prefix, timeout)
		if visit != nil {
			visit(prefix, len(found), err)
		}
		switch {
		case errors.Is(err, ErrCollision):
			if depth == len(prefix) {
				return fmt.Errorf("meters with the same address %s: %w", prefix, err)
			}
			for v := range 100 {
				next := prefix
				next[depth] = byte(v/10)<<4 | byte(v%10)
				if err := walk(next, depth+1); err != nil {
					return err
				}
			}
			return nil
		case err != nil:
			return err
		}
		out = append(out, found...)
		return nil
	}
	if err := walk(Broadcast, 0); err != nil {
		return out, err
	}
	return out, nil
}
