package cjt188

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/estatehq/estate/devices"
	pointnames "github.com/estatehq/estate/devices/points"
	"github.com/estatehq/estate/internal/config"
)

// Protocol is the protocol name of CJ/T 188 meters in configs.
const Protocol = "cjt188"

// Family is the device family of water meters.
const Family = "water"

func init() {
	devices.DeclareFamily(Family)
	devices.Register(Protocol, devices.Protocol{Open: open, Validate: validate,
		Options:        func() any { return new(Options) },
		Exclusive:      map[string]string{"cjt188": "only for devices of protocol cjt188"},
		DefaultTimeout: DefaultTimeout})
}

func profileFor(cfg *config.Config, dev config.Device) (*Profile, error) {
	return profiles.Load(cfg.Resolve(cfg.Gateway.ProfilesDir), dev.Profile)
}

func validate(cfg *config.Config, cdev config.Device, path string) []config.Problem {
	dev := DeviceOf(cdev)
	ps := validateSwitches(cfg, dev, path)
	if _, err := ParseAddress(dev.Address); err != nil {
		ps = append(ps, cfg.Problemf(path+".address", "the meter's 14-digit address (meter number and manufacturer code, on the meter): %v", err))
	}
	if dev.Serial == nil {
		ps = append(ps, cfg.Problemf(path+".serial", "required: the M-Bus or RS-485 line (port, and baud/parity when not 2400 8E1)"))
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
		ps = append(ps, cfg.Problemf(path+".profile", "required: the meter's CJ/T 188 profile, a file in %s", cfg.Gateway.ProfilesDir))
	} else if p, err := profileFor(cfg, cdev); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			err = fmt.Errorf("no profile %q in %s", dev.Profile, cfg.Resolve(cfg.Gateway.ProfilesDir))
		}
		ps = append(ps, cfg.Problemf(path+".profile", "%v", err))
	} else if dev.CJT188 != nil && dev.CJT188.FlowWatch != nil && p.FlowFrom == "" && !slices.ContainsFunc(p.Points, func(pt Point) bool { return pt.Name == PointFlow }) {
		ps = append(ps, cfg.Problemf(path+".cjt188.flow_watch", "profile %s gives no flow (a point named flow, or flow_from)", p.Name))
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

// volumeSample is one reading of the volume a flow is derived from.
type volumeSample struct {
	at     time.Time
	volume float64
}

// meter is one device of a line and what the driver remembers about it.
type meter struct {
	cfg     Device
	info    *devices.Info
	addr    Address
	profile *Profile
	reads   []DI
	// volumes are the recent volumes of the flow_from point, oldest first.
	volumes []volumeSample
	watch   *flowWatcher
}

// line is one serial port and the meters on it. The meters' drivers share
// it: the scheduler runs their polls one at a time (they have the same Bus
// key), and mu keeps that true for anyone else on the line (valve commands).
type line struct {
	port string
	log  *slog.Logger
	m    *metrics

	mu     sync.Mutex
	bus    *Bus
	meters []*meter
	refs   int
	// busy is each meter's latest poll time; swept are the meters polled
	// since the last sweep was observed.
	busy  map[*meter]time.Duration
	swept map[*meter]bool
}

// The lines of this process by port.
var (
	linesMu sync.Mutex
	lines   = map[string]*line{}
)

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
		l = &line{port: settings.Port, log: log.With("part", "cjt188", "port", settings.Port), m: mt,
			bus: newBus(settings, mt), busy: map[*meter]time.Duration{}, swept: map[*meter]bool{}}
		lines[settings.Port] = l
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.refs++
	l.meters = append(l.meters, m)
	return l
}

func (l *line) detach(m *meter) error {
	linesMu.Lock()
	defer linesMu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.meters = slices.DeleteFunc(l.meters, func(x *meter) bool { return x == m })
	delete(l.busy, m)
	delete(l.swept, m)
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

func newMeter(dev Device, info *devices.Info, addr Address, p *Profile, loc *time.Location) *meter {
	for _, pt := range p.Points {
		if pt.Unit != "" {
			info.Units[pt.Name] = pt.Unit
		}
	}
	if p.FlowFrom != "" {
		info.Units[PointFlow] = "m³/h"
	}
	info.Names = pointnames.NamesOf(p.Points, func(pt Point) string { return pt.Name }, func(pt Point) pointnames.Names { return pt.Names })
	info.Model = p.Name
	m := &meter{cfg: dev, info: info, addr: addr, profile: p, reads: p.reads()}
	if dev.CJT188 != nil && dev.CJT188.FlowWatch != nil {
		m.watch = newFlowWatcher(*dev.CJT188.FlowWatch, loc)
	}
	return m
}

// Driver polls one meter on its line. The gateway's scheduler calls Poll on
// the meter's interval, one poll at a time per line (Bus).
type Driver struct {
	line *line
	m    *meter

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
	m := newMeter(dev, info, addr, p, siteLocation(env.Config))
	return &Driver{line: attach(env, m), m: m}, nil
}

// Bus is the key of the meter's line: the port, one transaction at a time.
func (d *Driver) Bus() (string, bool) { return "cjt188:" + d.line.port, true }

// Requests is how many requests one poll of the meter makes.
func (d *Driver) Requests() int { return len(d.m.reads) }

// PollTimeout bounds a whole poll: one transaction per identifier, each with
// the meter's timeout and the longest frames' time on the wire.
func (d *Driver) PollTimeout() time.Duration {
	perRead := d.m.cfg.Timeout + time.Duration(2*(len(Preamble)+minFrame+64))*d.line.bus.Settings.ByteTime()
	return time.Duration(len(d.m.reads)+1) * perRead
}

// Poll reads the meter's identifiers. A meter that does not answer is an
// error (it counts towards offline); an identifier it refuses reads as bad
// quality.
func (d *Driver) Poll(ctx context.Context) (devices.Reading, error) {
	l, m := d.line, d.m
	if l == nil {
		return devices.Reading{}, fmt.Errorf("meter %s: the driver is closed", m.cfg.ID)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	start := time.Now()
	r, err := l.readMeter(ctx, m, start)
	l.swept1(m, time.Since(start))
	if ctx.Err() != nil {
		return r, fmt.Errorf("meter %s: poll interrupted: %w", m.cfg.ID, context.Cause(ctx))
	}
	if err != nil {
		return r, err
	}
	if es := m.derive(&r); len(es) > 0 {
		d.evMu.Lock()
		d.events = append(d.events, es...)
		d.evMu.Unlock()
	}
	return r, nil
}

// TakeEvents returns the events the polls found since the last call (a main
// meter's flow jump or night flow), oldest first.
func (d *Driver) TakeEvents() []devices.Event {
	d.evMu.Lock()
	defer d.evMu.Unlock()
	out := d.events
	d.events = nil
	return out
}

// Valve opens (ValveOpen) or closes (ValveClose) the meter's valve on the
// shared line, between polls; the device must allow valve control.
func (d *Driver) Valve(ctx context.Context, cmd byte) error {
	password, err := ValvePassword(d.m.cfg.Device)
	if err != nil {
		return err
	}
	d.line.mu.Lock()
	defer d.line.mu.Unlock()
	return d.line.bus.Valve(ctx, d.m.profile.meterType, d.m.addr, d.m.profile.order, cmd, password, d.m.cfg.Timeout)
}

// Close takes the meter off its line; the last meter closes the port.
func (d *Driver) Close() error {
	if d.line == nil {
		return nil
	}
	err := d.line.detach(d.m)
	d.line = nil
	return err
}

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

// readMeter makes the meter's reads. The first read that gets no answer
// ends the poll (the meter is silent).
func (l *line) readMeter(ctx context.Context, m *meter, now time.Time) (devices.Reading, error) {
	r := devices.Reading{Device: m.info, Time: now, Values: make([]devices.Value, 0, len(m.profile.Points)+1)}
	for _, di := range m.reads {
		value, err := l.bus.Read(ctx, m.profile.meterType, m.addr, di, m.profile.order, m.cfg.Timeout)
		var refused *ErrorReply
		switch {
		case errors.As(err, &refused):
			for _, pt := range m.profile.Points {
				if pt.di == di {
					r.Values = append(r.Values, devices.Value{Point: pt.Name, Quality: devices.Bad})
				}
			}
			continue
		case err != nil:
			return r, fmt.Errorf("water meter %s (%s) %s: %w", m.cfg.ID, m.addr, di, err)
		}
		for i := range m.profile.Points {
			pt := &m.profile.Points[i]
			if pt.di != di {
				continue
			}
			v, err := pt.value(value)
			if err != nil {
				r.Values = append(r.Values, devices.Value{Point: pt.Name, Quality: devices.Bad})
				continue
			}
			r.Values = append(r.Values, devices.Value{Point: pt.Name, Value: v, Quality: devices.Good})
		}
	}
	return r, nil
}

// derive adds the flow derived from the volume (when the profile says so)
// and runs a main meter's flow watch over the flow.
func (m *meter) derive(r *devices.Reading) []devices.Event {
	p := m.profile
	if p.FlowFrom != "" {
		if v, ok := r.Get(p.FlowFrom); ok {
			if n := len(m.volumes); n > 0 && v < m.volumes[n-1].volume {
				m.volumes = m.volumes[:0] // a new meter, or its register was reset
			}
			m.volumes = append(m.volumes, volumeSample{at: r.Time, volume: v})
			cut := 0
			for cut < len(m.volumes)-1 && r.Time.Sub(m.volumes[cut+1].at) >= p.FlowWindow {
				cut++
			}
			m.volumes = m.volumes[cut:]
			first := m.volumes[0]
			if span := r.Time.Sub(first.at); span >= min(p.FlowWindow, 30*time.Second) {
				flow := (v - first.volume) / span.Hours()
				r.Values = append(r.Values, devices.Value{Point: PointFlow, Value: flow, Quality: devices.Good})
			}
		}
	}
	if m.watch == nil {
		return nil
	}
	flow, ok := r.Get(PointFlow)
	if !ok {
		return nil
	}
	var out []devices.Event
	for _, n := range m.watch.observe(FlowSample{At: r.Time, Flow: flow}) {
		out = append(out, devices.Event{Device: m.info, Time: r.Time, Type: n.kind, Source: "meter " + m.addr.String(), SourceZH: Words.ZH("meter " + m.addr.String()),
			Active: n.active, Text: n.text, Attrs: map[string]string{"flow": fmt.Sprintf("%.3f", n.value)}})
	}
	return out
}

// Words say a meter's events' source in Chinese: the meter by its address.
var Words = devices.SourceWords{"meter": "水表 {n}"}
