// Package serialline opens RS-485/RS-232 lines with github.com/tarm/serial and
// makes pseudo-terminal pairs that simulated devices serve, so that drivers
// are tested through a real tty, byte for byte.
package serialline

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/creack/pty"
	"github.com/tarm/serial"
	"golang.org/x/sys/unix"

	estateserial "github.com/estatehq/estate/devices/serial"
)

// Settings are a line's parameters with the defaults of the protocol applied.
type Settings struct {
	Port     string
	Baud     int
	DataBits int
	Parity   byte // 'N', 'E', 'O'
	StopBits int
}

// Resolve fills what a device's serial section leaves out with the protocol's
// defaults (DL/T 645: 2400 baud 8E1).
func Resolve(s *estateserial.Config, defBaud int, defParity byte) Settings {
	out := Settings{Baud: defBaud, DataBits: 8, Parity: defParity, StopBits: 1}
	if s == nil {
		return out
	}
	out.Port = s.Port
	if s.Baud != 0 {
		out.Baud = s.Baud
	}
	if s.DataBits != 0 {
		out.DataBits = s.DataBits
	}
	if s.Parity != "" {
		out.Parity = strings.ToUpper(s.Parity)[0]
	}
	if s.StopBits != 0 {
		out.StopBits = s.StopBits
	}
	return out
}

// Check reports what is wrong with the settings, one message per field.
func (s Settings) Check() map[string]string {
	ps := map[string]string{}
	if s.Port == "" {
		ps["port"] = "required: the serial device, such as /dev/ttyUSB0"
	}
	switch s.Baud {
	case 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200:
	default:
		ps["baud"] = fmt.Sprintf("%d is not a supported rate (1200, 2400, 4800, 9600, 19200 … 115200)", s.Baud)
	}
	if s.DataBits != 7 && s.DataBits != 8 {
		ps["data_bits"] = fmt.Sprintf("must be 7 or 8, got %d", s.DataBits)
	}
	if s.Parity != 'N' && s.Parity != 'E' && s.Parity != 'O' {
		ps["parity"] = fmt.Sprintf("must be N, E or O, got %q", string(s.Parity))
	}
	if s.StopBits != 1 && s.StopBits != 2 {
		ps["stop_bits"] = fmt.Sprintf("must be 1 or 2, got %d", s.StopBits)
	}
	return ps
}

// ByteTime is how long one character takes on the wire (start, data, parity, stop bits).
func (s Settings) ByteTime() time.Duration {
	bits := 1 + s.DataBits + s.StopBits
	if s.Parity != 'N' {
		bits++
	}
	return time.Duration(bits) * time.Second / time.Duration(max(s.Baud, 1))
}

// Port is an open line. Reads return within readTimeout with what arrived
// (possibly nothing, reported as io.EOF).
type Port interface {
	io.ReadWriteCloser
	Flush() error
}

// Open opens the line in raw mode. Reads wait at most 100 ms, the finest
// interval termios allows, so that callers check their deadlines often.
func Open(s Settings) (Port, error) {
	p, err := serial.OpenPort(&serial.Config{
		Name: s.Port, Baud: s.Baud, Size: byte(s.DataBits),
		Parity: serial.Parity(s.Parity), StopBits: serial.StopBits(s.StopBits),
		ReadTimeout: 100 * time.Millisecond,
	})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", s.Port, err)
	}
	return p, nil
}

// PTY is a pseudo-terminal pair: the simulated device reads and writes Master;
// the driver opens the slave by its path (Name, or the Link made to it).
type PTY struct {
	Master *os.File
	slave  *os.File
	Name   string
	Link   string
}

// OpenPTY makes a pair with the slave in raw mode. When link is not empty a
// symbolic link is made there to the slave, so that a configuration can name a
// stable path (an existing link there is replaced; any other file is an error).
func OpenPTY(link string) (*PTY, error) {
	m, s, err := pty.Open()
	if err != nil {
		return nil, fmt.Errorf("pseudo-terminal: %w", err)
	}
	t, err := unix.IoctlGetTermios(int(s.Fd()), unix.TCGETS)
	if err == nil {
		t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
		t.Oflag &^= unix.OPOST
		t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
		t.Cflag &^= unix.CSIZE | unix.PARENB
		t.Cflag |= unix.CS8
		err = unix.IoctlSetTermios(int(s.Fd()), unix.TCSETS, t)
	}
	if err != nil {
		m.Close()
		s.Close()
		return nil, fmt.Errorf("pseudo-terminal raw mode: %w", err)
	}
	p := &PTY{Master: m, slave: s, Name: s.Name()}
	if link != "" {
		if fi, err := os.Lstat(link); err == nil {
			if fi.Mode()&fs.ModeSymlink == 0 {
				p.Close()
				return nil, fmt.Errorf("pseudo-terminal link %s: a file that is not a link is there", link)
			}
			_ = os.Remove(link)
		} else if !errors.Is(err, fs.ErrNotExist) {
			p.Close()
			return nil, fmt.Errorf("pseudo-terminal link %s: %w", link, err)
		}
		if err := os.Symlink(p.Name, link); err != nil {
			p.Close()
			return nil, fmt.Errorf("pseudo-terminal link: %w", err)
		}
		p.Link = link
	}
	return p, nil
}

// Path is what a driver opens: the link when there is one.
func (p *PTY) Path() string {
	if p.Link != "" {
		return p.Link
	}
	return p.Name
}

// Close closes both ends and removes the link.
func (p *PTY) Close() error {
	if p.Link != "" {
		_ = os.Remove(p.Link)
	}
	return errors.Join(p.Master.Close(), p.slave.Close())
}
