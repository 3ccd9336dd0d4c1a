package alarm

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/estatehq/estate/devices"
	"github.com/estatehq/estate/internal/config"
)

// feeder is one power supply line and what the engine infers about it.
type feeder struct {
	cfg     config.Feeder
	members []*device
	member  map[*device]bool
	slot    *slot // the outage alarm

	out        bool
	evidence   string
	restoredAt time.Time
	// From the probes' last readings.
	incomerDead, mainsFailed bool
	incomerValue             float64
}

// probe says that a reading of a device is evidence about a feeder.
type probe struct {
	feeder  *feeder
	cfg     *config.Probe
	incomer bool
}

// buildTopology indexes feeders, their devices, probes and buses.
func (e *Engine) buildTopology() {
	for _, b := range e.cfg.Topology.Buses {
		for _, id := range b.Devices {
			if d, ok := e.devs[id]; ok {
				d.bus = b.ID
			}
		}
	}
	for _, fc := range e.cfg.Topology.Feeders {
		f := &feeder{cfg: fc, member: map[*device]bool{}}
		for _, id := range e.cfg.FeederDevices(fc) {
			d := e.devs[id]
			f.members = append(f.members, d)
			f.member[d] = true
			d.feeders = append(d.feeders, f)
			// An offline alarm must not fire before the silence of the whole
			// feeder can be seen, or an outage would ticket its first meter.
			for _, s := range append(d.offline, d.noData...) {
				s.timing.For = max(s.timing.For, fc.SilentWithin)
			}
		}
		for _, p := range []struct {
			cfg     *config.Probe
			incomer bool
		}{{fc.Incomer, true}, {fc.MainsFail, false}} {
			if p.cfg == nil {
				continue
			}
			if d, ok := e.devs[p.cfg.Device]; ok {
				d.probes = append(d.probes, probe{feeder: f, cfg: p.cfg, incomer: p.incomer})
			}
		}
		if e.outage != nil {
			f.slot = &slot{rule: e.outage, key: Key(e.site, e.outage.cfg.Name, fc.ID), timing: e.outage.timing, feeder: f}
			e.slots[f.slot.key] = f.slot
		}
		e.feeders = append(e.feeders, f)
	}
}

// readProbes takes an incomer's voltage or a mains-fail contact from a reading.
func (e *Engine) readProbes(d *device, r *devices.Reading) {
	changed := false
	for _, p := range d.probes {
		v, ok := r.Get(p.cfg.Point)
		if !ok {
			continue
		}
		if p.incomer {
			dead := p.cfg.Below != nil && v < *p.cfg.Below
			changed = changed || dead != p.feeder.incomerDead
			p.feeder.incomerDead, p.feeder.incomerValue = dead, v
		} else {
			failed := p.cfg.Equals != nil && v == *p.cfg.Equals
			changed = changed || failed != p.feeder.mainsFailed
			p.feeder.mainsFailed = failed
		}
	}
	if changed {
		e.inferOutages(r.Time)
		e.reviewSuppressed(r.Time)
	}
}

// inferOutages declares each feeder out or in from its evidence: an incomer
// at ~0 V, a mains-fail contact, or most of its devices falling silent
// together while devices elsewhere (on other buses) still answer. One silent
// device among answering neighbours is not an outage: its own offline alarm
// then stands as a communication fault.
func (e *Engine) inferOutages(now time.Time) {
	for _, f := range e.feeders {
		evidence := ""
		switch {
		case f.incomerDead:
			evidence = fmt.Sprintf("incomer %s reads %.1f %s", f.cfg.Incomer.Device, f.incomerValue, f.cfg.Incomer.Point)
		case f.mainsFailed:
			evidence = fmt.Sprintf("mains-fail contact %s.%s is set", f.cfg.MainsFail.Device, f.cfg.MainsFail.Point)
		default:
			evidence = e.silenceEvidence(f)
		}
		out := evidence != ""
		if f.out && !out {
			f.restoredAt = now
			e.log.Info("feeder power back", "feeder", f.cfg.ID)
		}
		if out && !f.out {
			e.log.Warn("feeder out", "feeder", f.cfg.ID, "evidence", evidence)
		}
		if out && !f.out {
			f.evidence = evidence // kept while out: the suppressions it explains stay stable
		}
		f.out = out
		if f.slot != nil {
			if out || f.slot.alarm != nil {
				a := e.alarmOf(f.slot)
				if out {
					a.Text = evidence
				}
				e.observe(f.slot, out, now, float64(e.silentCount(f)))
			}
		}
	}
}

func (e *Engine) silentCount(f *feeder) int {
	n := 0
	for _, d := range f.members {
		if d.isOffline {
			n++
		}
	}
	return n
}

// silenceEvidence says why the feeder's silence is an outage, or "".
func (e *Engine) silenceEvidence(f *feeder) string {
	total := len(f.members)
	if total == 0 {
		return ""
	}
	need := int(math.Ceil(f.cfg.SilentShare * float64(total)))
	var since []time.Time
	buses := map[string]bool{}
	for _, d := range f.members {
		if d.isOffline {
			since = append(since, d.offlineSince)
			buses[d.bus] = true
		}
	}
	if len(since) < need {
		return ""
	}
	if !f.out {
		// Declaring an outage needs the silence to be one event: enough devices
		// within silent_within of each other.
		slices.SortFunc(since, func(a, b time.Time) int { return a.Compare(b) })
		best := 0
		for i, j := 0, 0; j < len(since); j++ {
			for since[j].Sub(since[i]) > f.cfg.SilentWithin {
				i++
			}
			best = max(best, j-i+1)
		}
		if best < need {
			return ""
		}
	}
	if !e.othersAnswer(f, buses) {
		return "" // nothing answers anywhere: the gateway's own link, not this feeder
	}
	return fmt.Sprintf("%d of %d devices went silent together while other devices answer", len(since), total)
}

// othersAnswer reports whether a device outside the feeder (and, when buses
// are configured, on another bus than the silent devices) answers.
func (e *Engine) othersAnswer(f *feeder, silentBuses map[string]bool) bool {
	withBuses := len(e.cfg.Topology.Buses) > 0
	for _, d := range e.devs {
		if !d.known || d.isOffline {
			continue
		}
		if withBuses && d.bus != "" && !silentBuses[d.bus] || !withBuses && !f.member[d] {
			return true
		}
	}
	return false
}

// suppression says why a firing alarm must be recorded without a ticket, or "".
func (e *Engine) suppression(s *slot, now time.Time) string {
	id, building := "", ""
	switch {
	case s.dev != nil:
		id, building = s.dev.cfg.ID, s.dev.cfg.Building
	case s.feeder != nil:
		id, building = s.feeder.cfg.ID, s.feeder.cfg.Building
	}
	if w, ok := e.maintenance(id, building, now); ok {
		return fmt.Sprintf("maintenance until %s: %s", w.End.Format(time.RFC3339), w.Reason)
	}
	if s.dev == nil || !s.rule.cfg.SuppressedByOutage() {
		return ""
	}
	for _, f := range s.dev.feeders {
		if f.out {
			return fmt.Sprintf("power outage on feeder %s: %s", f.cfg.ID, f.evidence)
		}
		if !f.restoredAt.IsZero() && now.Sub(f.restoredAt) < e.grace {
			return fmt.Sprintf("power back on feeder %s since %s; re-evaluated after %s",
				f.cfg.ID, f.restoredAt.Format(time.RFC3339), e.grace)
		}
	}
	return ""
}

func suppressionCause(why string) string {
	if strings.HasPrefix(why, "maintenance") {
		return "maintenance"
	}
	return "outage"
}

// FeederStatus is a feeder's inferred state, as the console lists it.
type FeederStatus struct {
	ID         string    `json:"id"`
	Building   string    `json:"building,omitempty"`
	Out        bool      `json:"out"`
	Evidence   string    `json:"evidence,omitempty"`
	Devices    int       `json:"devices"`
	Silent     int       `json:"silent"`
	RestoredAt time.Time `json:"restored_at,omitzero"`
}
