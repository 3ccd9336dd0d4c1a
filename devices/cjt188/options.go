package cjt188

import (
	"encoding/hex"
	"fmt"
	"time"

	"github.com/estatehq/estate/devices"
	"github.com/estatehq/estate/devices/serial"
	"github.com/estatehq/estate/internal/config"
)

// Options are a CJ/T 188 water meter's own keys, beside the ones every device has.
type Options struct {
	// Address is the meter's 14-digit address (meter number and
	// manufacturer code, as printed on it).
	Address string `yaml:"address"`
	// Serial is the M-Bus or RS-485 line; meters that name the same port share it.
	Serial *serial.Config `yaml:"serial"`
	// CJT188 holds what may change the meter and the watch of a building's
	// main meter (its cjt188: block).
	CJT188 *Switches `yaml:"cjt188"`
}

// Switches are the options of a CJ/T 188 meter beyond reading it. Valve
// control is off unless switched on for the device.
type Switches struct {
	// ValveControl lets `estate cjt188 valve` open or close the meter's valve
	// (control code 04, identifier A017).
	ValveControl bool `yaml:"valve_control"`
	// Password is the valve password of meters that want one (hex digits,
	// sent after the valve byte, as the meter's manual gives them); empty for
	// meters that take the standard's command as it is. May be ${NAME}.
	Password string `yaml:"password" secret:"env"`
	// FlowWatch watches a building's main meter: a flow that jumps against
	// its own recent pattern, or that runs all night.
	FlowWatch *FlowWatch `yaml:"flow_watch"`
}

// DefaultTimeout is how long one request may take unless the device says
// otherwise: M-Bus water meters answer within a few hundred milliseconds,
// and a silent one should not hold the bus for longer.
const DefaultTimeout = 800 * time.Millisecond

// Line defaults of CJ/T 188 meters on M-Bus and RS-485: 2400 baud 8E1.
const (
	DefaultBaud   = 2400
	DefaultParity = 'E'
)

// Device is a CJ/T 188 meter as this package sees it.
type Device struct {
	config.Device
	Options
}

// DeviceOf returns a configured device with its CJ/T 188 options.
func DeviceOf(dev config.Device) Device {
	return Device{Device: dev, Options: *devices.OptionsOf[Options](dev)}
}

// LineOf is the serial line a CJ/T 188 device is on, with the protocol's defaults.
func LineOf(dev config.Device) serial.Settings { return lineOf(DeviceOf(dev)) }

func lineOf(dev Device) serial.Settings {
	return serial.Resolve(dev.Serial, DefaultBaud, DefaultParity)
}

// ValvePassword returns a device's valve password bytes, or why its valve
// may not be controlled.
func ValvePassword(cdev config.Device) ([]byte, error) {
	dev := DeviceOf(cdev)
	o := dev.CJT188
	if dev.Protocol != Protocol || o == nil || !o.ValveControl {
		return nil, fmt.Errorf("device %s does not allow valve control (set cjt188.valve_control: true)", dev.ID)
	}
	return parsePassword(o.Password)
}

func parsePassword(s string) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	b, err := hex.DecodeString(s)
	if err != nil || len(b) > 8 {
		return nil, fmt.Errorf("password %q: want up to 16 hex digits (an even number)", s)
	}
	return b, nil
}

func validateSwitches(cfg *config.Config, dev Device, path string) []config.Problem {
	o := dev.CJT188
	if o == nil {
		return nil
	}
	var ps []config.Problem
	if _, err := parsePassword(o.Password); err != nil {
		ps = append(ps, cfg.Problemf(path+".cjt188.password", "%v", err))
	}
	if o.FlowWatch != nil {
		for _, p := range o.FlowWatch.check() {
			ps = append(ps, cfg.Problemf(path+".cjt188.flow_watch."+p.field, "%s", p.msg))
		}
	}
	return ps
}

// Config is the device as the configuration holds it, its options included.
func (d Device) Config() config.Device {
	c, o := d.Device, d.Options
	c.ProtocolOptions = &o
	return c
}
