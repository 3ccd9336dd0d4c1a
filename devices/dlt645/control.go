package dlt645

import (
	"context"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/estatehq/estate/internal/config"
)

// DefaultTimeSyncInterval is how often meters that allow it get their clocks set.
const DefaultTimeSyncInterval = 24 * time.Hour

// BroadcastTime sets the clock of every meter on the line (no reply comes).
func (b *Bus) BroadcastTime(now time.Time) error {
	err := b.Send(BroadcastTimeRequest(now))
	result := "ok"
	if err != nil {
		result = "error"
	}
	b.m.timeBroadcasts.WithLabelValues(result).Inc()
	return err
}

// ControlRelay sends a relay command (RelayTrip, RelayAllowClose, …) holding
// until the given time, and returns the meter's refusal, if any, as an
// *ErrorReply (a wrong password is ErrBitPassword).
func (b *Bus) ControlRelay(ctx context.Context, addr Address, password, operator [4]byte, cmd byte, until time.Time, timeout time.Duration) error {
	reply, err := b.Transact(ctx, RelayControlRequest(addr, password, operator, cmd, until), timeout)
	if err != nil {
		return fmt.Errorf("relay control of %s: %w", addr, err)
	}
	if err := ReplyError(reply); err != nil {
		return fmt.Errorf("relay control of %s: %w", addr, err)
	}
	return nil
}

// ParseCode reads an 8-hex-digit password or operator code into its four
// bytes, in the order the meter's manual writes them.
func ParseCode(s string) ([4]byte, error) {
	var out [4]byte
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 4 {
		return out, fmt.Errorf("%q is not 8 hex digits", s)
	}
	copy(out[:], b)
	return out, nil
}

// RelayCredentials returns a device's password and operator code for relay
// control, or why it may not be controlled.
func RelayCredentials(cdev config.Device) (password, operator [4]byte, err error) {
	dev := DeviceOf(cdev)
	o := dev.DLT645
	if dev.Protocol != Protocol || o == nil || !o.RelayControl {
		return password, operator, fmt.Errorf("device %s does not allow relay control (set dlt645.relay_control: true with its password)", dev.ID)
	}
	if password, err = ParseCode(o.Password); err != nil {
		return password, operator, fmt.Errorf("device %s: dlt645.password: %w", dev.ID, err)
	}
	if operator, err = ParseCode(o.Operator); err != nil {
		return password, operator, fmt.Errorf("device %s: dlt645.operator: %w", dev.ID, err)
	}
	return password, operator, nil
}

// lineTimeSync says whether a line's clocks may be set, and how often: only
// when every meter on it allows it.
func lineTimeSync(meters []*meter) (bool, time.Duration) {
	interval := time.Duration(0)
	for _, m := range meters {
		o := m.cfg.DLT645
		if o == nil || !o.TimeSync {
			return false, 0
		}
		i := o.TimeSyncInterval
		if i <= 0 {
			i = DefaultTimeSyncInterval
		}
		if interval == 0 || i < interval {
			interval = i
		}
	}
	return len(meters) > 0, interval
}

// validateControl checks a device's dlt645 options.
func validateControl(cfg *config.Config, dev Device, path string) []config.Problem {
	o := dev.DLT645
	if o == nil {
		return nil
	}
	var ps []config.Problem
	if o.TimeSyncInterval != 0 && o.TimeSyncInterval < time.Minute {
		ps = append(ps, cfg.Problemf(path+".dlt645.time_sync_interval", "must be at least 1m, got %s", o.TimeSyncInterval))
	}
	if o.RelayControl {
		if _, err := ParseCode(o.Password); err != nil {
			ps = append(ps, cfg.Problemf(path+".dlt645.password", "required for relay_control: %v (the level then P0 P1 P2, such as 02123456)", err))
		}
		if _, err := ParseCode(o.Operator); err != nil {
			ps = append(ps, cfg.Problemf(path+".dlt645.operator", "required for relay_control: %v", err))
		}
	}
	return ps
}
