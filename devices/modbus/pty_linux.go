package modbus

import (
	"fmt"
	"os"
	"syscall"
	"unsafe"
)

// PTY is a pseudo-terminal pair: the simulator serves RTU on Master, and a
// client opens SlavePath as it would /dev/ttyUSB0.
type PTY struct {
	Master    *os.File
	SlavePath string
	// keep holds the slave side open so that the master does not see EIO
	// between a client's close and its next open.
	keep *os.File
}

// OpenPTY allocates a pseudo-terminal pair in raw mode (no echo, no line
// editing, 8 data bits), using the kernel's /dev/ptmx.
func OpenPTY() (*PTY, error) {
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, fmt.Errorf("pty: %w", err)
	}
	var unlock int32
	if err := ioctl(m.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); err != nil {
		_ = m.Close()
		return nil, fmt.Errorf("pty: unlock: %w", err)
	}
	var n uint32
	if err := ioctl(m.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); err != nil {
		_ = m.Close()
		return nil, fmt.Errorf("pty: number: %w", err)
	}
	path := fmt.Sprintf("/dev/pts/%d", n)
	s, err := os.OpenFile(path, os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		_ = m.Close()
		return nil, fmt.Errorf("pty: %w", err)
	}
	if err := makeRaw(s.Fd()); err != nil {
		_ = m.Close()
		_ = s.Close()
		return nil, fmt.Errorf("pty: raw mode: %w", err)
	}
	return &PTY{Master: m, SlavePath: path, keep: s}, nil
}

// Close closes both sides; a server reading Master returns.
func (p *PTY) Close() error {
	err := p.Master.Close()
	_ = p.keep.Close()
	return err
}

func ioctl(fd, req, arg uintptr) error {
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, fd, req, arg); errno != 0 {
		return errno
	}
	return nil
}

// makeRaw is cfmakeraw(3) on a terminal.
func makeRaw(fd uintptr) error {
	var t syscall.Termios
	if err := ioctl(fd, syscall.TCGETS, uintptr(unsafe.Pointer(&t))); err != nil {
		return err
	}
	t.Iflag &^= syscall.IGNBRK | syscall.BRKINT | syscall.PARMRK | syscall.ISTRIP | syscall.INLCR |
		syscall.IGNCR | syscall.ICRNL | syscall.IXON
	t.Oflag &^= syscall.OPOST
	t.Lflag &^= syscall.ECHO | syscall.ECHONL | syscall.ICANON | syscall.ISIG | syscall.IEXTEN
	t.Cflag &^= syscall.CSIZE | syscall.PARENB
	t.Cflag |= syscall.CS8
	t.Cc[syscall.VMIN] = 1
	t.Cc[syscall.VTIME] = 0
	return ioctl(fd, syscall.TCSETS, uintptr(unsafe.Pointer(&t)))
}
