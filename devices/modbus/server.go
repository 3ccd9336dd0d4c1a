package modbus

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Server answers Modbus requests for simulated slaves on a stream: Modbus
// TCP (MBAP) or RTU (on a pseudo-terminal, or tunnelled over TCP).
type Server struct {
	// RTU selects RTU framing (slave id, PDU, CRC) instead of MBAP.
	RTU bool
	// Any answers every slave id (unit id) not in Slaves; Modbus TCP devices
	// commonly ignore the unit id.
	Any *Slave
	// Slaves on this line or behind this address, by slave id.
	Slaves map[byte]*Slave
	// Baud, for RTU, makes the server take the time the frames would take
	// on a wire at that rate (0: answer at once).
	Baud int

	// answered counts the requests answered, for benchmarks that compare
	// pollers by the requests they need (see Answered).
	answered atomic.Uint64
}

// Answered is how many requests the server has answered since it started.
func (srv *Server) Answered() uint64 { return srv.answered.Load() }

func (srv *Server) slaveFor(id byte) *Slave {
	if s, ok := srv.Slaves[id]; ok {
		return s
	}
	return srv.Any
}

// errResync is returned when bytes have to be discarded to find a frame.
var errResync = errors.New("modbus server: garbage discarded")

// ServeConn answers requests on one stream until it fails or closes.
func (srv *Server) ServeConn(rw io.ReadWriter) error {
	if srv.RTU {
		return srv.serveRTU(rw)
	}
	return srv.serveMBAP(rw)
}

func (srv *Server) serveMBAP(rw io.ReadWriter) error {
	var hdr [mbapHeader]byte
	pdu := make([]byte, 256)
	for {
		if _, err := io.ReadFull(rw, hdr[:]); err != nil {
			return err
		}
		length := int(binary.BigEndian.Uint16(hdr[4:6]))
		if hdr[2] != 0 || hdr[3] != 0 || length < 2 || length > 254 {
			// No way to find the next frame in a TCP stream: drop the connection.
			return errResync
		}
		if _, err := io.ReadFull(rw, pdu[:length-1]); err != nil {
			return err
		}
		slave := srv.slaveFor(hdr[6])
		if slave == nil {
			continue
		}
		resp := slave.Handle(pdu[:length-1])
		f := slave.Faults().forRequest(pdu[:length-1])
		if f.Silent {
			continue
		}
		if f.Delay > 0 {
			time.Sleep(f.Delay)
		}
		unit := hdr[6]
		if f.WrongSlave {
			unit++
		}
		frame := make([]byte, 0, mbapHeader+len(resp))
		frame = append(frame, hdr[0], hdr[1], 0, 0, byte((len(resp)+1)>>8), byte(len(resp)+1), unit)
		frame = append(frame, resp...)
		frame = applyFrameFaults(frame, f)
		if _, err := rw.Write(frame); err != nil {
			return err
		}
		srv.answered.Add(1)
	}
}

func applyFrameFaults(frame []byte, f Faults) []byte {
	switch {
	case f.Garbage:
		// Bytes that are no frame of either framing: no zero protocol id
		// (MBAP), no function code that was asked (RTU).
		for i := range frame {
			frame[i] = 0xA5 ^ byte(i%2)*0xFF
		}
	case f.Truncate:
		frame = frame[:len(frame)/2]
	}
	return frame
}

// rtuRequestLength is the length of a request frame from its first 7 bytes
// (fewer may be given: then it says how many it needs to know, negated).
func rtuRequestLength(head []byte) int {
	if len(head) < 2 {
		return -2
	}
	switch fc := head[1]; {
	case fc >= 1 && fc <= 6:
		return 8
	case fc == 15 || fc == 16:
		if len(head) < 7 {
			return -7
		}
		return 9 + int(head[6])
	}
	return 0
}

// serveRTU assembles request frames by their length, checks their CRC (a bad
// frame is ignored and the stream resynchronised byte by byte, as a real
// slave waits for silence), and answers the slaves it serves.
func (srv *Server) serveRTU(rw io.ReadWriter) error {
	buf := make([]byte, 0, 1024)
	chunk := make([]byte, 512)
	deadliner, _ := rw.(interface{ SetReadDeadline(time.Time) error })
	read := func() error {
		if deadliner != nil {
			// Half a frame followed by silence is discarded.
			var d time.Time
			if len(buf) > 0 {
				d = time.Now().Add(100 * time.Millisecond)
			}
			_ = deadliner.SetReadDeadline(d)
		}
		n, err := rw.Read(chunk)
		buf = append(buf, chunk[:n]...)
		if err != nil && n == 0 {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				buf = buf[:0]
				return nil
			}
			return err
		}
		if len(buf) > 4096 {
			buf = buf[:0]
		}
		return nil
	}
	for {
		need := rtuRequestLength(buf)
		if need < 0 || (need > 0 && len(buf) < need) {
			if err := read(); err != nil {
				return err
			}
			continue
		}
		if need == 0 || need > rtuMaxFrame {
			buf = buf[1:] // not a request we know: look for one at the next byte
			continue
		}
		frame := buf[:need]
		crc := crc16(frame[:need-2])
		if frame[need-2] != byte(crc) || frame[need-1] != byte(crc>>8) {
			buf = buf[1:]
			continue
		}
		req := append([]byte(nil), frame...)
		buf = append(buf[:0], buf[need:]...)
		if err := srv.answerRTU(rw, req); err != nil {
			return err
		}
	}
}

func (srv *Server) answerRTU(w io.Writer, req []byte) error {
	id := req[0]
	slave := srv.slaveFor(id)
	if id == 0 || slave == nil {
		if id == 0 {
			for _, s := range srv.Slaves { // broadcast: writes apply, nobody answers
				s.Handle(req[1 : len(req)-2])
			}
		}
		return nil
	}
	arrived := time.Now()
	resp := slave.Handle(req[1 : len(req)-2])
	f := slave.Faults().forRequest(req[1 : len(req)-2])
	if f.Silent {
		return nil
	}
	if f.Delay > 0 {
		time.Sleep(f.Delay)
	}
	if f.WrongSlave {
		id++
	}
	frame := make([]byte, 0, len(resp)+3)
	frame = append(frame, id)
	frame = append(frame, resp...)
	crc := crc16(frame)
	frame = append(frame, byte(crc), byte(crc>>8))
	if f.CorruptCRC {
		frame[len(frame)-1] ^= 0xA5
	}
	frame = applyFrameFaults(frame, f)
	// The answer is on the line once the request and it have taken their
	// time on the wire (one sleep: each one oversleeps a little).
	if wire := time.Duration(len(req)+len(frame)) * CharTime(srv.Baud); wire > 0 {
		time.Sleep(time.Until(arrived.Add(wire)))
	}
	_, err := w.Write(frame)
	return err
}

// Listener serves a Server on a TCP listener, one goroutine per connection.
type Listener struct {
	srv *Server
	ln  net.Listener

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// Listen starts serving srv on addr (host:port; port 0 picks a free one).
func (srv *Server) Listen(addr string) (*Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	l := &Listener{srv: srv, ln: ln, conns: map[net.Conn]struct{}{}}
	l.wg.Go(l.accept)
	return l, nil
}

// Addr is the address the listener serves on.
func (l *Listener) Addr() string { return l.ln.Addr().String() }

func (l *Listener) accept() {
	for {
		c, err := l.ln.Accept()
		if err != nil {
			return
		}
		l.mu.Lock()
		if l.conns == nil {
			l.mu.Unlock()
			_ = c.Close()
			return
		}
		l.conns[c] = struct{}{}
		l.mu.Unlock()
		l.wg.Go(func() {
			_ = l.srv.ServeConn(c)
			_ = c.Close()
			l.mu.Lock()
			delete(l.conns, c)
			l.mu.Unlock()
		})
	}
}

// Close stops listening, closes every connection and waits for them.
func (l *Listener) Close() error {
	err := l.ln.Close()
	l.mu.Lock()
	for c := range l.conns {
		_ = c.Close()
	}
	l.conns = nil
	l.mu.Unlock()
	l.wg.Wait()
	return err
}
