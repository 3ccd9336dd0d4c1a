// Package modbus polls Modbus TCP devices with github.com/goburrow/modbus,
// reading the points of a YAML register-map profile in as few requests as the
// device allows, and serves simulated devices for the demo and the tests.
package modbus

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	gbmodbus "github.com/goburrow/modbus"

	"github.com/estatehq/estate/devices"
	"github.com/estatehq/estate/internal/config"
)

// ProtocolTCP is the protocol name of Modbus TCP devices in configs.
const ProtocolTCP = "modbus_tcp"

func init() {
	devices.Register(ProtocolTCP, devices.Protocol{Open: openTCP, Validate: validateTCP})
}

func profileFor(cfg *config.Config, dev config.Device) (*Profile, error) {
	if dev.Profile == "" {
		return nil, errors.New("a Modbus device needs a profile (its register map)")
	}
	return LoadProfile(ProfilePath(cfg.Resolve(cfg.Gateway.ProfilesDir), dev.Profile))
}

func validateTCP(cfg *config.Config, dev config.Device, path string) []config.Problem {
	var ps []config.Problem
	if _, _, err := net.SplitHostPort(dev.Address); err != nil {
		ps = append(ps, cfg.Problemf(path+".address", "%q is not host:port (Modbus TCP listens on port 502 by default)", dev.Address))
	}
	if dev.Profile == "" {
		ps = append(ps, cfg.Problemf(path+".profile", "required: the register map, a file in %s", cfg.Gateway.ProfilesDir))
	} else if _, err := profileFor(cfg, dev); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			err = fmt.Errorf("no profile %q in %s", dev.Profile, cfg.Resolve(cfg.Gateway.ProfilesDir))
		}
		ps = append(ps, cfg.Problemf(path+".profile", "%v", err))
	}
	return ps
}

// Driver polls one Modbus TCP slave.
type Driver struct {
	info    *devices.Info
	profile *Profile
	reads   []read
	handler *gbmodbus.TCPClientHandler
	client  gbmodbus.Client

	// mu serialises polls: one transaction at a time on the connection.
	mu sync.Mutex
}

func openTCP(env devices.Env, dev config.Device, info *devices.Info) (devices.Driver, error) {
	p, err := profileFor(env.Config, dev)
	if err != nil {
		return nil, err
	}
	return NewDriver(dev, p, info), nil
}

// NewDriver returns a driver for a Modbus TCP device with a loaded profile. It
// does not connect: the first poll does, and a failed poll reconnects.
func NewDriver(dev config.Device, p *Profile, info *devices.Info) *Driver {
	h := gbmodbus.NewTCPClientHandler(dev.Address)
	h.Timeout = dev.Timeout
	h.SlaveId = byte(dev.SlaveID)
	h.IdleTimeout = 10 * dev.PollInterval
	for _, pt := range p.Points {
		if pt.Unit != "" {
			info.Units[pt.Name] = pt.Unit
		}
	}
	info.Model = p.Name
	return &Driver{info: info, profile: p, reads: planReads(p), handler: h, client: gbmodbus.NewClient(h)}
}

// Requests is how many Modbus requests one poll makes.
func (d *Driver) Requests() int { return len(d.reads) }

// Poll reads every point of the profile. A device that does not answer is an
// error; a point whose registers do not decode is returned with bad quality.
func (d *Driver) Poll(ctx context.Context) (devices.Reading, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	r := devices.Reading{Device: d.info, Time: time.Now(), Values: make([]devices.Value, 0, len(d.profile.Points))}
	for _, rd := range d.reads {
		if err := ctx.Err(); err != nil {
			return r, err
		}
		data, err := d.readTable(rd)
		if err != nil {
			var mbErr *gbmodbus.ModbusError
			if !errors.As(err, &mbErr) {
				// A transport error leaves the connection in an unknown state: drop it
				// so that the next request reconnects.
				_ = d.handler.Close()
			}
			return r, fmt.Errorf("read %s %d+%d: %w", rd.table, rd.start, rd.quantity, err)
		}
		r.Values = appendDecoded(r.Values, rd, data)
	}
	return r, nil
}

func (d *Driver) readTable(rd read) ([]byte, error) {
	switch rd.table {
	case TableHolding:
		return d.client.ReadHoldingRegisters(rd.start, rd.quantity)
	case TableInput:
		return d.client.ReadInputRegisters(rd.start, rd.quantity)
	case TableCoil:
		return d.client.ReadCoils(rd.start, rd.quantity)
	case TableDiscrete:
		return d.client.ReadDiscreteInputs(rd.start, rd.quantity)
	}
	return nil, fmt.Errorf("unknown table %q", rd.table)
}

// appendDecoded slices one read's response into its points.
func appendDecoded(dst []devices.Value, rd read, data []byte) []devices.Value {
	bits := rd.table == TableCoil || rd.table == TableDiscrete
	for _, pt := range rd.points {
		off := int(pt.Address - rd.start)
		if bits {
			byteIdx, bit := off/8, uint(off%8)
			if byteIdx >= len(data) {
				dst = append(dst, devices.Value{Point: pt.Name, Quality: devices.Bad})
				continue
			}
			v := float64((data[byteIdx] >> bit) & 1)
			dst = append(dst, devices.Value{Point: pt.Name, Value: v, Quality: devices.Good})
			continue
		}
		lo, hi := off*2, off*2+int(pt.width())*2
		if hi > len(data) {
			dst = append(dst, devices.Value{Point: pt.Name, Quality: devices.Bad})
			continue
		}
		v, err := pt.Decode(data[lo:hi])
		if err != nil {
			dst = append(dst, devices.Value{Point: pt.Name, Quality: devices.Bad})
			continue
		}
		dst = append(dst, devices.Value{Point: pt.Name, Value: v, Quality: devices.Good})
	}
	return dst
}

// Close drops the connection.
func (d *Driver) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.handler.Close()
}
