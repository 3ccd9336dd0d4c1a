package modbus

import (
	"fmt"
	"sync"

	"github.com/estatehq/estate/devices/serial"
)

// Simulator serves one simulated Modbus TCP device whose registers are laid
// out by a profile. It answers any unit id, as most Modbus TCP meters do.
type Simulator struct {
	*Slave
	addr string
	srv  *Server

	mu sync.Mutex
	ln *Listener
}

// NewSimulator returns a simulator for a profile that will listen on addr
// (host:port; port 0 picks a free one). Every point starts at zero.
func NewSimulator(p *Profile, addr string) *Simulator {
	s := NewSlave(p)
	return &Simulator{Slave: s, addr: addr, srv: &Server{Any: s}}
}

// Start listens and serves until Stop.
func (s *Simulator) Start() error {
	ln, err := s.srv.Listen(s.addr)
	if err != nil {
		return fmt.Errorf("modbus simulator on %s: %w", s.addr, err)
	}
	s.mu.Lock()
	s.ln = ln
	s.mu.Unlock()
	return nil
}

// Addr is the address the simulator listens on (once started).
func (s *Simulator) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return s.addr
	}
	return s.ln.Addr()
}

// Stop closes the listener and every connection; the device goes silent.
func (s *Simulator) Stop() error {
	s.mu.Lock()
	ln := s.ln
	s.ln = nil
	s.mu.Unlock()
	if ln == nil {
		return nil
	}
	return ln.Close()
}

// RTUSimulator serves simulated slaves on one RTU line: a pseudo-terminal
// whose other side (Path) a client opens as a serial port.
type RTUSimulator struct {
	pty  *serial.PTY
	srv  *Server
	done chan struct{}
}

// NewRTUSimulator opens a pseudo-terminal pair and serves the slaves on it,
// taking the wire time of baud (0: none) for every frame.
func NewRTUSimulator(slaves map[byte]*Slave, baud int) (*RTUSimulator, error) {
	p, err := serial.OpenPTY("")
	if err != nil {
		return nil, err
	}
	s := &RTUSimulator{pty: p, srv: &Server{RTU: true, Slaves: slaves, Baud: baud}, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		_ = s.srv.ServeConn(p.Master)
	}()
	return s, nil
}

// Path is the serial port a client opens (/dev/pts/N).
func (s *RTUSimulator) Path() string { return s.pty.Path() }

// Close stops serving and closes the pseudo-terminal.
func (s *RTUSimulator) Close() error {
	err := s.pty.Close()
	<-s.done
	return err
}
