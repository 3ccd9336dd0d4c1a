package firepanel

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/estatehq/estate/devices"
)

// EventUnknownLine is a CRT line that no template matched, kept raw.
const EventUnknownLine = "unknown_line"

// knownEvents are the event types a template may produce.
var knownEvents = []string{EventFireAlarm, EventFault, EventSupervisory, EventDisabled, EventRestore,
	EventReset, EventMainPowerFault, EventBackupPowerFault, "mute", "self_test", "manual_alarm", "acknowledge"}

// Template describes the text lines one panel model prints on its CRT or
// printer port: regular expressions with named groups.
type Template struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	Protocol    string `yaml:"protocol"` // must be "fire_crt"
	Source      string `yaml:"source"`
	// Encoding of the line: gb18030 (the default; GBK and GB 2312 are subsets) or utf-8.
	Encoding string `yaml:"encoding"`
	// TimeLayout is the Go layout of the time group ("2006-01-02 15:04:05").
	// A layout without a year takes the current one.
	TimeLayout string `yaml:"time_layout"`
	Lines      []Line `yaml:"lines"`
	// Samples are real lines of this format with what they must give, checked
	// when the template loads (and documenting the format).
	Samples []Sample `yaml:"samples"`
}

// Line is one line pattern. Named groups: kind (looked up in kinds), loop,
// address, zone, time, text; others become event attributes.
type Line struct {
	Pattern string          `yaml:"pattern"`
	Event   string          `yaml:"event"`
	Active  *bool           `yaml:"active"`
	Kinds   map[string]Kind `yaml:"kinds"`

	re *regexp.Regexp
}

// Kind maps the text of the kind group to an event.
type Kind struct {
	Event  string `yaml:"event"`
	Active *bool  `yaml:"active"`
}

// Sample is a documented line and the event type it gives.
type Sample struct {
	Line   string `yaml:"line"`
	Event  string `yaml:"event"`
	Source string `yaml:"source"`
	Active bool   `yaml:"active"`
}

// templates reads the line templates named by devices, each file once.
var templates = devices.NewProfileLoader("template", ParseTemplate)

// LoadTemplate reads and checks a template file (parsed once while it is unchanged).
func LoadTemplate(path string) (*Template, error) { return templates.LoadFile(path) }

// TemplatePath is where a named template lives in a profiles folder.
func TemplatePath(dir, name string) string { return devices.ProfilePath(dir, name) }

// ParseTemplate decodes and checks template text, samples included.
func ParseTemplate(name string, data []byte) (*Template, error) {
	var t Template
	if err := devices.DecodeProfile(data, &t); err != nil {
		return nil, fmt.Errorf("template %s: %w", name, err)
	}
	if err := t.normalise(); err != nil {
		return nil, fmt.Errorf("template %s: %w", name, err)
	}
	return &t, nil
}

func (t *Template) normalise() error {
	var errs []error
	if t.Name == "" {
		errs = append(errs, errors.New("name: required"))
	}
	if t.Protocol != ProtocolCRT {
		errs = append(errs, fmt.Errorf("protocol: must be %q for a CRT line template", ProtocolCRT))
	}
	t.Encoding = strings.ToLower(t.Encoding)
	switch t.Encoding {
	case "":
		t.Encoding = "gb18030"
	case "gb18030", "gbk", "gb2312", "utf-8":
	default:
		errs = append(errs, fmt.Errorf("encoding: %q is not gb18030, gbk, gb2312 or utf-8", t.Encoding))
	}
	if len(t.Lines) == 0 {
		errs = append(errs, errors.New("lines: at least one pattern is required"))
	}
	for i := range t.Lines {
		l := &t.Lines[i]
		re, err := regexp.Compile(l.Pattern)
		if err != nil {
			errs = append(errs, fmt.Errorf("lines[%d].pattern: %w", i, err))
			continue
		}
		l.re = re
		hasKind := slices.Contains(re.SubexpNames(), "kind")
		switch {
		case l.Event == "" && !hasKind:
			errs = append(errs, fmt.Errorf("lines[%d]: give event, or a (?P<kind>…) group with kinds", i))
		case l.Event != "" && !slices.Contains(knownEvents, l.Event):
			errs = append(errs, fmt.Errorf("lines[%d].event: %q is not one of %s", i, l.Event, strings.Join(knownEvents, ", ")))
		case hasKind && len(l.Kinds) == 0:
			errs = append(errs, fmt.Errorf("lines[%d].kinds: the kind group needs its kinds", i))
		}
		for text, k := range l.Kinds {
			if !slices.Contains(knownEvents, k.Event) {
				errs = append(errs, fmt.Errorf("lines[%d].kinds[%s].event: %q is not one of %s", i, text, k.Event, strings.Join(knownEvents, ", ")))
			}
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	p := &LineParser{tmpl: t, Loc: time.UTC}
	for i, s := range t.Samples {
		e := p.ParseText(s.Line, time.Now())
		if e.Type != s.Event || e.Active != s.Active || (s.Source != "" && e.Source != s.Source) {
			errs = append(errs, fmt.Errorf("samples[%d]: %q gives %s active=%v source %q, want %s active=%v source %q",
				i, s.Line, e.Type, e.Active, e.Source, s.Event, s.Active, s.Source))
		}
	}
	return errors.Join(errs...)
}

// LineParser turns CRT lines into events with a template.
type LineParser struct {
	tmpl *Template
	// Loc is the panel clock's time zone (the site's).
	Loc *time.Location
	// Device is set on the events.
	Device *devices.Info
}

// NewLineParser returns a parser for a checked template.
func NewLineParser(t *Template, dev *devices.Info, loc *time.Location) *LineParser {
	if loc == nil {
		loc = time.Local
	}
	return &LineParser{tmpl: t, Device: dev, Loc: loc}
}

// Parse turns one line (without its line end, in the template's encoding)
// into an event. A line no pattern matches comes back as an unknown_line event
// with the text kept: nothing the panel prints is dropped.
func (p *LineParser) Parse(raw []byte, received time.Time) devices.Event {
	return p.ParseText(p.decode(raw), received)
}

// ParseText is Parse for a line already decoded to UTF-8.
func (p *LineParser) ParseText(text string, received time.Time) devices.Event {
	line := strings.TrimSpace(text)
	e := devices.Event{Device: p.Device, Time: received, Type: EventUnknownLine, Text: line}
	for i := range p.tmpl.Lines {
		l := &p.tmpl.Lines[i]
		m := l.re.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		typ, active := l.Event, true
		if l.Active != nil {
			active = *l.Active
		}
		attrs := map[string]string{}
		var loop, addr, zone string
		for gi, name := range l.re.SubexpNames() {
			if name == "" || m[gi] == "" {
				continue
			}
			v := strings.TrimSpace(m[gi])
			switch name {
			case "kind":
				k, ok := l.Kinds[v]
				if !ok {
					typ = ""
					break
				}
				typ = k.Event
				if k.Active != nil {
					active = *k.Active
				}
			case "loop":
				loop = strings.TrimLeft(v, "0")
			case "address":
				addr = strings.TrimLeft(v, "0")
			case "zone":
				zone = v
			case "time":
				if t, ok := p.parseTime(v, received); ok {
					e.Time = t
				} else {
					attrs["time_raw"] = v
				}
				continue
			}
			attrs[name] = v
		}
		if typ == "" {
			continue // a kind this pattern does not know: try the next one
		}
		if typ == EventRestore {
			active = false
		}
		switch {
		case loop != "" || addr != "":
			e.Source = fmt.Sprintf("loop %s address %s", orZero(loop), orZero(addr))
		case zone != "":
			e.Source = zone
		default:
			e.Source = "panel"
		}
		e.Type, e.Active, e.Attrs = typ, active, attrs
		return e
	}
	return e
}

func orZero(s string) string {
	if s == "" {
		return "0"
	}
	return s
}

func (p *LineParser) decode(raw []byte) string {
	if p.tmpl.Encoding == "utf-8" || !hasHighBytes(raw) {
		return strings.ToValidUTF8(string(raw), "\uFFFD")
	}
	s, err := simplifiedchinese.GB18030.NewDecoder().Bytes(raw)
	if err != nil {
		return strings.ToValidUTF8(string(raw), "\uFFFD")
	}
	return string(s)
}

func hasHighBytes(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return true
		}
	}
	return false
}

func (p *LineParser) parseTime(v string, received time.Time) (time.Time, bool) {
	if p.tmpl.TimeLayout == "" {
		return time.Time{}, false
	}
	t, err := time.ParseInLocation(p.tmpl.TimeLayout, v, p.Loc)
	if err != nil {
		return time.Time{}, false
	}
	if t.Year() == 0 {
		r := received.In(p.Loc)
		t = t.AddDate(r.Year(), 0, 0)
		if t.After(r.Add(24 * time.Hour)) { // a December line read in January
			t = t.AddDate(-1, 0, 0)
		}
	}
	return t, true
}
