package modbus

import (
	"errors"
	"net"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/estatehq/estate/devices"
	"github.com/estatehq/estate/devices/serial"
	"github.com/estatehq/estate/internal/config"
)

// Baud rates a serial line may use.
var baudRates = []int{1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200}

// validate reports the problems of a Modbus device's configuration without
// connecting: address or serial line, profile, poll groups, and the devices
// it shares a line with.
func validate(cfg *config.Config, cdev config.Device, path string) []config.Problem {
	dev := DeviceOf(cdev)
	var ps []config.Problem
	add := func(field, format string, args ...any) {
		ps = append(ps, cfg.Problemf(path+field, format, args...))
	}
	switch dev.Protocol {
	case ProtocolRTU:
		ps = append(ps, validateSerial(cfg, dev.Serial, path, true)...)
		if dev.Address != "" {
			add(".address", "a modbus_rtu device is reached through serial.port, not an address")
		}
	case ProtocolRTUOverTCP:
		if _, _, err := net.SplitHostPort(dev.Address); err != nil {
			add(".address", "%q is not host:port (the serial device server's TCP port, often 4001 or 502)", dev.Address)
		}
		if dev.Serial != nil {
			ps = append(ps, validateSerial(cfg, dev.Serial, path, false)...)
		}
	default:
		if _, _, err := net.SplitHostPort(dev.Address); err != nil {
			add(".address", "%q is not host:port (Modbus TCP listens on port 502 by default)", dev.Address)
		}
		if dev.Serial != nil {
			add(".serial", "a modbus_tcp device has no serial line; use modbus_rtu or modbus_rtu_over_tcp")
		}
	}
	if dev.SlaveID == 0 && dev.Protocol != ProtocolTCP {
		add(".slave_id", "0 is the broadcast address, which never answers; use 1..247")
	} else if dev.SlaveID < 0 || dev.SlaveID > 247 {
		add(".slave_id", "must be between 1 and 247, got %d", dev.SlaveID)
	}
	var p *Profile
	if dev.Profile == "" {
		add(".profile", "required: the register map, a file in %s", cfg.Gateway.ProfilesDir)
	} else if prof, err := profileFor(cfg, cdev); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			err = devices.NoProfile(cfg, "profile", dev.Profile)
		}
		add(".profile", "%v", err)
	} else {
		p = prof
	}
	for g, iv := range dev.PollGroups {
		if !slices.Contains(Groups, g) {
			add(".poll_groups."+g, "%q is not a poll group; use %s", g, strings.Join(Groups, ", "))
		} else if iv < 100*time.Millisecond {
			add(".poll_groups."+g, "must be at least 100ms, got %s", iv)
		}
	}
	if dev.MaxGap != nil && (*dev.MaxGap < 0 || *dev.MaxGap > protocolMaxRegisters) {
		add(".max_gap", "must be 0..%d registers, got %d", protocolMaxRegisters, *dev.MaxGap)
	}
	if dev.Retries != nil && (*dev.Retries < 0 || *dev.Retries > 5) {
		add(".retries", "must be 0..5, got %d", *dev.Retries)
	}
	if dev.Writes && p != nil && !slices.ContainsFunc(p.Points, func(pt Point) bool { return pt.Writable }) {
		add(".writes", "profile %s has no writable point", p.Name)
	}
	ps = append(ps, validateShared(cfg, dev, path)...)
	return ps
}

func validateSerial(cfg *config.Config, s *serial.Config, path string, needPort bool) []config.Problem {
	var ps []config.Problem
	add := func(field, format string, args ...any) {
		ps = append(ps, cfg.Problemf(path+".serial"+field, format, args...))
	}
	if s == nil {
		if needPort {
			ps = append(ps, cfg.Problemf(path+".serial", "required: the line settings (port, baud, parity, …) of a modbus_rtu device"))
		}
		return ps
	}
	if needPort && s.Port == "" {
		add(".port", "required: the serial port, such as /dev/ttyUSB0")
	}
	if s.Baud != 0 && !slices.Contains(baudRates, s.Baud) {
		add(".baud", "%d is not a usual baud rate; use one of %v", s.Baud, baudRates)
	}
	if s.DataBits != 0 && s.DataBits != 7 && s.DataBits != 8 {
		add(".data_bits", "must be 7 or 8, got %d", s.DataBits)
	}
	if p := strings.ToUpper(s.Parity); p != "" && p != "N" && p != "E" && p != "O" {
		add(".parity", "%q is not N (none), E (even) or O (odd)", s.Parity)
	}
	if s.StopBits != 0 && s.StopBits != 1 && s.StopBits != 2 {
		add(".stop_bits", "must be 1 or 2, got %d", s.StopBits)
	}
	return ps
}

// validateShared checks the devices that share this device's line: the same
// line settings on one serial port, and a slave id used once per line.
func validateShared(cfg *config.Config, dev Device, path string) []config.Problem {
	key := busKey(dev)
	if key == "" {
		return nil
	}
	var ps []config.Problem
	for _, o := range cfg.Devices {
		if o.ID == dev.ID {
			break // report each clash once, on the later device
		}
		if !IsProtocol(o.Protocol) {
			continue
		}
		other := DeviceOf(o)
		if busKey(other) != key {
			continue
		}
		if other.SlaveID == dev.SlaveID {
			ps = append(ps, cfg.Problemf(path+".slave_id", "slave %d is already device %s on the same line", dev.SlaveID, other.ID))
		}
		if dev.Protocol == ProtocolRTU && dev.Serial != nil && other.Serial != nil &&
			lineSettings(dev.Serial) != lineSettings(other.Serial) {
			ps = append(ps, cfg.Problemf(path+".serial", "port %s is also used by device %s with other line settings; a bus has one baud rate, parity and framing",
				dev.Serial.Port, other.ID))
		}
	}
	return ps
}

// busKey names the line a device is on ("" when it has none yet).
func busKey(dev Device) string {
	switch dev.Protocol {
	case ProtocolRTU:
		if dev.Serial == nil || dev.Serial.Port == "" {
			return ""
		}
		return "rtu:" + dev.Serial.Port
	case ProtocolRTUOverTCP:
		return "rtu-tcp:" + dev.Address
	case ProtocolTCP:
		return "tcp:" + dev.Address
	}
	return ""
}
