package firepanel

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/estatehq/estate/devices"
	"github.com/estatehq/estate/devices/serial"
	"github.com/estatehq/estate/internal/config"
)

// Protocol names in configs.
const (
	// ProtocolGBT26875 receives a user-information transmission device: on a
	// serial line (serial.port) or over TCP (address: the host:port the
	// gateway listens on, the device connecting to it as to its centre).
	ProtocolGBT26875 = "gbt26875"
	// ProtocolCRT reads the text a panel prints on its CRT/printer port
	// (serial.port), with a line template named by profile.
	ProtocolCRT = "fire_crt"
)

// Serial defaults: panels' printer ports are mostly 9600 8N1.
const (
	defaultBaud   = 9600
	defaultParity = 'N'
	maxLine       = 1024
)

func init() {
	devices.DeclareFamily("fire")
	options := func() any { return new(Options) }
	devices.Register(ProtocolGBT26875, devices.Protocol{OpenStream: openGBT, Validate: validateGBT, Options: options})
	devices.Register(ProtocolCRT, devices.Protocol{OpenStream: openCRT, Validate: validateCRT, Options: options})
}

func serialProblems(cfg *config.Config, dev Device, path string) []config.Problem {
	var ps []config.Problem
	for f, msg := range serial.Resolve(dev.Serial, defaultBaud, defaultParity).Check() {
		ps = append(ps, cfg.Problemf(path+".serial."+f, "%s", msg))
	}
	return ps
}

func validateGBT(cfg *config.Config, cdev config.Device, path string) []config.Problem {
	dev := DeviceOf(cdev)
	switch {
	case dev.Serial != nil && dev.Address != "":
		return []config.Problem{cfg.Problemf(path+".address", "give serial (a line) or address (host:port to listen on), not both")}
	case dev.Serial != nil:
		return serialProblems(cfg, dev, path)
	case dev.Address == "":
		return []config.Problem{cfg.Problemf(path+".address", "required: host:port to listen on for the transmission device, or a serial section")}
	}
	if _, _, err := net.SplitHostPort(dev.Address); err != nil {
		return []config.Problem{cfg.Problemf(path+".address", "%q is not host:port to listen on", dev.Address)}
	}
	return nil
}

func validateCRT(cfg *config.Config, cdev config.Device, path string) []config.Problem {
	dev := DeviceOf(cdev)
	var ps []config.Problem
	if dev.Serial == nil {
		ps = append(ps, cfg.Problemf(path+".serial", "required: the panel's CRT/printer line"))
	} else {
		ps = append(ps, serialProblems(cfg, dev, path)...)
	}
	if dev.Profile == "" {
		ps = append(ps, cfg.Problemf(path+".profile", "required: the line template, a file in %s (crt-loop-address, crt-printer-compact)", cfg.Gateway.ProfilesDir))
	} else if _, err := LoadTemplate(TemplatePath(cfg.Resolve(cfg.Gateway.ProfilesDir), dev.Profile)); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			err = devices.NoProfile(cfg, "template", dev.Profile)
		}
		ps = append(ps, cfg.Problemf(path+".profile", "%v", err))
	}
	return ps
}

func siteLocation(cfg *config.Config) *time.Location {
	if cfg.Site.Timezone != "" {
		if loc, err := time.LoadLocation(cfg.Site.Timezone); err == nil {
			return loc
		}
	}
	return time.Local
}

// panel is one streamed fire panel.
type panel struct {
	cfg   Device
	info  *devices.Info
	state *panelState
	log   *slog.Logger
	loc   *time.Location
	// crt is set for CRT panels.
	crt *LineParser
	m   *metrics
}

// Streamer receives every fire panel of one protocol.
type Streamer struct {
	panels []*panel
	// ready, when set, is told each TCP listener's address once it listens,
	// and each serial line's port once it is open.
	ready func(device, addr string)
}

func newPanels(env devices.Env, devs []config.Device, infos []*devices.Info) []*panel {
	loc := siteLocation(env.Config)
	log := env.Log
	if log == nil {
		log = slog.Default()
	}
	m := newMetrics(env.Metrics)
	ps := make([]*panel, len(devs))
	for i, d := range devs {
		ps[i] = &panel{cfg: DeviceOf(d), info: infos[i], state: newPanelState(), loc: loc, m: m,
			log: log.With("part", "firepanel", "device", d.ID)}
	}
	return ps
}

func openGBT(env devices.Env, devs []config.Device, infos []*devices.Info) (devices.Streamer, error) {
	return &Streamer{panels: newPanels(env, devs, infos)}, nil
}

func openCRT(env devices.Env, devs []config.Device, infos []*devices.Info) (devices.Streamer, error) {
	ps := newPanels(env, devs, infos)
	for _, p := range ps {
		t, err := LoadTemplate(TemplatePath(env.Config.Resolve(env.Config.Gateway.ProfilesDir), p.cfg.Profile))
		if err != nil {
			return nil, fmt.Errorf("device %s: %w", p.cfg.ID, err)
		}
		p.info.Model = t.Name
		p.crt = NewLineParser(t, p.info, p.loc)
	}
	return &Streamer{panels: ps}, nil
}

// Run receives every panel until ctx ends.
func (s *Streamer) Run(ctx context.Context, sink devices.Sink) error {
	var wg sync.WaitGroup
	for _, p := range s.panels {
		wg.Go(func() {
			switch {
			case p.crt != nil:
				p.runSerial(ctx, sink, s.ready, p.readLines)
			case p.cfg.Serial != nil:
				p.runSerial(ctx, sink, s.ready, p.readFrames)
			default:
				p.listen(ctx, sink, s.ready)
			}
		})
	}
	wg.Wait()
	return nil
}

// runSerial opens the panel's line and reads it, reopening after a failure.
func (p *panel) runSerial(ctx context.Context, sink devices.Sink, ready func(string, string), read func(context.Context, io.ReadWriter, devices.Sink) error) {
	settings := serial.Resolve(p.cfg.Serial, defaultBaud, defaultParity)
	for ctx.Err() == nil {
		port, err := serial.Open(settings)
		if err == nil {
			if ready != nil {
				ready(p.cfg.ID, settings.Port)
			}
			stop := context.AfterFunc(ctx, func() { _ = port.Close() })
			err = read(ctx, port, sink)
			stop()
			_ = port.Close()
		}
		if ctx.Err() != nil {
			return
		}
		sink.Health(p.cfg.ID, err)
		p.log.Warn("fire panel line failed; reopening", "port", settings.Port, "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(2 * time.Second):
		}
	}
}

// listen accepts transmission devices on TCP; each connection is read until it closes.
func (p *panel) listen(ctx context.Context, sink devices.Sink, ready func(string, string)) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", p.cfg.Address)
	if err != nil {
		sink.Health(p.cfg.ID, err)
		p.log.Error("cannot listen for the transmission device", "address", p.cfg.Address, "err", err)
		return
	}
	if ready != nil {
		ready(p.cfg.ID, ln.Addr().String())
	}
	stop := context.AfterFunc(ctx, func() { _ = ln.Close() })
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		wg.Go(func() {
			stopConn := context.AfterFunc(ctx, func() { _ = conn.Close() })
			defer stopConn()
			defer conn.Close()
			err := p.readFrames(ctx, conn, sink)
			if ctx.Err() == nil {
				if err == nil {
					err = errors.New("transmission device closed the connection")
				}
				sink.Health(p.cfg.ID, err)
			}
		})
	}
}

// readFrames reads GB/T 26875.3 frames, confirms each one that asks for it
// and reports its records as events.
func (p *panel) readFrames(ctx context.Context, rw io.ReadWriter, sink devices.Sink) error {
	sc := Scanner{Loc: p.loc, m: p.m}
	buf := make([]byte, 2048)
	out := make([]byte, 0, 64)
	for {
		n, err := rw.Read(buf)
		if n > 0 {
			sc.Write(buf[:n])
			for {
				f, ok := sc.Next()
				if !ok {
					break
				}
				if f.Command == CmdSendData || f.Command == CmdRequest {
					out, _ = AppendEncode(out[:0], Confirm(f, time.Now().In(p.loc)))
					if _, err := rw.Write(out); err != nil {
						return fmt.Errorf("confirm: %w", err)
					}
				}
				sink.Health(p.cfg.ID, nil)
				p.handleFrame(f, sink)
			}
		}
		if err != nil {
			if errors.Is(err, serial.ErrTimeout) {
				continue // a serial read that waited with nothing to read
			}
			return err
		}
		if ctx.Err() != nil {
			return nil
		}
	}
}

// isStream tells a TCP connection (where EOF is the end) from a serial line.
func isStream(rw io.ReadWriter) bool { _, ok := rw.(net.Conn); return ok }

func (p *panel) handleFrame(f Frame, sink devices.Sink) {
	if f.Command != CmdSendData || len(f.Data) == 0 {
		return
	}
	recs, err := DecodeUnit(f.Data, p.loc)
	if err != nil {
		p.log.Warn("transmission device data not decoded", "serial", f.Serial, "err", err)
	}
	for _, r := range recs {
		for _, e := range eventsFromRecord(p.state, p.info, r) {
			p.m.panelEvents.WithLabelValues(e.Type).Inc()
			sink.Event(e)
		}
	}
}

// readLines reads CRT text lines and reports each as an event.
func (p *panel) readLines(ctx context.Context, rw io.ReadWriter, sink devices.Sink) error {
	r := bufio.NewReaderSize(rw, maxLine)
	var line []byte
	for ctx.Err() == nil {
		chunk, err := r.ReadSlice('\n')
		line = append(line, chunk...)
		full := err == nil || len(line) >= maxLine
		if full {
			p.emitLine(line, sink)
			line = line[:0]
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			if errors.Is(err, serial.ErrTimeout) {
				continue // serial read waited with nothing; a partial line stays buffered
			}
			return err
		}
	}
	return nil
}

func (p *panel) emitLine(raw []byte, sink devices.Sink) {
	raw = trimLineEnd(raw)
	if len(raw) == 0 {
		return
	}
	sink.Health(p.cfg.ID, nil)
	e := p.crt.Parse(raw, time.Now())
	if e.Type == EventUnknownLine && e.Text == "" {
		return // a line of blanks (full-width spaces included) says nothing
	}
	if e.Type == EventUnknownLine {
		p.m.unknownLines.WithLabelValues(p.cfg.ID).Inc()
		p.log.Warn("panel line matched no template; kept raw", "template", p.crt.tmpl.Name, "line", e.Text)
	}
	for _, out := range p.state.apply(e) {
		p.m.panelEvents.WithLabelValues(out.Type).Inc()
		sink.Event(out)
	}
}

func trimLineEnd(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}
