package modbus

import (
	"fmt"
	"time"

	gbmodbus "github.com/goburrow/modbus"

	"github.com/estatehq/estate/internal/config"
)

// Client reads one slave without a profile or schedule: the engineer's tools
// (`estate modbus read` and `scan`) use it. It shares lines with drivers the
// way they share them with each other.
type Client struct {
	dev    Device
	link   *link
	client gbmodbus.Client
}

// NewClient returns a client for the slave a device configuration names
// (protocol, address or serial line, slave id, timeout). It connects on the
// first request.
func NewClient(cdev config.Device) *Client {
	dev := DeviceOf(cdev)
	if dev.Timeout <= 0 {
		dev.Timeout = time.Second
	}
	_, _, l, c := connect(dev)
	return &Client{dev: dev, link: l, client: c}
}

// Read reads qty registers (or bits) of a table from addr and returns the
// response data: two bytes a register, or the bits packed eight to a byte.
// Its error is an *Error with the failure's kind.
func (c *Client) Read(table string, addr, qty uint16) ([]byte, error) {
	var data []byte
	var err error
	switch table {
	case TableHolding:
		data, err = c.client.ReadHoldingRegisters(addr, qty)
	case TableInput:
		data, err = c.client.ReadInputRegisters(addr, qty)
	case TableCoil:
		data, err = c.client.ReadCoils(addr, qty)
	case TableDiscrete:
		data, err = c.client.ReadDiscreteInputs(addr, qty)
	default:
		return nil, fmt.Errorf("unknown table %q (holding, input, coil, discrete)", table)
	}
	if err != nil {
		return nil, classify(err)
	}
	return data, nil
}

// Close releases the client's line.
func (c *Client) Close() error {
	if c.link == nil {
		return nil
	}
	err := c.link.release()
	c.link = nil
	return err
}

// PointResult is one point read by ReadPoints.
type PointResult struct {
	Point *Point
	// Raw is the point's registers as they came off the wire (for bits: 0 or 1).
	Raw   []byte
	Value float64
	Text  string // string points
	Err   error
}

// ReadPoints reads the named points of a profile (all of them when names is
// empty) in merged reads, as the gateway would, and returns each point's raw
// bytes and decoded value or its error.
func ReadPoints(c *Client, p *Profile, names []string) ([]PointResult, error) {
	sub := *p
	if len(names) > 0 {
		sub.Points = nil
		for _, n := range names {
			pt, ok := p.Point(n)
			if !ok {
				return nil, fmt.Errorf("profile %s has no point %q", p.Name, n)
			}
			sub.Points = append(sub.Points, *pt)
		}
	}
	for i := range sub.Points {
		sub.Points[i].Group = GroupNormal // one poll of everything asked for
	}
	maxGap := p.Limits.MaxGap
	if c.dev.MaxGap != nil {
		maxGap = *c.dev.MaxGap
	}
	var out []PointResult
	for _, rd := range planReads(&sub, maxGap) {
		data, err := c.Read(rd.table, rd.start, rd.quantity)
		if e, ok := err.(*Error); ok && (e.Exception == 2 || e.Exception == 3) && len(rd.points) > 1 {
			for _, one := range splitRead(&sub, rd) {
				out = append(out, readOne(c, one)...)
			}
			continue
		}
		out = append(out, results(rd, data, err)...)
	}
	return out, nil
}

func readOne(c *Client, rd read) []PointResult {
	data, err := c.Read(rd.table, rd.start, rd.quantity)
	return results(rd, data, err)
}

func results(rd read, data []byte, err error) []PointResult {
	out := make([]PointResult, 0, len(rd.points))
	for _, pt := range rd.points {
		r := PointResult{Point: pt, Err: err}
		if err == nil {
			off := int(pt.Address) - int(rd.start)
			if IsBitTable(rd.table) {
				if off/8 < len(data) {
					bit := data[off/8] >> uint(off%8) & 1
					r.Raw, r.Value = []byte{bit}, float64(bit)
				} else {
					r.Err = fmt.Errorf("the answer is short")
				}
			} else if hi := (off + int(pt.width)) * 2; hi <= len(data) {
				r.Raw = data[off*2 : hi]
				if pt.IsText() {
					r.Text, r.Err = pt.DecodeText(r.Raw)
				} else {
					r.Value, r.Err = pt.Decode(r.Raw)
				}
			} else {
				r.Err = fmt.Errorf("the answer is short")
			}
		}
		out = append(out, r)
	}
	return out
}
