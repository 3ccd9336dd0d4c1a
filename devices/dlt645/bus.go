package dlt645

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/estatehq/estate/devices/serial"
)

// ErrTimeout is a meter that did not answer in time.
var ErrTimeout = errors.New("dlt645: no answer")

// maxFollowUps bounds how many follow-up frames one read may take.
const maxFollowUps = 32

// Bus is one serial line shared by many meters: one transaction at a time.
// It is not safe for concurrent use; its owner (the line shared by the
// meters' drivers, whose polls the scheduler runs one at a time per port, or
// a commissioning command) serialises the transactions.
type Bus struct {
	Settings serial.Settings
	// Preamble sends FE FE FE FE before each request to wake meters up.
	Preamble bool
	// open opens the line; serial.Open unless a test replaces it.
	open func(serial.Settings) (serial.Port, error)
	m    *metrics

	port    serial.Port
	scanner Scanner
	out     []byte
	in      [256]byte
}

// NewBus returns a bus on a line; the line is opened on first use and
// reopened after a link error. Its metrics go to reg (nil: a private registry).
func NewBus(s serial.Settings, reg prometheus.Registerer) *Bus {
	return newBus(s, newMetrics(reg))
}

func newBus(s serial.Settings, m *metrics) *Bus {
	b := &Bus{Settings: s, Preamble: true, open: serial.Open, m: m}
	b.scanner.m = m
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

// Transact sends req and waits up to timeout for the reply from the same
// address with the same function. Echoes, frames for other meters and broken
// frames are counted and skipped.
func (b *Bus) Transact(ctx context.Context, req Frame, timeout time.Duration) (Frame, error) {
	if b.port == nil {
		p, err := b.open(b.Settings)
		if err != nil {
			b.m.transactions.WithLabelValues("link_error").Inc()
			return Frame{}, err
		}
		b.port = p
	}
	_ = b.port.Flush() // drop what a late meter sent after the last timeout
	b.scanner.Reset()
	var err error
	if b.out, err = AppendEncode(b.out[:0], req, b.Preamble); err != nil {
		return Frame{}, err
	}
	if _, err := b.port.Write(b.out); err != nil {
		b.linkFailed()
		return Frame{}, fmt.Errorf("write to %s: %w", b.Settings.Port, err)
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
			case f.Addr != req.Addr && !req.Addr.Matches(f.Addr):
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
			return Frame{}, fmt.Errorf("%w from %s within %s", ErrTimeout, req.Addr, timeout)
		}
		n, err := b.port.Read(b.in[:])
		if n > 0 {
			b.scanner.Write(b.in[:n])
		}
		if err != nil && !errors.Is(err, serial.ErrTimeout) {
			b.linkFailed()
			return Frame{}, fmt.Errorf("read from %s: %w", b.Settings.Port, err)
		}
	}
}

func (b *Bus) linkFailed() {
	b.m.transactions.WithLabelValues("link_error").Inc()
	_ = b.Close()
}

// Read reads one identifier (or block) of a meter, following up when the
// meter splits its answer over several frames. The value bytes come back
// without the identifier.
func (b *Bus) Read(ctx context.Context, addr Address, di DI, timeout time.Duration) ([]byte, error) {
	f, err := b.Transact(ctx, ReadRequest(addr, di), timeout)
	if err != nil {
		return nil, err
	}
	r, err := ParseReadReply(f, di)
	if err != nil {
		return nil, err
	}
	value := append([]byte(nil), r.Value...)
	for seq := byte(1); r.FollowUp; seq++ {
		if seq > maxFollowUps {
			return nil, fmt.Errorf("dlt645: %s of %s: more than %d follow-up frames", di, addr, maxFollowUps)
		}
		f, err := b.Transact(ctx, FollowUpRequest(addr, di, seq), timeout)
		if err != nil {
			return nil, fmt.Errorf("follow-up %d: %w", seq, err)
		}
		if r, err = ParseReadReply(f, di); err != nil {
			return nil, fmt.Errorf("follow-up %d: %w", seq, err)
		}
		value = append(value, r.Value...)
	}
	return value, nil
}

// ReadAddress asks the only meter on the line for its address.
func (b *Bus) ReadAddress(ctx context.Context, timeout time.Duration) (Address, error) {
	f, err := b.Transact(ctx, ReadAddressRequest(), timeout)
	if err != nil {
		return Address{}, err
	}
	if err := ReplyError(f); err != nil {
		return Address{}, err
	}
	if len(f.Data) != 6 {
		return Address{}, fmt.Errorf("dlt645: read-address reply of %d bytes", len(f.Data))
	}
	var a Address
	copy(a[:], f.Data)
	return a, nil
}

// Send writes a frame that has no reply (broadcast time).
func (b *Bus) Send(req Frame) error {
	if b.port == nil {
		p, err := b.open(b.Settings)
		if err != nil {
			return err
		}
		b.port = p
	}
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
