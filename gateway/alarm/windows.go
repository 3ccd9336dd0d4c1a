package alarm

import (
	"slices"
	"sync"
	"time"

	"github.com/estatehq/estate/internal/wire"
)

// windowMuter is the maintenance windows the desk hands the gateway in the
// heartbeat's answer (a planned outage, a maintenance order), as a Muter: a
// window covers devices by id, by building, or by the feeder that powers
// them (and that feeder's outage alarm). A window of outage alarms (the
// default) mutes what a loss of power explains: outage, offline and
// no-data alarms; a window of all alarms mutes every alarm of what it
// covers. Each window ends: once it has, the next review of suppressed
// alarms tickets what still fires, as usual.
type windowMuter struct {
	inhibitor *Inhibitor // the feeders of each device

	mu sync.RWMutex
	ws []wire.Window
}

func newWindowMuter(in *Inhibitor) *windowMuter { return &windowMuter{inhibitor: in} }

// Mutes returns the first window that covers the target at now.
func (m *windowMuter) Mutes(t Target, now time.Time) (Cause, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	for _, w := range m.ws {
		if !w.Active(now) || !w.MutesAll() && !t.OnOutage && !t.Feeder {
			continue
		}
		if w.CoversDevice(t.ID, t.Building) || w.Scope == wire.ScopeFeeder && m.onFeeder(t, w.Feeder) {
			return Cause{Kind: Window, Until: w.End, Reason: w.Cause, Group: w.ID}, true
		}
	}
	return Cause{}, false
}

func (m *windowMuter) onFeeder(t Target, id string) bool {
	if t.Feeder {
		return t.ID == id
	}
	return slices.ContainsFunc(m.inhibitor.byDevice[t.ID], func(f *feeder) bool { return f.cfg.ID == id })
}

// SetWindows replaces the maintenance windows the desk handed the gateway
// (invalid ones are left out and returned). The alarms they cover are
// reviewed at the next Tick: muted from then on, or ticketed once their
// window has gone.
func (e *Engine) SetWindows(ws []wire.Window) (invalid []error) {
	keep := make([]wire.Window, 0, len(ws))
	for _, w := range ws {
		if err := w.Validate(); err != nil {
			invalid = append(invalid, err)
			continue
		}
		keep = append(keep, w)
	}
	e.windows.mu.Lock()
	e.windows.ws = keep
	e.windows.mu.Unlock()
	return invalid
}

// Windows returns the maintenance windows the engine holds.
func (e *Engine) Windows() []wire.Window {
	e.windows.mu.RLock()
	defer e.windows.mu.RUnlock()
	return slices.Clone(e.windows.ws)
}

// Feeders returns the configured feeders with the devices each powers, for
// the heartbeat (the desk lists a planned outage's households from them).
func (e *Engine) Feeders() []wire.Feeder {
	out := make([]wire.Feeder, 0, len(e.feeders))
	for _, f := range e.feeders {
		wf := wire.Feeder{ID: f.cfg.ID, Name: f.cfg.Name, Building: f.cfg.Building, Buildings: f.cfg.Buildings, Floors: f.cfg.Floors,
			Devices: make([]string, 0, len(f.members))}
		for _, d := range f.members {
			wf.Devices = append(wf.Devices, d.cfg.ID)
		}
		out = append(out, wf)
	}
	return out
}
