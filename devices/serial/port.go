package serial

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"time"

	gbserial "github.com/goburrow/serial"
)

// ReadWait is the longest a Read of an open line waits for a byte: short, so
// that callers check their own deadlines (a Modbus RTU answer's, a context's)
// often and a Close from another goroutine takes effect quickly.
const ReadWait = 10 * time.Millisecond

// ErrTimeout is what Read returns when nothing arrived within ReadWait. It is
// not a failure of the line: callers read again until their own deadline. It
// says Timeout() like a net.Error, so code reading TCP and serial links alike
// can tell it with one check.
var ErrTimeout error = timeoutError{}

type timeoutError struct{}

func (timeoutError) Error() string   { return "serial: nothing received within the read wait" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

// Port is an open line. Read returns what arrived within ReadWait, or
// ErrTimeout when nothing did; io.EOF means the line hung up.
type Port interface {
	io.ReadWriteCloser
	// Flush drops what was received and not read yet (the late answer of a
	// meter whose request already timed out).
	Flush() error
}

// Open opens the line in raw mode with its baud rate, data bits, parity and
// stop bits (termios through goburrow/serial; it also checks the settings'
// values the kernel supports).
func Open(s Settings) (Port, error) {
	p, err := gbserial.Open(&gbserial.Config{
		Address: s.Port, BaudRate: s.Baud, DataBits: s.DataBits, StopBits: s.StopBits,
		Parity: string(rune(s.Parity)), Timeout: ReadWait,
	})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", s.Port, err)
	}
	return &port{p: p, name: s.Port}, nil
}

// port adapts goburrow's port: it makes Close safe while another goroutine
// reads (goburrow's port is not), turns the odd results of a non-blocking
// read into ErrTimeout, and writes everything it is given.
type port struct {
	name string

	mu     sync.Mutex // held by each Read/Write call; Close waits for it
	p      gbserial.Port
	closed bool
}

func (p *port) Read(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return 0, os.ErrClosed
	}
	n, err := p.p.Read(b)
	n = max(n, 0) // syscall.Read reports -1 with its error
	switch {
	case n > 0:
		return n, nil
	case errors.Is(err, gbserial.ErrTimeout), errors.Is(err, syscall.EAGAIN), errors.Is(err, syscall.EINTR):
		return 0, ErrTimeout
	case err == nil:
		return 0, io.EOF // readable with nothing to read: the line hung up
	}
	return 0, fmt.Errorf("read %s: %w", p.name, err)
}

// Write writes all of b. The line is non-blocking: when the kernel's output
// queue is full (a long frame at a low baud rate) it waits for room.
func (p *port) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return 0, os.ErrClosed
	}
	written := 0
	for written < len(b) {
		n, err := p.p.Write(b[written:])
		written += max(n, 0)
		switch {
		case errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EINTR):
			time.Sleep(time.Millisecond)
		case err != nil:
			return written, fmt.Errorf("write %s: %w", p.name, err)
		}
	}
	return written, nil
}

// Flush reads and drops what the line has buffered, until it has been quiet
// for one ReadWait.
func (p *port) Flush() error {
	var scratch [256]byte
	for range 64 { // at most 16 KiB: a line that never stops talking is read by the caller
		if _, err := p.Read(scratch[:]); err != nil {
			if errors.Is(err, ErrTimeout) {
				return nil
			}
			return err
		}
	}
	return nil
}

func (p *port) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	return p.p.Close()
}
