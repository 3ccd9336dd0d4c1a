package modbus

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/estatehq/estate/devices"
)

// Controls is what the desk may command of the device: a write to each
// point its profile marks writable, when the device enables writes.
func (d *Driver) Controls() []string {
	if !d.dev.Writes {
		return nil
	}
	var out []string
	for _, pt := range d.profile.Points {
		if pt.Writable {
			out = append(out, devices.ControlWritePrefix+pt.Name)
		}
	}
	return out
}

// Command runs an approved write of one point. A Modbus exception is a
// *devices.RefusedError, a timeout devices.ErrNoAnswer.
func (d *Driver) Command(ctx context.Context, c devices.Command) error {
	if c.Action != devices.ActionModbusWrite {
		return fmt.Errorf("%w: a Modbus device takes modbus_write, not %s", devices.ErrNotAllowed, c.Action)
	}
	if !d.dev.Writes {
		return fmt.Errorf("%w: %v", devices.ErrNotAllowed, ErrWritesDisabled)
	}
	if pt, ok := d.profile.Point(c.Point); !ok || !pt.Writable {
		return fmt.Errorf("%w: point %q is not a writable point of profile %s", devices.ErrNotAllowed, c.Point, d.profile.Name)
	}
	err := d.Write(ctx, c.Point, c.Value)
	var me *Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &me) && strings.HasPrefix(me.Kind, KindException) && me.Answered():
		return &devices.RefusedError{Err: err}
	case errors.As(err, &me) && !me.Answered():
		return fmt.Errorf("%w: %v", devices.ErrNoAnswer, err)
	}
	return err
}
