package wire

// What the desk hands a gateway in the heartbeat's answer: the maintenance
// windows of its site (a planned outage, later a maintenance order) and the
// commands that a person approved for its devices; and what the gateway
// reports back in its next heartbeats: each command's result.

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Window scopes: what a maintenance window covers.
const (
	ScopeDevices   = "devices"   // the listed device ids
	ScopeBuildings = "buildings" // every device of the listed buildings
	ScopeFeeder    = "feeder"    // every device the feeder powers, and its outage alarm
)

// Which alarms a window mutes.
const (
	// MuteOutage mutes what a loss of power explains: a feeder's outage
	// alarm and its devices' offline and no-data alarms (a planned outage).
	MuteOutage = "outage"
	// MuteAll mutes every alarm of the devices covered (work on the devices).
	MuteAll = "all"
)

// Window is a maintenance window: while it lasts, the alarms of what it
// covers are recorded without a ticket, with Cause as why. A window always
// ends: once End passes, a device still silent raises its alarms as usual.
type Window struct {
	// ID is the desk's, unique per desk ("outage:7").
	ID        string    `json:"id"`
	Scope     string    `json:"scope"`
	Devices   []string  `json:"devices,omitempty"`
	Buildings []string  `json:"buildings,omitempty"`
	Feeder    string    `json:"feeder,omitempty"`
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
	// Cause is what people read as the alarms' suppression ("planned outage #7").
	Cause string `json:"cause"`
	// Mutes is MuteOutage (the default) or MuteAll.
	Mutes string `json:"mutes,omitempty"`
}

// Validate says what is wrong with a window.
func (w Window) Validate() error {
	var errs []string
	if w.ID == "" {
		errs = append(errs, "id is required")
	}
	switch w.Scope {
	case ScopeDevices:
		if len(w.Devices) == 0 {
			errs = append(errs, "a devices window lists its devices")
		}
	case ScopeBuildings:
		if len(w.Buildings) == 0 {
			errs = append(errs, "a buildings window lists its buildings")
		}
	case ScopeFeeder:
		if w.Feeder == "" {
			errs = append(errs, "a feeder window names its feeder")
		}
	default:
		errs = append(errs, fmt.Sprintf("scope %q is not one of devices, buildings, feeder", w.Scope))
	}
	if w.Start.IsZero() || w.End.IsZero() || !w.End.After(w.Start) {
		errs = append(errs, "start and end are required, end after start")
	}
	if strings.TrimSpace(w.Cause) == "" {
		errs = append(errs, "cause is required")
	}
	if w.Mutes != "" && w.Mutes != MuteOutage && w.Mutes != MuteAll {
		errs = append(errs, fmt.Sprintf("mutes %q is not outage or all", w.Mutes))
	}
	if len(errs) > 0 {
		return fmt.Errorf("window %s: %s", w.ID, strings.Join(errs, "; "))
	}
	return nil
}

// Active reports whether the window lasts at a moment.
func (w Window) Active(at time.Time) bool { return !at.Before(w.Start) && at.Before(w.End) }

// MutesAll reports whether the window mutes every alarm, not only outage ones.
func (w Window) MutesAll() bool { return w.Mutes == MuteAll }

// CoversDevice reports whether a devices or buildings window names a device
// (by its id or building); a feeder window's devices are known to the
// gateway's topology only (CoversFeeder).
func (w Window) CoversDevice(id, building string) bool {
	switch w.Scope {
	case ScopeDevices:
		return slices.Contains(w.Devices, id)
	case ScopeBuildings:
		return building != "" && slices.Contains(w.Buildings, building)
	}
	return false
}

// Command actions.
const (
	CommandRelayTrip   = "relay_trip"   // DL/T 645 拉闸
	CommandRelayClose  = "relay_close"  // DL/T 645 合闸允许
	CommandValveOpen   = "valve_open"   // CJ/T 188 开阀
	CommandValveClose  = "valve_close"  // CJ/T 188 关阀
	CommandModbusWrite = "modbus_write" // a writable point of a Modbus profile
)

// CommandActions lists every action.
var CommandActions = []string{CommandRelayTrip, CommandRelayClose, CommandValveOpen, CommandValveClose, CommandModbusWrite}

// Device controls a gateway reports (Device.Controls): what its
// configuration lets a command do.
const (
	ControlRelay = "relay"
	ControlValve = "valve"
	// ControlWritePrefix precedes a writable Modbus point: "write:setpoint".
	ControlWritePrefix = "write:"
)

// Control is the control an action needs on a device (point: a Modbus write's).
func Control(action, point string) string {
	switch action {
	case CommandRelayTrip, CommandRelayClose:
		return ControlRelay
	case CommandValveOpen, CommandValveClose:
		return ControlValve
	case CommandModbusWrite:
		return ControlWritePrefix + point
	}
	return ""
}

// Command is an approved command for one device, as the gateway receives it.
type Command struct {
	ID     int64  `json:"id"`
	Device string `json:"device"`
	Action string `json:"action"`
	// Point and Value: a Modbus write's point (of the device's profile) and
	// value in engineering units.
	Point string  `json:"point,omitempty"`
	Value float64 `json:"value,omitempty"`
	// Until is how long a relay trip holds (DL/T 645 carries it); zero: a day.
	Until time.Time `json:"until,omitzero"`
}

// Validate says what is wrong with a command.
func (c Command) Validate() error {
	var errs []string
	if c.ID <= 0 {
		errs = append(errs, "id is required")
	}
	if c.Device == "" {
		errs = append(errs, "device is required")
	}
	if !slices.Contains(CommandActions, c.Action) {
		errs = append(errs, fmt.Sprintf("action %q is not one of %s", c.Action, strings.Join(CommandActions, ", ")))
	}
	if c.Action == CommandModbusWrite && c.Point == "" {
		errs = append(errs, "a modbus_write names its point")
	}
	if c.Action != CommandModbusWrite && c.Point != "" {
		errs = append(errs, "only a modbus_write has a point")
	}
	if len(errs) > 0 {
		return fmt.Errorf("command %d: %s", c.ID, strings.Join(errs, "; "))
	}
	return nil
}

// Command outcomes, as the gateway reports them.
const (
	OutcomeDone     = "done"      // the device accepted it
	OutcomeRefused  = "refused"   // the device answered with a refusal (wrong password, exception)
	OutcomeTimedOut = "timed_out" // no answer in time
	// OutcomeRejected: the gateway would not send it (the device does not
	// allow it, or is unknown to this gateway).
	OutcomeRejected = "rejected"
	// OutcomeFailed: anything else (the line could not be used; the gateway
	// restarted while the command ran, so whether it was applied is unknown).
	OutcomeFailed = "failed"
)

// CommandResult is what became of a command on the gateway.
type CommandResult struct {
	ID      int64     `json:"id"`
	Outcome string    `json:"outcome"`
	Detail  string    `json:"detail,omitempty"`
	At      time.Time `json:"at"`
}

// Validate says what is wrong with a result.
func (r CommandResult) Validate() error {
	switch r.Outcome {
	case OutcomeDone, OutcomeRefused, OutcomeTimedOut, OutcomeRejected, OutcomeFailed:
	default:
		return fmt.Errorf("command result %d: outcome %q is not one of done, refused, timed_out, rejected, failed", r.ID, r.Outcome)
	}
	if r.ID <= 0 {
		return fmt.Errorf("command result: id is required")
	}
	if len(r.Detail) > 2000 {
		return fmt.Errorf("command result %d: detail longer than 2000 bytes", r.ID)
	}
	return nil
}

// Feeder is one feeder of a gateway's topology, as the heartbeat reports
// it: the desk lists a planned outage's households from it.
type Feeder struct {
	ID        string   `json:"id"`
	Name      string   `json:"name,omitempty"`
	Building  string   `json:"building,omitempty"`
	Buildings []string `json:"buildings,omitempty"`
	Floors    []string `json:"floors,omitempty"`
	// Devices are every device the feeder powers (listed, and by building and floor).
	Devices []string `json:"devices"`
}

// HeartbeatAnswer is the desk's answer to a heartbeat.
type HeartbeatAnswer struct {
	// Windows are the site's current and coming maintenance windows: the
	// gateway replaces what it holds with them.
	Windows []Window `json:"windows"`
	// Commands are the approved commands for this gateway's devices that
	// have no result yet; the gateway runs each id once.
	Commands []Command `json:"commands"`
	// Acked are the ids of the results the desk has recorded: the gateway
	// stops reporting them.
	Acked []int64 `json:"acked,omitempty"`
}
