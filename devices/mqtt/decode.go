package mqtt

import (
	"bytes"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tidwall/gjson"

	"github.com/estatehq/estate/devices"
)

// decoded is what one message said: point values and named codes. Its slices
// are reused from message to message by the one goroutine that decodes.
type decoded struct {
	values  []devices.Value
	signals []signal
	found   []gjson.Result // per point of the subscription: its JSON value, when found in one pass
	// at is the device's own time of the data (Subscription.Time); zero when
	// the payload has none.
	at time.Time
}

func (d *decoded) reset() {
	d.values = d.values[:0]
	d.signals = d.signals[:0]
	d.at = time.Time{}
}

// Device times outside these bounds are not believed (a clock never set, a
// unit mistaken for another).
var (
	earliestTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	latestTime   = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

// parse reads a payload's time.
func (tm *TimeMap) parse(r gjson.Result) (time.Time, bool) {
	var t time.Time
	switch tm.Format {
	case TimeRFC3339:
		if r.Type != gjson.String {
			return t, false
		}
		var err error
		if t, err = time.Parse(time.RFC3339Nano, r.Str); err != nil {
			return t, false
		}
	default:
		var f float64
		switch r.Type {
		case gjson.Number:
			f = r.Num
		case gjson.String:
			var err error
			if f, err = strconv.ParseFloat(strings.TrimSpace(r.Str), 64); err != nil {
				return t, false
			}
		default:
			return t, false
		}
		if math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1e14 {
			return t, false
		}
		if tm.Format == TimeUnix {
			sec, frac := math.Modf(f)
			t = time.Unix(int64(sec), int64(math.Round(frac*1e9)))
		} else {
			ms, frac := math.Modf(f)
			t = time.UnixMilli(int64(ms)).Add(time.Duration(math.Round(frac * 1e6)))
		}
	}
	if t.Before(earliestTime) || !t.Before(latestTime) {
		return time.Time{}, false
	}
	return t, true
}

// signal is a code a device sent, named through its code table.
type signal struct {
	kind   string // the table's event (door_forced, fault, …), or "unknown"
	code   string
	text   string
	textZH string
	table  string
	source string
}

// problem is one thing wrong with a payload. Reasons are the label values of
// estate_mqtt_bad_messages_total.
type problem struct {
	reason string
	detail string
}

// Reasons for bad input.
const (
	reasonMalformed    = "malformed"     // not JSON, or not text
	reasonWrongType    = "wrong_type"    // a value of the wrong type or unknown enum text
	reasonUnknownCode  = "unknown_code"  // a code its table does not know
	reasonOversized    = "oversized"     // larger than mqtt.max_payload
	reasonUnknownTopic = "unknown_topic" // no configured device publishes there
	reasonFlood        = "flood"         // over the device's rate
	reasonQueueFull    = "queue_full"    // the inbound queue was full
)

// decode maps a payload through a subscription into out, and returns what was
// wrong with it. A point of the wrong type is kept with bad quality; the other
// points of the message still count.
func (s *Subscription) decode(payload []byte, tables map[string]*CodeTable, out *decoded) []problem {
	if s.Format == FormatText {
		return s.decodeText(payload, tables, out)
	}
	if !gjson.ValidBytes(payload) {
		return []problem{{reasonMalformed, "payload is not valid JSON"}}
	}
	var problems []problem
	found := s.findTopLevel(payload, out)
	for i := range s.Points {
		pt := &s.Points[i]
		var r gjson.Result
		if found != nil && s.topLevel[pt.Path] != nil {
			r = found[i]
		} else {
			r = gjson.GetBytes(payload, pt.Path)
		}
		if !r.Exists() || r.Type == gjson.Null {
			continue // messages often carry only what changed
		}
		v, ok := pt.convert(r)
		if !ok {
			out.values = append(out.values, devices.Value{Point: pt.Name, Quality: devices.Bad})
			problems = append(problems, problem{reasonWrongType, pt.Name + " at " + pt.Path + ": " + describe(r) + " is not a " + pt.Type})
			continue
		}
		out.values = append(out.values, devices.Value{Point: pt.Name, Value: v, Quality: devices.Good})
	}
	if tm := s.Time; tm != nil {
		if r := gjson.GetBytes(payload, tm.Path); r.Exists() && r.Type != gjson.Null {
			if at, ok := tm.parse(r); ok {
				out.at = at
			} else {
				problems = append(problems, problem{reasonWrongType, "time at " + tm.Path + ": " + describe(r) + " is not a " + tm.Format + " time"})
			}
		}
	}
	for i := range s.Codes {
		c := &s.Codes[i]
		r := gjson.GetBytes(payload, c.Path)
		if !r.Exists() || r.Type == gjson.Null {
			continue
		}
		code, ok := codeText(r)
		if !ok {
			problems = append(problems, problem{reasonWrongType, "code at " + c.Path + ": " + describe(r) + " is not a code"})
			continue
		}
		source := ""
		if c.SourcePath != "" {
			if sr := gjson.GetBytes(payload, c.SourcePath); sr.Exists() {
				source, _ = codeText(sr)
			}
		}
		if p, bad := c.name(code, source, tables, out); bad {
			problems = append(problems, p)
		}
	}
	return problems
}

// findTopLevel walks a JSON object's top-level keys once and picks out the
// values of the points that read them; nil when the subscription has none or
// the payload is not an object.
func (s *Subscription) findTopLevel(payload []byte, out *decoded) []gjson.Result {
	if len(s.topLevel) == 0 {
		return nil
	}
	root := gjson.Parse(string(payload))
	if !root.IsObject() {
		return nil
	}
	if cap(out.found) < len(s.Points) {
		out.found = make([]gjson.Result, len(s.Points))
	}
	found := out.found[:len(s.Points)]
	clear(found)
	root.ForEach(func(key, value gjson.Result) bool {
		for _, i := range s.topLevel[key.Str] {
			if !found[i].Exists() { // the first of duplicate keys, as a path lookup would
				found[i] = value
			}
		}
		return true
	})
	return found
}

func (s *Subscription) decodeText(payload []byte, tables map[string]*CodeTable, out *decoded) []problem {
	text := string(bytes.TrimSpace(payload))
	if !utf8.ValidString(text) || strings.ContainsRune(text, 0) {
		return []problem{{reasonMalformed, "text payload is not UTF-8 text"}}
	}
	r := gjson.Result{Type: gjson.String, Str: text}
	if f, err := strconv.ParseFloat(text, 64); err == nil {
		r = gjson.Result{Type: gjson.Number, Num: f, Raw: text}
	}
	if len(s.Points) == 1 {
		pt := &s.Points[0]
		v, ok := pt.convert(r)
		if !ok {
			out.values = append(out.values, devices.Value{Point: pt.Name, Quality: devices.Bad})
			return []problem{{reasonWrongType, pt.Name + ": " + describe(r) + " is not a " + pt.Type}}
		}
		out.values = append(out.values, devices.Value{Point: pt.Name, Value: v, Quality: devices.Good})
		return nil
	}
	c := &s.Codes[0]
	if p, bad := c.name(text, "", tables, out); bad {
		return []problem{p}
	}
	return nil
}

// name looks a code up in its table and records the signal (and the code point).
func (c *CodeMap) name(code, source string, tables map[string]*CodeTable, out *decoded) (problem, bool) {
	if c.Point != "" {
		if v, ok := codeNumber(code); ok {
			out.values = append(out.values, devices.Value{Point: c.Point, Value: v, Quality: devices.Good})
		}
	}
	t := tables[c.Table]
	if t == nil {
		return problem{reasonUnknownCode, "code table " + c.Table + " is not loaded"}, true
	}
	entry, ok := t.Codes[code]
	if !ok {
		out.signals = append(out.signals, signal{kind: "unknown", code: code, table: c.Table, source: source,
			text: "code " + code + " is not in table " + c.Table, textZH: "代码 " + code + " 不在代码表 " + c.Table + " 中"})
		return problem{reasonUnknownCode, "code " + strconv.Quote(code) + " is not in table " + c.Table}, true
	}
	out.signals = append(out.signals, signal{kind: entry.Event, code: code, text: entry.Text, textZH: entry.ZH, table: c.Table, source: source})
	return problem{}, false
}

// convert turns a JSON value into the point's number.
func (pt *PointMap) convert(r gjson.Result) (float64, bool) {
	var v float64
	switch pt.Type {
	case TypeNumber:
		switch r.Type {
		case gjson.Number:
			v = r.Num
		case gjson.String:
			f, err := strconv.ParseFloat(strings.TrimSpace(r.Str), 64)
			if err != nil {
				return 0, false
			}
			v = f
		default:
			return 0, false
		}
	case TypeBool:
		b, ok := boolean(r)
		if !ok {
			return 0, false
		}
		if b {
			v = 1
		}
	case TypeEnum:
		switch r.Type {
		case gjson.String:
			f, ok := pt.Values[r.Str]
			if !ok {
				f, ok = pt.Values[strings.ToLower(r.Str)]
			}
			if !ok {
				return 0, false
			}
			return f, true // enum values are not scaled
		case gjson.Number:
			return r.Num, true
		default:
			return 0, false
		}
	}
	v = v*pt.Scale + pt.Offset
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, false
	}
	return v, true
}

func boolean(r gjson.Result) (bool, bool) {
	switch r.Type {
	case gjson.True:
		return true, true
	case gjson.False:
		return false, true
	case gjson.Number:
		switch r.Num {
		case 0:
			return false, true
		case 1:
			return true, true
		}
	case gjson.String:
		switch strings.ToLower(strings.TrimSpace(r.Str)) {
		case "true", "on", "yes", "1":
			return true, true
		case "false", "off", "no", "0":
			return false, true
		}
	}
	return false, false
}

// codeText is a code as its table writes it: integers without a decimal point.
func codeText(r gjson.Result) (string, bool) {
	switch r.Type {
	case gjson.Number:
		if r.Num == math.Trunc(r.Num) && math.Abs(r.Num) < 1e15 {
			return strconv.FormatInt(int64(r.Num), 10), true
		}
		return strconv.FormatFloat(r.Num, 'f', -1, 64), true
	case gjson.String:
		return strings.TrimSpace(r.Str), true
	}
	return "", false
}

// codeNumber is the number in a code: "38" → 38, "Err41" → 41, "E07" → 7.
func codeNumber(code string) (float64, bool) {
	i := len(code)
	for i > 0 && code[i-1] >= '0' && code[i-1] <= '9' {
		i--
	}
	if i == len(code) || len(code)-i > 15 {
		return 0, false
	}
	n, err := strconv.ParseInt(code[i:], 10, 64)
	return float64(n), err == nil
}

// describe is a short, safe rendering of a value for a problem message.
func describe(r gjson.Result) string {
	raw := r.Raw
	if raw == "" {
		raw = r.Str
	}
	if len(raw) > 40 {
		raw = raw[:40] + "…"
	}
	return r.Type.String() + " " + raw
}
