package devices

import (
	"context"
	"errors"
	"time"
)

// Commands a person approved on the desk reach a driver through Commander
// (gateway/command runs them, once each). The action names are the desk's
// (internal/wire); they are repeated here so that device packages import
// nothing of the desk's contract.
const (
	ActionRelayTrip   = "relay_trip"
	ActionRelayClose  = "relay_close"
	ActionValveOpen   = "valve_open"
	ActionValveClose  = "valve_close"
	ActionModbusWrite = "modbus_write"
)

// Controls a Commander offers (Controls): relay, valve, write:<point>.
const (
	ControlRelay       = "relay"
	ControlValve       = "valve"
	ControlWritePrefix = "write:"
)

// Command is one approved command for one device.
type Command struct {
	Action string
	// Point and Value: a Modbus write's.
	Point string
	Value float64
	// Until is how long a relay command holds (DL/T 645 carries it).
	Until time.Time
}

// Commander is a driver that runs commands: Controls lists what the
// device's configuration allows (empty: nothing), Command runs one. A
// command the configuration does not allow is ErrNotAllowed, never sent.
type Commander interface {
	Controls() []string
	Command(ctx context.Context, c Command) error
}

// ErrNotAllowed is a command the device's configuration does not allow
// (writes, relay or valve control off), or an action its family has not.
var ErrNotAllowed = errors.New("not allowed by the device's configuration")

// RefusedError is a device that answered a command with a refusal (a wrong
// password, a Modbus exception): it was reached, and said no.
type RefusedError struct{ Err error }

func (e *RefusedError) Error() string { return "the device refused: " + e.Err.Error() }
func (e *RefusedError) Unwrap() error { return e.Err }

// ErrNoAnswer marks a command the device did not answer in time.
var ErrNoAnswer = errors.New("no answer from the device")
