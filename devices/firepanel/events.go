package firepanel

import (
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/estatehq/estate/devices"
	"github.com/estatehq/estate/internal/promreg"
)

// Event types in Estate's vocabulary.
const (
	EventFireAlarm        = "fire_alarm"
	EventFault            = "fault"
	EventSupervisory      = "supervisory"
	EventDisabled         = "disabled"
	EventRestore          = "restore"
	EventReset            = "reset"
	EventMainPowerFault   = "main_power_fault"
	EventBackupPowerFault = "backup_power_fault"
)

// metrics are the fire panels' receivers', registered on the registry the
// gateway passes (devices.Env.Metrics).
type metrics struct {
	frameErrors    *prometheus.CounterVec
	discardedBytes *prometheus.CounterVec
	unknownLines   *prometheus.CounterVec
	panelEvents    *prometheus.CounterVec
}

// newMetrics registers the metrics on reg; nil means a private registry that
// nobody serves. The streamers of both protocols (GB/T 26875.3 and CRT) share
// the collectors of one registry: registering again finds the first ones.
func newMetrics(reg prometheus.Registerer) *metrics {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	return &metrics{
		frameErrors: promreg.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "estate_firepanel_frame_errors_total",
			Help: "GB/T 26875.3 frames that did not decode, by kind.",
		}, []string{"kind"})),
		discardedBytes: promreg.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "estate_firepanel_discarded_bytes_total",
			Help: "Bytes skipped while re-synchronising, by protocol.",
		}, []string{"protocol"})),
		unknownLines: promreg.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "estate_firepanel_unknown_lines_total",
			Help: "CRT/printer lines that matched no template (kept raw as unknown_line events), by device.",
		}, []string{"device"})),
		panelEvents: promreg.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "estate_firepanel_events_total",
			Help: "Fire panel events reported, by type.",
		}, []string{"type"})),
	}
}

func (m *metrics) countFrameError(err error) {
	kind := "framing"
	switch err {
	case ErrChecksum:
		kind = "checksum"
	case ErrLength:
		kind = "length"
	case ErrTime:
		kind = "time"
	}
	m.frameErrors.WithLabelValues(kind).Inc()
}

// panelState remembers a panel's active conditions so that a status that
// clears becomes a restore event, and a reset clears everything the panel had
// active (a reset clears the panel's active events).
type panelState struct {
	mu     sync.Mutex
	active map[string]devices.Event // key: type|source
}

func newPanelState() *panelState { return &panelState{active: map[string]devices.Event{}} }

// set reports a condition as active or not; it returns the events to emit
// (none when nothing changed).
func (p *panelState) set(e devices.Event) []devices.Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	key := e.Type + "|" + e.Source
	_, was := p.active[key]
	switch {
	case e.Active && !was:
		p.active[key] = e
		return []devices.Event{e}
	case !e.Active && was:
		delete(p.active, key)
		return []devices.Event{e}
	}
	return nil
}

// reset clears every active condition: one reset event, then a clearing
// event for each condition that was active.
func (p *panelState) reset(device *devices.Info, at time.Time, source, text string) []devices.Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := []devices.Event{{Device: device, Time: at, Type: EventReset, Source: source, Active: true, Text: text}}
	keys := make([]string, 0, len(p.active))
	for k := range p.active {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		e := p.active[k]
		e.Active, e.Time, e.Text = false, at, "cleared by reset"
		out = append(out, e)
		delete(p.active, k)
	}
	return out
}

// eventsFromRecord turns one GB/T 26875.3 record into events, through the panel's state.
func eventsFromRecord(st *panelState, dev *devices.Info, r Record) []devices.Event {
	attrs := map[string]string{"system_type": strconv.Itoa(int(r.SystemType)), "system_address": strconv.Itoa(int(r.SystemAddr))}
	var out []devices.Event
	mk := func(typ, source string, active bool) devices.Event {
		return devices.Event{Device: dev, Time: r.Time, Type: typ, Source: source, Active: active, Text: r.Description, Attrs: attrs}
	}
	switch r.Type {
	case TypeSystemStatus:
		source := fmt.Sprintf("system %d", r.SystemAddr)
		if r.Status&(1<<systemResetBit) != 0 {
			return st.reset(dev, r.Time, source, "system status: reset")
		}
		for _, b := range systemBits {
			out = append(out, st.set(mk(b.event, source, r.Status&(1<<b.bit) != 0))...)
		}
	case TypeComponentStatus:
		source := fmt.Sprintf("system %d component %d", r.SystemAddr, r.ComponentAddr)
		attrs["component_type"] = strconv.Itoa(int(r.ComponentType))
		attrs["component_address"] = strconv.FormatUint(uint64(r.ComponentAddr), 10)
		// The component address is often loop×1000+point on panels that number so.
		for _, b := range componentBits {
			out = append(out, st.set(mk(b.event, source, r.Status&(1<<b.bit) != 0))...)
		}
	case TypeUITDStatus:
		for _, b := range uitdBits {
			out = append(out, st.set(mk(b.event, "transmission device", r.Status&(1<<b.bit) != 0))...)
		}
	case TypeOperation, TypeUITDOperation:
		source := fmt.Sprintf("system %d operator %d", r.SystemAddr, r.Operator)
		if r.Type == TypeUITDOperation {
			source = fmt.Sprintf("transmission device operator %d", r.Operator)
		}
		for _, b := range operationBits {
			if r.Operation&(1<<b.bit) == 0 {
				continue
			}
			if b.event == EventReset {
				out = append(out, st.reset(dev, r.Time, source, "operation: reset")...)
				continue
			}
			out = append(out, devices.Event{Device: dev, Time: r.Time, Type: b.event, Source: source, Active: true, Attrs: attrs})
		}
	}
	return out
}

// restoreSource clears every active condition of one source (a panel line
// "恢复" that does not say which condition ended).
func (p *panelState) restoreSource(e devices.Event) []devices.Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []devices.Event
	keys := make([]string, 0, len(p.active))
	for k, a := range p.active {
		if a.Source == e.Source {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		a := p.active[k]
		a.Active, a.Time, a.Text = false, e.Time, e.Text
		out = append(out, a)
		delete(p.active, k)
	}
	if len(out) == 0 {
		out = append(out, e) // nothing known to clear: keep the line as it is
	}
	return out
}

// apply routes a parsed CRT event through the panel's state.
func (p *panelState) apply(e devices.Event) []devices.Event {
	switch {
	case e.Type == EventUnknownLine:
		return []devices.Event{e}
	case e.Type == EventReset:
		return p.reset(e.Device, e.Time, e.Source, e.Text)
	case e.Type == EventRestore:
		return p.restoreSource(e)
	case e.Type == EventFireAlarm || e.Type == EventFault || e.Type == EventSupervisory || e.Type == EventDisabled ||
		e.Type == EventMainPowerFault || e.Type == EventBackupPowerFault:
		if out := p.set(e); out != nil {
			return out
		}
		return nil
	}
	return []devices.Event{e} // momentary: mute, self-test …
}
