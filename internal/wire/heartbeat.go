package wire

// The heartbeat is what gateways tell the desk about themselves: which devices
// they poll and how healthy each one is. Live values and history are not in
// it; they come from InfluxDB.

import (
	"time"

	"github.com/estatehq/estate/devices/points"
)

// GatewayStatus is one heartbeat.
type GatewayStatus struct {
	Gateway string    `json:"gateway"`
	Site    string    `json:"site"`
	At      time.Time `json:"at"`
	// Interval is how often the gateway reports: a heartbeat older than a few
	// intervals means the gateway itself is silent.
	Interval time.Duration `json:"interval"`
	// TelemetryBacklog is how many readings wait to be written to InfluxDB.
	TelemetryBacklog int `json:"telemetry_backlog"`
	// OutboxPending is how many ticket requests wait for the desk.
	OutboxPending int      `json:"outbox_pending"`
	Devices       []Device `json:"devices"`
	// Alarms are the gateway's pending and firing alarms, the suppressed ones
	// (by an outage or a maintenance window) included, with why.
	Alarms []Alarm `json:"alarms,omitempty"`
	// Feeders are the gateway's topology (planned outages list their households from it).
	Feeders []Feeder `json:"feeders,omitempty"`
	// Results are what became of the desk's commands, reported until the
	// desk's answer acknowledges them (maintenance.go).
	Results []CommandResult `json:"results,omitempty"`
	// Windows are the ids of the maintenance windows the gateway holds.
	Windows []string `json:"windows,omitempty"`
}

// Alarm is one alarm as the gateway's engine holds it.
type Alarm struct {
	Key      string    `json:"key"`
	Rule     string    `json:"rule"`
	Device   string    `json:"device"`
	Building string    `json:"building,omitempty"`
	Unit     string    `json:"unit,omitempty"`
	Source   string    `json:"source,omitempty"`
	Point    string    `json:"point,omitempty"`
	Value    float64   `json:"value"`
	State    string    `json:"state"` // pending, firing, clearing
	Severity string    `json:"severity"`
	Since    time.Time `json:"since,omitzero"`
	// Suppressed says why the alarm is recorded but not ticketed (power
	// outage on a feeder, a maintenance window); empty when it is not.
	Suppressed string `json:"suppressed,omitempty"`
	Ticketed   bool   `json:"ticketed"`
	MessageZH  string `json:"message_zh"`
	MessageEN  string `json:"message_en"`
}

// Device is one device's identity, location and link health.
type Device struct {
	ID                  string    `json:"id"`
	Family              string    `json:"family"`
	Model               string    `json:"model,omitempty"`
	Building            string    `json:"building,omitempty"`
	Floor               string    `json:"floor,omitempty"`
	Unit                string    `json:"unit,omitempty"`
	State               string    `json:"state"` // unknown, online, degraded, offline
	LastSeen            time.Time `json:"last_seen,omitzero"`
	ConsecutiveFailures int       `json:"consecutive_failures"`
	Polls               uint64    `json:"polls"`
	Errors              uint64    `json:"errors"`
	LastError           string    `json:"last_error,omitempty"`
	// Controls are what the device's configuration lets a command do:
	// relay, valve, write:<point> (maintenance.go).
	Controls []string `json:"controls,omitempty"`
	// Units are the engineering units of its points as its profile gives
	// them (power in W on one meter, kW on another): the console shows
	// readings with them.
	Units map[string]string `json:"units,omitempty"`
	// Names are its profile's own words for its points, where the profile
	// has some (label, label_en, states), over the desk's catalogue.
	Names map[string]points.Names `json:"names,omitempty"`
}
