package modbus

import (
	"time"

	"github.com/estatehq/estate/devices"
	"github.com/estatehq/estate/devices/serial"
	"github.com/estatehq/estate/internal/config"
)

// Options are a Modbus device's own keys, beside the ones every device has;
// the YAML is the device's flat mapping (address:, slave_id:, serial:, …).
type Options struct {
	// Address is host:port of a Modbus TCP device, or of the serial device
	// server that tunnels RTU (modbus_rtu_over_tcp).
	Address string `yaml:"address"`
	// SlaveID is the unit on the line (default 1).
	SlaveID int `yaml:"slave_id"`
	// Serial is the line of a modbus_rtu device; devices that name the same
	// port share one bus and are polled one transaction at a time. On
	// modbus_rtu_over_tcp it gives the baud rate (for the frame gap) only.
	Serial *serial.Config `yaml:"serial"`
	// PollGroups sets the interval of each poll group of the device's profile
	// (fast, normal, slow). Unset groups poll at poll_interval, slow at ten
	// poll intervals; groups with equal intervals are read together.
	PollGroups map[string]time.Duration `yaml:"poll_groups"`
	// MaxGap overrides the profile's gap bridging: how many unused registers a
	// merged read may span between two points (0: only adjacent points).
	MaxGap *int `yaml:"max_gap"`
	// Retries is how often a failed request is repeated while the device is
	// answering (default 1; a device that stopped answering is not retried).
	Retries *int `yaml:"retries"`
	// Writes enables writing the points its profile marks writable (off by default).
	Writes bool `yaml:"writes"`
}

// SetDefaults fills in what the device leaves out.
func (o *Options) SetDefaults() {
	if o.SlaveID == 0 {
		o.SlaveID = 1
	}
}

// Device is a Modbus device as this package sees it: the keys every device
// has and its Modbus options.
type Device struct {
	config.Device
	Options
}

// DeviceOf returns a configured device with its Modbus options (as
// validation decoded them, or set in code in its ProtocolOptions).
func DeviceOf(dev config.Device) Device {
	return Device{Device: dev, Options: *devices.OptionsOf[Options](dev)}
}

// NewDevice is a device built in code (commissioning commands, tests).
func NewDevice(dev config.Device, o Options) config.Device {
	dev.ProtocolOptions = &o
	return dev
}

// Config is the device as the configuration holds it, its options included.
func (d Device) Config() config.Device {
	c, o := d.Device, d.Options
	c.ProtocolOptions = &o
	return c
}
