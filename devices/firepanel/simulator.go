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
// record as a "send data" frame and resends it until the centre confirms.
type UITD struct {
	Source, Dest [6]byte
	Script       []ScriptStep
	// ResendAfter is how long it waits for a confirm (2 s if zero).
	ResendAfter time.Duration
	// Repeat plays the script again after its end.
	Repeat bool
	// Loc is the time zone of the device's clock (the site's); local if nil.
	Loc *time.Location

	mu       sync.Mutex
	serial   uint16
	confirms int
	resends  int
}

// Counts returns how many frames were confirmed and resent.
func (u *UITD) Counts() (confirms, resends int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.confirms, u.resends
}

// Serve plays the script on one link (a TCP connection or a line) until the
// script ends (without Repeat), the link fails or ctx ends.
func (u *UITD) Serve(ctx context.Context, rw io.ReadWriter) error {
	confirmed := make(chan uint16, 16)
	readErr := make(chan error, 1)
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
				if f.Command == CmdConfirm {
					select {
					case confirmed <- f.Serial:
					default:
					}
				}
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
			now := time.Now()
			if u.Loc != nil {
				now = now.In(u.Loc)
			}
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
				if _, err := rw.Write(wire); err != nil {
					return fmt.Errorf("transmission device send: %w", err)
				}
				if attempt > 0 {
					u.mu.Lock()
					u.resends++
					u.mu.Unlock()
				}
				if u.waitConfirm(ctx, confirmed, readErr, f.Serial, resend) {
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

func (u *UITD) waitConfirm(ctx context.Context, confirmed <-chan uint16, readErr <-chan error, serial uint16, wait time.Duration) bool {
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-timer.C:
			return false
		case s := <-confirmed:
			if s == serial {
				u.mu.Lock()
				u.confirms++
				u.mu.Unlock()
				return true
			}
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
