package modbus

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
	"time"
)

// pipeConn is a stream that yields fixed bytes, then EOF, and records writes.
type pipeConn struct {
	r *bytes.Reader
	w bytes.Buffer
}

func (c *pipeConn) Read(b []byte) (int, error)  { return c.r.Read(b) }
func (c *pipeConn) Write(b []byte) (int, error) { return c.w.Write(b) }
func (c *pipeConn) Close() error                { return nil }

func rtuRequest(slave, fc byte, addr, qty uint16) []byte {
	req := []byte{slave, fc, 0, 0, 0, 0}
	binary.BigEndian.PutUint16(req[2:], addr)
	binary.BigEndian.PutUint16(req[4:], qty)
	crc := crc16(req)
	return append(req, byte(crc), byte(crc>>8))
}

// Whatever arrives on the wire, reading an answer returns a frame that passed
// every check or one error of a known kind; it never panics.
func FuzzRTUAnswer(f *testing.F) {
	good := []byte{1, 3, 4, 0x43, 0x66, 0x80, 0x00}
	crc := crc16(good)
	f.Add(append(good, byte(crc), byte(crc>>8)), byte(3), uint16(2))
	f.Add([]byte{1, 0x83, 2, 0xc0, 0xf1}, byte(3), uint16(2))
	f.Add([]byte{2, 3, 4, 0, 0, 0, 0, 0, 0}, byte(3), uint16(2))
	f.Add([]byte{1, 3, 200}, byte(3), uint16(100))
	f.Fuzz(func(t *testing.T, wire []byte, fc byte, qty uint16) {
		req := rtuRequest(1, fc%6+1, 0, qty)
		l := &link{framing: framingRTU, conn: &pipeConn{r: bytes.NewReader(wire)}}
		frame, err := l.readRTU(req, time.Now().Add(time.Second))
		if err != nil {
			if err.Kind == "" {
				t.Fatalf("error without a kind: %v", err)
			}
			return
		}
		n := len(frame)
		if crc := crc16(frame[:n-2]); frame[n-2] != byte(crc) || frame[n-1] != byte(crc>>8) || frame[0] != 1 {
			t.Fatalf("accepted a bad frame % x", frame)
		}
	})
}

func FuzzMBAPAnswer(f *testing.F) {
	f.Add([]byte{0, 1, 0, 0, 0, 7, 1, 3, 4, 0x43, 0x66, 0x80, 0x00})
	f.Add([]byte{0, 1, 0, 0, 0, 3, 1, 0x83, 2})
	f.Add([]byte{0, 0, 0, 0, 0, 3, 1, 0x83, 2, 0, 1, 0, 0, 0, 3, 9, 0x83, 2})
	f.Fuzz(func(t *testing.T, wire []byte) {
		req := []byte{0, 1, 0, 0, 0, 6, 1, 3, 0, 0, 0, 2}
		l := &link{framing: framingMBAP, conn: &pipeConn{r: bytes.NewReader(wire)}}
		frame, err := l.readMBAP(req, time.Now().Add(time.Second))
		if err != nil {
			if err.Kind == "" {
				t.Fatalf("error without a kind: %v", err)
			}
			return
		}
		if frame[0] != 0 || frame[1] != 1 || frame[6] != 1 || int(binary.BigEndian.Uint16(frame[4:6]))+6 != len(frame) {
			t.Fatalf("accepted a bad frame % x", frame)
		}
	})
}

// Whatever a client sends, the simulators answer only well-formed frames
// (or nothing) and never panic.
func FuzzServerRTU(f *testing.F) {
	f.Add(rtuRequest(1, 3, 0, 4))
	f.Add(append([]byte{0xff, 0x00, 0x13}, rtuRequest(1, 4, 0, 2)...))
	f.Add(rtuRequest(1, 16, 0, 2))
	f.Fuzz(func(t *testing.T, wire []byte) {
		p := mustProfile(t, testProfile)
		srv := &Server{RTU: true, Slaves: map[byte]*Slave{1: NewSlave(p)}}
		c := &pipeConn{r: bytes.NewReader(wire)}
		if err := srv.ServeConn(c); !errors.Is(err, io.EOF) {
			t.Fatalf("serve ended with %v", err)
		}
		out := c.w.Bytes()
		for len(out) > 0 {
			if len(out) < 5 {
				t.Fatalf("short answer % x", out)
			}
			n := rtuResponseLength(out[:3])
			if n == 0 || n > len(out) {
				t.Fatalf("answer % x has no valid length", out)
			}
			if crc := crc16(out[:n-2]); out[n-2] != byte(crc) || out[n-1] != byte(crc>>8) {
				t.Fatalf("answer % x has a bad checksum", out[:n])
			}
			out = out[n:]
		}
	})
}

func FuzzServerMBAP(f *testing.F) {
	f.Add([]byte{0, 1, 0, 0, 0, 6, 1, 3, 0, 100, 0, 2})
	f.Add([]byte{0, 1, 0, 0, 0, 6, 1, 4, 0, 0, 0, 125})
	f.Add([]byte{0, 1, 0, 0, 0, 2, 1, 99})
	f.Fuzz(func(t *testing.T, wire []byte) {
		p := mustProfile(t, testProfile)
		srv := &Server{Any: NewSlave(p)}
		c := &pipeConn{r: bytes.NewReader(wire)}
		_ = srv.ServeConn(c)
		out := c.w.Bytes()
		for len(out) > 0 {
			if len(out) < mbapHeader+1 {
				t.Fatalf("short answer % x", out)
			}
			n := int(binary.BigEndian.Uint16(out[4:6])) + 6
			if n > len(out) || out[2] != 0 || out[3] != 0 {
				t.Fatalf("bad answer % x", out)
			}
			out = out[n:]
		}
	})
}
