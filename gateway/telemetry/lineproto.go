package telemetry

import (
	"math"
	"strconv"
	"time"

	"github.com/estatehq/estate/devices"
)

// The encoder writes InfluxDB line protocol straight from a reading into a
// byte slice: the spool stores these bytes and the writer sends them as they
// are, so a point is encoded once, without building a client Point (which
// costs several allocations per field).

// AppendReading encodes a reading as one point of its family's measurement:
// tags site, device, model, building, unit (the last two when set), one float
// field per point of good quality, and the string field quality ("good", or
// "bad" when any point did not decode). A value InfluxDB cannot store (NaN,
// ±Inf) is left out and makes the quality bad.
func AppendReading(b []byte, r devices.Reading) []byte {
	d := r.Device
	b = appendMeasurement(b, d.Family)
	b = appendTag(b, "building", d.Building)
	b = appendTag(b, "device", d.ID)
	b = appendTag(b, "model", d.Model)
	b = appendTag(b, "site", d.Site)
	b = appendTag(b, "unit", d.Unit)
	b = append(b, ' ')
	quality := devices.Good
	for _, v := range r.Values {
		if v.Quality != devices.Good || !v.IsText && (math.IsNaN(v.Value) || math.IsInf(v.Value, 0)) {
			quality = devices.Bad
			continue
		}
		b = appendKey(b, v.Point)
		b = append(b, '=')
		if v.IsText {
			b = appendString(b, v.Text)
		} else {
			b = appendValue(b, v.Value)
		}
		b = append(b, ',')
	}
	b = append(b, `quality="`...)
	b = append(b, quality.String()...)
	b = append(b, '"')
	return appendTime(b, r.Time)
}

// appendValue writes a point's value. Most meters send IEEE float32: such a
// value, widened to float64, would print as 230.10000610351562; it is written
// as the shortest decimal that reads back as the same float32 (230.1), which
// is what the meter meant, takes half the bytes, and formats faster. Other
// values (scaled integers, doubles) keep every digit float64 needs.
func appendValue(b []byte, v float64) []byte {
	if f := float32(v); float64(f) == v {
		return strconv.AppendFloat(b, v, 'g', -1, 32)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

// AppendAlarm encodes an alarm transition: measurement alarm, tags site,
// device, rule, severity, building; fields state, value and the rule's
// messages (message_zh, message_en, when set), which a device's alarm
// history shows in the reader's language rather than the rule's id.
func AppendAlarm(b []byte, d *devices.Info, rule, state, severity, zh, en string, value float64, at time.Time) []byte {
	b = appendMeasurement(b, "alarm")
	b = appendTag(b, "building", d.Building)
	b = appendTag(b, "device", d.ID)
	b = appendTag(b, "rule", rule)
	b = appendTag(b, "severity", severity)
	b = appendTag(b, "site", d.Site)
	b = append(b, ` state=`...)
	b = appendString(b, state)
	if !math.IsNaN(value) && !math.IsInf(value, 0) {
		b = append(b, ",value="...)
		b = strconv.AppendFloat(b, value, 'g', -1, 64)
	}
	if zh != "" {
		b = append(b, ",message_zh="...)
		b = appendString(b, zh)
	}
	if en != "" {
		b = append(b, ",message_en="...)
		b = appendString(b, en)
	}
	return appendTime(b, at)
}

// AppendEvent encodes a device event: measurement event, tags site, device,
// type, building; fields active, source and text (when set).
func AppendEvent(b []byte, e devices.Event) []byte {
	d := e.Device
	b = appendMeasurement(b, "event")
	b = appendTag(b, "building", d.Building)
	b = appendTag(b, "device", d.ID)
	b = appendTag(b, "site", d.Site)
	// The source (zone, loop and address, door) is a tag: two events of one
	// type at the same instant from different sources (a reset clearing
	// several zones) are different points, not one overwriting the other.
	// Its values are bounded by the device's wiring.
	b = appendTag(b, "source", e.Source)
	b = appendTag(b, "type", e.Type)
	b = append(b, " active="...)
	b = strconv.AppendBool(b, e.Active)
	if e.Text != "" {
		b = append(b, ",text="...)
		b = appendString(b, e.Text)
	}
	return appendTime(b, e.Time)
}

func appendTime(b []byte, t time.Time) []byte {
	b = append(b, ' ')
	return strconv.AppendInt(b, t.UnixNano(), 10)
}

func appendMeasurement(b []byte, s string) []byte {
	if s == "" {
		s = "unknown"
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case ',', ' ':
			b = append(b, '\\', c)
		case '\n', '\r', '\t':
			b = append(b, '\\', ' ') // line protocol has no escape for these
		default:
			b = append(b, c)
		}
	}
	return b
}

// appendTag writes ",key=value"; InfluxDB does not store empty tag values, so
// an empty one is left out.
func appendTag(b []byte, key, value string) []byte {
	if value == "" {
		return b
	}
	b = append(b, ',')
	b = appendKey(b, key)
	b = append(b, '=')
	return appendKey(b, value)
}

// appendKey escapes a tag key, tag value or field key.
func appendKey(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case ',', '=', ' ':
			b = append(b, '\\', c)
		case '\n', '\r', '\t':
			b = append(b, '\\', ' ')
		default:
			b = append(b, c)
		}
	}
	if len(s) > 0 && s[len(s)-1] == '\\' {
		b = append(b, '\\', ' ') // a lone trailing backslash would escape what follows
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
