package cjt188

import (
	"context"
	"errors"
	"fmt"

	"github.com/estatehq/estate/devices"
)

// Controls is what the desk may command of the meter: its valve, when its
// configuration allows valve control (cjt188.valve_control).
func (d *Driver) Controls() []string {
	if _, err := ValvePassword(d.m.cfg.Device); err != nil {
		return nil
	}
	return []string{devices.ControlValve}
}

// Command runs an approved valve open or close. The meter's abnormal reply
// is a *devices.RefusedError, its silence devices.ErrNoAnswer.
func (d *Driver) Command(ctx context.Context, c devices.Command) error {
	if _, err := ValvePassword(d.m.cfg.Device); err != nil {
		return fmt.Errorf("%w: %v", devices.ErrNotAllowed, err)
	}
	var cmd byte
	switch c.Action {
	case devices.ActionValveOpen:
		cmd = ValveOpen
	case devices.ActionValveClose:
		cmd = ValveClose
	default:
		return fmt.Errorf("%w: a CJ/T 188 meter takes valve_open and valve_close, not %s", devices.ErrNotAllowed, c.Action)
	}
	err := d.Valve(ctx, cmd)
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
