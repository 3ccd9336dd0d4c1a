// Package serial is Estate's one serial stack, for every protocol that runs
// on an RS-485/RS-232 line (Modbus RTU, DL/T 645, fire panels): the YAML
// section that describes a line (Config), its settings with a protocol's
// defaults applied and checked (Resolve, Settings.Check), opening the line
// (Open: termios through golang.org/x/sys/unix, the file in Go's poller), and
// the pseudo-terminal pairs that simulators serve so that drivers are tested
// through a real tty, byte for byte (OpenPTY).
package serial

import (
	"fmt"
	"strings"
	"time"
)

// Config is a device's `serial:` section. 8E1 and 8N1 are both common on
// meters; what is left out takes the protocol's defaults.
type Config struct {
	Port     string `yaml:"port"`      // /dev/ttyUSB0
	Baud     int    `yaml:"baud"`      // 2400, 9600, …
	DataBits int    `yaml:"data_bits"` // 8 if zero
	Parity   string `yaml:"parity"`    // N, E or O
	StopBits int    `yaml:"stop_bits"` // 1 if zero
}

// Settings are a line's parameters with the defaults of the protocol applied.
// Two devices on one port must resolve to equal Settings (one line has one
// baud rate and framing), so the type stays comparable.
type Settings struct {
	Port     string
	Baud     int
	DataBits int
	Parity   byte // 'N', 'E', 'O'
	StopBits int
}

// Resolve fills what a device's serial section leaves out with the protocol's
// defaults (DL/T 645: 2400 baud 8E1; Modbus RTU: 9600 8N1; fire panels'
// printer ports: 9600 8N1). Data bits default to 8 and stop bits to 1.
func Resolve(c *Config, defBaud int, defParity byte) Settings {
	out := Settings{Baud: defBaud, DataBits: 8, Parity: defParity, StopBits: 1}
	if c == nil {
		return out
	}
	out.Port = c.Port
	if c.Baud != 0 {
		out.Baud = c.Baud
	}
	if c.DataBits != 0 {
		out.DataBits = c.DataBits
	}
	if c.Parity != "" {
		out.Parity = strings.ToUpper(c.Parity)[0]
	}
	if c.StopBits != 0 {
		out.StopBits = c.StopBits
	}
	return out
}

// Check reports what is wrong with the settings, one message per field (the
// key is the YAML field under serial:).
func (s Settings) Check() map[string]string {
	ps := map[string]string{}
	if s.Port == "" {
		ps["port"] = "required: the serial device, such as /dev/ttyUSB0"
	}
	switch s.Baud {
	case 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200:
	default:
		ps["baud"] = fmt.Sprintf("%d is not a supported rate (1200, 2400, 4800, 9600, 19200 … 115200)", s.Baud)
	}
	if s.DataBits != 7 && s.DataBits != 8 {
		ps["data_bits"] = fmt.Sprintf("must be 7 or 8, got %d", s.DataBits)
	}
	if s.Parity != 'N' && s.Parity != 'E' && s.Parity != 'O' {
		ps["parity"] = fmt.Sprintf("must be N, E or O, got %q", string(s.Parity))
	}
	if s.StopBits != 1 && s.StopBits != 2 {
		ps["stop_bits"] = fmt.Sprintf("must be 1 or 2, got %d", s.StopBits)
	}
	return ps
}

// ByteTime is how long one character takes on the wire (start, data, parity, stop bits).
func (s Settings) ByteTime() time.Duration {
	bits := 1 + s.DataBits + s.StopBits
	if s.Parity != 'N' {
		bits++
	}
	return time.Duration(bits) * time.Second / time.Duration(max(s.Baud, 1))
}

// String is the line as engineers write it: "/dev/ttyUSB0 2400 8E1".
func (s Settings) String() string {
	return fmt.Sprintf("%s %d %d%c%d", s.Port, s.Baud, s.DataBits, s.Parity, s.StopBits)
}
