package serial

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// PTY is a pseudo-terminal pair: the simulated device reads and writes Master;
// the driver opens the slave by its path (Path: the Link made to it, or Name).
type PTY struct {
	Master *os.File
	// Name is the slave's own path (/dev/pts/N).
	Name string
	// Link is the stable path made to the slave, if one was asked for.
	Link string
	// slave is held open so that the master does not see EIO between a
	// driver's close and its next open, and so that the raw mode stays.
	slave *os.File
}

// OpenPTY allocates a pair through /dev/ptmx with the slave in raw mode (no
// echo, no line editing, 8 data bits). When link is not empty a symbolic link
// is made there to the slave, so that a configuration can name a stable path
// (an existing link there is replaced; any other file is an error).
func OpenPTY(link string) (*PTY, error) {
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("pseudo-terminal: %w", err)
	}
	name, err := unlockPTS(m)
	if err != nil {
		_ = m.Close()
		return nil, fmt.Errorf("pseudo-terminal: %w", err)
	}
	s, err := os.OpenFile(name, os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		_ = m.Close()
		return nil, fmt.Errorf("pseudo-terminal: %w", err)
	}
	p := &PTY{Master: m, Name: name, slave: s}
	if err := control(s, makeRaw); err != nil {
		_ = p.Close()
		return nil, fmt.Errorf("pseudo-terminal raw mode: %w", err)
	}
	if link != "" {
		if fi, err := os.Lstat(link); err == nil {
			if fi.Mode()&fs.ModeSymlink == 0 {
				_ = p.Close()
				return nil, fmt.Errorf("pseudo-terminal link %s: a file that is not a link is there", link)
			}
			_ = os.Remove(link)
		} else if !errors.Is(err, fs.ErrNotExist) {
			_ = p.Close()
			return nil, fmt.Errorf("pseudo-terminal link %s: %w", link, err)
		}
		if err := os.Symlink(p.Name, link); err != nil {
			_ = p.Close()
			return nil, fmt.Errorf("pseudo-terminal link: %w", err)
		}
		p.Link = link
	}
	return p, nil
}

// unlockPTS unlocks the slave of a /dev/ptmx master and returns its path.
func unlockPTS(m *os.File) (string, error) {
	var n uint32
	err := control(m, func(fd int) error {
		if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
			return fmt.Errorf("unlock: %w", err)
		}
		var err error
		if n, err = unix.IoctlGetUint32(fd, unix.TIOCGPTN); err != nil {
			return fmt.Errorf("number: %w", err)
		}
		return nil
	})
	return fmt.Sprintf("/dev/pts/%d", n), err
}

// control runs f on the file's descriptor without taking it out of Go's
// poller (File.Fd would make it blocking, and a blocked Read of the master
// would then outlive Close).
func control(f *os.File, fn func(fd int) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

// makeRaw is cfmakeraw(3) on a terminal.
func makeRaw(fd int) error {
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return err
	}
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8
	t.Cc[unix.VMIN] = 1
	t.Cc[unix.VTIME] = 0
	return unix.IoctlSetTermios(fd, unix.TCSETS, t)
}

// Path is what a driver opens: the link when there is one.
func (p *PTY) Path() string {
	if p.Link != "" {
		return p.Link
	}
	return p.Name
}

// Close closes both ends and removes the link; a simulator reading Master returns.
func (p *PTY) Close() error {
	if p.Link != "" {
		_ = os.Remove(p.Link)
	}
	return errors.Join(p.Master.Close(), p.slave.Close())
}
