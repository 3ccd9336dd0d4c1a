// Package config loads and validates Estate's YAML site configuration.
//
// Everything is checked before anything starts: unknown keys are errors, and
// every problem is reported as "file:line: field: what is wrong" so that
// `estate check` and a refused start-up print the same messages.
//
// The package knows no protocol: a device keeps its YAML node, from which its
// protocol's package decodes its own options, and a top-level section that
// another package owns (mqtt:) is kept as written; both are read with
// DecodeStrict, which checks and locates them like the built-in parts
// (node.go). Load's extra validators (devices.Validate) do that.
package config

import (
	"fmt"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is one site's configuration: the gateway half, the desk half, or both
// (the demo runs both in one process).
type Config struct {
	Site     Site     `yaml:"site"`
	Gateway  Gateway  `yaml:"gateway"`
	InfluxDB InfluxDB `yaml:"influxdb"`
	Desk     Desk     `yaml:"desk"`
	Devices  []Device `yaml:"devices"`
	Rules    []Rule   `yaml:"rules"`
	// RuleFiles are rule sets to add to Rules: a name ("default") is
	// rules/<name>.yaml beside the configuration, else in SharedDir/rules
	// (/usr/share/estate/rules); a path is relative to the configuration's
	// folder, else looked for by its file name in SharedDir/rules.
	RuleFiles  []string    `yaml:"rule_files"`
	Simulators []Simulator `yaml:"simulators"`

	// Topology and Maintenance feed the alarm engine's outage inference and suppression.
	Topology    Topology            `yaml:"topology"`
	Maintenance []MaintenanceWindow `yaml:"maintenance"`

	// Extra holds the top-level sections that other packages own, as written
	// (devices/mqtt owns mqtt:, the broker); see Section.
	Extra map[string]yaml.Node `yaml:",inline"`

	// File is the path the configuration was read from; relative paths inside it
	// (profiles, databases) are resolved against its folder.
	File string `yaml:"-"`
	// decoded is set once the YAML decoded into the struct (possibly with
	// type errors), so that further checks can run on it.
	decoded bool
	// secretsExpanded is set once every ${NAME} secret was found, so that
	// the fields holding them can be checked (see SecretsExpanded).
	secretsExpanded bool
	// positions maps a field path ("devices[0].address") to its line in File.
	positions map[string]int
	// values holds the text of every scalar value by field path.
	values map[string]string
	// warnings are what Load found doubtful but not wrong (see Warnings).
	warnings []Problem
	// claimed are the sections of Extra that their owners asked for.
	claimed map[string]bool
	// ruleSources locates the rules that came from rule_files: the index in
	// Rules of the first rule of each file, in order (see Problemf).
	ruleSources []ruleSource
	// included is set on a rule file parsed for another configuration.
	included bool
}

// Site identifies the estate this configuration describes.
type Site struct {
	ID       string `yaml:"id"`
	Name     string `yaml:"name"`
	Timezone string `yaml:"timezone"`
}

// Gateway configures polling and where the gateway reports.
type Gateway struct {
	ID string `yaml:"id"`
	// ProfilesDir holds device profiles (register maps), relative to the config file.
	ProfilesDir string `yaml:"profiles_dir"`
	// OfflineAfter is how many consecutive failed polls mark a device offline.
	OfflineAfter int `yaml:"offline_after"`
	// DeskURL is the desk the gateway opens tickets on.
	DeskURL string `yaml:"desk_url"`
	// DeskToken authenticates the gateway on the desk (role gateway).
	DeskToken string `yaml:"desk_token"`
	// DeskInsecure allows an http:// desk_url on another host: the token and
	// the residents' data then cross the network in clear, so it must be asked
	// for (a lab, or a network the operator trusts). Loopback http needs no flag.
	DeskInsecure bool `yaml:"desk_insecure"`
	// MetricsListen serves /metrics and /api/v1/alarms when the gateway runs
	// on its own; empty disables it. Without a host (":9273") it listens on
	// loopback only (MetricsAddr).
	MetricsListen string `yaml:"metrics_listen"`
	// MetricsToken is the bearer token that every request to MetricsListen must
	// carry; required when MetricsListen is not a loopback address (the alarm
	// list names residents' units). May be "${ENV}".
	MetricsToken string `yaml:"metrics_token"`
	// Runtime tunes the Go runtime of `estate gateway` (the desk and the
	// demo keep Go's defaults).
	Runtime Runtime `yaml:"runtime"`
	// Pprof also serves Go's profiler (/debug/pprof/) on MetricsListen,
	// behind the same token: how an engineer finds where a gateway's CPU
	// goes on a real fleet. Off by default.
	Pprof bool `yaml:"pprof"`
	// OutboxMaxAttempts is how many times the desk may refuse one alarm action
	// with a retryable error before the action moves to the dead letter
	// (estate outbox list --dead, estate outbox retry); default 20.
	OutboxMaxAttempts int `yaml:"outbox_max_attempts"`
	// HeartbeatInterval is how often the gateway reports its devices' health
	// to the desk.
	HeartbeatInterval time.Duration `yaml:"heartbeat_interval"`
	// StateDir keeps what must survive a restart (the ticket outbox), relative
	// to the working directory.
	StateDir string `yaml:"state_dir"`
}

// Runtime is how the gateway's process uses the machine. A gateway mostly
// waits on its devices: a thousand meters polled every second keep it busy a
// few percent of one core, in thousands of short wake-ups a second. With
// more than one processor Go hands each wake-up to an idle thread that spins
// looking for work before it sleeps again, which on a quiet machine costs
// more CPU than the polls themselves; one processor serves the fleets of
// docs/testing.md ("Performance targets") with room to spare (see
// docs/telemetry.md, "CPU").
type Runtime struct {
	// MaxProcs is GOMAXPROCS: how many threads run Go code at once
	// (default DefaultMaxProcs; 0 keeps Go's own default, every CPU). The
	// environment's GOMAXPROCS, when set, wins.
	MaxProcs *int `yaml:"max_procs"`
	// GCPercent is GOGC: the heap grows this much over the live heap before
	// a collection (default DefaultGCPercent; -1 turns the collector off
	// except for MemoryLimitMB). The environment's GOGC, when set, wins.
	GCPercent *int `yaml:"gc_percent"`
	// MemoryLimitMB is a soft limit on the Go heap (GOMEMLIMIT), which makes
	// the collector work harder near it instead of growing; 0: none. The
	// environment's GOMEMLIMIT, when set, wins.
	MemoryLimitMB int `yaml:"memory_limit_mb"`
}

// Defaults of gateway.runtime, chosen by measurement (docs/telemetry.md, "CPU").
const (
	DefaultMaxProcs  = 1
	DefaultGCPercent = 200
)

// Device is one configured device: what it is, where it is, and how often it
// is read. These are the keys every device has; how a device is reached (a
// Modbus address and slave id, a serial line, an MQTT topic) is its
// protocol's business: the protocol's package decodes its own options from
// Node (see DecodeStrict and devices.Protocol.Options). The YAML stays one
// flat mapping per device.
type Device struct {
	ID       string `yaml:"id"`
	Family   string `yaml:"family"`
	Protocol string `yaml:"protocol"`
	Profile  string `yaml:"profile"`
	Building string `yaml:"building"`
	Floor    string `yaml:"floor"`
	Unit     string `yaml:"unit"`
	// Tags let alarm rules select devices ("prepaid", "incomer").
	Tags []string `yaml:"tags"`
	// PollInterval is how often the device is read.
	PollInterval time.Duration `yaml:"poll_interval"`
	// Timeout bounds one request to the device.
	Timeout time.Duration `yaml:"timeout"`

	// Node is the device's mapping as written in the file, protocol keys and
	// all; nil for a device built in code.
	Node *yaml.Node `yaml:"-"`
	// ProtocolOptions are the device's options as its protocol decoded them
	// from Node when the configuration was validated (devices.Validate), or as
	// code set them (a *modbus.Options, …); nil means the protocol's defaults.
	ProtocolOptions any `yaml:"-"`
	// typeErrors are the decoder's messages about the common keys, reported by Parse.
	typeErrors []string
}

// Simulator is a simulated device that the demo serves on loopback: its kind
// and the device it plays. Each kind decodes its own options (a prepaid
// meter's initial_balance, an elevator's script) from the entry as written,
// with DecodeStrict (see devices.RegisterSimulator).
type Simulator struct {
	Kind   string `yaml:"kind"`
	Device string `yaml:"device"`
	// Node is the entry as written; nil for one built in code (the kind's
	// options then keep their defaults).
	Node *yaml.Node `yaml:"-"`
}

// UnmarshalYAML keeps the entry's node for its kind, which alone knows the
// rest of its keys.
func (s *Simulator) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		// What the decoder says of any other value given for a struct.
		value := ""
		if n.Kind == yaml.ScalarNode {
			value = n.Value
			if len(value) > 10 {
				value = value[:7] + "..."
			}
			value = " `" + value + "`"
		}
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: cannot unmarshal %s%s into config.Simulator", n.Line, n.ShortTag(), value)}}
	}
	var head struct {
		Kind   string `yaml:"kind"`
		Device string `yaml:"device"`
	}
	err := n.Decode(&head)
	s.Kind, s.Device, s.Node = head.Kind, head.Device, n
	return err
}

// Line returns the line of a field path such as "devices[0].address", or of its
// nearest ancestor that is present in the file; 0 when unknown.
func (c *Config) Line(path string) int {
	for p := path; p != ""; p = parentPath(p) {
		if l, ok := c.positions[p]; ok {
			return l
		}
	}
	return 0
}

// Problemf builds a Problem for a field path of this configuration. A path
// into a rule that came from a rule file is located in that file.
func (c *Config) Problemf(path, format string, args ...any) Problem {
	if src, rest, ok := c.ruleSourceOf(path); ok {
		return newProblem(src.cfg.File, src.cfg.Line(rest), rest, format, args...)
	}
	return newProblem(c.File, c.Line(path), path, format, args...)
}

// DeviceByID returns the device with that id.
func (c *Config) DeviceByID(id string) (Device, bool) {
	for _, d := range c.Devices {
		if d.ID == id {
			return d, true
		}
	}
	return Device{}, false
}
