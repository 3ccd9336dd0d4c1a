// Package leak is the family of leak sensors and sump pumps (family: leak),
// whatever the transport: a digital-input module polled over Modbus whose
// inputs are wired to water probes, the pump's running contact and a
// high-level float switch, or a wireless sensor whose bridge publishes JSON
// over MQTT (Zigbee2MQTT's water-leak sensors).
//
// Its logic (the Behaviour, registered with devices.RegisterFamily) turns the
// probes' wet/dry points into events whose source is the room the sensor is
// in: flooding (水浸) where water means an emergency (a plant room, a pump
// room, a basement, a lift pit), water_leak elsewhere. A rule grouped by
// source (group_by: source) then opens one incident per room for all its
// sensors. The pump, level and fault points are plain points for state
// rules (configs/rules/default.yaml).
package leak

import (
	"slices"
	"strings"
	"time"

	"github.com/estatehq/estate/devices"
	"github.com/estatehq/estate/internal/config"
)

// Family is the family name of leak sensors and sump pumps in configs.
const Family = "leak"

// Points a leak device reports (profiles map their registers or JSON keys to
// these names).
const (
	// PointWater is a probe: 1 wet (water detected), 0 dry. A device with
	// several probes names them water_leak_1, water_leak_2, …
	PointWater = "water_leak"
	// PointPumpRunning is the sump pump's running contact (1 running).
	PointPumpRunning = "pump_running"
	// PointHighLevel is the sump's high-level float switch (1 high).
	PointHighLevel = "high_level"
	// PointSensorFault is the detector's fault output (1 fault: a broken
	// probe cable, a failed detector).
	PointSensorFault = "sensor_fault"
)

// Event types the family raises.
const (
	// EventFlooding is water detected where it is an emergency.
	EventFlooding = "flooding"
	// EventWaterLeak is water detected elsewhere (under a tank, in a shaft).
	EventWaterLeak = "water_leak"
)

// Locations: where a sensor is decides what its water means.
var (
	// FloodLocations are where water is flooding (水浸), an emergency.
	FloodLocations = []string{"pump_room", "plant_room", "basement", "lift_pit"}
	// Locations are every location a device may give.
	Locations = append(slices.Clone(FloodLocations), "other")
)

// Options are the leak family's own keys of a device, for any transport.
type Options struct {
	// Room is the room or basement the sensor watches ("B1 水泵房"): the
	// sensors of one room (in one building) share one incident.
	Room string `yaml:"room"`
	// Location is what kind of place it is: pump_room, plant_room,
	// basement or lift_pit (water there is flooding), or other.
	Location string `yaml:"location"`
}

func init() {
	devices.RegisterFamily(Family, devices.Family{
		Options:   func() any { return &Options{} },
		Misplaced: "applies to leak sensors only",
		Validate: func(cfg *config.Config, opts any, path string) []config.Problem {
			o := opts.(*Options)
			var ps []config.Problem
			if strings.TrimSpace(o.Room) == "" {
				ps = append(ps, cfg.Problemf(path+".room", "required: the room or basement the sensor watches, such as \"B1 水泵房\" (its sensors share one incident)"))
			} else if len(o.Room) > 100 {
				ps = append(ps, cfg.Problemf(path+".room", "longer than 100 bytes"))
			}
			if !slices.Contains(Locations, o.Location) {
				ps = append(ps, cfg.Problemf(path+".location", "%q is not a location; use one of %s (water in the first four is flooding)",
					o.Location, strings.Join(Locations, ", ")))
			}
			return ps
		},
		New: func(opts any) devices.Behaviour { return NewDetector(*opts.(*Options)) },
	})
}

// Detector is one leak device's logic: it remembers each probe's last state
// and reports a change as an event.
type Detector struct {
	opts  Options
	flood bool
	wet   map[string]bool // by probe point; absent until first seen
}

// NewDetector returns the logic of a device in the room and location of o.
func NewDetector(o Options) *Detector {
	return &Detector{opts: o, flood: slices.Contains(FloodLocations, o.Location), wet: map[string]bool{}}
}

// IsProbe reports whether a point is a water probe.
func IsProbe(point string) bool {
	return point == PointWater || strings.HasPrefix(point, PointWater+"_")
}

// Observe reports each probe's change: the first state of a probe is
// reported too, dry included, so that water that dried while the gateway
// was down clears its incident. Bad or missing values say nothing (a silent
// sensor is not a dry one).
func (d *Detector) Observe(now time.Time, values []devices.Value, _ []devices.Signal) []devices.Event {
	var out []devices.Event
	for _, v := range values {
		if !IsProbe(v.Point) || v.Quality != devices.Good || v.IsText {
			continue
		}
		wet := v.Value != 0
		if was, seen := d.wet[v.Point]; seen && was == wet {
			continue
		}
		d.wet[v.Point] = wet
		out = append(out, d.event(now, v.Point, wet))
	}
	return out
}

// Tick: time alone changes nothing here (the rules' for and keep_for do).
func (d *Detector) Tick(time.Time) []devices.Event { return nil }

func (d *Detector) event(now time.Time, probe string, wet bool) devices.Event {
	typ := EventWaterLeak
	if d.flood {
		typ = EventFlooding
	}
	ev := devices.Event{Time: now, Type: typ, Source: d.opts.Room, Active: wet,
		Attrs: map[string]string{"location": d.opts.Location}}
	if probe != PointWater {
		ev.Attrs["probe"] = probe // several probes on one device: each is a sensor
	}
	if wet {
		ev.Text = probe + " 检测到水 / detects water"
	} else {
		ev.Text = probe + " 干燥 / dry"
	}
	return ev
}
