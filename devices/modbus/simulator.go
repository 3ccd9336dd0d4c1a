package modbus

import (
	"fmt"
	"io"
	"log"
	"sync"
	"time"

	mbserver "github.com/simonvetter/modbus"
)

// Simulator serves one simulated Modbus TCP slave whose registers are laid out
// by a profile, so that the simulator and the driver agree by construction.
type Simulator struct {
	profile *Profile
	addr    string

	mu        sync.Mutex
	registers map[string]map[uint16]uint16 // table → address → value
	bits      map[string]map[uint16]bool
	server    *mbserver.ModbusServer
}

// NewSimulator returns a simulator for a profile that will listen on addr
// (host:port). Every point starts at zero.
func NewSimulator(p *Profile, addr string) *Simulator {
	s := &Simulator{profile: p, addr: addr,
		registers: map[string]map[uint16]uint16{TableHolding: {}, TableInput: {}},
		bits:      map[string]map[uint16]bool{TableCoil: {}, TableDiscrete: {}},
	}
	for _, pt := range p.Points {
		_ = s.Set(pt.Name, 0)
	}
	return s
}

// Start listens and serves until Stop.
func (s *Simulator) Start() error {
	srv, err := mbserver.NewServer(&mbserver.ServerConfiguration{
		URL: "tcp://" + s.addr, Timeout: time.Minute, MaxClients: 16,
		Logger: log.New(io.Discard, "", 0),
	}, &handler{s})
	if err != nil {
		return fmt.Errorf("modbus simulator: %w", err)
	}
	if err := srv.Start(); err != nil {
		return fmt.Errorf("modbus simulator on %s: %w", s.addr, err)
	}
	s.mu.Lock()
	s.server = srv
	s.mu.Unlock()
	return nil
}

// Stop closes the listener and every connection; the device goes silent.
func (s *Simulator) Stop() error {
	s.mu.Lock()
	srv := s.server
	s.server = nil
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	return srv.Stop()
}

// Set writes a point's value (in engineering units) into its registers.
func (s *Simulator) Set(point string, value float64) error {
	for i := range s.profile.Points {
		pt := &s.profile.Points[i]
		if pt.Name != point {
			continue
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if bits, ok := s.bits[pt.Table]; ok {
			bits[pt.Address] = value != 0
			return nil
		}
		raw := pt.Encode(value)
		regs := s.registers[pt.Table]
		for w := range int(pt.width()) {
			regs[pt.Address+uint16(w)] = uint16(raw[2*w])<<8 | uint16(raw[2*w+1])
		}
		return nil
	}
	return fmt.Errorf("modbus simulator: profile %s has no point %q", s.profile.Name, point)
}

// handler answers requests from the register bank; an address outside the
// profile gets the Illegal Data Address exception, as a real meter would.
type handler struct{ s *Simulator }

func (h *handler) readRegisters(table string, addr, qty uint16) ([]uint16, error) {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	out := make([]uint16, qty)
	for i := range qty {
		v, ok := h.s.registers[table][addr+i]
		if !ok {
			return nil, mbserver.ErrIllegalDataAddress
		}
		out[i] = v
	}
	return out, nil
}

func (h *handler) readBits(table string, addr, qty uint16) ([]bool, error) {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	out := make([]bool, qty)
	for i := range qty {
		v, ok := h.s.bits[table][addr+i]
		if !ok {
			return nil, mbserver.ErrIllegalDataAddress
		}
		out[i] = v
	}
	return out, nil
}

func (h *handler) HandleCoils(req *mbserver.CoilsRequest) ([]bool, error) {
	if req.IsWrite {
		return nil, mbserver.ErrIllegalFunction
	}
	return h.readBits(TableCoil, req.Addr, req.Quantity)
}

func (h *handler) HandleDiscreteInputs(req *mbserver.DiscreteInputsRequest) ([]bool, error) {
	return h.readBits(TableDiscrete, req.Addr, req.Quantity)
}

func (h *handler) HandleHoldingRegisters(req *mbserver.HoldingRegistersRequest) ([]uint16, error) {
	if req.IsWrite {
		return nil, mbserver.ErrIllegalFunction
	}
	return h.readRegisters(TableHolding, req.Addr, req.Quantity)
}

func (h *handler) HandleInputRegisters(req *mbserver.InputRegistersRequest) ([]uint16, error) {
	return h.readRegisters(TableInput, req.Addr, req.Quantity)
}
