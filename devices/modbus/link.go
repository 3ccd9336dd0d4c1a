package modbus

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/estatehq/estate/devices/serial"
)

// framing is how requests travel on a link.
type framing uint8

const (
	framingMBAP framing = iota // Modbus TCP: MBAP header, no checksum
	framingRTU                 // RTU: slave id, PDU, CRC-16 (on a serial line or tunnelled over TCP)
)

const (
	mbapHeader   = 7
	rtuMaxFrame  = 256
	mbapMaxFrame = 260
)

// link is one physical connection that requests travel on: a TCP connection
// or a serial port. Several devices may share it (slaves on one RS-485 bus,
// or behind one serial device server); one transaction runs at a time. It
// implements the transport half of goburrow/modbus (the packagers of
// goburrow/modbus frame and check the PDUs) so that it can tell timeouts,
// checksum errors, short frames and answers from another slave apart, keep
// the inter-frame silence an RTU bus needs, and resynchronise after garbage.
type link struct {
	key     string
	framing framing
	open    func(timeout time.Duration) (io.ReadWriteCloser, error)
	// gap is the silence an RTU bus needs between frames (3.5 characters).
	gap time.Duration

	mu      sync.Mutex
	conn    io.ReadWriteCloser
	lastEnd time.Time
	refs    int
	buf     [mbapMaxFrame]byte // RTU frames
	// A Modbus TCP answer is read with as few read(2) calls as the kernel
	// allows (usually one: header and data arrive together) into rbuf, whose
	// bytes rbuf[rstart:rend] are not consumed yet.
	rbuf         [2 * mbapMaxFrame]byte
	rstart, rend int
	// readDeadline is the connection's read deadline as last set: setting it
	// again to the same time is skipped (each set is a runtime timer change).
	readDeadline time.Time
}

var (
	linksMu sync.Mutex
	links   = map[string]*link{}
)

// acquireLink returns the shared link of a bus key, creating it with mk.
func acquireLink(key string, mk func() *link) *link {
	linksMu.Lock()
	defer linksMu.Unlock()
	l, ok := links[key]
	if !ok {
		l = mk()
		l.key = key
		links[key] = l
	}
	l.refs++
	return l
}

// release drops one user of the link and closes it after the last.
func (l *link) release() error {
	linksMu.Lock()
	l.refs--
	last := l.refs <= 0
	if last && links[l.key] == l {
		delete(links, l.key)
	}
	linksMu.Unlock()
	if !last {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closeConn()
}

func (l *link) closeConn() error {
	l.rstart, l.rend, l.readDeadline = 0, 0, time.Time{}
	if l.conn == nil {
		return nil
	}
	err := l.conn.Close()
	l.conn = nil
	return err
}

// frameGap is the silence of 3.5 characters that separates RTU frames: 11
// bits a character (start, 8 data, parity or a second stop bit, stop), fixed
// at 1.75 ms above 19200 baud as the serial-line specification says.
func frameGap(baud int) time.Duration {
	if baud <= 0 || baud > 19200 {
		return 1750 * time.Microsecond
	}
	return time.Duration(float64(time.Second) * 3.5 * 11 / float64(baud))
}

// CharTime is how long one character takes on a serial line at baud.
func CharTime(baud int) time.Duration {
	if baud <= 0 {
		return 0
	}
	return time.Duration(float64(time.Second) * 11 / float64(baud))
}

func dialTCP(addr string) func(time.Duration) (io.ReadWriteCloser, error) {
	return func(timeout time.Duration) (io.ReadWriteCloser, error) {
		c, err := net.DialTimeout("tcp", addr, timeout)
		if err != nil {
			return nil, err
		}
		return c, nil
	}
}

// openSerial opens an RTU line; its reads wait at most serial.ReadWait, so
// that the link checks its own deadline that often.
func openSerial(s serial.Settings) func(time.Duration) (io.ReadWriteCloser, error) {
	return func(time.Duration) (io.ReadWriteCloser, error) { return serial.Open(s) }
}

// devTransport is one device's view of a shared link: its own timeout. It
// implements goburrow/modbus's Transporter.
type devTransport struct {
	l       *link
	timeout time.Duration
}

func (t *devTransport) Send(adu []byte) ([]byte, error) { return t.l.send(adu, t.timeout) }

// send writes one request frame and reads its answer within timeout.
func (l *link) send(req []byte, timeout time.Duration) ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn == nil {
		c, err := l.open(timeout)
		if err != nil {
			return nil, &Error{Kind: KindConnection, Err: err}
		}
		l.conn = c
	}
	if l.framing == framingRTU && l.gap > 0 {
		if wait := time.Until(l.lastEnd.Add(l.gap)); wait > 0 {
			time.Sleep(wait)
		}
	}
	deadline := time.Now().Add(timeout)
	if d, ok := l.conn.(interface{ SetDeadline(time.Time) error }); ok {
		_ = d.SetDeadline(deadline)
		l.readDeadline = deadline
	}
	if _, err := l.conn.Write(req); err != nil {
		_ = l.closeConn()
		return nil, &Error{Kind: KindConnection, Err: err}
	}
	var resp []byte
	var err *Error
	if l.framing == framingMBAP {
		resp, err = l.readMBAP(req, deadline)
	} else {
		resp, err = l.readRTU(req, deadline)
	}
	l.lastEnd = time.Now()
	if err != nil {
		l.recover(err)
		return nil, err
	}
	return append([]byte(nil), resp...), nil
}

// recover brings the link back to a known state after a failed transaction:
// a TCP connection whose stream lost its framing is dropped (the next request
// reconnects); a serial bus is drained of whatever is still arriving.
func (l *link) recover(e *Error) {
	switch {
	case e.Kind == KindConnection:
		_ = l.closeConn()
	case l.framing == framingMBAP:
		if e.Kind != KindWrongSlave {
			_ = l.closeConn()
		}
	default:
		l.drain()
	}
}

// drain discards bytes until the line has been silent for a few frame gaps.
func (l *link) drain() {
	if l.conn == nil {
		return
	}
	quiet := max(3*l.gap, 5*time.Millisecond)
	end := time.Now().Add(200 * time.Millisecond)
	var scratch [64]byte
	for time.Now().Before(end) {
		n, err := l.readSome(scratch[:], time.Now().Add(quiet))
		if n == 0 || err != nil {
			return
		}
	}
}

// readSome reads what arrives before deadline (serial ports return
// serial.ErrTimeout after each short wait); it returns 0 and a timeout error
// when nothing did.
func (l *link) readSome(b []byte, deadline time.Time) (int, error) {
	if d, ok := l.conn.(interface{ SetReadDeadline(time.Time) error }); ok && !deadline.Equal(l.readDeadline) {
		_ = d.SetReadDeadline(deadline)
		l.readDeadline = deadline
	}
	for {
		n, err := l.conn.Read(b)
		if n > 0 {
			return n, nil
		}
		if errors.Is(err, serial.ErrTimeout) {
			if time.Now().Before(deadline) {
				continue
			}
			return 0, errTimedOut
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return 0, errTimedOut
		}
		if err == nil {
			err = io.ErrNoProgress
		}
		return 0, err
	}
}

var errTimedOut = errors.New("no answer within the timeout")

// readFull fills b before deadline. got says how many bytes did arrive.
func (l *link) readFull(b []byte, deadline time.Time) (got int, err error) {
	for got < len(b) {
		n, err := l.readSome(b[got:], deadline)
		got += n
		if err != nil {
			return got, err
		}
	}
	return got, nil
}

// frameErr turns a read failure into the error kind it means: nothing at all
// is a timeout, part of a frame is a short frame.
func frameErr(err error, got, want int, what string) *Error {
	if errors.Is(err, errTimedOut) {
		if got == 0 {
			return newError(KindTimeout, "%s: no answer within the timeout", what)
		}
		return newError(KindShortFrame, "%s: answer stopped after %d of %d bytes", what, got, want)
	}
	return &Error{Kind: KindConnection, Err: err}
}

// fill reads until at least n bytes (n <= mbapMaxFrame) are buffered in
// rbuf; got is how many are, when it fails.
func (l *link) fill(n int, deadline time.Time) (got int, err error) {
	if l.rstart+n > len(l.rbuf) {
		l.rend = copy(l.rbuf[:], l.rbuf[l.rstart:l.rend])
		l.rstart = 0
	}
	for l.rend-l.rstart < n {
		m, err := l.readSome(l.rbuf[l.rend:], deadline)
		l.rend += m
		if err != nil {
			return l.rend - l.rstart, err
		}
	}
	return n, nil
}

func (l *link) readMBAP(req []byte, deadline time.Time) ([]byte, *Error) {
	for {
		got, err := l.fill(mbapHeader, deadline)
		if err != nil {
			return nil, frameErr(err, got, mbapHeader, "modbus tcp")
		}
		b := l.rbuf[l.rstart:l.rend]
		length := int(binary.BigEndian.Uint16(b[4:6]))
		if b[2] != 0 || b[3] != 0 || length < 2 || length > mbapMaxFrame-mbapHeader+1 {
			return nil, newError(KindBadFrame, "modbus tcp: garbage header % x", b[:mbapHeader])
		}
		total := mbapHeader - 1 + length
		if got, err := l.fill(total, deadline); err != nil {
			return nil, frameErr(err, got, total, "modbus tcp")
		}
		frame := l.rbuf[l.rstart : l.rstart+total]
		l.rstart += total
		if l.rstart == l.rend {
			l.rstart, l.rend = 0, 0
		}
		if frame[0] != req[0] || frame[1] != req[1] {
			// The late answer to an earlier request that timed out: skip it.
			continue
		}
		if frame[6] != req[6] {
			return nil, newError(KindWrongSlave, "modbus tcp: unit id %d answered a request to %d", frame[6], req[6])
		}
		return frame, nil
	}
}

// rtuResponseLength is the length of the answer to a request whose first
// three bytes (slave, function, byte count) are in head; 0 when unknown.
func rtuResponseLength(head []byte) int {
	fc := head[1]
	switch {
	case fc&0x80 != 0:
		return 5
	case fc >= 1 && fc <= 4:
		return 3 + int(head[2]) + 2
	case fc == 5 || fc == 6 || fc == 15 || fc == 16:
		return 8
	}
	return 0
}

func (l *link) readRTU(req []byte, deadline time.Time) ([]byte, *Error) {
	b := l.buf[:rtuMaxFrame]
	got, err := l.readFull(b[:3], deadline)
	if err != nil {
		return nil, frameErr(err, got, 5, "modbus rtu")
	}
	total := rtuResponseLength(b[:3])
	if total == 0 || b[1]&0x7f != req[1] {
		return nil, newError(KindBadFrame, "modbus rtu: garbage % x in answer to function %d", b[:3], req[1])
	}
	if fc := b[1]; fc >= 1 && fc <= 4 && total != 5+expectedByteCount(req) {
		return nil, newError(KindBadFrame, "modbus rtu: byte count %d does not fit the request", b[2])
	}
	if total > rtuMaxFrame {
		return nil, newError(KindBadFrame, "modbus rtu: frame of %d bytes", total)
	}
	if got, err := l.readFull(b[3:total], deadline); err != nil {
		return nil, frameErr(err, 3+got, total, "modbus rtu")
	}
	frame := b[:total]
	if crc := crc16(frame[:total-2]); frame[total-2] != byte(crc) || frame[total-1] != byte(crc>>8) {
		return nil, newError(KindCRC, "modbus rtu: checksum %02x%02x, want %04x", frame[total-1], frame[total-2], crc)
	}
	if frame[0] != req[0] {
		return nil, newError(KindWrongSlave, "modbus rtu: slave %d answered a request to %d", frame[0], req[0])
	}
	return frame, nil
}

// expectedByteCount is the data length of the answer to a read request.
func expectedByteCount(req []byte) int {
	if len(req) < 6 {
		return -1
	}
	q := int(binary.BigEndian.Uint16(req[4:6]))
	switch req[1] {
	case 1, 2:
		return (q + 7) / 8
	case 3, 4:
		return 2 * q
	}
	return -1
}

// crc16 is the Modbus RTU checksum (CRC-16/MODBUS), sent low byte first.
func crc16(b []byte) uint16 {
	crc := uint16(0xffff)
	for _, c := range b {
		crc ^= uint16(c)
		for range 8 {
			if crc&1 != 0 {
				crc = crc>>1 ^ 0xa001
			} else {
				crc >>= 1
			}
		}
	}
	return crc
}
