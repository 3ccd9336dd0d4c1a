package dlt645

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/estatehq/estate/devices"
)

// Controls is what the desk may command of the meter: its relay, when its
// configuration allows relay control (dlt645.relay_control with a password).
func (d *Driver) Controls() []string {
	if _, err := relayOf(d.m.cfg, d.m.profile); err != nil {
		return nil
	}
	return []string{devices.ControlRelay}
}

// Command runs an approved relay trip or close: a close is 合闸直接 (1CH)
// where the profile allows it, else 合闸允许 (1BH, the resident closes it).
// The meter's refusal (a wrong password) is a *devices.RefusedError, its
// silence devices.ErrNoAnswer.
func (d *Driver) Command(ctx context.Context, c devices.Command) error {
	r, err := relayOf(d.m.cfg, d.m.profile)
	if err != nil {
		return fmt.Errorf("%w: %v", devices.ErrNotAllowed, err)
	}
	var cmd byte
	switch c.Action {
	case devices.ActionRelayTrip:
		cmd = RelayTrip
	case devices.ActionRelayClose:
		cmd = RelayAllowClose
		if r.AllowDirectClose {
			cmd = RelayDirectClose
		}
	default:
		return fmt.Errorf("%w: a DL/T 645 meter takes relay_trip and relay_close, not %s", devices.ErrNotAllowed, c.Action)
	}
	until := c.Until
	if until.IsZero() {
		until = time.Now().Add(24 * time.Hour)
	}
	err = d.ControlRelay(ctx, cmd, until)
	var refused *ErrorReply
	switch {
	case err == nil:
		return nil
	case errors.As(err, &refused):
		return &devices.RefusedError{Err: err}
	case errors.Is(err, ErrTimeout):
		return fmt.Errorf("%w: %v", devices.ErrNoAnswer, err)
	}
	return err
}
