package dlt645

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sort"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/estatehq/estate/devices"
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
	PointPowerFailuresNew = "power_failures_new"
)

var sweepSeconds = promauto.NewHistogramVec(prometheus.HistogramOpts{
	Name:    "estate_dlt645_sweep_seconds",
	Help:    "Time one sweep of a DL/T 645 line takes (every meter read once).",
	Buckets: prometheus.ExponentialBuckets(0.1, 2, 10),
}, []string{"port"})

func init() {
	devices.Register(Protocol, devices.Protocol{OpenStream: openStream, Validate: validate})
}

func profileFor(cfg *config.Config, dev config.Device) (*Profile, error) {
	return LoadProfile(ProfilePath(cfg.Resolve(cfg.Gateway.ProfilesDir), dev.Profile))
}

// LineOf is the serial line a DL/T 645 device is on, with the protocol's defaults.
func LineOf(dev config.Device) serial.Settings { return lineOf(dev) }

func lineOf(dev config.Device) serial.Settings {
	return serial.Resolve(dev.Serial, DefaultBaud, DefaultParity)
}

func validate(cfg *config.Config, dev config.Device, path string) []config.Problem {
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
	} else if _, err := profileFor(cfg, dev); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			err = fmt.Errorf("no profile %q in %s", dev.Profile, cfg.Resolve(cfg.Gateway.ProfilesDir))
		}
		ps = append(ps, cfg.Problemf(path+".profile", "%v", err))
	}
	// Meters that share a port share its settings and need distinct addresses.
	if dev.Serial != nil {
		for i, other := range cfg.Devices {
			if other.ID == dev.ID {
				break
			}
			if other.Protocol != Protocol || other.Serial == nil || other.Serial.Port != dev.Serial.Port {
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
	cfg     config.Device
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
	next             time.Time
}

// line is one serial port and the meters on it, swept by one goroutine.
type line struct {
	bus    *Bus
	meters []*meter
	log    *slog.Logger
	// timeSync: every meter on the line allows its clock to be set, every
	// syncEvery; nextSync is when the next broadcast is due.
	timeSync  bool
	syncEvery time.Duration
	nextSync  time.Time
	// loc is the site's time zone: meters keep local time.
	loc *time.Location
}

// Streamer sweeps every DL/T 645 line: one goroutine per port, one
// transaction at a time on it, every meter read when its poll interval is due.
type Streamer struct {
	lines []*line
}

func openStream(env devices.Env, devs []config.Device, infos []*devices.Info) (devices.Streamer, error) {
	byPort := map[string]*line{}
	var s Streamer
	for i, dev := range devs {
		p, err := profileFor(env.Config, dev)
		if err != nil {
			return nil, fmt.Errorf("device %s: %w", dev.ID, err)
		}
		addr, err := ParseAddress(dev.Address)
		if err != nil {
			return nil, fmt.Errorf("device %s: %w", dev.ID, err)
		}
		m := newMeter(dev, infos[i], addr, p)
		settings := lineOf(dev)
		l, ok := byPort[settings.Port]
		if !ok {
			l = &line{bus: NewBus(settings), log: slog.Default().With("part", "dlt645", "port", settings.Port)}
			byPort[settings.Port] = l
			s.lines = append(s.lines, l)
		}
		l.meters = append(l.meters, m)
	}
	loc := time.Local
	if tz := env.Config.Site.Timezone; tz != "" {
		if l, err := time.LoadLocation(tz); err == nil {
			loc = l
		}
	}
	for _, l := range s.lines {
		l.timeSync, l.syncEvery = lineTimeSync(l.meters)
		l.loc = loc
	}
	return &s, nil
}

func newMeter(dev config.Device, info *devices.Info, addr Address, p *Profile) *meter {
	for _, pt := range p.Points {
		if pt.Unit != "" {
			info.Units[pt.Name] = pt.Unit
		}
	}
	info.Model = p.Name
	m := &meter{cfg: dev, info: info, addr: addr, profile: p, unsupported: map[DI]time.Time{}}
	m.reads = planReads(p, nil)
	return m
}

// Run sweeps every line until ctx ends.
func (s *Streamer) Run(ctx context.Context, sink devices.Sink) error {
	done := make(chan struct{}, len(s.lines))
	for _, l := range s.lines {
		go func() { defer func() { done <- struct{}{} }(); l.run(ctx, sink) }()
	}
	for range s.lines {
		<-done
	}
	return nil
}

// Requests is how many requests one sweep of a meter makes now.
func (m *meter) Requests() int { return len(m.reads) }

func (l *line) run(ctx context.Context, sink devices.Sink) {
	defer l.bus.Close()
	for ctx.Err() == nil {
		start := time.Now()
		next := start.Add(time.Hour)
		if l.timeSync {
			if !start.Before(l.nextSync) {
				l.syncClocks(start)
			}
			next = minTime(next, l.nextSync)
		}
		for _, m := range l.meters {
			if ctx.Err() != nil {
				return
			}
			if !time.Now().Before(m.next) {
				l.poll(ctx, m, sink)
				m.next = time.Now().Add(m.cfg.PollInterval)
			}
			next = minTime(next, m.next)
		}
		sweepSeconds.WithLabelValues(l.bus.Settings.Port).Observe(time.Since(start).Seconds())
		if d := time.Until(next); d > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(d):
			}
		}
	}
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

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// poll reads one meter and reports its reading and health.
func (l *line) poll(ctx context.Context, m *meter, sink devices.Sink) {
	r, err := l.readMeter(ctx, m)
	if ctx.Err() != nil {
		return
	}
	sink.Health(m.cfg.ID, err)
	if err != nil {
		m.silent = true
		return
	}
	l.outageEvidence(m, &r, sink)
	m.silent = false
	sink.Reading(r)
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
// power-failure point, and reports a confirmed outage when the count rose
// while the meter was silent.
func (l *line) outageEvidence(m *meter, r *devices.Reading, sink devices.Sink) {
	name := ""
	for _, pt := range m.profile.Points {
		if pt.di == 0x03110000 {
			name = pt.Name
		}
	}
	if name == "" {
		return
	}
	count, ok := r.Get(name)
	if !ok {
		return
	}
	rise := 0.0
	if m.hasPowerFailures && count > m.powerFailures {
		rise = count - m.powerFailures
	}
	r.Values = append(r.Values, devices.Value{Point: PointPowerFailuresNew, Value: rise, Quality: devices.Good})
	if rise > 0 {
		text := fmt.Sprintf("power-failure count rose from %g to %g", m.powerFailures, count)
		if m.silent {
			text += " while the meter was silent: it lost power (an outage), not its link"
		}
		sink.Event(devices.Event{Device: m.info, Time: r.Time, Type: "power_restored", Source: "meter " + m.addr.String(),
			Active: false, Text: text, Attrs: map[string]string{
				"power_failures_before": strconv.FormatFloat(m.powerFailures, 'f', 0, 64),
				"power_failures":        strconv.FormatFloat(count, 'f', 0, 64),
				"was_silent":            strconv.FormatBool(m.silent),
			}})
	}
	m.powerFailures, m.hasPowerFailures = count, true
}
