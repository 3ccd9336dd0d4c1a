package alarm

import (
	"fmt"
	"math"
	"slices"
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

// buildTopology indexes feeders, their devices, probes and buses, and the
// Inhibitor's feeders by device.
func (e *Engine) buildTopology() {
	e.inhibitor = &Inhibitor{grace: e.cfg.Topology.OutageGrace, byDevice: map[string][]*feeder{}}
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
			e.inhibitor.byDevice[id] = append(e.inhibitor.byDevice[id], f)
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

// inferOutages declares each feeder out or in from its evidence
// (outageEvidence) and drives the feeder's outage alarm through its lifecycle.
func (e *Engine) inferOutages(now time.Time) {
	for _, f := range e.feeders {
		in := outageInput{cfg: &f.cfg, incomerDead: f.incomerDead, mainsFailed: f.mainsFailed,
			incomerValue: f.incomerValue, wasOut: f.out, othersAnswer: func(buses map[string]bool) bool {
				return e.othersAnswer(f, buses)
			}}
		in.members = make([]member, len(f.members))
		for i, d := range f.members {
			in.members[i] = member{offline: d.isOffline, since: d.offlineSince, bus: d.bus}
		}
		evidence := outageEvidence(in)
		switch wentOut, cameBack := f.update(evidence, now); {
		case wentOut:
			e.log.Warn("feeder out", "feeder", f.cfg.ID, "evidence", evidence)
		case cameBack:
			e.log.Info("feeder power back", "feeder", f.cfg.ID)
		}
		if f.slot != nil && (f.out || f.slot.alarm != nil) {
			a := e.alarmOf(f.slot)
			if f.out {
				a.Text, a.TextZH = evidence, outageEvidenceZH(in, evidence)
			}
			e.observe(f.slot, f.out, now, float64(silentCount(in.members)))
		}
	}
}

// update records the feeder's evidence at now: out while there is some. The
// evidence that declared the outage is kept while it lasts, so that the
// suppressions it explains stay stable.
func (f *feeder) update(evidence string, now time.Time) (wentOut, cameBack bool) {
	out := evidence != ""
	wentOut, cameBack = out && !f.out, f.out && !out
	if cameBack {
		f.restoredAt = now
	}
	if wentOut {
		f.evidence = evidence
	}
	f.out = out
	return wentOut, cameBack
}

// member is what outage inference knows of one device of a feeder.
type member struct {
	offline bool
	since   time.Time // offline since
	bus     string
}

// outageInput is everything outage inference decides a feeder on.
type outageInput struct {
	cfg                      *config.Feeder
	incomerDead, mainsFailed bool
	incomerValue             float64
	members                  []member
	// wasOut: the feeder is out already (its silence then need not be one event).
	wasOut bool
	// othersAnswer reports whether a device elsewhere (on another bus than
	// silentBuses, when buses are configured) answers.
	othersAnswer func(silentBuses map[string]bool) bool
}

// outageEvidence says why a feeder is out, or "": an incomer at ~0 V, a
// mains-fail contact, or most of its devices falling silent together while
// devices elsewhere (on other buses) still answer. One silent device among
// answering neighbours is not an outage: its own offline alarm then stands as
// a communication fault.
func outageEvidence(in outageInput) string {
	switch {
	case in.incomerDead:
		return fmt.Sprintf("incomer %s reads %.1f %s", in.cfg.Incomer.Device, in.incomerValue, in.cfg.Incomer.Point)
	case in.mainsFailed:
		return fmt.Sprintf("mains-fail contact %s.%s is set", in.cfg.MainsFail.Device, in.cfg.MainsFail.Point)
	}
	return silenceEvidence(in)
}

// outageEvidenceZH is outageEvidence's evidence in Chinese, for the
// outage's message in Chinese ("" when there is none).
func outageEvidenceZH(in outageInput, evidence string) string {
	switch {
	case evidence == "":
		return ""
	case in.incomerDead:
		return fmt.Sprintf("进线 %s 的 %s 读数为 %.1f", in.cfg.Incomer.Device, in.cfg.Incomer.Point, in.incomerValue)
	case in.mainsFailed:
		return fmt.Sprintf("市电失电触点 %s.%s 动作", in.cfg.MainsFail.Device, in.cfg.MainsFail.Point)
	}
	return fmt.Sprintf("%d 台设备中 %d 台同时失联，其他设备仍有应答", len(in.members), silentCount(in.members))
}

func silentCount(members []member) int {
	n := 0
	for _, m := range members {
		if m.offline {
			n++
		}
	}
	return n
}

// silenceEvidence says why the feeder's silence is an outage, or "".
func silenceEvidence(in outageInput) string {
	total := len(in.members)
	if total == 0 {
		return ""
	}
	need := int(math.Ceil(in.cfg.SilentShare * float64(total)))
	var since []time.Time
	buses := map[string]bool{}
	for _, m := range in.members {
		if m.offline {
			since = append(since, m.since)
			buses[m.bus] = true
		}
	}
	if len(since) < need {
		return ""
	}
	if !in.wasOut {
		// Declaring an outage needs the silence to be one event: enough devices
		// within silent_within of each other.
		slices.SortFunc(since, func(a, b time.Time) int { return a.Compare(b) })
		best := 0
		for i, j := 0, 0; j < len(since); j++ {
			for since[j].Sub(since[i]) > in.cfg.SilentWithin {
				i++
			}
			best = max(best, j-i+1)
		}
		if best < need {
			return ""
		}
	}
	if !in.othersAnswer(buses) {
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

// Inhibitor is outage inference's conclusions as a Muter: while a feeder is
// out, and for outage_grace after its power is back (devices need time to
// boot), the alarms of its devices whose rules are suppressed by an outage
// are muted. An alarm still firing after the grace is ticketed then.
type Inhibitor struct {
	grace    time.Duration
	byDevice map[string][]*feeder
}

// Mutes returns the outage (or the power back within the grace) of the
// target's first feeder that has one.
func (in *Inhibitor) Mutes(t Target, now time.Time) (Cause, bool) {
	if !t.OnOutage {
		return Cause{}, false
	}
	for _, f := range in.byDevice[t.ID] {
		if f.out {
			return Cause{Kind: Outage, Feeder: f.cfg.ID, Evidence: f.evidence}, true
		}
		if !f.restoredAt.IsZero() && now.Sub(f.restoredAt) < in.grace {
			return Cause{Kind: PowerBack, Feeder: f.cfg.ID, RestoredAt: f.restoredAt, Grace: in.grace}, true
		}
	}
	return Cause{}, false
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

// silent is how many of the feeder's devices are offline.
func (f *feeder) silent() int {
	n := 0
	for _, d := range f.members {
		if d.isOffline {
			n++
		}
	}
	return n
}
