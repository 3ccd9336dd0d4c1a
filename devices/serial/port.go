package serial

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// ReadWait is the longest a Read of an open line waits for a byte: short, so
// that callers check their own deadlines (a Modbus RTU answer's, a context's)
// often.
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
// ErrTimeout when nothing did. Close may be called while another goroutine
// reads: the read returns at once with an error.
type Port interface {
	io.ReadWriteCloser
	// Flush drops what was received and not read yet (the late answer of a
	// meter whose request already timed out). What was written is still
	// sent: a broadcast just written (no reply) must reach the meters.
	Flush() error
}

// bauds are the rates a line may be opened at (termios speed codes).
var bauds = map[int]uint32{
	1200: unix.B1200, 2400: unix.B2400, 4800: unix.B4800, 9600: unix.B9600, 19200: unix.B19200,
	38400: unix.B38400, 57600: unix.B57600, 115200: unix.B115200,
}

// Open opens the line in raw mode with its baud rate, data bits, parity and
// stop bits.
//
// The line is set up with termios directly (golang.org/x/sys/unix) rather
// than through a serial library: github.com/goburrow/serial waits with
// select(2), which breaks on descriptors above 1024 (a gateway with a
// thousand TCP devices has them), logs through the standard logger when a
// line that hung up is closed, has no flush and no Close safe against a
// concurrent Read; github.com/tarm/serial waits in 100 ms steps (VTIME). An
// os.File in non-blocking mode is in Go's poller: read deadlines are exact
// and Close wakes a blocked Read.
func Open(s Settings) (Port, error) {
	t, err := termios(s)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", s.Port, err)
	}
	f, err := os.OpenFile(s.Port, os.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", s.Port, err)
	}
	if err := control(f, func(fd int) error { return unix.IoctlSetTermios(fd, unix.TCSETS, t) }); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("open %s: line settings %s: %w", s.Port, s, err)
	}
	return &port{f: f, name: s.Port}, nil
}

// termios is the raw-mode terminal setting of a line: no echo, no line
// editing, no character mapping, the receiver on, modem lines ignored.
func termios(s Settings) (*unix.Termios, error) {
	speed, ok := bauds[s.Baud]
	if !ok {
		return nil, fmt.Errorf("unsupported baud rate %d", s.Baud)
	}
	t := &unix.Termios{Cflag: unix.CREAD | unix.CLOCAL | speed, Ispeed: speed, Ospeed: speed}
	switch s.DataBits {
	case 7:
		t.Cflag |= unix.CS7
	case 8:
		t.Cflag |= unix.CS8
	default:
		return nil, fmt.Errorf("unsupported data bits %d", s.DataBits)
	}
	switch s.Parity {
	case 'N':
	case 'E':
		t.Cflag |= unix.PARENB
		t.Iflag |= unix.INPCK
	case 'O':
		t.Cflag |= unix.PARENB | unix.PARODD
		t.Iflag |= unix.INPCK
	default:
		return nil, fmt.Errorf("unsupported parity %q", string(s.Parity))
	}
	switch s.StopBits {
	case 1:
	case 2:
		t.Cflag |= unix.CSTOPB
	default:
		return nil, fmt.Errorf("unsupported stop bits %d", s.StopBits)
	}
	t.Cc[unix.VMIN], t.Cc[unix.VTIME] = 1, 0 // the poller does the waiting
	return t, nil
}

type port struct {
	f    *os.File
	name string
}

func (p *port) Read(b []byte) (int, error) {
	if err := p.f.SetReadDeadline(time.Now().Add(ReadWait)); errors.Is(err, os.ErrNoDeadline) {
		// Not in the poller: a read could wait for ever.
		return 0, fmt.Errorf("read %s: %w", p.name, err)
	} // any other error is a closed file, which the Read reports as os.ErrClosed
	n, err := p.f.Read(b)
	switch {
	case n > 0:
		return n, nil
	case errors.Is(err, os.ErrDeadlineExceeded):
		return 0, ErrTimeout
	case errors.Is(err, io.EOF):
		return 0, io.EOF // the line hung up
	case err == nil:
		return 0, ErrTimeout
	}
	return 0, fmt.Errorf("read %s: %w", p.name, err)
}

func (p *port) Write(b []byte) (int, error) {
	n, err := p.f.Write(b) // os.File writes everything, waiting for room in the poller
	if err != nil {
		return n, fmt.Errorf("write %s: %w", p.name, err)
	}
	return n, nil
}

// Flush discards the line's input queue (tcflush TCIFLUSH). Not the output
// queue too (TCIOFLUSH): at 2400 baud a frame written a moment ago is still
// in it, and would be lost.
func (p *port) Flush() error {
	return control(p.f, func(fd int) error { return unix.IoctlSetInt(fd, unix.TCFLSH, unix.TCIFLUSH) })
}

func (p *port) Close() error {
	err := p.f.Close()
	if errors.Is(err, os.ErrClosed) {
		return nil // closed already (a context's AfterFunc, then the owner)
	}
	return err
}
