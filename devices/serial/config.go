// Package serial is Estate's one serial stack: the YAML section that describes
// an RS-485/RS-232 line, and (as it grows) opening lines and the
// pseudo-terminal pairs that simulators serve, for every protocol that runs on
// a serial line (Modbus RTU, DL/T 645, CJ/T 188, fire panels).
package serial

// Config is a device's `serial:` section. 8E1 and 8N1 are both common on
// meters; what is left out takes the protocol's defaults.
type Config struct {
	Port     string `yaml:"port"`      // /dev/ttyUSB0
	Baud     int    `yaml:"baud"`      // 2400, 9600, …
	DataBits int    `yaml:"data_bits"` // 8 if zero
	Parity   string `yaml:"parity"`    // N, E or O
	StopBits int    `yaml:"stop_bits"` // 1 if zero
}
