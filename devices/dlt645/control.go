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
// bytes, in the order they are written (typed, or printed in a manual).
func ParseCode(s string) ([4]byte, error) {
	var out [4]byte
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 4 {
		return out, fmt.Errorf("%q is not 8 hex digits", s)
	}
	copy(out[:], b)
	return out, nil
}

// Password byte orders (password_order in a profile's relay: block or a
// device's dlt645: block).
const (
	// OrderStandard is DL/T 645-2007's: the data field carries PA P0 P1 P2
	// and C0 C1 C2 C3, every multi-byte item low byte first, as its
	// identifiers (DI0 first). A password typed "02123456" is level PA = 02
	// and the password 123456 (P2 P1 P0 = 12 34 56): on the wire 02 56 34 12
	// (35 89 67 45 with 33H added); the operator code typed "00000001" is
	// C3 C2 C1 C0 = 00 00 00 01: on the wire 01 00 00 00 (34 33 33 33).
	OrderStandard = "standard"
	// OrderAsTyped sends the bytes in the order they are typed: 02 12 34 56
	// (35 45 67 89) and 00 00 00 01 (33 33 33 34), as some vendors' tools and
	// meters do.
	OrderAsTyped = "as_typed"
)

// wireCode puts a typed password or operator code in the order it is sent.
// A password's level byte stays first in both orders: only the digits after
// it are an item of their own (P0 P1 P2).
func wireCode(typed [4]byte, order string, password bool) [4]byte {
	if order == OrderAsTyped {
		return typed
	}
	if password {
		return [4]byte{typed[0], typed[3], typed[2], typed[1]}
	}
	return [4]byte{typed[3], typed[2], typed[1], typed[0]}
}

// WireCodes returns a typed password and operator code as the data field of
// a relay command carries them (before 33H is added), in the given order
// (OrderStandard when empty).
func WireCodes(password, operator, order string) (pw, op [4]byte, err error) {
	if order != "" && order != OrderStandard && order != OrderAsTyped {
		return pw, op, fmt.Errorf("password order %q: use %s or %s", order, OrderStandard, OrderAsTyped)
	}
	typed, err := ParseCode(password)
	if err != nil {
		return pw, op, fmt.Errorf("password: %w", err)
	}
	opTyped, err := ParseCode(operator)
	if err != nil {
		return pw, op, fmt.Errorf("operator: %w", err)
	}
	return wireCode(typed, order, true), wireCode(opTyped, order, false), nil
}

// Relay is what relay control of one meter needs: its codes as sent, and
// what its profile (and its dlt645: block) allow.
type Relay struct {
	// Password and Operator are as the data field carries them (PA P0 P1 P2,
	// C0 C1 C2 C3), before 33H is added.
	Password, Operator [4]byte
	// Order is the byte order they were put in (OrderStandard, OrderAsTyped).
	Order string
	// AllowDirectClose: the meter model accepts 1CH (合闸直接).
	AllowDirectClose bool
}

// Check refuses a command the meter's profile does not allow.
func (r Relay) Check(cmd byte, device, profile string) error {
	if cmd == RelayDirectClose && !r.AllowDirectClose {
		return fmt.Errorf("device %s: its profile %s does not allow direct close (1CH, 合闸直接): set relay.allow_direct_close: true in the profile if the meter model accepts it, or use --close (1BH, 合闸允许)", device, profile)
	}
	return nil
}

// RelayOf returns a device's relay control settings, or why it may not be
// controlled. Its profile is read from the configuration's profiles folder.
func RelayOf(cfg *config.Config, cdev config.Device) (Relay, error) {
	dev := DeviceOf(cdev)
	if dev.Protocol != Protocol || dev.DLT645 == nil || !dev.DLT645.RelayControl {
		return Relay{}, fmt.Errorf("device %s does not allow relay control (set dlt645.relay_control: true with its password)", dev.ID)
	}
	p, err := profileFor(cfg, cdev)
	if err != nil {
		return Relay{}, fmt.Errorf("device %s: %w", dev.ID, err)
	}
	return relayOf(dev, p)
}

func relayOf(dev Device, p *Profile) (Relay, error) {
	o := dev.DLT645
	if o == nil || !o.RelayControl {
		return Relay{}, fmt.Errorf("device %s does not allow relay control (set dlt645.relay_control: true with its password)", dev.ID)
	}
	order := cmpOr(o.PasswordOrder, p.Relay.PasswordOrder, OrderStandard)
	pw, op, err := WireCodes(o.Password, o.Operator, order)
	if err != nil {
		return Relay{}, fmt.Errorf("device %s: dlt645.%w", dev.ID, err)
	}
	return Relay{Password: pw, Operator: op, Order: order, AllowDirectClose: p.Relay.AllowDirectClose}, nil
}

func cmpOr(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
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
	if o.PasswordOrder != "" && o.PasswordOrder != OrderStandard && o.PasswordOrder != OrderAsTyped {
		ps = append(ps, cfg.Problemf(path+".dlt645.password_order", "%q: use %s (DL/T 645-2007, the default) or %s", o.PasswordOrder, OrderStandard, OrderAsTyped))
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
