package firepanel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/estatehq/estate/devices/serial"
)

// ScriptStep is one thing a simulated panel reports, some time after the
// previous step.
type ScriptStep struct {
	After  time.Duration
	Record Record // for a transmission device
	Line   string // for a CRT panel (UTF-8; sent as GB 18030)
}

// DemoScript is a fire alarm at loop 1 point 23, a fault at loop 2 point 11,
// the fault clearing and a reset, every step a few seconds apart; both
// simulated panels play it.
func DemoScript(gap time.Duration) []ScriptStep {
	return []ScriptStep{
		{After: gap, Record: Record{Type: TypeComponentStatus, SystemType: 1, SystemAddr: 1, ComponentType: 42, ComponentAddr: 1023, Status: 1 | 1<<1, Description: "3层东走廊 感烟"},
			Line: "%s 火警 01回路023号 感烟探测器 3层东走廊"},
		{After: gap, Record: Record{Type: TypeComponentStatus, SystemType: 1, SystemAddr: 1, ComponentType: 23, ComponentAddr: 2011, Status: 1 | 1<<2, Description: "1层大厅 手报"},
			Line: "%s 故障 02回路011号 手动报警按钮 1层大厅"},
		{After: gap, Record: Record{Type: TypeComponentStatus, SystemType: 1, SystemAddr: 1, ComponentType: 23, ComponentAddr: 2011, Status: 1, Description: "1层大厅 手报"},
			Line: "%s 故障恢复 02回路011号 手动报警按钮 1层大厅"},
		{After: gap, Record: Record{Type: TypeOperation, SystemType: 1, SystemAddr: 1, Operation: 1, Operator: 1},
			Line: "%s 系统复位"},
	}
}

// UITD simulates a user-information transmission device: it sends each
// record as a "send data" frame and resends it until the centre confirms
// it; it sets its clock from the centre's clock synchronisation (type 90 in
// a control command) and confirms that.
type UITD struct {
	Source, Dest [6]byte
	Script       []ScriptStep
	// ResendAfter is how long it waits for a confirm (2 s if zero).
	ResendAfter time.Duration
	// Repeat plays the script again after its end.
	Repeat bool
	// Loc is the time zone of the device's clock (the site's); local if nil.
	Loc *time.Location
	// UnsetClock plays a device whose clock was never set: its time tags
	// are 00 00 00 00 00 00 until a clock synchronisation comes.
	UnsetClock bool

	mu       sync.Mutex
	serial   uint16
	confirms int
	resends  int
	denies   int
	// clockSet is when the centre last set the clock (zero: never), offset
	// the device clock's difference from the host's since.
	clockSet time.Time
	offset   time.Duration
	syncs    int
}

// Counts returns how many frames were confirmed and resent.
func (u *UITD) Counts() (confirms, resends int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.confirms, u.resends
}

// Denies is how many of its frames the centre denied (否认).
func (u *UITD) Denies() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.denies
}

// ClockSet returns the time the centre's last synchronisation carried (zero:
// the clock was never set) and how many came.
func (u *UITD) ClockSet() (time.Time, int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.clockSet, u.syncs
}

// clock is the device's time, or zero while it was never set.
func (u *UITD) clock() time.Time {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.UnsetClock && u.clockSet.IsZero() {
		return time.Time{}
	}
	now := time.Now().Add(u.offset)
	if u.Loc != nil {
		now = now.In(u.Loc)
	}
	return now
}

// fromCentre handles a frame of the centre: a confirm or deny of a frame it
// sent (to answers), a clock synchronisation (set the clock, confirm);
// anything else is denied.
func (u *UITD) fromCentre(f Frame, send func([]byte) bool, answers chan<- Frame) {
	switch f.Command {
	case CmdConfirm, CmdDeny:
		select {
		case answers <- f:
		default:
		}
		return
	case CmdControl:
		recs, err := DecodeUnit(f.Data, time.UTC)
		if err == nil && len(recs) == 1 && recs[0].Type == TypeTimeSync && recs[0].TimeErr == nil {
			// The centre's time is the site's wall clock: read it in the device's zone.
			loc := u.Loc
			if loc == nil {
				loc = time.Local
			}
			c := recs[0].Clock
			set := time.Date(c.Year(), c.Month(), c.Day(), c.Hour(), c.Minute(), c.Second(), 0, loc)
			u.mu.Lock()
			u.clockSet, u.offset = set, time.Until(set)
			u.syncs++
			u.mu.Unlock()
			u.reply(send, f, CmdConfirm)
			return
		}
	}
	u.reply(send, f, CmdDeny)
}

func (u *UITD) reply(send func([]byte) bool, f Frame, cmd byte) {
	wire, _ := AppendEncode(nil, Reply(f, cmd, u.clock(), nil))
	send(wire)
}

// Serve plays the script on one link (a TCP connection or a line) until the
// script ends (without Repeat), the link fails or ctx ends.
func (u *UITD) Serve(ctx context.Context, rw io.ReadWriter) error {
	answers := make(chan Frame, 16)
	readErr := make(chan error, 2)
	// One writer: the reader hands its answers over and never waits for the
	// link, so that neither side can block the other's reading.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	outq := make(chan []byte, 16)
	send := func(b []byte) bool {
		select {
		case outq <- b:
			return true
		case <-ctx.Done():
			return false
		}
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel() // before wg.Wait
	wg.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case b := <-outq:
				if _, err := rw.Write(b); err != nil {
					readErr <- fmt.Errorf("transmission device send: %w", err)
					return
				}
			}
		}
	})
	go func() {
		sc := Scanner{Loc: time.Local}
		buf := make([]byte, 512)
		for {
			n, err := rw.Read(buf)
			sc.Write(buf[:n])
			for {
				f, ok := sc.Next()
				if !ok {
					break
				}
				u.fromCentre(f, send, answers)
			}
			if err != nil && !errors.Is(err, serial.ErrTimeout) && !(errors.Is(err, io.EOF) && !isStream(rw)) {
				readErr <- err
				return
			}
			if ctx.Err() != nil {
				readErr <- nil
				return
			}
		}
	}()
	resend := u.ResendAfter
	if resend == 0 {
		resend = 2 * time.Second
	}
	for {
		for _, step := range u.Script {
			select {
			case <-ctx.Done():
				return nil
			case err := <-readErr:
				return err
			case <-time.After(step.After):
			}
			select {
			case err := <-readErr:
				return err
			default:
			}
			now := u.clock() // zero while the clock was never set: tags of zeros
			rec := step.Record
			rec.Time = now
			data, err := AppendUnit(nil, rec.Type, []Record{rec})
			if err != nil {
				return err
			}
			u.mu.Lock()
			u.serial++
			f := Frame{Serial: u.serial, Version: [2]byte{1, 0}, Time: now, Source: u.Source, Dest: u.Dest, Command: CmdSendData, Data: data}
			u.mu.Unlock()
			wire, _ := AppendEncode(nil, f)
			for attempt := 0; ; attempt++ {
				if !send(wire) {
					return nil
				}
				if attempt > 0 {
					u.mu.Lock()
					u.resends++
					u.mu.Unlock()
				}
				if u.waitConfirm(ctx, answers, f.Serial, resend) {
					break
				}
				if ctx.Err() != nil {
					return nil
				}
			}
		}
		if !u.Repeat {
			return nil
		}
	}
}

// waitConfirm waits for the centre's answer to the frame serial: true once
// confirmed; false when denied or when none came within wait (it resends).
func (u *UITD) waitConfirm(ctx context.Context, answers <-chan Frame, serial uint16, wait time.Duration) bool {
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-timer.C:
			return false
		case a := <-answers:
			if a.Serial != serial {
				continue
			}
			u.mu.Lock()
			defer u.mu.Unlock()
			if a.Command == CmdDeny {
				u.denies++
				return false
			}
			u.confirms++
			return true
		}
	}
}

// DialAndServe connects to a centre at addr (retrying every second until it
// listens) and plays the script until ctx ends.
func (u *UITD) DialAndServe(ctx context.Context, addr string) error {
	var d net.Dialer
	for ctx.Err() == nil {
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
			err = u.Serve(ctx, conn)
			stop()
			_ = conn.Close()
			if err == nil && !u.Repeat {
				return nil
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	return nil
}

// CRTPanel simulates a panel printing its events on a serial line (a
// pseudo-terminal), in GB 18030 with CR LF line ends.
type CRTPanel struct {
	pty    *serial.PTY
	Script []ScriptStep
	// TimeLayout formats the %s of each line (the panel's clock).
	TimeLayout string
	Repeat     bool
	// Loc is the time zone of the panel's clock (the site's); local if nil.
	Loc *time.Location
}

// NewCRTPanel opens the line; link, when not empty, is a stable path to it.
func NewCRTPanel(link string) (*CRTPanel, error) {
	p, err := serial.OpenPTY(link)
	if err != nil {
		return nil, err
	}
	return &CRTPanel{pty: p, TimeLayout: "2006-01-02 15:04:05"}, nil
}

// Path is the serial port the driver opens.
func (c *CRTPanel) Path() string { return c.pty.Path() }

// WriteLine prints one line (UTF-8 text, sent as GB 18030).
func (c *CRTPanel) WriteLine(text string) error {
	b, err := simplifiedchinese.GB18030.NewEncoder().Bytes([]byte(text))
	if err != nil {
		return err
	}
	_, err = c.pty.Master.Write(append(b, '\r', '\n'))
	return err
}

// Run plays the script until it ends (without Repeat) or ctx ends, then
// closes the line.
func (c *CRTPanel) Run(ctx context.Context) error {
	defer c.pty.Close()
	// Drain what the driver may send (nothing, usually) so the line never blocks.
	go func() { _, _ = io.Copy(io.Discard, c.pty.Master) }()
	for {
		for _, step := range c.Script {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(step.After):
			}
			line := step.Line
			if line == "" {
				continue
			}
			now := time.Now()
			if c.Loc != nil {
				now = now.In(c.Loc)
			}
			if err := c.WriteLine(fmt.Sprintf(line, now.Format(c.TimeLayout))); err != nil {
				return err
			}
		}
		if !c.Repeat {
			<-ctx.Done()
			return nil
		}
	}
}
