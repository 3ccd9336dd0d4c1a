package firepanel

import (
	"time"

	"github.com/estatehq/estate/devices"
	"github.com/estatehq/estate/devices/serial"
	"github.com/estatehq/estate/internal/config"
)

// Options are a fire panel's own keys, beside the ones every device has.
type Options struct {
	// Address is the host:port the gateway listens on for a GB/T 26875.3
	// transmission device that connects over TCP.
	Address string `yaml:"address"`
	// Serial is the line of a transmission device or of a CRT/printer port.
	Serial *serial.Config `yaml:"serial"`
	// TimeSyncInterval, for a GB/T 26875.3 transmission device, has the
	// gateway set the device's clock (type 90 in a control command) once the
	// device is heard on a link, then every interval, and sooner when its
	// frames carry a time tag that is no date or far off. 0, the default,
	// sends none on a schedule (`estate firepanel time-sync` still can).
	TimeSyncInterval time.Duration `yaml:"time_sync_interval"`
}

// Device is a fire panel as this package sees it: the keys every device has
// and its own options.
type Device struct {
	config.Device
	Options
}

// DeviceOf returns a configured device with its fire panel options.
func DeviceOf(dev config.Device) Device {
	return Device{Device: dev, Options: *devices.OptionsOf[Options](dev)}
}

// Config is the device as the configuration holds it, its options included.
func (d Device) Config() config.Device {
	c, o := d.Device, d.Options
	c.ProtocolOptions = &o
	return c
}
