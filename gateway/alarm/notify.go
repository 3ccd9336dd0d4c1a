package alarm

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/estatehq/estate/internal/wire"
)

// Messages renders the rule's message in Chinese and English, with the
// reading time in loc (the site's time zone; UTC when nil).
func (t Transition) Messages(loc *time.Location) (zh, en string) {
	f := t.fields(loc)
	m := t.Rule.Message
	en = render(m.EN, f)
	// The Chinese message tells the device's words in Chinese where there
	// are some (a code table's zh, the engine's own evidence).
	fzh := f.zh()
	zh = render(m.ZH, fzh)
	if en == "" {
		en = render(defaultMessage(t), f)
	}
	if zh == "" {
		if m.EN == "" {
			zh = render(defaultMessage(t), fzh)
		} else {
			zh = en
		}
	}
	return zh, en
}

func (t Transition) fields(loc *time.Location) fields {
	if loc == nil {
		loc = time.UTC
	}
	return fields{site: t.Device.Site, device: t.Device.ID, building: t.Device.Building, floor: t.Device.Floor,
		unit: t.Device.Unit, point: t.Point, value: t.Value, valueUnit: t.Device.Units[t.Point],
		at: t.At.In(loc), source: t.Source, sourceZH: t.SourceZH, text: t.Text, textZH: t.TextZH, feeder: t.Feeder}
}

// zh are the fields for a Chinese template: the device's words and the
// place on it in Chinese where there are some (a code table's zh, the
// family's name for the source: 3号门 for "door 3"), else as they are.
func (f fields) zh() fields {
	if f.textZH != "" {
		f.text = f.textZH
	}
	if f.sourceZH != "" {
		f.source = f.sourceZH
	}
	return f
}

func defaultMessage(t Transition) string {
	switch {
	case t.Feeder != "":
		return "{feeder}: " + t.Rule.Name + ": {text}"
	case t.Source != "":
		return "{device} ({source}): " + t.Rule.Name + " {text}"
	case t.Point != "":
		return "{device}: " + t.Rule.Name + " ({point} = {value} {value_unit})"
	}
	return "{device}: " + t.Rule.Name
}

// Title is the ticket title: the rule's title, else its Chinese message.
func (t Transition) Title(loc *time.Location) string {
	title, _ := t.Messages(loc)
	if t.Rule.Title != "" {
		// The title is Chinese (title_en is the English one): it names the
		// place in Chinese, as the message does.
		title = render(t.Rule.Title, t.fields(loc).zh())
	}
	return truncate(title, 200)
}

// TitleEN is the ticket title in English: the rule's title_en, else its
// English message; none when the rule writes only a title of its own (one
// template, shown in both languages).
func (t Transition) TitleEN(loc *time.Location) string {
	if t.Rule.TitleEN != "" {
		return truncate(render(t.Rule.TitleEN, t.fields(loc)), 200)
	}
	if t.Rule.Title != "" {
		return ""
	}
	_, en := t.Messages(loc)
	return truncate(en, 200)
}

// Summary is what the alarm says, one line in each language, for its
// history: the rule's messages, or for a rule that writes only titles, its
// title and title_en (a rule without messages would otherwise say
// "meter-1: prepaid_low_balance (balance = 9.99 CNY)" in both).
func (t Transition) Summary(loc *time.Location) (zh, en string) {
	zh, en = t.Messages(loc)
	if t.Rule.Message.ZH == "" && t.Rule.Title != "" {
		zh = t.Title(loc)
	}
	if t.Rule.Message.EN == "" {
		if te := t.TitleEN(loc); te != "" {
			en = te
		}
	}
	return zh, en
}

// truncate cuts s to at most n bytes on a character boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// descriptions are the ticket's description in Chinese and in English:
// the rule's message, whether it fired while suppressed, the device's last
// error, the outage evidence, and the alarm's key, rule and severity. The
// English console and channels show the English one (description_en).
func (t Transition) descriptions(zh, en string) (string, string) {
	var d, e strings.Builder
	fmt.Fprintf(&d, "%s\n", zh)
	fmt.Fprintf(&e, "%s\n", en)
	if t.Late {
		d.WriteString("(告警在抑制期间触发, 抑制结束后仍在)\n")
		e.WriteString("(raised while suppressed and still firing when the suppression ended)\n")
	}
	if t.LastError != "" {
		// The device's error is its driver's words (English) in both.
		last := truncate(t.LastError, 500)
		fmt.Fprintf(&d, "最后的错误: %s\n", last)
		fmt.Fprintf(&e, "last error: %s\n", last)
	}
	if t.Evidence != "" {
		fmt.Fprintf(&d, "%s\n", t.Evidence)
		fmt.Fprintf(&e, "%s\n", cmp.Or(t.EvidenceEN, t.Evidence))
	}
	fmt.Fprintf(&d, "告警 %s, 规则 %s, 级别 %s", t.Key, t.Rule.Name, t.Rule.Severity)
	fmt.Fprintf(&e, "alarm %s, rule %s, severity %s", t.Key, t.Rule.Name, t.Rule.Severity)
	return d.String(), e.String()
}

// Actions are what a transition asks of the desk, each with an idempotency
// key derived from the alarm episode: open its ticket when it fires, note the
// clearing (closing a top-up reminder) when it resolves. Suppressed alarms
// and rules without a ticket ask nothing.
func Actions(t Transition, loc *time.Location) []wire.AlarmAction {
	if !t.Ticket {
		return nil
	}
	if loc == nil {
		loc = time.UTC
	}
	zh, en := t.Messages(loc)
	at := t.At.In(loc).Format("2006-01-02 15:04:05")
	switch t.State {
	case StateFiring:
		d := t.Device
		// A rule that writes only titles is described by them, not by the
		// default message's rule name and point.
		desc, descEN := t.descriptions(t.Summary(loc))
		n := &wire.NewTicket{
			Kind:          wire.Kind(t.Rule.Ticket),
			Category:      t.Rule.Category,
			Priority:      t.Rule.Priority,
			Title:         t.Title(loc),
			TitleEN:       t.TitleEN(loc),
			Description:   desc,
			DescriptionEN: descEN,
			Site:          d.Site,
			Building:      d.Building,
			Floor:         d.Floor,
			Unit:          d.Unit,
			Device:        d.ID,
			AlarmKey:      t.Key,
			Source:        wire.SourceDeviceAlarm,
		}
		if t.Feeder != "" || t.Group != "" {
			n.Device = "" // not a device: a feeder, or a silent gateway, bus or endpoint
		}
		if n.Kind == wire.TopUp && n.Device != "" {
			// The meter's family (meter: electricity, water) is the
			// reminder's category: a household has one open reminder per
			// kind of meter, and the assistants see which to top up.
			n.Category = d.Family
		}
		if t.Point != "" {
			n.Reading = &wire.Reading{Point: t.Point, Value: t.Value, Unit: d.Units[t.Point], At: t.At}
		}
		return []wire.AlarmAction{{
			IdempotencyKey: t.Episode + "/open", AlarmKey: t.Key, Action: wire.ActionOpen, Ticket: n, At: t.At,
			Note: fmt.Sprintf("告警再次触发 %s: %s / alarm raised again at %s: %s", at, zh, at, en),
		}}
	case StateJoined:
		return []wire.AlarmAction{{
			IdempotencyKey: t.Episode + "/join/" + t.Joined + "@" + strconv.FormatInt(t.At.UnixNano(), 10),
			AlarmKey:       t.Key, Action: wire.ActionNote, At: t.At,
			Note: truncate(fmt.Sprintf("%s 传感器 %s 也检测到水 / sensor %s detects water too at %s. %s",
				at, t.Joined, t.Joined, at, t.Text), 4000),
		}}
	case StateResolved:
		closeIt := t.Rule.Ticket == string(wire.TopUp)
		note := fmt.Sprintf("告警已恢复 %s / alarm cleared at %s", at, at)
		if t.Point != "" {
			note += fmt.Sprintf(" (%s = %s %s)", t.Point, FormatValue(t.Value), t.Device.Units[t.Point])
		}
		if closeIt {
			note += "; 余额已恢复, 提醒自动关闭 / balance back above the clear level, reminder closed automatically"
		}
		return []wire.AlarmAction{{
			IdempotencyKey: t.Episode + "/clear", AlarmKey: t.Key, Action: wire.ActionClear,
			Note: note, Close: closeIt, At: t.At,
		}}
	}
	return nil
}
