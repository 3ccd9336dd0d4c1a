package config

import (
	"fmt"
	"time"
)

// Topology says which devices hang on which feeder and bus, so that the alarm
// engine can tell a power outage (many devices of one feeder silent together)
// from a communication fault (one device silent among answering neighbours).
type Topology struct {
	Feeders []Feeder `yaml:"feeders"`
	// Buses are communication lines (an RS-485 segment, a Modbus gateway). A
	// feeder is declared out by silence only while a device on another bus
	// answers; without buses, any device outside the feeder counts.
	Buses []Bus `yaml:"buses"`
	// OutageGrace is how long after power returns the alarms that an outage
	// suppressed are re-evaluated (default 2m): devices need time to boot.
	OutageGrace time.Duration `yaml:"outage_grace"`
}

// Feeder is one power supply line: a building's or a floor's incomer and the
// devices it powers.
type Feeder struct {
	ID       string `yaml:"id"`
	Name     string `yaml:"name"`
	Building string `yaml:"building"`
	// Devices powered by the feeder: listed ids, plus every device of the
	// buildings and floors given.
	Devices   []string `yaml:"devices"`
	Buildings []string `yaml:"buildings"`
	Floors    []string `yaml:"floors"`
	// Incomer is a meter with an auxiliary supply whose voltage reads ~0 when the feeder is out.
	Incomer *Probe `yaml:"incomer"`
	// MainsFail is a dry contact (ATS, mains-fail relay) that says the feeder is out.
	MainsFail *Probe `yaml:"mains_fail"`
	// SilentShare is the share of the feeder's devices that, going silent
	// within SilentWithin of each other, declares the feeder out (default 0.8).
	SilentShare float64 `yaml:"silent_share"`
	// SilentWithin is how close together the devices must fall silent to count
	// as one event (default 10s: a poll cycle or two).
	SilentWithin time.Duration `yaml:"silent_within"`
}

// Probe is one point of one device that says a feeder is out: voltage below
// a level (incomer), or a contact equal to a value (mains fail).
type Probe struct {
	Device string   `yaml:"device"`
	Point  string   `yaml:"point"`
	Below  *float64 `yaml:"below"`
	Equals *float64 `yaml:"equals"`
}

// Bus is one communication line and the devices on it.
type Bus struct {
	ID      string   `yaml:"id"`
	Devices []string `yaml:"devices"`
}

// MaintenanceWindow suppresses (records, does not ticket) the alarms of the
// devices it covers while it lasts: by device, by building, or the whole site.
type MaintenanceWindow struct {
	Reason string `yaml:"reason"`
	// Start defaults to the beginning of time; End is required.
	Start time.Time `yaml:"start"`
	End   time.Time `yaml:"end"`
	// Devices and Building narrow the window; with neither, it covers the site.
	Devices  []string `yaml:"devices"`
	Building string   `yaml:"building"`
}

// Covers reports whether the window covers a device at a moment.
func (w MaintenanceWindow) Covers(device, building string, at time.Time) bool {
	if at.Before(w.Start) || !at.Before(w.End) {
		return false
	}
	if len(w.Devices) == 0 && w.Building == "" {
		return true
	}
	for _, d := range w.Devices {
		if d == device {
			return true
		}
	}
	return w.Building != "" && w.Building == building
}

// FeederDevices returns the ids of the devices a feeder powers, in
// configuration order.
func (c *Config) FeederDevices(f Feeder) []string {
	in := map[string]bool{}
	for _, id := range f.Devices {
		in[id] = true
	}
	var out []string
	for _, d := range c.Devices {
		if in[d.ID] || contains(f.Buildings, d.Building) && (len(f.Floors) == 0 || contains(f.Floors, d.Floor)) ||
			len(f.Buildings) == 0 && contains(f.Floors, d.Floor) {
			out = append(out, d.ID)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func (c *Config) applyTopologyDefaults() {
	if c.Topology.OutageGrace == 0 {
		c.Topology.OutageGrace = 2 * time.Minute
	}
	for i := range c.Topology.Feeders {
		f := &c.Topology.Feeders[i]
		if f.SilentShare == 0 {
			f.SilentShare = 0.8
		}
		if f.SilentWithin == 0 {
			f.SilentWithin = 10 * time.Second
		}
	}
}

// validateTopology checks feeders, buses and maintenance windows.
func (c *Config) validateTopology() []Problem {
	var ps []Problem
	add := func(path, format string, args ...any) { ps = append(ps, c.Problemf(path, format, args...)) }
	known := func(path, id string) {
		if _, ok := c.DeviceByID(id); !ok {
			add(path, "no device has id %q", id)
		}
	}
	ids := map[string]bool{}
	for i, f := range c.Topology.Feeders {
		p := fmt.Sprintf("topology.feeders[%d]", i)
		switch {
		case f.ID == "":
			add(p+".id", "required: a name for the feeder, unique within the site")
		case !isIdentifier(f.ID):
			add(p+".id", "%q may use only letters, digits, '-' and '_'", f.ID)
		case ids[f.ID]:
			add(p+".id", "%q is used by another feeder", f.ID)
		}
		ids[f.ID] = true
		for j, id := range f.Devices {
			known(fmt.Sprintf("%s.devices[%d]", p, j), id)
		}
		if len(f.Devices) == 0 && len(f.Buildings) == 0 && len(f.Floors) == 0 {
			add(p, "give the devices the feeder powers: devices, buildings or floors")
		}
		if f.SilentShare <= 0 || f.SilentShare > 1 {
			add(p+".silent_share", "must be above 0 and at most 1, got %g", f.SilentShare)
		}
		if f.SilentWithin < 0 {
			add(p+".silent_within", "must not be negative")
		}
		for name, pr := range map[string]*Probe{"incomer": f.Incomer, "mains_fail": f.MainsFail} {
			if pr == nil {
				continue
			}
			pp := p + "." + name
			if pr.Device == "" {
				add(pp+".device", "required")
			} else {
				known(pp+".device", pr.Device)
			}
			if pr.Point == "" {
				add(pp+".point", "required, such as voltage or mains_fail")
			}
			if (pr.Below == nil) == (pr.Equals == nil) {
				add(pp, "give either below (a voltage) or equals (a contact state)")
			}
		}
	}
	for i, b := range c.Topology.Buses {
		p := fmt.Sprintf("topology.buses[%d]", i)
		if b.ID == "" {
			add(p+".id", "required")
		}
		for j, id := range b.Devices {
			known(fmt.Sprintf("%s.devices[%d]", p, j), id)
		}
	}
	if c.Topology.OutageGrace < 0 {
		add("topology.outage_grace", "must not be negative")
	}
	for i, w := range c.Maintenance {
		p := fmt.Sprintf("maintenance[%d]", i)
		if w.Reason == "" {
			add(p+".reason", "required: why the alarms are silenced, for the console and the audit")
		}
		if w.End.IsZero() {
			add(p+".end", "required: when the window ends (RFC 3339, such as 2026-05-01T18:00:00+08:00)")
		} else if !w.Start.IsZero() && !w.End.After(w.Start) {
			add(p+".end", "must be after start")
		}
		for j, id := range w.Devices {
			known(fmt.Sprintf("%s.devices[%d]", p, j), id)
		}
	}
	return ps
}
