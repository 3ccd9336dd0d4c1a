package serial

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestResolve(t *testing.T) {
	for _, tc := range []struct {
		name      string
		in        *Config
		defBaud   int
		defParity byte
		want      Settings
	}{
		{"no section: the protocol's defaults", nil, 2400, 'E', Settings{Baud: 2400, DataBits: 8, Parity: 'E', StopBits: 1}},
		{"only the port", &Config{Port: "/dev/ttyUSB0"}, 9600, 'N', Settings{Port: "/dev/ttyUSB0", Baud: 9600, DataBits: 8, Parity: 'N', StopBits: 1}},
		{"everything given", &Config{Port: "/dev/ttyS1", Baud: 19200, DataBits: 7, Parity: "o", StopBits: 2}, 2400, 'E',
			Settings{Port: "/dev/ttyS1", Baud: 19200, DataBits: 7, Parity: 'O', StopBits: 2}},
		{"parity spelt out keeps its first letter", &Config{Port: "p", Parity: "even"}, 9600, 'N', Settings{Port: "p", Baud: 9600, DataBits: 8, Parity: 'E', StopBits: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Resolve(tc.in, tc.defBaud, tc.defParity); got != tc.want {
				t.Errorf("Resolve = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// The messages are the ones `estate check` prints under devices[i].serial.*;
// configurations and tests depend on their wording.
func TestCheck(t *testing.T) {
	good := Settings{Port: "/dev/ttyUSB0", Baud: 2400, DataBits: 8, Parity: 'E', StopBits: 1}
	for _, tc := range []struct {
		name   string
		change func(*Settings)
		want   map[string]string
	}{
		{"good", func(*Settings) {}, map[string]string{}},
		{"no port", func(s *Settings) { s.Port = "" }, map[string]string{"port": "required: the serial device, such as /dev/ttyUSB0"}},
		{"odd baud", func(s *Settings) { s.Baud = 2401 }, map[string]string{"baud": "2401 is not a supported rate (1200, 2400, 4800, 9600, 19200 … 115200)"}},
		{"data bits", func(s *Settings) { s.DataBits = 6 }, map[string]string{"data_bits": "must be 7 or 8, got 6"}},
		{"parity", func(s *Settings) { s.Parity = 'X' }, map[string]string{"parity": `must be N, E or O, got "X"`}},
		{"stop bits", func(s *Settings) { s.StopBits = 3 }, map[string]string{"stop_bits": "must be 1 or 2, got 3"}},
		{"all at once", func(s *Settings) { *s = Settings{} }, map[string]string{
			"port": "required: the serial device, such as /dev/ttyUSB0", "baud": "0 is not a supported rate (1200, 2400, 4800, 9600, 19200 … 115200)",
			"data_bits": "must be 7 or 8, got 0", "parity": `must be N, E or O, got "\x00"`, "stop_bits": "must be 1 or 2, got 0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := good
			tc.change(&s)
			got := s.Check()
			if len(got) != len(tc.want) {
				t.Fatalf("Check = %v, want %v", got, tc.want)
			}
			for f, msg := range tc.want {
				if got[f] != msg {
					t.Errorf("%s: %q, want %q", f, got[f], msg)
				}
			}
		})
	}
}

func TestByteTime(t *testing.T) {
	for _, tc := range []struct {
		s    Settings
		want time.Duration
	}{
		{Settings{Baud: 2400, DataBits: 8, Parity: 'E', StopBits: 1}, 11 * time.Second / 2400},
		{Settings{Baud: 9600, DataBits: 8, Parity: 'N', StopBits: 1}, 10 * time.Second / 9600},
		{Settings{Baud: 9600, DataBits: 7, Parity: 'N', StopBits: 2}, 10 * time.Second / 9600},
		{Settings{Baud: 0, DataBits: 8, Parity: 'N', StopBits: 1}, 10 * time.Second},
	} {
		if got := tc.s.ByteTime(); got != tc.want {
			t.Errorf("%v: ByteTime = %v, want %v", tc.s, got, tc.want)
		}
	}
}

// Open on a pseudo-terminal's stable link: bytes go both ways unchanged
// (raw mode: no echo, no CR/LF mapping), a read with nothing to read comes
// back within the read wait as ErrTimeout, Flush drops what was not read, and
// Close while another goroutine reads neither races nor hangs.
func TestPTYRoundTrip(t *testing.T) {
	link := filepath.Join(t.TempDir(), "line")
	pty, err := OpenPTY(link)
	if err != nil {
		t.Fatal(err)
	}
	defer pty.Close()
	if pty.Path() != link {
		t.Fatalf("Path %q, want the link %q", pty.Path(), link)
	}
	if target, err := os.Readlink(link); err != nil || target != pty.Name {
		t.Fatalf("link points at %q (%v), want %q", target, err, pty.Name)
	}
	p, err := Open(Settings{Port: pty.Path(), Baud: 2400, DataBits: 8, Parity: 'E', StopBits: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()

	start := time.Now()
	if _, err := p.Read(make([]byte, 8)); !errors.Is(err, ErrTimeout) {
		t.Fatalf("read of a silent line: %v, want ErrTimeout", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("a read of a silent line took %v", took)
	}
	var te interface{ Timeout() bool }
	if !errors.As(ErrTimeout, &te) || !te.Timeout() {
		t.Fatal("ErrTimeout does not say Timeout()")
	}

	out := []byte{0x68, 0x0d, 0x0a, 0x00, 0xff, 0x03, 0x11, 0x13, 0x7f}
	if _, err := p.Write(out); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(out))
	if _, err := io.ReadFull(pty.Master, got); err != nil || !bytes.Equal(got, out) {
		t.Fatalf("master read % x (%v), want % x", got, err, out)
	}
	reply := []byte{0x16, 0x0d, 0x0a, 0x00, 0xfe}
	if _, err := pty.Master.Write(reply); err != nil {
		t.Fatal(err)
	}
	got = readFor(t, p, len(reply))
	if !bytes.Equal(got, reply) {
		t.Fatalf("port read % x, want % x", got, reply)
	}

	// Bytes nobody read are dropped by Flush.
	if _, err := pty.Master.Write([]byte("late answer")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Second, func() bool { return pendingInput(t, pty) > 0 })
	if err := p.Flush(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Read(make([]byte, 64)); !errors.Is(err, ErrTimeout) {
		t.Fatalf("read after Flush: %v, want ErrTimeout", err)
	}
	// What was written just before a Flush is still sent (a broadcast that
	// has no reply, then the next request's flush).
	if _, err := p.Write([]byte("broadcast")); err != nil {
		t.Fatal(err)
	}
	if err := p.Flush(); err != nil {
		t.Fatal(err)
	}
	got = make([]byte, len("broadcast"))
	if _, err := io.ReadFull(pty.Master, got); err != nil || string(got) != "broadcast" {
		t.Fatalf("master read %q (%v) after a Flush, want the bytes written before it", got, err)
	}

	// Close while a reader waits: the reader stops with an error.
	readErr := make(chan error, 1)
	go func() {
		b := make([]byte, 8)
		for {
			if _, err := p.Read(b); err != nil && !errors.Is(err, ErrTimeout) {
				readErr <- err
				return
			}
		}
	}()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-readErr:
		if !errors.Is(err, os.ErrClosed) {
			t.Fatalf("read after Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a reader did not stop after Close")
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestOpenPTYLinkRefusesAFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(path, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenPTY(path); err == nil {
		t.Fatal("OpenPTY replaced a regular file with a link")
	}
	// A stale link (a simulator that did not clean up) is replaced.
	stale := filepath.Join(t.TempDir(), "stale")
	if err := os.Symlink("/nonexistent", stale); err != nil {
		t.Fatal(err)
	}
	p, err := OpenPTY(stale)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(stale); !os.IsNotExist(err) {
		t.Fatalf("Close left the link: %v", err)
	}
}

func TestOpenMissingPort(t *testing.T) {
	_, err := Open(Settings{Port: filepath.Join(t.TempDir(), "nothing"), Baud: 9600, DataBits: 8, Parity: 'N', StopBits: 1})
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("open of a missing port: %v", err)
	}
}

// readFor reads n bytes, each read waiting at most ReadWait.
func readFor(t *testing.T, p Port, n int) []byte {
	t.Helper()
	var got []byte
	buf := make([]byte, 64)
	waitFor(t, 5*time.Second, func() bool {
		k, err := p.Read(buf)
		if err != nil && !errors.Is(err, ErrTimeout) {
			t.Fatalf("read: %v", err)
		}
		got = append(got, buf[:k]...)
		return len(got) >= n
	})
	return got
}

// pendingInput is how many bytes the slave side has buffered (FIONREAD).
func pendingInput(t *testing.T, p *PTY) int {
	t.Helper()
	var n int
	if err := control(p.slave, func(fd int) error {
		var err error
		n, err = unix.IoctlGetInt(fd, unix.TIOCINQ)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// The terminal settings a line is opened with: the framing the settings ask
// for, raw mode, the receiver on, modem lines ignored.
func TestTermios(t *testing.T) {
	const framing = unix.CSIZE | unix.PARENB | unix.PARODD | unix.CSTOPB
	for _, tc := range []struct {
		s      Settings
		cflag  uint32
		inpck  bool
		speed  uint32
		errMsg string
	}{
		{s: Settings{Baud: 2400, DataBits: 8, Parity: 'E', StopBits: 1}, cflag: unix.CS8 | unix.PARENB, inpck: true, speed: unix.B2400},
		{s: Settings{Baud: 9600, DataBits: 8, Parity: 'N', StopBits: 1}, cflag: unix.CS8, speed: unix.B9600},
		{s: Settings{Baud: 19200, DataBits: 7, Parity: 'O', StopBits: 2}, cflag: unix.CS7 | unix.PARENB | unix.PARODD | unix.CSTOPB, inpck: true, speed: unix.B19200},
		{s: Settings{Baud: 115200, DataBits: 8, Parity: 'N', StopBits: 2}, cflag: unix.CS8 | unix.CSTOPB, speed: unix.B115200},
		{s: Settings{Baud: 2401, DataBits: 8, Parity: 'N', StopBits: 1}, errMsg: "unsupported baud rate 2401"},
		{s: Settings{Baud: 9600, DataBits: 6, Parity: 'N', StopBits: 1}, errMsg: "unsupported data bits 6"},
		{s: Settings{Baud: 9600, DataBits: 8, Parity: 'M', StopBits: 1}, errMsg: `unsupported parity "M"`},
		{s: Settings{Baud: 9600, DataBits: 8, Parity: 'N', StopBits: 3}, errMsg: "unsupported stop bits 3"},
	} {
		t.Run(tc.s.String(), func(t *testing.T) {
			tm, err := termios(tc.s)
			if tc.errMsg != "" {
				if err == nil || err.Error() != tc.errMsg {
					t.Fatalf("error %v, want %q", err, tc.errMsg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := tm.Cflag & framing; got != tc.cflag {
				t.Errorf("framing bits %#o, want %#o", got, tc.cflag)
			}
			if tm.Cflag&(unix.CREAD|unix.CLOCAL) != unix.CREAD|unix.CLOCAL || tm.Cflag&unix.CBAUD != tc.speed ||
				tm.Ispeed != tc.speed || tm.Ospeed != tc.speed {
				t.Errorf("cflag %#o ispeed %#o ospeed %#o, want the receiver on, modem lines ignored, speed %#o", tm.Cflag, tm.Ispeed, tm.Ospeed, tc.speed)
			}
			if got := tm.Iflag&unix.INPCK != 0; got != tc.inpck {
				t.Errorf("input parity check %v, want %v", got, tc.inpck)
			}
			if tm.Lflag != 0 || tm.Oflag != 0 {
				t.Errorf("lflag %#o oflag %#o, want raw mode", tm.Lflag, tm.Oflag)
			}
		})
	}
}
