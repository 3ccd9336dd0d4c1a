package alarm

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/estatehq/estate/internal/config"
)

// Link is where the gateway reaches a polled device: the key of the line it
// shares with other devices (the driver's Bus(): "tcp:host:port" for a Modbus
// TCP endpoint such as a serial gateway with 25 unit ids behind it,
// "rtu:/dev/ttyS1" for an RS-485 bus) and whether that line is serial.
type Link struct {
	Key    string
	Serial bool
}

// Group scopes: what a silent group's incident is about.
const (
	ScopeGateway  = "gateway"  // every polled device of the gateway: a site-wide outage
	ScopeBus      = "bus"      // one serial line
	ScopeEndpoint = "endpoint" // one TCP endpoint (its network)
)

// defaultGroupWindow is how close together a group's devices must fall silent
// when their offline rules wait for nothing (for: 0): a poll cycle or two, as
// a feeder's silent_within.
const defaultGroupWindow = 10 * time.Second

// maxEvidenceDevices bounds the devices a group's evidence names one by one
// (the ticket's description is bounded too).
const maxEvidenceDevices = 20

// group is a set of devices that fall silent together when what they share
// fails: the gateway (its uplink, its power), a serial bus or a TCP endpoint.
// It works like a feeder inferred from silence alone: while every member is
// silent, one incident stands for them and their offline alarms are muted;
// once one answers again, the ones still silent after the grace are ticketed
// one by one.
type group struct {
	id      string // the gateway's id, or the link's key
	scope   string
	members []*device
	// window is how close together the members must fall silent to be one
	// event: the longest for of their offline rules (defaultGroupWindow if 0).
	window time.Duration
	// parent is the gateway group that contains a bus or an endpoint: while
	// it is silent, its incident stands for this one too.
	parent *group
	slot   *slot // the incident alarm; nil when no rule can ticket it

	out        bool
	evidence   string
	restoredAt time.Time
}

// building is the building of the group's devices when they share one, else "".
func (g *group) building() string {
	b := g.members[0].cfg.Building
	for _, d := range g.members[1:] {
		if d.cfg.Building != b {
			return ""
		}
	}
	return b
}

// groupMember is what the silence decision knows of one device of a group.
type groupMember struct {
	offline bool
	since   time.Time // offline since
	// explained: a feeder outage mutes this device already; its silence has
	// an incident of its own (feeder inference keeps precedence).
	explained bool
}

// groupSilent reports whether a group has fallen silent as one event: it has
// at least two devices (one silent device is just that device offline), all
// of them are offline, not all of them are explained by a feeder outage, and
// (unless the group is silent already) the unexplained ones fell silent within
// window of each other. Devices that a feeder outage silenced earlier do not
// stretch the window: when the rest of the gateway follows later, the
// gateway's silence is still one event.
func groupSilent(members []groupMember, window time.Duration, wasOut bool) bool {
	if len(members) < 2 {
		return false
	}
	var first, last time.Time
	n := 0
	for _, m := range members {
		if !m.offline {
			return false
		}
		if m.explained {
			continue
		}
		if n == 0 || m.since.Before(first) {
			first = m.since
		}
		if n == 0 || m.since.After(last) {
			last = m.since
		}
		n++
	}
	if n == 0 {
		return false
	}
	return wasOut || last.Sub(first) <= window
}

// buildGroups makes the gateway's group and one per link shared by two
// devices or more, each with its incident slot, and makes the members'
// offline and no-data rules wait the group's window, so that the silence of
// the whole group is seen before its first device's alarm fires.
func (e *Engine) buildGroups(links map[string]Link) {
	e.groupMuter = &groupMuter{grace: e.cfg.Topology.OutageGrace, byDevice: map[string][]*group{}}
	if len(links) < 2 {
		return
	}
	byKey := map[string][]*device{}
	serial := map[string]bool{}
	var all []*device
	// In configuration order, so that evidence and incidents are stable.
	for _, dc := range e.cfg.Devices {
		l, ok := links[dc.ID]
		d := e.devs[dc.ID]
		if !ok || d == nil {
			continue
		}
		all = append(all, d)
		if l.Key != "" {
			byKey[l.Key] = append(byKey[l.Key], d)
			serial[l.Key] = serial[l.Key] || l.Serial
		}
	}
	var gw *group
	keys := make([]string, 0, len(byKey))
	for k, ms := range byKey {
		if len(ms) >= 2 {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	// The gateway's group is worth having only when it is more than one of
	// its links: a gateway whose devices all hang on one endpoint has that
	// endpoint's group.
	if len(all) >= 2 && (len(keys) != 1 || len(byKey[keys[0]]) != len(all)) {
		gw = e.newGroup(e.cfg.Gateway.ID, ScopeGateway, all, nil)
	}
	for _, k := range keys {
		scope := ScopeEndpoint
		if serial[k] {
			scope = ScopeBus
		}
		e.newGroup(k, scope, byKey[k], gw)
	}
}

func (e *Engine) newGroup(id, scope string, members []*device, parent *group) *group {
	g := &group{id: id, scope: scope, members: members, parent: parent}
	var base *config.Rule
	for _, d := range members {
		for _, s := range d.offline {
			g.window = max(g.window, s.rule.cfg.For)
			if base == nil {
				base = s.rule.cfg
			}
		}
	}
	if g.window == 0 {
		g.window = defaultGroupWindow
	}
	for _, d := range members {
		for _, s := range append(d.offline, d.noData...) {
			s.timing.For = max(s.timing.For, g.window)
		}
		e.groupMuter.byDevice[d.cfg.ID] = append(e.groupMuter.byDevice[d.cfg.ID], g)
	}
	if r := e.groupRule(scope, base, g.window); r != nil {
		g.slot = &slot{rule: r, key: Key(e.site, r.cfg.Name, id), timing: r.timing, group: g}
		e.slots[g.slot.key] = g.slot
	}
	e.groups = append(e.groups, g)
	return g
}

// groupRule is the rule of a group's incident, made from the rules people
// configured: a gateway's silence is a site-wide outage (the outage rule's
// severity, ticket and priority; an emergency by default); a bus's or an
// endpoint's is a communication fault like its devices' (their offline
// rule's). A bus or endpoint waits its window before ticketing, so that the
// gateway's incident stands for it when the whole gateway follows.
func (e *Engine) groupRule(scope string, offline *config.Rule, window time.Duration) *rule {
	if scope == ScopeGateway {
		base := DefaultOutageRule()
		if e.outage != nil {
			base = e.outage.cfg
		}
		return compile(&config.Rule{Name: "gateway_silent", Type: config.RuleOutage, Severity: base.Severity,
			Ticket: base.Ticket, Priority: base.Priority, KeepFor: base.KeepFor,
			Title: "网关 {device} 全部设备无应答", TitleEN: "every device of gateway {device} is silent",
			Message: config.Message{
				ZH: "网关 {device} 的全部设备同时无应答 (全站停电或网络中断): {text}",
				EN: "every device of gateway {device} fell silent at once (site-wide outage): {text}",
			}})
	}
	if offline == nil || offline.Ticket == "none" {
		return nil
	}
	what := map[string][2]string{ScopeBus: {"串行总线", "serial line"}, ScopeEndpoint: {"网络端点", "network endpoint"}}[scope]
	return compile(&config.Rule{Name: "link_silent", Type: config.RuleOffline, Severity: offline.Severity,
		Ticket: offline.Ticket, Priority: offline.Priority, For: window, KeepFor: offline.KeepFor,
		Title: what[0] + " {device} 无应答", TitleEN: what[1] + " {device} is silent",
		Message: config.Message{
			ZH: what[0] + " {device} 上的设备全部无应答: {text}",
			EN: "every device on " + what[1] + " {device} is silent: {text}",
		}})
}

// inferGroups declares each group silent or back (groupSilent) and drives
// its incident alarm. The gateway's group goes first: while it is silent,
// its buses and endpoints are not (its incident stands for theirs).
func (e *Engine) inferGroups(now time.Time) {
	for _, g := range e.groups {
		in := make([]groupMember, len(g.members))
		for i, d := range g.members {
			_, explained := e.inhibitor.Mutes(Target{ID: d.cfg.ID, OnOutage: true}, now)
			// A device silent since before the group last answered again
			// (its poller backing off, or dead) is no evidence of when a
			// new silence began: it must not spread that silence past the
			// window (the group falling silent again soon after it came back).
			stale := !g.restoredAt.IsZero() && d.offlineSince.Before(g.restoredAt)
			in[i] = groupMember{offline: d.known && d.isOffline, since: d.offlineSince,
				explained: explained || d.ticketedOffline() || stale}
		}
		// A bus or endpoint inside a silent gateway is not an incident of its
		// own (and not back either: the gateway's incident stands for it).
		silent := groupSilent(in, g.window, g.out) && (g.parent == nil || !g.parent.out)
		switch {
		case silent && !g.out:
			g.evidence = e.groupEvidence(g)
			e.log.Warn("every device of a "+g.scope+" silent", "group", g.id, "evidence", g.evidence)
		case !silent && g.out && (g.parent == nil || !g.parent.out):
			g.restoredAt = now
			e.log.Info(g.scope+" answers again", "group", g.id)
		}
		g.out = silent
		if !g.out && g.slot != nil && g.slot.alarm != nil && e.unsettledGroup(g, now) {
			continue // restored firing: its members have not all reported since the start
		}
		if g.slot != nil && (g.out || g.slot.alarm != nil) {
			if g.out && (g.slot.alarm == nil || g.slot.alarm.Text != g.evidence) {
				e.touch(g.slot)
				e.alarmOf(g.slot).Text = g.evidence
			}
			e.observe(g.slot, g.out, now, float64(len(g.members)))
		}
	}
}

// ticketedOffline reports whether the device's silence has a ticket of its
// own already (a dead meter found before the rest of its line went quiet):
// it does not stretch its group's window.
func (d *device) ticketedOffline() bool {
	for _, s := range d.offline {
		if a := s.alarm; a != nil && a.Phase == Firing && a.Ticketed {
			return true
		}
	}
	return false
}

// unsettled reports whether, shortly after the engine started (within
// outage_grace), a device whose health decides an inferred suppression of
// d's alarms has not reported yet: its feeder's or its group's silence
// cannot be judged, so the suppression restored from the state file holds.
// Otherwise a restart during an outage would ticket every alarm it muted, one
// by one as their devices report, before the outage can be seen again.
func (e *Engine) unsettled(d *device, now time.Time) bool {
	if d == nil || now.Sub(e.started) >= e.cfg.Topology.OutageGrace {
		return false
	}
	for _, f := range e.inhibitor.byDevice[d.cfg.ID] {
		for _, m := range f.members {
			if !m.known {
				return true
			}
		}
	}
	for _, g := range e.groupMuter.byDevice[d.cfg.ID] {
		if e.unsettledGroup(g, now) {
			return true
		}
	}
	return false
}

// unsettledGroup reports whether, within outage_grace of the start, some
// device of the group has not reported its health yet.
func (e *Engine) unsettledGroup(g *group, now time.Time) bool {
	if now.Sub(e.started) >= e.cfg.Topology.OutageGrace {
		return false
	}
	for _, d := range g.members {
		if !d.known {
			return true
		}
	}
	return false
}

// groupEvidence lists why a group is silent: how many devices since when,
// and each device's last error.
func (e *Engine) groupEvidence(g *group) string {
	first := g.members[0].offlineSince
	for _, d := range g.members {
		if d.offlineSince.Before(first) {
			first = d.offlineSince
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d devices silent since %s; 最后的错误 / last errors: ", len(g.members),
		first.In(e.loc).Format("2006-01-02 15:04:05"))
	for i, d := range g.members {
		if i == maxEvidenceDevices {
			fmt.Fprintf(&b, "; and %d more", len(g.members)-i)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		why := d.lastError
		if why == "" {
			why = "no answer"
		}
		fmt.Fprintf(&b, "%s (since %s): %s", d.cfg.ID, d.offlineSince.In(e.loc).Format("15:04:05"), truncate(why, 120))
	}
	return b.String()
}

// groupMuter is the groups' conclusions as a Muter: while a group is silent,
// and for outage_grace after one of its devices answers again, the alarms of
// its devices whose rules are suppressed by an outage are muted. An alarm
// still firing after the grace is ticketed then.
type groupMuter struct {
	grace    time.Duration
	byDevice map[string][]*group
}

// Mutes returns the silence of the target's first silent group, else the
// first group back within its grace.
func (m *groupMuter) Mutes(t Target, now time.Time) (Cause, bool) {
	if !t.OnOutage {
		return Cause{}, false
	}
	gs := m.byDevice[t.ID]
	for _, g := range gs {
		if g.out {
			return Cause{Kind: LinkSilent, Group: g.id, Scope: g.scope, Evidence: g.evidence}, true
		}
	}
	for _, g := range gs {
		if !g.restoredAt.IsZero() && now.Sub(g.restoredAt) < m.grace {
			return Cause{Kind: LinkBack, Group: g.id, Scope: g.scope, RestoredAt: g.restoredAt, Grace: m.grace}, true
		}
	}
	return Cause{}, false
}
