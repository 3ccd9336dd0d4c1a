package dlt645

import (
	"time"

	"github.com/estatehq/estate/devices"
	"github.com/estatehq/estate/devices/serial"
	"github.com/estatehq/estate/internal/config"
)

// Options are a DL/T 645 meter's own keys, beside the ones every device has.
type Options struct {
	// Address is the meter's 12-digit communication address (its nameplate).
	Address string `yaml:"address"`
	// Serial is the RS-485 line; meters that name the same port share it.
	Serial *serial.Config `yaml:"serial"`
	// DLT645 switches on what may change the meter (its dlt645: block).
	DLT645 *Switches `yaml:"dlt645"`
}

// Switches are the options of a DL/T 645 meter that change the meter, not
// only read it. Both are off unless switched on for the device.
type Switches struct {
	// TimeSync lets the gateway set the meter's clock by broadcast (control
	// code 0x08). A broadcast reaches every meter of the line, so it is sent
	// only when every DL/T 645 meter on the port allows it.
	TimeSync bool `yaml:"time_sync"`
	// TimeSyncInterval is how often the clocks are set (default 24h).
	TimeSyncInterval time.Duration `yaml:"time_sync_interval"`
	// RelayControl lets `estate dlt645 relay` trip or close the meter's relay
	// (control code 0x1C).
	RelayControl bool `yaml:"relay_control"`
	// Password is the meter's control password as it is typed: 8 hex
	// digits, the level first (02 for the usual level), then the password
	// (123456 in "02123456"). How it goes on the wire is PasswordOrder's.
	// May be ${NAME} to come from the environment.
	Password string `yaml:"password" secret:"env"`
	// Operator is the 8-hex-digit operator code recorded by the meter, as typed.
	Operator string `yaml:"operator"`
	// PasswordOrder overrides the profile's relay.password_order for this
	// meter: standard (DL/T 645-2007: PA, then the password low byte first;
	// the operator code low byte first) or as_typed.
	PasswordOrder string `yaml:"password_order"`
}

// DefaultTimeout is how long one request may take unless the device says
// otherwise: meters answer within 500 ms by the standard's timing, so a
// silent one should not hold its bus for longer.
const DefaultTimeout = 500 * time.Millisecond

// Device is a DL/T 645 meter as this package sees it: the keys every device
// has and its DL/T 645 options.
type Device struct {
	config.Device
	Options
}

// DeviceOf returns a configured device with its DL/T 645 options.
func DeviceOf(dev config.Device) Device {
	return Device{Device: dev, Options: *devices.OptionsOf[Options](dev)}
}

// Config is the device as the configuration holds it, its options included.
func (d Device) Config() config.Device {
	c, o := d.Device, d.Options
	c.ProtocolOptions = &o
	return c
}
