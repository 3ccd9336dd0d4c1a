package mqtt

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/estatehq/estate/devices"
	pointnames "github.com/estatehq/estate/devices/points"
)

// Profile says how one kind of MQTT device talks: which topics it publishes
// on, how their payloads map to points and event codes, and how its presence
// shows. Profiles are data under configs/profiles/ (protocol: mqtt), so a new
// monitoring box or controller needs YAML, not code.
type Profile struct {
	devices.ProfileHeader `yaml:",inline"` // protocol: mqtt
	// Silence is how long a device may say nothing before it is offline, unless
	// its retained status says online. Default 60s.
	Silence time.Duration `yaml:"silence"`
	// EntrapmentAfter is the elevator default (30s) for devices that set none.
	EntrapmentAfter time.Duration `yaml:"entrapment_after"`
	// HeldOpenAfter is the door default (60s) for devices that set none.
	HeldOpenAfter time.Duration `yaml:"held_open_after"`
	// InvalidCardBurst raises invalid_card_burst when this many invalid cards
	// arrive within InvalidCardWindow (defaults 5 within 60s).
	InvalidCardBurst  int           `yaml:"invalid_card_burst"`
	InvalidCardWindow time.Duration `yaml:"invalid_card_window"`

	Presence      Presence       `yaml:"presence"`
	Subscriptions []Subscription `yaml:"subscriptions"`

	// tables are the code tables the subscriptions name, loaded with the profile.
	tables map[string]*CodeTable
	dir    string
}

// Presence is how a device tells whether it is there, besides publishing.
type Presence struct {
	// StatusTopic carries a retained status, typically set to "offline" by the
	// device's last will; StatusPath picks it out of a JSON payload.
	StatusTopic string   `yaml:"status_topic"`
	StatusPath  string   `yaml:"status_path"`
	Online      []string `yaml:"online"`  // default online, 1, true, connected
	Offline     []string `yaml:"offline"` // default offline, 0, false, disconnected, lost
	// BirthTopic and DeathTopic, Sparkplug style (spBv1.0/{group}/NBIRTH/{device}):
	// any message on them means online, respectively offline.
	BirthTopic string `yaml:"birth_topic"`
	DeathTopic string `yaml:"death_topic"`
}

// Subscription maps one topic template to points and event codes.
type Subscription struct {
	Topic  string     `yaml:"topic"`
	QoS    *int       `yaml:"qos"`
	Format string     `yaml:"format"` // json (default) or text
	Points []PointMap `yaml:"points"`
	Codes  []CodeMap  `yaml:"codes"`
	// Time, when set, is where a JSON payload carries the device's own time
	// of its data: the reading is stamped with it instead of the time it
	// arrived, so that a message the broker delivers twice (QoS 1 resends
	// one whose PUBACK it never got) is the same point in InfluxDB, not two.
	Time  *TimeMap `yaml:"time"`
	topic *topicTemplate
	// topLevel maps a top-level JSON key to the points read from it, so that a
	// flat payload is walked once instead of once per point.
	topLevel map[string][]int
}

// PointMap takes one point from a payload.
type PointMap struct {
	Name string `yaml:"name"`
	// Path is a JSON path (car.floor, doors.0.open); empty for text payloads.
	Path string `yaml:"path"`
	// Type: number (numbers, or numeric strings), bool (true/false, 1/0,
	// on/off), or enum (strings mapped through Values).
	Type   string             `yaml:"type"`
	Values map[string]float64 `yaml:"values"`
	Scale  float64            `yaml:"scale"`
	Offset float64            `yaml:"offset"`
	Unit   string             `yaml:"unit"`
	// Names are what the console calls it, over devices/points' catalogue.
	pointnames.Names `yaml:",inline"`
}

// CodeMap takes an event or fault code from a payload and names it through a
// code table.
type CodeMap struct {
	Path  string `yaml:"path"`  // JSON path of the code; empty for text payloads
	Table string `yaml:"table"` // codes/<table>.yaml beside the profile
	// SourcePath picks where on the device it happened (a door number).
	SourcePath string `yaml:"source_path"`
	// Point, when set, also records a numeric code as a point (fault_code).
	Point string `yaml:"point"`
}

// Point types.
const (
	TypeNumber = "number"
	TypeBool   = "bool"
	TypeEnum   = "enum"
)

// TimeMap says where and how a payload writes its time.
type TimeMap struct {
	Path string `yaml:"path"`
	// Format is unix_ms (default: milliseconds since 1970), unix (seconds,
	// fractions allowed) or rfc3339 (text with a zone, fractions allowed).
	Format string `yaml:"format"`
}

// Time formats.
const (
	TimeUnixMS  = "unix_ms"
	TimeUnix    = "unix"
	TimeRFC3339 = "rfc3339"
)

var timeFormats = []string{TimeUnixMS, TimeUnix, TimeRFC3339}

// Payload formats.
const (
	FormatJSON = "json"
	FormatText = "text"
)

var (
	pointTypes = []string{TypeNumber, TypeBool, TypeEnum}
	formats    = []string{FormatJSON, FormatText}
)

// loader reads the profiles named by devices, each file once.
var loader = devices.NewProfileLoader("mqtt profile", parseFile)

// LoadProfile reads a profile and the code tables it names (parsed once
// while the profile is unchanged).
func LoadProfile(path string) (*Profile, error) { return loader.LoadFile(path) }

// parseFile decodes a profile file's text and loads the code tables it names,
// which live beside it.
func parseFile(path string, data []byte) (*Profile, error) {
	p, err := ParseProfile(path, data)
	if err != nil {
		return nil, err
	}
	p.dir = filepath.Dir(path)
	if err := p.loadTables(); err != nil {
		return nil, fmt.Errorf("mqtt profile %s: %w", path, err)
	}
	return p, nil
}

// ProfilePath is where a named profile lives in a profiles folder.
func ProfilePath(dir, name string) string { return devices.ProfilePath(dir, name) }

// ParseProfile decodes and checks profile text (without loading code tables).
func ParseProfile(name string, data []byte) (*Profile, error) {
	var p Profile
	if err := devices.DecodeProfile(data, &p); err != nil {
		return nil, fmt.Errorf("mqtt profile %s: %w", name, err)
	}
	if err := p.normalise(); err != nil {
		return nil, fmt.Errorf("mqtt profile %s: %w", name, err)
	}
	for i, sub := range p.Subscriptions {
		if err := pointnames.CheckNames(sub.Points, func(pt PointMap) string { return pt.Name }, func(pt PointMap) pointnames.Names { return pt.Names }); err != nil {
			return nil, fmt.Errorf("mqtt profile %s: subscriptions[%d]: %w", name, i, err)
		}
	}
	return &p, nil
}

func (p *Profile) normalise() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if p.Name == "" {
		bad("name: required")
	}
	if p.Protocol != "mqtt" {
		bad("protocol: must be mqtt (this profile is for %q)", p.Protocol)
	}
	if len(p.Subscriptions) == 0 {
		bad("subscriptions: at least one is required")
	}
	if p.Silence == 0 {
		p.Silence = time.Minute
	}
	if p.EntrapmentAfter == 0 {
		p.EntrapmentAfter = 30 * time.Second
	}
	if p.HeldOpenAfter == 0 {
		p.HeldOpenAfter = time.Minute
	}
	if p.InvalidCardBurst == 0 {
		p.InvalidCardBurst = 5
	}
	if p.InvalidCardWindow == 0 {
		p.InvalidCardWindow = time.Minute
	}
	if p.Silence < 0 || p.EntrapmentAfter < 0 || p.HeldOpenAfter < 0 || p.InvalidCardWindow < 0 || p.InvalidCardBurst < 1 {
		bad("silence, entrapment_after, held_open_after, invalid_card_window must be positive and invalid_card_burst at least 1")
	}
	if len(p.Presence.Online) == 0 {
		p.Presence.Online = []string{"online", "1", "true", "connected"}
	}
	if len(p.Presence.Offline) == 0 {
		p.Presence.Offline = []string{"offline", "0", "false", "disconnected", "lost"}
	}
	for i := range p.Presence.Online {
		p.Presence.Online[i] = strings.ToLower(p.Presence.Online[i])
	}
	for i := range p.Presence.Offline {
		p.Presence.Offline[i] = strings.ToLower(p.Presence.Offline[i])
	}
	for _, t := range []struct{ field, topic string }{
		{"presence.status_topic", p.Presence.StatusTopic},
		{"presence.birth_topic", p.Presence.BirthTopic},
		{"presence.death_topic", p.Presence.DeathTopic},
	} {
		if t.topic == "" {
			continue
		}
		if _, err := compileTopic(t.topic, nil); err != nil {
			bad("%s: %v", t.field, err)
		}
	}
	if (p.Presence.BirthTopic == "") != (p.Presence.DeathTopic == "") {
		bad("presence: birth_topic and death_topic go together")
	}
	points := map[string]bool{}
	for i := range p.Subscriptions {
		s := &p.Subscriptions[i]
		where := fmt.Sprintf("subscriptions[%d]", i)
		t, err := compileTopic(s.Topic, nil)
		if err != nil {
			bad("%s.topic: %v", where, err)
		}
		s.topic = t
		if s.Format == "" {
			s.Format = FormatJSON
		}
		if !slices.Contains(formats, s.Format) {
			bad("%s.format: %q is not json or text", where, s.Format)
		}
		if s.QoS != nil && (*s.QoS < 0 || *s.QoS > 2) {
			bad("%s.qos: must be 0, 1 or 2", where)
		}
		if tm := s.Time; tm != nil {
			if tm.Format == "" {
				tm.Format = TimeUnixMS
			}
			switch {
			case s.Format != FormatJSON:
				bad("%s.time: only a JSON payload carries a time", where)
			case tm.Path == "":
				bad("%s.time.path: required (the JSON path of the device's time)", where)
			case !slices.Contains(timeFormats, tm.Format):
				bad("%s.time.format: %q is not one of %v", where, tm.Format, timeFormats)
			}
		}
		if len(s.Points) == 0 && len(s.Codes) == 0 {
			bad("%s: give points or codes", where)
		}
		if s.Format == FormatText && len(s.Points)+len(s.Codes) != 1 {
			bad("%s: a text payload is one value: give exactly one point or code", where)
		}
		for j := range s.Points {
			pt := &s.Points[j]
			pw := fmt.Sprintf("%s.points[%d]", where, j)
			if pt.Name == "" {
				bad("%s.name: required", pw)
			}
			points[pt.Name] = true
			if pt.Type == "" {
				pt.Type = TypeNumber
			}
			if !slices.Contains(pointTypes, pt.Type) {
				bad("%s.type: %q is not one of %s", pw, pt.Type, strings.Join(pointTypes, ", "))
			}
			if pt.Type == TypeEnum && len(pt.Values) == 0 {
				bad("%s.values: an enum needs its values (text: number)", pw)
			}
			if s.Format == FormatJSON && pt.Path == "" {
				bad("%s.path: required for a JSON payload", pw)
			}
			if s.Format == FormatText && pt.Path != "" {
				bad("%s.path: a text payload has no paths", pw)
			}
			if pt.Scale == 0 {
				pt.Scale = 1
			}
			if isTopLevelKey(pt.Path) {
				if s.topLevel == nil {
					s.topLevel = map[string][]int{}
				}
				s.topLevel[pt.Path] = append(s.topLevel[pt.Path], j)
			}
		}
		for j := range s.Codes {
			c := &s.Codes[j]
			cw := fmt.Sprintf("%s.codes[%d]", where, j)
			if c.Table == "" {
				bad("%s.table: required: the code table (codes/<table>.yaml)", cw)
			}
			if s.Format == FormatJSON && c.Path == "" {
				bad("%s.path: required for a JSON payload", cw)
			}
			if s.Format == FormatText && (c.Path != "" || c.SourcePath != "") {
				bad("%s: a text payload has no paths", cw)
			}
		}
	}
	return errors.Join(errs...)
}

// isTopLevelKey reports whether a JSON path names a key of the root object
// and nothing more (no nesting, wildcards, queries or modifiers).
func isTopLevelKey(path string) bool {
	return path != "" && !strings.ContainsAny(path, ".*?#|@\\!=<>%[]{}()")
}

func (p *Profile) loadTables() error {
	p.tables = map[string]*CodeTable{}
	for _, s := range p.Subscriptions {
		for _, c := range s.Codes {
			if _, ok := p.tables[c.Table]; ok {
				continue
			}
			t, err := LoadCodeTable(filepath.Join(p.dir, "codes", c.Table+".yaml"))
			if err != nil {
				return err
			}
			p.tables[c.Table] = t
		}
	}
	return nil
}

// Names are the profile's own words for its points, where it has some.
func (p *Profile) Names() map[string]pointnames.Names {
	var all []PointMap
	for _, s := range p.Subscriptions {
		all = append(all, s.Points...)
	}
	return pointnames.NamesOf(all, func(pt PointMap) string { return pt.Name }, func(pt PointMap) pointnames.Names { return pt.Names })
}

// Units maps the profile's points to their units.
func (p *Profile) Units() map[string]string {
	u := map[string]string{}
	for _, s := range p.Subscriptions {
		for _, pt := range s.Points {
			if pt.Unit != "" {
				u[pt.Name] = pt.Unit
			}
		}
	}
	return u
}

// CodeTable names the event or fault codes of one vendor's controllers.
type CodeTable struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	Source      string `yaml:"source"`
	// Codes maps the code as the device sends it ("38", "Err41") to what it means.
	Codes map[string]Code `yaml:"codes"`
}

// Code is one entry of a code table.
type Code struct {
	// Event is Estate's word for it: fault, fault_clear, access_granted,
	// invalid_card, door_opened, door_closed, door_forced, door_held, tamper,
	// fire, duress, info.
	Event string `yaml:"event"`
	Text  string `yaml:"text"`
	// ZH is the text in Chinese (the manual's words, as the control room
	// reads them); alarm messages in Chinese show it.
	ZH string `yaml:"zh"`
}

// Signal kinds a code table may name.
var Signals = []string{"fault", "fault_clear", "access_granted", "invalid_card", "door_opened", "door_closed",
	"door_forced", "door_held", "tamper", "fire", "duress", "info"}

// LoadCodeTable reads and checks a code table file.
func LoadCodeTable(path string) (*CodeTable, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("code table: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var t CodeTable
	if err := dec.Decode(&t); err != nil {
		return nil, fmt.Errorf("code table %s: %w", path, err)
	}
	var errs []error
	if t.Name == "" {
		errs = append(errs, errors.New("name: required"))
	}
	if len(t.Codes) == 0 {
		errs = append(errs, errors.New("codes: at least one is required"))
	}
	for k, c := range t.Codes {
		if !slices.Contains(Signals, c.Event) {
			errs = append(errs, fmt.Errorf("codes[%s].event: %q is not one of %s", k, c.Event, strings.Join(Signals, ", ")))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("code table %s: %w", path, err)
	}
	return &t, nil
}
