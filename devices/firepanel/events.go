package firepanel

import (
	"fmt"
	"maps"
	"sort"
	"strconv"
	"strings"
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

	// Conditions of the status words (active while their bit is set).
	EventTestMode          = "test_mode" // bit 0 clear: 测试状态
	EventStarted           = "started"   // 启动(开启): a linked device started
	EventFeedback          = "feedback"  // 反馈
	EventDelay             = "delay"     // 延时状态
	EventBusFault          = "bus_fault"
	EventManualMode        = "manual_mode"         // 手动状态 (not automatic)
	EventConfigChanged     = "config_changed"      // 配置改变
	EventPowerFault        = "power_fault"         // a component's 电源故障
	EventCentreLinkFault   = "centre_link_fault"   // 与监控中心通信信道故障
	EventFacilityLinkFault = "facility_link_fault" // 监测连接线路故障

	// Operations (momentary).
	EventMute               = "mute"                // 消音
	EventManualAlarm        = "manual_alarm"        // 手动报警
	EventAlarmCleared       = "alarm_cleared"       // 警情消除
	EventSelfTest           = "self_test"           // 自检
	EventAcknowledge        = "acknowledge"         // 确认 (a panel's operator, type 4)
	EventInspectionAnswered = "inspection_answered" // 查岗应答 (the transmission device, type 24)
	EventTest               = "test"                // 测试

	// What a device tells about itself (momentary, for the record).
	EventDeviceClock     = "device_clock"     // types 8, 28: its clock
	EventSoftwareVersion = "software_version" // types 5, 25
	EventConfiguration   = "configuration"    // types 6, 7, 26
	EventAnalogValue     = "analog_value"     // type 3
)

// metrics are the fire panels' receivers', registered on the registry the
// gateway passes (devices.Env.Metrics).
type metrics struct {
	frameErrors    *prometheus.CounterVec
	discardedBytes *prometheus.CounterVec
	unknownLines   *prometheus.CounterVec
	panelEvents    *prometheus.CounterVec
	replies        *prometheus.CounterVec
	badTimeTags    *prometheus.CounterVec
	timeSyncs      *prometheus.CounterVec
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
		replies: promreg.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "estate_firepanel_replies_total",
			Help: "Answers sent to GB/T 26875.3 transmission devices, by command (confirm, response, deny).",
		}, []string{"command"})),
		badTimeTags: promreg.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "estate_firepanel_bad_time_tags_total",
			Help: "Frames and records whose time tag was no date or far from the time of receipt (kept with the time of receipt), by device.",
		}, []string{"device"})),
		timeSyncs: promreg.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "estate_firepanel_time_syncs_total",
			Help: "Clock synchronisations (type 90) sent to transmission devices, by result (confirmed, denied, no_answer, error).",
		}, []string{"result"})),
	}
}

func (m *metrics) countFrameError(err error) {
	kind := "framing"
	switch err {
	case ErrChecksum:
		kind = "checksum"
	case ErrLength:
		kind = "length"
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

// Words are a fire panel's places in Chinese, as panels print them: a
// loop and address as 1回路 23号, GB/T 26875.3's systems, components and
// operators by number, the user-information transmission device and the
// panel (控制器) itself. A zone keeps the name the panel printed.
var Words = devices.SourceWords{
	"loop": "{n}回路", "address": "{n}号", "system": "{n}号系统", "component": "{n}号部件", "operator": "{n}号操作员",
	"transmission device": "用户信息传输装置", "panel": "火灾报警控制器", "zone": "{n}号防区",
}

// eventsFromRecord turns one GB/T 26875.3 record into events, through the
// panel's state. The record's Time is set (the receiver gives a record whose
// tag is no date its time of receipt); note, when not empty, says what was
// wrong with its time and goes into each event's text and attributes.
func eventsFromRecord(st *panelState, dev *devices.Info, r Record, note string) []devices.Event {
	attrs := map[string]string{"system_type": strconv.Itoa(int(r.SystemType)), "system_address": strconv.Itoa(int(r.SystemAddr))}
	text := r.Description
	if note != "" {
		attrs["time_problem"] = note
		text = strings.TrimSpace(text + " (" + note + ")")
	}
	var out []devices.Event
	mk := func(typ, source string, active bool) devices.Event {
		return devices.Event{Device: dev, Time: r.Time, Type: typ, Source: source, Active: active, Text: text, Attrs: attrs}
	}
	status := func(source string, bits []statusBit) {
		out = append(out, st.set(mk(EventTestMode, source, r.Status&(1<<testBit) == 0))...)
		for _, b := range bits {
			out = append(out, st.set(mk(b.event, source, r.Status&(1<<b.bit) != 0))...)
		}
	}
	info := func(typ, source string, more map[string]string) {
		e := mk(typ, source, true)
		e.Attrs = maps.Clone(attrs)
		maps.Copy(e.Attrs, more)
		out = append(out, e)
	}
	system := fmt.Sprintf("system %d", r.SystemAddr)
	component := fmt.Sprintf("system %d component %d", r.SystemAddr, r.ComponentAddr)
	switch r.Type {
	case TypeSystemStatus:
		if r.Status&(1<<systemResetBit) != 0 {
			return st.reset(dev, r.Time, system, "system status: reset (复位)")
		}
		status(system, systemBits)
	case TypeComponentStatus:
		attrs["component_type"] = strconv.Itoa(int(r.ComponentType))
		attrs["component_address"] = strconv.FormatUint(uint64(r.ComponentAddr), 10)
		// The component address is often loop×1000+point on panels that number so.
		status(component, componentBits)
	case TypeUITDStatus:
		status("transmission device", uitdBits)
	case TypeOperation, TypeUITDOperation:
		source, bits := fmt.Sprintf("system %d operator %d", r.SystemAddr, r.Operator), operationBits
		if r.Type == TypeUITDOperation {
			source, bits = fmt.Sprintf("transmission device operator %d", r.Operator), uitdOperationBits
			delete(attrs, "system_type")
			delete(attrs, "system_address")
		}
		for _, b := range bits {
			if r.Operation&(1<<b.bit) == 0 {
				continue
			}
			if b.event == EventReset {
				out = append(out, st.reset(dev, r.Time, source, "operation: reset (复位)")...)
				continue
			}
			e := devices.Event{Device: dev, Time: r.Time, Type: b.event, Source: source, Active: true,
				Text: strings.TrimSpace(b.label + " " + text), Attrs: maps.Clone(attrs)}
			e.Attrs["operation"] = b.label
			out = append(out, e)
		}
	case TypeComponentAnalog:
		info(EventAnalogValue, component, map[string]string{"component_type": strconv.Itoa(int(r.ComponentType)),
			"analog_type": strconv.Itoa(int(r.AnalogType)), "value": strconv.Itoa(int(r.Analog))})
	case TypeSoftwareVersion, TypeUITDVersion:
		source := system
		if r.Type == TypeUITDVersion {
			source = "transmission device"
		}
		info(EventSoftwareVersion, source, map[string]string{"version": fmt.Sprintf("%d.%d", r.Major, r.Minor)})
	case TypeSystemConfig, TypeComponentConfig, TypeUITDConfig:
		source := system
		switch r.Type {
		case TypeComponentConfig:
			source = component
		case TypeUITDConfig:
			source = "transmission device"
		}
		info(EventConfiguration, source, map[string]string{"configuration": r.Description})
	case TypeSystemTime, TypeUITDTime:
		source := system
		if r.Type == TypeUITDTime {
			source = "transmission device"
		}
		clock := "not a date: " + fmt.Sprintf("% X", r.TimeTag[:])
		if r.TimeErr == nil {
			clock = r.Clock.Format("2006-01-02 15:04:05")
		}
		info(EventDeviceClock, source, map[string]string{"clock": clock})
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
		e.Type == EventMainPowerFault || e.Type == EventBackupPowerFault || e.Type == EventPowerFault:
		if out := p.set(e); out != nil {
			return out
		}
		return nil
	}
	return []devices.Event{e} // momentary: mute, self-test …
}
