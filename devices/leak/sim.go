package leak

import (
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/estatehq/estate/devices"
)

// ScriptActions are the steps a simulated leak module understands, with how
// long each lasts when the step gives no duration:
//   - flood: water on the floor, every probe wet, the sump's level high and
//     its pump running (coping);
//   - flood_pump_failed: the same with the pump stopped (high level, pump
//     not running: an emergency of its own);
//   - probe_N: probe N alone wet (water_leak_N; probe_1 on a one-probe device);
//   - fault: the detector's fault output on.
var ScriptActions = map[string]time.Duration{
	"flood": 3 * time.Minute, "flood_pump_failed": 3 * time.Minute, "fault": time.Minute,
}

// DefaultProbeFor is how long a probe_N step lasts without a duration.
const DefaultProbeFor = 2 * time.Minute

// Module is a simulated leak module: its probes, pump, level switch and
// fault output, moved by a script (on a schedule) or by Force (on demand).
// Its clock is the caller's: Values(now).
type Module struct {
	// Probes are the module's probe points (water_leak_1, water_leak_2; or
	// water_leak alone).
	Probes []string
	Script []devices.ScriptStep

	mu     sync.Mutex
	start  time.Time
	forced map[string]bool // on-demand steps in force, by action
}

// Force starts (on) or ends an action now, whatever the script says: a
// flooded pump room on demand (tests, estate sim --wet).
func (m *Module) Force(action string, on bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.forced == nil {
		m.forced = map[string]bool{}
	}
	if on {
		m.forced[action] = true
	} else {
		delete(m.forced, action)
	}
}

func (m *Module) active(now time.Time, do string) bool {
	if m.forced[do] {
		return true
	}
	t := now.Sub(m.start)
	for _, st := range m.Script {
		d := st.For
		if d == 0 {
			d = ScriptActions[st.Do]
			if d == 0 {
				d = DefaultProbeFor
			}
		}
		if st.Do == do && t >= st.At && t < st.At+d {
			return true
		}
	}
	return false
}

// Values are the module's points at now (the first call starts its clock).
func (m *Module) Values(now time.Time) map[string]float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.start.IsZero() {
		m.start = now
	}
	flood, failed := m.active(now, "flood"), m.active(now, "flood_pump_failed")
	v := map[string]float64{PointPumpRunning: 0, PointHighLevel: 0, PointSensorFault: 0}
	for i, p := range m.Probes {
		v[p] = 0
		if flood || failed || m.active(now, "probe_"+probeNumber(p, i)) {
			v[p] = 1
		}
	}
	if flood || failed {
		v[PointHighLevel] = 1
	}
	if flood {
		v[PointPumpRunning] = 1
	}
	if m.active(now, "fault") {
		v[PointSensorFault] = 1
	}
	return v
}

// probeNumber is the N of water_leak_N, or i+1 for a probe named otherwise.
func probeNumber(point string, i int) string {
	if n, ok := strings.CutPrefix(point, PointWater+"_"); ok && n != "" {
		return n
	}
	return string(rune('1' + i))
}

// ProbesOf lists the probe points among a profile's point names, sorted.
func ProbesOf(points []string) []string {
	var out []string
	for _, p := range points {
		if IsProbe(p) {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}
