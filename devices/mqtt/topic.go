package mqtt

import (
	"fmt"
	"strings"
)

// topicTemplate is a topic with placeholders, such as
// estate/{site}/elevator/{device}/state. Placeholders fill whole levels; the
// ones known when the gateway starts ({site}, {gateway}) become literals, the
// others ({device}, {building}, …) become '+' in the subscription filter, and
// {device} is what a received topic is matched back to a device by.
type topicTemplate struct {
	raw    string
	levels []topicLevel
	// deviceLevel is the index of the {device} level, -1 when there is none
	// (the topic then belongs to one device alone).
	deviceLevel int
}

type topicLevel struct {
	literal string // when not a placeholder
	name    string // placeholder name without braces; "+" or "#" for wildcards
}

func (l topicLevel) isLiteral() bool { return l.name == "" }

// compileTopic parses a template; fixed holds the placeholders known now.
func compileTopic(raw string, fixed map[string]string) (*topicTemplate, error) {
	if raw == "" {
		return nil, fmt.Errorf("empty topic")
	}
	if strings.HasPrefix(raw, "$") {
		return nil, fmt.Errorf("topic %q: topics starting with $ belong to the broker", raw)
	}
	t := &topicTemplate{raw: raw, deviceLevel: -1}
	parts := strings.Split(raw, "/")
	for i, p := range parts {
		switch {
		case p == "#":
			if i != len(parts)-1 {
				return nil, fmt.Errorf("topic %q: '#' may only be the last level", raw)
			}
			t.levels = append(t.levels, topicLevel{name: "#"})
		case p == "+":
			t.levels = append(t.levels, topicLevel{name: "+"})
		case strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}"):
			name := p[1 : len(p)-1]
			if name == "" || strings.ContainsAny(name, "{}+#") {
				return nil, fmt.Errorf("topic %q: bad placeholder %q", raw, p)
			}
			if v, ok := fixed[name]; ok {
				t.levels = append(t.levels, topicLevel{literal: v})
				continue
			}
			if name == "device" {
				if t.deviceLevel >= 0 {
					return nil, fmt.Errorf("topic %q: {device} appears twice", raw)
				}
				t.deviceLevel = i
			}
			t.levels = append(t.levels, topicLevel{name: name})
		case strings.ContainsAny(p, "{}+#"):
			return nil, fmt.Errorf("topic %q: level %q mixes text with a placeholder or wildcard; a placeholder must be a whole level", raw, p)
		default:
			t.levels = append(t.levels, topicLevel{literal: p})
		}
	}
	return t, nil
}

// filter is the subscription filter: placeholders become '+'.
func (t *topicTemplate) filter() string {
	var b strings.Builder
	for i, l := range t.levels {
		if i > 0 {
			b.WriteByte('/')
		}
		switch {
		case l.isLiteral():
			b.WriteString(l.literal)
		case l.name == "#":
			b.WriteByte('#')
		default:
			b.WriteByte('+')
		}
	}
	return b.String()
}

// expand fills the placeholders; a missing one is an error (publishers need
// a concrete topic).
func (t *topicTemplate) expand(vars map[string]string) (string, error) {
	var b strings.Builder
	for i, l := range t.levels {
		if i > 0 {
			b.WriteByte('/')
		}
		if l.isLiteral() {
			b.WriteString(l.literal)
			continue
		}
		v, ok := vars[l.name]
		if !ok || v == "" {
			return "", fmt.Errorf("topic %q: no value for {%s}", t.raw, l.name)
		}
		b.WriteString(v)
	}
	return b.String(), nil
}

// match reports whether a received topic fits the template and returns the
// value of its {device} level ("" when it has none). It does not allocate.
func (t *topicTemplate) match(topic string) (device string, ok bool) {
	start := 0 // where the next level begins; past len(topic) once all are used
	for i, l := range t.levels {
		if l.name == "#" {
			return device, true // also matches the parent level itself, as MQTT says
		}
		if start > len(topic) {
			return "", false
		}
		var level string
		if end := strings.IndexByte(topic[start:], '/'); end >= 0 {
			level, start = topic[start:start+end], start+end+1
		} else {
			level, start = topic[start:], len(topic)+1
		}
		switch {
		case l.isLiteral():
			if level != l.literal {
				return "", false
			}
		case i == t.deviceLevel:
			if level == "" {
				return "", false
			}
			device = level
		}
	}
	if start <= len(topic) {
		return "", false // the topic has more levels than the template
	}
	return device, true
}
