package config

import "time"

// DeviceDLT645 holds the options of a DL/T 645 meter that change the meter,
// not only read it. Both are off unless switched on for the device.
type DeviceDLT645 struct {
	// TimeSync lets the gateway set the meter's clock by broadcast (control
	// code 0x08). A broadcast reaches every meter of the line, so it is sent
	// only when every DL/T 645 meter on the port allows it.
	TimeSync bool `yaml:"time_sync"`
	// TimeSyncInterval is how often the clocks are set (default 24h).
	TimeSyncInterval time.Duration `yaml:"time_sync_interval"`
	// RelayControl lets `estate dlt645 relay` trip or close the meter's relay
	// (control code 0x1C).
	RelayControl bool `yaml:"relay_control"`
	// Password is the meter's control password as its manual gives it: 8 hex
	// digits, the level first (02 for the usual level), then P0 P1 P2.
	// May be ${NAME} to come from the environment.
	Password string `yaml:"password"`
	// Operator is the 8-hex-digit operator code recorded by the meter.
	Operator string `yaml:"operator"`
}
