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
	devices.Register(ProtocolGBT26875, devices.Protocol{OpenStream: openGBT, Validate: validateGBT, Options: options,
		DefaultTimeout: DefaultTimeout})
	devices.Register(ProtocolCRT, devices.Protocol{OpenStream: openCRT, Validate: validateCRT, Options: options})
}

func serialProblems(cfg *config.Config, dev Device, path string) []config.Problem {
	var ps []config.Problem
	for f, msg := range serial.Resolve(dev.Serial, defaultBaud, defaultParity).Check() {
		ps = append(ps, cfg.Problemf(path+".serial."+f, "%s", msg))
	}
	return ps
}

// DefaultTimeout is how long the centre waits for a transmission device to
// confirm a command it sent (a clock synchronisation): devices on GPRS or
// dial-up answer in seconds, not milliseconds.
const DefaultTimeout = 5 * time.Second

// minTimeSyncInterval bounds time_sync_interval from below: setting a clock
// every few seconds says nothing more and keeps the device's link busy.
const minTimeSyncInterval = time.Minute

func validateGBT(cfg *config.Config, cdev config.Device, path string) []config.Problem {
	dev := DeviceOf(cdev)
	if i := dev.TimeSyncInterval; i != 0 && i < minTimeSyncInterval {
		return []config.Problem{cfg.Problemf(path+".time_sync_interval", "must be at least %s (or 0, the default, for no scheduled synchronisation), got %s", minTimeSyncInterval, i)}
	}
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
	if dev.TimeSyncInterval != 0 {
		ps = append(ps, cfg.Problemf(path+".time_sync_interval", "only for protocol %s: a CRT/printer port only prints", ProtocolGBT26875))
	}
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
	// now is the centre's clock (time.Now; tests inject theirs): the time of
	// receipt and the time a synchronisation sets.
	now func() time.Time

	mu     sync.Mutex
	links  map[*link]bool // the transmission device's open connections (or line)
	serial uint16         // the centre's own serial numbers (业务流水号)
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
		ps[i] = &panel{cfg: DeviceOf(d), info: infos[i], state: newPanelState(), loc: loc, m: m, now: time.Now,
			links: map[*link]bool{}, log: log.With("part", "firepanel", "device", d.ID)}
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

// readFrames reads GB/T 26875.3 frames from one link (a connection or the
// line), answers each as the standard has the centre answer it (answer) and
// reports its records as events. While it reads, the link can carry the
// centre's own commands (a clock synchronisation, on schedule or on demand).
func (p *panel) readFrames(ctx context.Context, rw io.ReadWriter, sink devices.Sink) error {
	l := p.addLink(rw)
	defer p.removeLink(l)
	var wg sync.WaitGroup
	defer wg.Wait()
	linkCtx, stop := context.WithCancel(ctx)
	defer stop() // before wg.Wait: stops the schedule of this link
	if p.cfg.TimeSyncInterval > 0 {
		wg.Go(func() { p.scheduleTimeSync(linkCtx, l) })
	}
	sc := Scanner{Loc: p.loc, m: p.m, log: p.log}
	buf := make([]byte, 2048)
	for {
		n, err := rw.Read(buf)
		if n > 0 {
			sc.Write(buf[:n])
			for {
				f, ok := sc.Next()
				if !ok {
					break
				}
				if err := p.handleFrame(l, f, sink); err != nil {
					return err
				}
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

// handleFrame answers one whole frame and reports what it carried; the error
// is the link's (the answer could not be written).
func (p *panel) handleFrame(l *link, f Frame, sink devices.Sink) error {
	now := p.now().In(p.loc)
	if l.learn(f) {
		p.log.Info("transmission device heard", "address", fmt.Sprintf("% X", f.Source[:]), "centre", fmt.Sprintf("% X", f.Dest[:]))
	}
	switch f.Command {
	case CmdConfirm, CmdDeny:
		if !l.answered(f.Serial, f.Command) {
			p.log.Debug("answer to nothing the centre sent", "command", CommandName(f.Command), "serial", f.Serial)
		}
		sink.Health(p.cfg.ID, nil)
		return nil
	}
	reply, recs, problem := answer(f, p.loc)
	if problem != nil {
		p.log.Warn("transmission device frame", "serial", f.Serial, "command", CommandName(f.Command),
			"answer", replyName(reply), "problem", problem, "data", fmt.Sprintf("% X", f.Data))
	}
	if reply != nil {
		out, _ := AppendEncode(nil, Reply(f, reply.command, now, reply.data))
		if err := l.write(out); err != nil {
			return fmt.Errorf("answer %s: %w", CommandName(reply.command), err)
		}
		p.m.replies.WithLabelValues(replyLabel(reply.command)).Inc()
	}
	sink.Health(p.cfg.ID, nil)
	clockBad := false
	if note := timeProblem(f.Time, f.TimeTag, f.TimeErr, now); note != "" {
		clockBad = true
		p.m.badTimeTags.WithLabelValues(p.cfg.ID).Inc()
		p.log.Warn("frame time tag unusable; records get their time of receipt unless their own tags are right", "serial", f.Serial, "problem", note)
	}
	for _, r := range recs {
		note := ""
		if unitKinds[r.Type].tagged {
			if note = timeProblem(r.Time, r.TimeTag, r.TimeErr, now); note != "" {
				r.Time = now
				clockBad = true
				p.m.badTimeTags.WithLabelValues(p.cfg.ID).Inc()
			}
		} else {
			r.Time = now // untagged objects (versions, clocks) happened when they came
		}
		if r.Type == TypeTimeSync {
			p.log.Info("transmission device sent a clock synchronisation; the centre's clock is the host's and is not changed",
				"clock", r.Clock, "err", r.TimeErr)
			continue
		}
		for _, e := range Words.Name(eventsFromRecord(p.state, p.info, r, note)) {
			p.m.panelEvents.WithLabelValues(e.Type).Inc()
			sink.Event(e)
		}
	}
	if clockBad {
		if p.cfg.TimeSyncInterval > 0 {
			l.kickTimeSync()
		} else {
			p.log.Warn("the transmission device's clock is wrong: set time_sync_interval or run `estate firepanel time-sync`")
		}
	}
	return nil
}

// Limits of a time tag beyond which the device's clock is not believed and
// the time of receipt is used: ahead of the centre by more than a few
// minutes, or behind by more than a week (a device may hold back what it
// could not send while its link was down; a clock reset to 2000-01-01 is
// years behind).
const (
	maxClockAhead  = 10 * time.Minute
	maxClockBehind = 7 * 24 * time.Hour
)

// timeProblem says what is wrong with a time tag against the time of
// receipt, in both languages, or "" when it can be believed.
func timeProblem(t time.Time, tag [6]byte, tagErr error, now time.Time) string {
	switch {
	case tagErr != nil:
		return fmt.Sprintf("时间标签无效(% X)，按接收时间记录 / time tag is not a date (% X): time of receipt used", tag[:], tag[:])
	case t.Sub(now) > maxClockAhead || now.Sub(t) > maxClockBehind:
		return fmt.Sprintf("设备时钟为 %s，按接收时间记录 / device clock reads %s: time of receipt used",
			t.Format("2006-01-02 15:04:05"), t.Format("2006-01-02 15:04:05"))
	}
	return ""
}

// replyOf is the answer the centre sends to a frame.
type replyOf struct {
	command byte
	data    []byte
}

func replyName(r *replyOf) string {
	if r == nil {
		return "none"
	}
	return CommandName(r.command)
}

func replyLabel(c byte) string {
	switch c {
	case CmdConfirm:
		return "confirm"
	case CmdResponse:
		return "response"
	}
	return "deny"
}

// answer decides, as GB/T 26875.3-2011 has the centre do, how a frame that
// arrived whole (delimiters, length and checksum right) is answered and
// which records it carries:
//
//   - 发送数据 (2): 确认 (3), also when its time tag or an object's is no date
//     (the records are kept with their time of receipt); 否认 (6) when its
//     application data unit cannot be read (a reserved type flag, a type
//     that does not go up, objects cut short), the objects decoded whole
//     before the problem still reported;
//   - 请求 (4): 应答 (5), not 确认; the centre holds none of the objects a
//     device may read, so the 应答 carries no application data. A request
//     that cannot be read is denied;
//   - 控制命令 (1): 确认 for a clock synchronisation (type 90, decoded and
//     logged: the centre's clock is the host's), 否认 for other commands (a
//     centre cannot be initialised or inspected) and unreadable ones;
//   - 应答 (5): its records, no answer (it is one);
//   - reserved (0, 7–127) and user-defined (128–255) commands: 否认.
//
// Confirms and denies of the centre's own commands are taken before.
func answer(f Frame, loc *time.Location) (*replyOf, []Record, error) {
	confirm, deny := &replyOf{command: CmdConfirm}, &replyOf{command: CmdDeny}
	switch f.Command {
	case CmdSendData, CmdResponse:
		if f.Command == CmdResponse {
			confirm, deny = nil, nil
		}
		if len(f.Data) == 0 {
			return confirm, nil, nil // nothing to use, nothing wrong (a link test)
		}
		if !isUpload(f.Data[0]) {
			return deny, nil, fmt.Errorf("%w: %s does not go up in %s", ErrUnit, TypeName(f.Data[0]), CommandName(f.Command))
		}
		recs, err := DecodeUnit(f.Data, loc)
		switch {
		case err == nil:
			return confirm, recs, nil
		case errors.Is(err, ErrTrailing):
			return confirm, recs, err
		}
		return deny, recs, err
	case CmdRequest:
		if len(f.Data) == 0 || !isRead(f.Data[0]) {
			return deny, nil, fmt.Errorf("%w: a request must carry a read type (61–88)", ErrUnit)
		}
		if _, err := DecodeUnit(f.Data, loc); err != nil && !errors.Is(err, ErrTrailing) {
			return deny, nil, err
		}
		return &replyOf{command: CmdResponse}, nil, nil
	case CmdControl:
		if len(f.Data) == 0 || !isControl(f.Data[0]) {
			return deny, nil, fmt.Errorf("%w: a control command must carry type 89, 90 or 91", ErrUnit)
		}
		recs, err := DecodeUnit(f.Data, loc)
		if err != nil && !errors.Is(err, ErrTrailing) {
			return deny, nil, err
		}
		if f.Data[0] != TypeTimeSync {
			return deny, nil, fmt.Errorf("%s is not for a centre", TypeName(f.Data[0]))
		}
		return confirm, recs, nil
	}
	return deny, nil, fmt.Errorf("%s is not answered otherwise", CommandName(f.Command))
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
	for _, out := range Words.Name(p.state.apply(e)) {
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
