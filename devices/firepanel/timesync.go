package firepanel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/estatehq/estate/devices"
)

// Clock synchronisation (同步用户信息传输装置时钟, type 90 in a control command):
// the centre sends its time and the transmission device confirms (3) or
// denies (6) it. The receiver sends it on a schedule when the device's
// time_sync_interval is set (first once the device is heard on a link, then
// every interval, and sooner when a frame's time tag is wrong), and on
// demand (SyncClock, which `estate firepanel time-sync` reaches through the
// running gateway).

// minKickGap is how soon after a synchronisation a wrong time tag may ask
// for another: a device resending old frames must not get one per frame.
const minKickGap = time.Minute

// Errors of a synchronisation.
var (
	ErrNotConnected = fmt.Errorf("the transmission device is %w", devices.ErrNotConnected)
	ErrDenied       = errors.New("the transmission device denied it (否认, command 6)")
	ErrNoAnswer     = errors.New("no confirm from the transmission device")
)

// link is one open connection (or the line) to a transmission device.
type link struct {
	wmu sync.Mutex // one frame at a time on the wire
	w   io.Writer

	mu sync.Mutex
	// heard is closed once a frame came: the device's and the centre's
	// addresses are known (learn).
	heard          chan struct{}
	known          bool
	centre, device [6]byte
	version        [2]byte
	waiting        map[uint16]chan byte
	kick           chan struct{}
}

func newLink(w io.Writer) *link {
	return &link{w: w, heard: make(chan struct{}), version: [2]byte{1, 0}, waiting: map[uint16]chan byte{}, kick: make(chan struct{}, 1)}
}

// learn takes the addresses and protocol version from a device's frame; it
// reports whether they were new.
func (l *link) learn(f Frame) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	changed := !l.known || l.device != f.Source || l.centre != f.Dest
	l.centre, l.device, l.version = f.Dest, f.Source, f.Version
	if !l.known {
		l.known = true
		close(l.heard)
	}
	return changed
}

func (l *link) write(b []byte) error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	_, err := l.w.Write(b)
	return err
}

// expect registers a wait for the answer to the centre's frame serial.
func (l *link) expect(serial uint16) (<-chan byte, func()) {
	ch := make(chan byte, 1)
	l.mu.Lock()
	l.waiting[serial] = ch
	l.mu.Unlock()
	return ch, func() {
		l.mu.Lock()
		delete(l.waiting, serial)
		l.mu.Unlock()
	}
}

// answered hands a confirm or deny to whoever waits for it.
func (l *link) answered(serial uint16, cmd byte) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	ch, ok := l.waiting[serial]
	if ok {
		select {
		case ch <- cmd:
		default:
		}
	}
	return ok
}

func (l *link) kickTimeSync() {
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

func (p *panel) addLink(w io.Writer) *link {
	l := newLink(w)
	p.mu.Lock()
	p.links[l] = true
	p.mu.Unlock()
	return l
}

func (p *panel) removeLink(l *link) {
	p.mu.Lock()
	delete(p.links, l)
	p.mu.Unlock()
}

func (p *panel) nextSerial() uint16 {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.serial++
	return p.serial
}

func (p *panel) timeout() time.Duration {
	if p.cfg.Timeout > 0 {
		return p.cfg.Timeout
	}
	return DefaultTimeout
}

// syncLink sends the centre's time on one link and waits for its answer.
func (p *panel) syncLink(ctx context.Context, l *link) (time.Time, error) {
	l.mu.Lock()
	centre, device, version := l.centre, l.device, l.version
	l.mu.Unlock()
	serial := p.nextSerial()
	now := p.now().In(p.loc)
	wire, err := AppendEncode(nil, TimeSync(serial, version, centre, device, now))
	if err != nil {
		return now, err
	}
	answer, done := l.expect(serial)
	defer done()
	if err := l.write(wire); err != nil {
		p.m.timeSyncs.WithLabelValues("error").Inc()
		return now, fmt.Errorf("send: %w", err)
	}
	timer := time.NewTimer(p.timeout())
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return now, ctx.Err()
	case <-timer.C:
		p.m.timeSyncs.WithLabelValues("no_answer").Inc()
		return now, fmt.Errorf("%w within %s", ErrNoAnswer, p.timeout())
	case cmd := <-answer:
		if cmd == CmdDeny {
			p.m.timeSyncs.WithLabelValues("denied").Inc()
			return now, ErrDenied
		}
		p.m.timeSyncs.WithLabelValues("confirmed").Inc()
		return now, nil
	}
}

// SyncClock sets the clock of one transmission device now, on every link it
// is connected by, and returns the time sent. A device of another driver is
// devices.ErrNotServed.
func (s *Streamer) SyncClock(ctx context.Context, device string) (time.Time, error) {
	for _, p := range s.panels {
		if p.cfg.ID != device {
			continue
		}
		if p.crt != nil {
			return time.Time{}, fmt.Errorf("device %s is a CRT/printer port: it has no clock to set", device)
		}
		return p.syncNow(ctx)
	}
	return time.Time{}, devices.ErrNotServed
}

func (p *panel) syncNow(ctx context.Context) (time.Time, error) {
	p.mu.Lock()
	links := make([]*link, 0, len(p.links))
	for l := range p.links {
		links = append(links, l)
	}
	p.mu.Unlock()
	if len(links) == 0 {
		return time.Time{}, fmt.Errorf("device %s: %w (%s; nothing came from it yet)", p.cfg.ID, ErrNotConnected, p.where())
	}
	var sent time.Time
	var errs []error
	for _, l := range links {
		at, err := p.syncLink(ctx, l)
		sent = at
		if err != nil {
			errs = append(errs, err)
			continue
		}
		p.log.Info("transmission device clock set", "time", at.Format(time.DateTime))
	}
	if len(errs) == len(links) {
		return sent, fmt.Errorf("device %s: %w", p.cfg.ID, errors.Join(errs...))
	}
	return sent, nil
}

func (p *panel) where() string {
	if p.cfg.Serial != nil {
		return "its line is " + p.cfg.Serial.Port
	}
	return "the gateway listens for it on " + p.cfg.Address
}

// scheduleTimeSync sets the clock on one link once the device was heard on
// it, then every time_sync_interval, and sooner when a frame's time tag was
// wrong (not more often than minKickGap).
func (p *panel) scheduleTimeSync(ctx context.Context, l *link) {
	select {
	case <-ctx.Done():
		return
	case <-l.heard:
	}
	last := time.Time{}
	do := func() {
		last = time.Now()
		if at, err := p.syncLink(ctx, l); err != nil && ctx.Err() == nil {
			p.log.Warn("scheduled clock synchronisation failed", "err", err)
		} else if err == nil {
			p.log.Info("transmission device clock set", "time", at.Format(time.DateTime), "next_in", p.cfg.TimeSyncInterval)
		}
	}
	do()
	tick := time.NewTicker(p.cfg.TimeSyncInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			do()
		case <-l.kick:
			if time.Since(last) >= minKickGap {
				do()
			}
		}
	}
}
