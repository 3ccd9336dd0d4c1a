package dlt645

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/estatehq/estate/devices"
	pointnames "github.com/estatehq/estate/devices/points"
	"github.com/estatehq/estate/devices/serial"
	"github.com/estatehq/estate/internal/config"
)

// Protocol is the protocol name of DL/T 645-2007 meters in configs.
const Protocol = "dlt645"

// Line defaults of DL/T 645 meters: 2400 baud, 8 data bits, even parity, 1 stop bit.
const (
	DefaultBaud   = 2400
	DefaultParity = 'E'
)

// recheckUnsupported is how long an identifier a meter said it does not have
// is left alone before it is asked again (after a firmware change, say).
const recheckUnsupported = time.Hour

// Points the driver adds to every reading for the outage logic.
const (
	// PointPowerFailuresNew is how much the power-failure count (03 11 00 00)
	// rose since the meter's previous good reading: above zero after a
	// silence, the meter lost power, which was an outage, not a link fault.
	PointPowerFailuresNew = devices.PointPowerFailuresNew
)

func init() {
	devices.DeclareFamily("meter")
	devices.Register(Protocol, devices.Protocol{Open: open, Validate: validate, Points: points,
		Options:        func() any { return new(Options) },
		Exclusive:      map[string]string{"dlt645": "only for devices of protocol dlt645"},
		DefaultTimeout: DefaultTimeout})
}

// points are the points of the meter's profile, with power_failures_new,
// which the driver derives from the power-failure count.
func points(cfg *config.Config, dev config.Device) ([]string, bool) {
	p, err := profileFor(cfg, dev)
	if err != nil {
		return nil, false
	}
	names := []string{PointPowerFailuresNew}
	for _, pt := range p.Points {
		names = append(names, pt.Name)
	}
	return names, true
}

func profileFor(cfg *config.Config, dev config.Device) (*Profile, error) {
	return profiles.Load(cfg.Resolve(cfg.Gateway.ProfilesDir), dev.Profile)
}

// LineOf is the serial line a DL/T 645 device is on, with the protocol's defaults.
func LineOf(dev config.Device) serial.Settings { return lineOf(DeviceOf(dev)) }

func lineOf(dev Device) serial.Settings {
	return serial.Resolve(dev.Serial, DefaultBaud, DefaultParity)
}

func validate(cfg *config.Config, cdev config.Device, path string) []config.Problem {
	dev := DeviceOf(cdev)
	ps := validateControl(cfg, dev, path)
	if _, err := ParseAddress(dev.Address); err != nil {
		ps = append(ps, cfg.Problemf(path+".address", "the meter's 12-digit communication address (on its nameplate): %v", err))
	}
	if dev.Serial == nil {
		ps = append(ps, cfg.Problemf(path+".serial", "required: the RS-485 line (port, and baud/parity when not 2400 8E1)"))
	} else {
		problems := lineOf(dev).Check()
		fields := make([]string, 0, len(problems))
		for f := range problems {
			fields = append(fields, f)
		}
		sort.Strings(fields)
		for _, f := range fields {
			ps = append(ps, cfg.Problemf(path+".serial."+f, "%s", problems[f]))
		}
	}
	if dev.Profile == "" {
		ps = append(ps, cfg.Problemf(path+".profile", "required: the meter's DL/T 645 profile, a file in %s", cfg.Gateway.ProfilesDir))
	} else if _, err := profileFor(cfg, cdev); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			err = devices.NoProfile(cfg, "profile", dev.Profile)
		}
		ps = append(ps, cfg.Problemf(path+".profile", "%v", err))
	}
	// Meters that share a port share its settings and need distinct addresses.
	if dev.Serial != nil {
		for i, o := range cfg.Devices {
			if o.ID == dev.ID {
				break
			}
			if o.Protocol != Protocol {
				continue
			}
			other := DeviceOf(o)
			if other.Serial == nil || other.Serial.Port != dev.Serial.Port {
				continue
			}
			if lineOf(other) != lineOf(dev) {
				ps = append(ps, cfg.Problemf(path+".serial", "port %s is also used by devices[%d] (%s) with other line settings", dev.Serial.Port, i, other.ID))
			}
			if a, err := ParseAddress(other.Address); err == nil {
				if b, err := ParseAddress(dev.Address); err == nil && a == b {
					ps = append(ps, cfg.Problemf(path+".address", "devices[%d] (%s) on the same port has the same address", i, other.ID))
				}
			}
		}
	}
	return ps
}

// meter is one device of a line and what the driver remembers about it.
type meter struct {
	cfg     Device
	info    *devices.Info
	addr    Address
	profile *Profile
	reads   []read
	// unsupported identifiers, with when the meter said so.
	unsupported map[DI]time.Time
	// powerFailures is the last power-failure count read, when known.
	powerFailures    float64
	hasPowerFailures bool
	silent           bool
}

// line is one serial port and the meters on it. The meters' drivers share it:
// the scheduler runs their polls one at a time (they have the same Bus key),
// and mu keeps that true for anyone else on the line (relay commands).
type line struct {
	port string
	log  *slog.Logger
	m    *metrics
	// loc is the site's time zone: meters keep local time.
	loc *time.Location

	mu     sync.Mutex
	bus    *Bus
	meters []*meter
	refs   int
	// timeSync: every meter on the line allows its clock to be set, every
	// syncEvery; nextSync is when the next broadcast is due.
	timeSync  bool
	syncEvery time.Duration
	nextSync  time.Time
	// busy is each meter's latest poll time; swept are the meters polled
	// since the last sweep was observed.
	busy  map[*meter]time.Duration
	swept map[*meter]bool
}

// The lines of this process by port: the meters on one port share one opened
// line, however many devices name it.
var (
	linesMu sync.Mutex
	lines   = map[string]*line{}
)

// attach puts a meter on the line of its port, opening the line (lazily:
// the port itself is opened by the first transaction) for the first one.
func attach(env devices.Env, m *meter) *line {
	settings := lineOf(m.cfg)
	linesMu.Lock()
	defer linesMu.Unlock()
	l, ok := lines[settings.Port]
	if !ok {
		log := env.Log
		if log == nil {
			log = slog.Default()
		}
		mt := newMetrics(env.Metrics)
		l = &line{port: settings.Port, log: log.With("part", "dlt645", "port", settings.Port), m: mt,
			loc: siteLocation(env.Config), bus: newBus(settings, mt),
			busy: map[*meter]time.Duration{}, swept: map[*meter]bool{}}
		lines[settings.Port] = l
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.refs++
	l.meters = append(l.meters, m)
	l.timeSync, l.syncEvery = lineTimeSync(l.meters)
	return l
}

// detach takes a meter off its line and closes the line after the last.
func (l *line) detach(m *meter) error {
	linesMu.Lock()
	defer linesMu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.meters = slices.DeleteFunc(l.meters, func(x *meter) bool { return x == m })
	delete(l.busy, m)
	delete(l.swept, m)
	l.timeSync, l.syncEvery = lineTimeSync(l.meters)
	l.refs--
	if l.refs > 0 {
		return nil
	}
	if lines[l.port] == l {
		delete(lines, l.port)
	}
	return l.bus.Close()
}

func siteLocation(cfg *config.Config) *time.Location {
	if cfg != nil && cfg.Site.Timezone != "" {
		if l, err := time.LoadLocation(cfg.Site.Timezone); err == nil {
			return l
		}
	}
	return time.Local
}

func newMeter(dev Device, info *devices.Info, addr Address, p *Profile) *meter {
	for _, pt := range p.Points {
		if pt.Unit != "" {
			info.Units[pt.Name] = pt.Unit
		}
	}
	info.Names = pointnames.NamesOf(p.Points, func(pt Point) string { return pt.Name }, func(pt Point) pointnames.Names { return pt.Names })
	info.Model = p.Name
	m := &meter{cfg: dev, info: info, addr: addr, profile: p, unsupported: map[DI]time.Time{}}
	m.reads = planReads(p, nil)
	return m
}

// Requests is how many requests one poll of a meter makes now.
func (m *meter) Requests() int { return len(m.reads) }

// Driver polls one meter on its line. The gateway's scheduler calls Poll on
// the meter's interval, one poll at a time per line (Bus).
type Driver struct {
	line *line
	m    *meter

	// events found by the last polls (outage evidence), until taken.
	evMu   sync.Mutex
	events []devices.Event
}

func open(env devices.Env, cdev config.Device, info *devices.Info) (devices.Driver, error) {
	dev := DeviceOf(cdev)
	p, err := profileFor(env.Config, cdev)
	if err != nil {
		return nil, err
	}
	addr, err := ParseAddress(dev.Address)
	if err != nil {
		return nil, err
	}
	m := newMeter(dev, info, addr, p)
	return &Driver{line: attach(env, m), m: m}, nil
}

// Bus is the key of the meter's line: the port, one transaction at a time.
func (d *Driver) Bus() (string, bool) { return "dlt645:" + d.line.port, true }

// Requests is how many requests one poll of the meter makes now.
func (d *Driver) Requests() int {
	d.line.mu.Lock()
	defer d.line.mu.Unlock()
	return d.m.Requests()
}

// PollTimeout bounds a whole poll: one transaction per planned read, each
// with the meter's timeout and the longest frames' time on the wire, and a
// follow-up or a clock broadcast to spare. Transactions time out on their own;
// this only stops a poll that keeps going (a meter sending follow-ups).
func (d *Driver) PollTimeout() time.Duration {
	d.line.mu.Lock()
	defer d.line.mu.Unlock()
	perRead := d.m.cfg.Timeout + 2*(4+minFrame+MaxDataLen)*d.line.bus.Settings.ByteTime()
	return time.Duration(len(d.m.reads)+2) * perRead
}

// Poll reads the meter: the clocks of the line first when a broadcast is due,
// then the meter's identifiers. A meter that does not answer is an error (it
// counts towards offline); an identifier it refuses reads as bad quality.
func (d *Driver) Poll(ctx context.Context) (devices.Reading, error) {
	l, m := d.line, d.m
	if l == nil {
		return devices.Reading{}, fmt.Errorf("meter %s: the driver is closed", m.cfg.ID)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	start := time.Now()
	if l.timeSync && !start.Before(l.nextSync) {
		l.syncClocks(start)
	}
	r, err := l.readMeter(ctx, m)
	l.swept1(m, time.Since(start))
	if ctx.Err() != nil {
		// Shutting down or out of time: says nothing about the meter.
		return r, fmt.Errorf("meter %s: poll interrupted: %w", m.cfg.ID, context.Cause(ctx))
	}
	if err != nil {
		m.silent = true
		return r, err
	}
	if e, ok := l.outageEvidence(m, &r); ok {
		d.evMu.Lock()
		d.events = append(d.events, e)
		d.evMu.Unlock()
	}
	m.silent = false
	return r, nil
}

// TakeEvents returns the events the polls found since the last call (a meter
// that came back with its power-failure count up: an outage), oldest first.
func (d *Driver) TakeEvents() []devices.Event {
	d.evMu.Lock()
	defer d.evMu.Unlock()
	out := d.events
	d.events = nil
	return out
}

// ControlRelay sends a relay command to the meter on the shared line, between
// polls (see Bus.ControlRelay); the device must allow relay control.
func (d *Driver) ControlRelay(ctx context.Context, cmd byte, until time.Time) error {
	r, err := relayOf(d.m.cfg, d.m.profile)
	if err != nil {
		return err
	}
	if err := r.Check(cmd, d.m.cfg.ID, d.m.profile.Name); err != nil {
		return err
	}
	d.line.mu.Lock()
	defer d.line.mu.Unlock()
	return d.line.bus.ControlRelay(ctx, d.m.addr, r.Password, r.Operator, cmd, until, d.m.cfg.Timeout)
}

// Close takes the meter off its line; the last meter closes the port. The
// gateway closes drivers once their polls have stopped.
func (d *Driver) Close() error {
	if d.line == nil {
		return nil
	}
	err := d.line.detach(d.m)
	d.line = nil
	return err
}

// swept1 records one meter's poll time; once every meter of the line has
// been polled, their latest times add up to one sweep of the line.
func (l *line) swept1(m *meter, took time.Duration) {
	l.busy[m] = took
	l.swept[m] = true
	if len(l.swept) < len(l.meters) {
		return
	}
	var total time.Duration
	for _, t := range l.busy {
		total += t
	}
	l.m.sweepSeconds.WithLabelValues(l.port).Observe(total.Seconds())
	clear(l.swept)
}

// syncClocks broadcasts the time to the line's meters (all of which allow it).
func (l *line) syncClocks(now time.Time) {
	if err := l.bus.BroadcastTime(now.In(l.loc)); err != nil {
		l.log.Warn("setting the meters' clocks failed; retrying in a minute", "err", err)
		l.nextSync = now.Add(time.Minute)
		return
	}
	l.log.Info("meters' clocks set by broadcast", "meters", len(l.meters), "next", now.Add(l.syncEvery).Format(time.RFC3339))
	l.nextSync = now.Add(l.syncEvery)
}

// readMeter makes the meter's reads. The first read that gets no answer ends
// the poll (the meter is silent); an identifier the meter does not have is
// remembered and left out of the next polls.
func (l *line) readMeter(ctx context.Context, m *meter) (devices.Reading, error) {
	now := time.Now()
	r := devices.Reading{Device: m.info, Time: now, Values: make([]devices.Value, 0, len(m.profile.Points)+1)}
	for i := 0; i < len(m.reads); i++ {
		rd := m.reads[i]
		if at, ok := m.unsupported[rd.di]; ok {
			if now.Sub(at) < recheckUnsupported {
				continue
			}
			delete(m.unsupported, rd.di)
		}
		value, err := l.bus.Read(ctx, m.addr, rd.di, m.cfg.Timeout)
		var refused *ErrorReply
		switch {
		case errors.As(err, &refused) && refused.NoData():
			m.unsupported[rd.di] = now
			l.log.Info("meter does not have this data; not asking again for an hour",
				"device", m.cfg.ID, "di", rd.di.String(), "block", rd.block)
			if rd.block {
				// Fall back to reading the block's points one by one.
				m.reads = planReads(m.profile, blockSet(m.unsupported))
				i = -1
				r.Values = r.Values[:0]
			}
			continue
		case errors.As(err, &refused):
			for _, pt := range rd.points {
				r.Values = append(r.Values, devices.Value{Point: pt.Name, Quality: devices.Bad})
			}
			continue
		case err != nil:
			return r, fmt.Errorf("meter %s (%s) %s: %w", m.cfg.ID, m.addr, rd.di, err)
		}
		r.Values = appendValues(r.Values, rd, value)
	}
	return r, nil
}

func blockSet(unsupported map[DI]time.Time) map[DI]bool {
	out := map[DI]bool{}
	for di := range unsupported {
		if _, ok := blocks[di]; ok {
			out[di] = true
		}
	}
	return out
}

// appendValues decodes a read's value bytes into its points.
func appendValues(dst []devices.Value, rd read, value []byte) []devices.Value {
	for _, pt := range rd.points {
		raw, ok := value, true
		if rd.block {
			raw, ok = blockElement(rd.elems, pt, value)
		}
		if !ok || len(raw) < pt.format.Bytes {
			dst = append(dst, devices.Value{Point: pt.Name, Quality: devices.Bad})
			continue
		}
		v, err := pt.value(raw[:pt.format.Bytes])
		if err != nil {
			dst = append(dst, devices.Value{Point: pt.Name, Quality: devices.Bad})
			continue
		}
		dst = append(dst, devices.Value{Point: pt.Name, Value: v, Quality: devices.Good})
	}
	return dst
}

// blockElement finds a point's bytes in a block: the elements come in order,
// each as wide as its table format.
func blockElement(elems []DI, pt *Point, value []byte) ([]byte, bool) {
	off := 0
	for _, e := range elems {
		w := Items[e].Format.Bytes
		if e == pt.di {
			if off+w > len(value) {
				return nil, false
			}
			return value[off : off+w], true
		}
		off += w
	}
	return nil, false
}

// outageEvidence adds power_failures_new to a reading of a meter with a
// power-failure point, and returns a confirmed outage when the count rose
// while the meter was silent.
func (l *line) outageEvidence(m *meter, r *devices.Reading) (devices.Event, bool) {
	name := ""
	for _, pt := range m.profile.Points {
		if pt.di == 0x03110000 {
			name = pt.Name
		}
	}
	if name == "" {
		return devices.Event{}, false
	}
	count, ok := r.Get(name)
	if !ok {
		return devices.Event{}, false
	}
	rise := 0.0
	if m.hasPowerFailures && count > m.powerFailures {
		rise = count - m.powerFailures
	}
	r.Values = append(r.Values, devices.Value{Point: PointPowerFailuresNew, Value: rise, Quality: devices.Good})
	var e devices.Event
	if rise > 0 {
		text := fmt.Sprintf("power-failure count rose from %g to %g", m.powerFailures, count)
		if m.silent {
			text += " while the meter was silent: it lost power (an outage), not its link"
		}
		e = devices.Event{Device: m.info, Time: r.Time, Type: "power_restored", Source: "meter " + m.addr.String(), SourceZH: Words.ZH("meter " + m.addr.String()),
			Active: false, Text: text, Attrs: map[string]string{
				"power_failures_before": strconv.FormatFloat(m.powerFailures, 'f', 0, 64),
				"power_failures":        strconv.FormatFloat(count, 'f', 0, 64),
				"was_silent":            strconv.FormatBool(m.silent),
			}}
	}
	m.powerFailures, m.hasPowerFailures = count, true
	return e, rise > 0
}

// Words say a meter's events' source in Chinese: the meter by its address.
var Words = devices.SourceWords{"meter": "电表 {n}"}
