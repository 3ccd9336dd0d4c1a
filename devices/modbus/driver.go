// Package modbus polls Modbus devices with github.com/goburrow/modbus: Modbus
// TCP, Modbus RTU on a serial port (RS-485 adapters) and RTU tunnelled over
// TCP (serial device servers). It reads the points of a YAML register-map
// profile in as few requests as the device allows, reports failures per point
// with their kind (timeout, exception, checksum, …), writes the points a
// profile marks writable when the device enables writes, and serves simulated
// devices (TCP, and RTU on a pseudo-terminal) for the demo, the tests and
// engineers trying a configuration.
package modbus

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	gbmodbus "github.com/goburrow/modbus"

	"github.com/estatehq/estate/devices"
	pointnames "github.com/estatehq/estate/devices/points"
	"github.com/estatehq/estate/devices/serial"
	"github.com/estatehq/estate/internal/config"
)

// Protocol names of Modbus devices in configs.
const (
	ProtocolTCP        = "modbus_tcp"
	ProtocolRTU        = "modbus_rtu"
	ProtocolRTUOverTCP = "modbus_rtu_over_tcp"
)

func init() {
	// Modbus serves meters and the power side's contacts and analyzers (and
	// any family whose profile maps its registers, an elevator's say).
	devices.DeclareFamily("meter", "power")
	for _, name := range []string{ProtocolTCP, ProtocolRTU, ProtocolRTUOverTCP} {
		devices.Register(name, devices.Protocol{Open: open, Validate: validate, Points: points,
			Options: func() any { return new(Options) }})
	}
}

// IsProtocol tells the protocol names this package serves.
func IsProtocol(name string) bool {
	return name == ProtocolTCP || name == ProtocolRTU || name == ProtocolRTUOverTCP
}

// points are the points of the device's register map.
func points(cfg *config.Config, dev config.Device) ([]string, bool) {
	p, err := profileFor(cfg, dev)
	if err != nil {
		return nil, false
	}
	names := make([]string, len(p.Points))
	for i, pt := range p.Points {
		names[i] = pt.Name
	}
	return names, true
}

func profileFor(cfg *config.Config, dev config.Device) (*Profile, error) {
	if dev.Profile == "" {
		return nil, errors.New("a Modbus device needs a profile (its register map)")
	}
	return profiles.Load(cfg.Resolve(cfg.Gateway.ProfilesDir), dev.Profile)
}

func open(env devices.Env, dev config.Device, info *devices.Info) (devices.Driver, error) {
	p, err := profileFor(env.Config, dev)
	if err != nil {
		return nil, err
	}
	return NewDriver(dev, p, info), nil
}

// Defaults of the per-device options.
const (
	DefaultRetries = 1
	// slowFactor: the slow group polls at ten poll intervals unless set.
	slowFactor = 10
)

// pollJob is the reads of one poll: the points of the groups that share an interval.
type pollJob struct {
	name     string
	interval time.Duration
	reads    []read
}

// Driver polls one Modbus slave.
type Driver struct {
	info    *devices.Info
	dev     Device
	profile *Profile
	link    *link
	client  gbmodbus.Client
	bus     string
	serial  bool
	retries int

	mu         sync.Mutex
	jobs       []*pollJob
	lastAnswer time.Time
	healthy    bool // the last poll was answered: failures are worth a retry
	texts      map[string]string
}

// NewDriver returns a driver for a Modbus device with a loaded profile. It does
// not connect: the first poll does, and a failed poll reconnects.
func NewDriver(cdev config.Device, p *Profile, info *devices.Info) *Driver {
	dev := DeviceOf(cdev)
	if dev.Timeout <= 0 {
		dev.Timeout = time.Second
	}
	if dev.PollInterval <= 0 {
		dev.PollInterval = time.Second
	}
	if dev.SlaveID == 0 {
		dev.SlaveID = 1
	}
	d := &Driver{info: info, dev: dev, profile: p, retries: DefaultRetries, healthy: true, texts: map[string]string{}}
	if dev.Retries != nil {
		d.retries = *dev.Retries
	}
	for _, pt := range p.Points {
		if pt.Unit != "" && info.Units != nil {
			info.Units[pt.Name] = pt.Unit
		}
	}
	info.Names = pointnames.NamesOf(p.Points, func(pt Point) string { return pt.Name }, func(pt Point) pointnames.Names { return pt.Names })
	info.Model = p.Name

	d.bus, d.serial, d.link, d.client = connect(dev)
	d.jobs = planJobs(p, dev)
	return d
}

// connect makes the goburrow client of one device on its (shared) line.
func connect(dev Device) (bus string, serialLine bool, l *link, client gbmodbus.Client) {
	var packager gbmodbus.Packager
	switch dev.Protocol {
	case ProtocolRTU:
		s := lineSettings(dev.Serial)
		bus, serialLine = "rtu:"+s.Port, true
		l = acquireLink(bus, func() *link {
			return &link{framing: framingRTU, open: openSerial(s), gap: frameGap(s.Baud)}
		})
		h := gbmodbus.NewRTUClientHandler("")
		h.SlaveId = byte(dev.SlaveID)
		packager = h
	case ProtocolRTUOverTCP:
		gap := time.Duration(0)
		if dev.Serial != nil && dev.Serial.Baud > 0 {
			gap = frameGap(dev.Serial.Baud)
		}
		bus, serialLine = "rtu-tcp:"+dev.Address, true
		l = acquireLink(bus, func() *link {
			return &link{framing: framingRTU, open: dialTCP(dev.Address), gap: gap}
		})
		h := gbmodbus.NewRTUClientHandler("")
		h.SlaveId = byte(dev.SlaveID)
		packager = h
	default:
		bus = "tcp:" + dev.Address
		l = acquireLink(bus, func() *link { return &link{framing: framingMBAP, open: dialTCP(dev.Address)} })
		h := gbmodbus.NewTCPClientHandler("")
		h.SlaveId = byte(dev.SlaveID)
		packager = h
	}
	return bus, serialLine, l, gbmodbus.NewClient2(packager, &devTransport{l: l, timeout: dev.Timeout})
}

// Line defaults of Modbus RTU devices: 9600 baud 8N1 (what most meters ship with).
const (
	DefaultBaud   = 9600
	DefaultParity = 'N'
)

// lineSettings is a device's serial section with Modbus RTU's defaults.
func lineSettings(s *serial.Config) serial.Settings {
	return serial.Resolve(s, DefaultBaud, DefaultParity)
}

// GroupInterval is the poll interval of a group on a device.
func GroupInterval(cdev config.Device, group string) time.Duration {
	return groupInterval(DeviceOf(cdev), group)
}

func groupInterval(dev Device, group string) time.Duration {
	if iv, ok := dev.PollGroups[group]; ok && iv > 0 {
		return iv
	}
	if group == GroupSlow {
		return slowFactor * dev.PollInterval
	}
	return dev.PollInterval
}

// planJobs merges the groups that share an interval into one poll job each
// and plans its reads.
func planJobs(p *Profile, dev Device) []*pollJob {
	present := map[string]bool{}
	for _, pt := range p.Points {
		present[pt.Group] = true
	}
	var jobs []*pollJob
	jobOf := map[string]*pollJob{}
	for _, g := range Groups {
		if !present[g] {
			continue
		}
		iv := groupInterval(dev, g)
		var job *pollJob
		for _, j := range jobs {
			if j.interval == iv {
				job = j
			}
		}
		if job == nil {
			job = &pollJob{name: g, interval: iv}
			jobs = append(jobs, job)
		} else {
			job.name += "+" + g
		}
		jobOf[g] = job
	}
	maxGap := p.Limits.MaxGap
	if dev.MaxGap != nil {
		maxGap = *dev.MaxGap
	}
	merged := *p
	merged.Points = slices.Clone(p.Points)
	for i := range merged.Points {
		merged.Points[i].Group = jobOf[merged.Points[i].Group].name
	}
	for _, r := range planMerged(&merged, p, maxGap, jobs) {
		for _, j := range jobs {
			if j.name == r.group {
				j.reads = append(j.reads, r)
			}
		}
	}
	return jobs
}

// planMerged plans the reads of jobs whose names join several groups; the
// reads point at the original profile's points.
func planMerged(merged, orig *Profile, maxGap int, jobs []*pollJob) []read {
	var reads []read
	for _, j := range jobs {
		for _, table := range tables {
			var pts []*Point
			for i := range merged.Points {
				if merged.Points[i].Group == j.name && merged.Points[i].Table == table {
					pts = append(pts, &orig.Points[i])
				}
			}
			reads = appendMerged(reads, orig, j.name, table, pts, maxGap)
		}
	}
	return reads
}

// Bus is the key of the line this device is on and whether it is a serial
// line (one transaction at a time with the devices sharing it) rather than
// a TCP device that may be polled alongside others.
func (d *Driver) Bus() (string, bool) { return d.bus, d.serial }

// PollGroups lists the device's poll jobs with their intervals: the groups
// (fast, normal, slow) of its profile, merged when their intervals are equal.
func (d *Driver) PollGroups() map[string]time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make(map[string]time.Duration, len(d.jobs))
	for _, j := range d.jobs {
		out[j.name] = j.interval
	}
	return out
}

// Requests is how many Modbus requests one poll of every group makes.
func (d *Driver) Requests() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, j := range d.jobs {
		n += len(j.reads)
	}
	return n
}

// Texts returns the last text read from each string point (serial numbers,
// firmware versions), which readings do not carry.
func (d *Driver) Texts() map[string]string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return maps.Clone(d.texts)
}

// Poll reads every point of the profile.
func (d *Driver) Poll(ctx context.Context) (devices.Reading, error) {
	return d.poll(ctx, "")
}

// PollGroup reads the points of one poll job (a name from PollGroups).
func (d *Driver) PollGroup(ctx context.Context, group string) (devices.Reading, error) {
	return d.poll(ctx, group)
}

// poll reads the points of one job, or of all with job "". A device that does
// not answer at all is an error (it counts towards offline); when it answers
// but some points fail (exceptions, garbled frames, values that do not
// decode) the reading holds every point, the failed ones with bad quality, and
// the error is a PointErrors naming them.
func (d *Driver) poll(ctx context.Context, job string) (devices.Reading, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	r := devices.Reading{Device: d.info, Time: time.Now(), Values: make([]devices.Value, 0, len(d.profile.Points))}
	var failed PointErrors
	fail := func(rd read, err error) {
		if failed == nil {
			failed = PointErrors{}
		}
		for _, pt := range rd.points {
			failed[pt.Name] = err
			if !pt.IsText() {
				r.Values = append(r.Values, devices.Value{Point: pt.Name, Quality: devices.Bad})
			}
		}
	}
	answered := false
	var fatal *Error
	for _, j := range d.jobs {
		if job != "" && j.name != job {
			continue
		}
		for i := 0; i < len(j.reads); i++ {
			rd := j.reads[i]
			if fatal != nil {
				fail(rd, fatal)
				continue
			}
			if err := ctx.Err(); err != nil {
				fatal = &Error{Kind: KindTimeout, Err: fmt.Errorf("poll interrupted: %w", err)}
				fail(rd, fatal)
				continue
			}
			data, err := d.readWithRetries(ctx, rd)
			if err == nil {
				answered = true
				r.Values = d.appendDecoded(r.Values, rd, data, fail)
				continue
			}
			if !err.Answered() && !answered {
				// Nothing answered yet in this poll: the device is down or
				// unreachable, and asking for the rest would cost a timeout each.
				fatal = err
				fail(rd, err)
				continue
			}
			answered = true
			if (err.Exception == 2 || err.Exception == 3) && len(rd.points) > 1 && !rd.split {
				// The merged read spans an address the device does not serve:
				// read its points one by one from now on, to find the culprit.
				parts := splitRead(d.profile, rd)
				j.reads = slices.Concat(j.reads[:i:i], parts, j.reads[i+1:])
				i--
				continue
			}
			fail(rd, fmt.Errorf("read %s %d+%d: %w", rd.table, rd.start, rd.quantity, err))
		}
	}
	d.healthy = answered
	if !answered && fatal != nil {
		return r, fatal
	}
	if len(failed) > 0 {
		return r, failed
	}
	return r, nil
}

// readWithRetries reads one request, repeating it (with a growing pause) on
// failures that a repeat may cure, but only while the device is answering:
// a dead device costs its bus one timeout per poll, no more.
func (d *Driver) readWithRetries(ctx context.Context, rd read) ([]byte, *Error) {
	attempts := 1
	if d.healthy {
		attempts += d.retries
	}
	var last *Error
	for a := range attempts {
		if a > 0 {
			select {
			case <-ctx.Done():
				return nil, last
			case <-time.After(time.Duration(a) * 20 * time.Millisecond):
			}
		}
		d.waitMinDelay()
		data, err := d.readTable(rd)
		d.lastAnswer = time.Now()
		if err == nil {
			return data, nil
		}
		last = classify(err)
		if strings.HasPrefix(last.Kind, KindException) && last.Exception != 5 && last.Exception != 6 {
			return nil, last // the device meant it; only "busy" is worth asking again
		}
	}
	return nil, last
}

func (d *Driver) waitMinDelay() {
	if md := d.profile.Limits.MinDelay; md > 0 {
		if wait := time.Until(d.lastAnswer.Add(md)); wait > 0 {
			time.Sleep(wait)
		}
	}
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
func (d *Driver) appendDecoded(dst []devices.Value, rd read, data []byte, fail func(read, error)) []devices.Value {
	return decodeRead(dst, rd, data, func(pt *Point, err error) {
		fail(read{points: []*Point{pt}}, &Error{Kind: KindDecode, Err: err})
	}, func(pt *Point, text string) { d.texts[pt.Name] = text })
}

// decodeRead decodes the points of one read from its response data; bad
// points go to onErr (and are not appended), text points to onText.
func decodeRead(dst []devices.Value, rd read, data []byte, onErr func(*Point, error), onText func(*Point, string)) []devices.Value {
	bits := IsBitTable(rd.table)
	for _, pt := range rd.points {
		off := int(pt.Address) - int(rd.start)
		if bits {
			byteIdx, bit := off/8, uint(off%8)
			if byteIdx >= len(data) {
				onErr(pt, fmt.Errorf("point %s: the answer has %d bytes", pt.Name, len(data)))
				continue
			}
			v := float64((data[byteIdx] >> bit) & 1)
			dst = append(dst, devices.Value{Point: pt.Name, Value: v, Quality: devices.Good})
			continue
		}
		lo, hi := off*2, off*2+int(pt.width)*2
		if hi > len(data) {
			onErr(pt, fmt.Errorf("point %s: the answer has %d bytes", pt.Name, len(data)))
			continue
		}
		if pt.IsText() {
			text, err := pt.DecodeText(data[lo:hi])
			if err != nil {
				onErr(pt, err)
				continue
			}
			if onText != nil {
				onText(pt, text)
			}
			dst = append(dst, devices.Value{Point: pt.Name, IsText: true, Text: text, Quality: devices.Good})
			continue
		}
		v, err := pt.Decode(data[lo:hi])
		if err != nil {
			onErr(pt, err)
			continue
		}
		dst = append(dst, devices.Value{Point: pt.Name, Value: v, Quality: devices.Good})
	}
	return dst
}

// ErrWritesDisabled is returned by Write on a device without writes: true.
var ErrWritesDisabled = errors.New("writes are disabled for this device (set writes: true in its configuration)")

// Write sets a writable point: function 5 (or 15) for a coil, 6 for a
// one-register value, 16 for wider ones (or when the profile asks for it).
// A bool point in a holding register is read, changed in its bit, and written.
func (d *Driver) Write(ctx context.Context, point string, value float64) error {
	if !d.dev.Writes {
		return ErrWritesDisabled
	}
	pt, ok := d.profile.Point(point)
	if !ok {
		return fmt.Errorf("profile %s has no point %q", d.profile.Name, point)
	}
	if !pt.Writable {
		return fmt.Errorf("point %s is not writable in profile %s", point, d.profile.Name)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.waitMinDelay()
	defer func() { d.lastAnswer = time.Now() }()
	var err error
	switch {
	case pt.Table == TableCoil && pt.WriteFunction == 15:
		var b byte
		if value != 0 {
			b = 1
		}
		_, err = d.client.WriteMultipleCoils(pt.Address, 1, []byte{b})
	case pt.Table == TableCoil:
		v := uint16(0)
		if value != 0 {
			v = 0xFF00
		}
		_, err = d.client.WriteSingleCoil(pt.Address, v)
	case pt.kind == kindBool:
		var cur []byte
		if cur, err = d.client.ReadHoldingRegisters(pt.Address, 1); err == nil {
			var buf [2]byte
			word := binary.BigEndian.Uint16(reorder(buf[:], cur, pt.order))
			if value != 0 {
				word |= 1 << uint(pt.Bit)
			} else {
				word &^= 1 << uint(pt.Bit)
			}
			binary.BigEndian.PutUint16(buf[:], word)
			raw := reorder(make([]byte, 2), buf[:], pt.order)
			_, err = d.client.WriteSingleRegister(pt.Address, binary.BigEndian.Uint16(raw))
		}
	case pt.width == 1 && pt.WriteFunction != 16:
		_, err = d.client.WriteSingleRegister(pt.Address, binary.BigEndian.Uint16(pt.Encode(value)))
	default:
		_, err = d.client.WriteMultipleRegisters(pt.Address, pt.width, pt.Encode(value))
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", point, classify(err))
	}
	return nil
}

// Close releases the device's line (closed after its last user).
func (d *Driver) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.link == nil {
		return nil
	}
	err := d.link.release()
	d.link = nil
	return err
}
