// Package points names the points devices report for the people who read
// them: the console shows 剩余金额 12.50 元 and 继电器 跳闸, not
// "balance 12.500" and "relay 0.000". The names, units, decimals and state
// words are data (points.yaml), shared by every device family, because the
// families name their points alike (rules select points by these names).
package points

import (
	_ "embed"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

//go:embed points.yaml
var catalogue []byte

// Point is how people see one point.
type Point struct {
	ZH string `yaml:"zh" json:"label"`
	EN string `yaml:"en" json:"label_en"`
	// Unit is the point's unit when the device's profile names none.
	Unit string `yaml:"unit" json:"unit,omitempty"`
	// Decimals a reading shows (2 when unset; 0 for counts and codes).
	Decimals *int `yaml:"decimals" json:"decimals,omitempty"`
	// States are the words for the values of a state point, by the value
	// as the gateway writes it ("0", "1", "-1").
	States map[string]State `yaml:"states" json:"states,omitempty"`
}

// State is a value's word in both languages.
type State struct {
	ZH string `yaml:"zh" json:"zh"`
	EN string `yaml:"en" json:"en"`
}

var table = mustLoad(catalogue)

func mustLoad(data []byte) map[string]Point {
	t, err := parse(data)
	if err != nil {
		panic(err) // the embedded file is checked by the package's tests
	}
	return t
}

func parse(data []byte) (map[string]Point, error) {
	var doc struct {
		Points map[string]Point `yaml:"points"`
	}
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("points.yaml: %w", err)
	}
	for name, p := range doc.Points {
		if p.ZH == "" || p.EN == "" {
			return nil, fmt.Errorf("points.yaml: %s: zh and en are required", name)
		}
		for v, s := range p.States {
			if _, err := strconv.ParseFloat(v, 64); err != nil || s.ZH == "" || s.EN == "" {
				return nil, fmt.Errorf("points.yaml: %s.states[%s]: a number with zh and en", name, v)
			}
		}
	}
	return doc.Points, nil
}

// Suffixes of phases and aggregates, with how each reads. The longest
// first: voltage_l1_l2 is a line voltage, not voltage_l1 with "_l2".
var suffixes = []struct {
	suffix string
	zh     func(string) string
	en     string
}{
	{"_l1_l2", func(b string) string { return "AB 线" + b }, " L1–L2"},
	{"_l2_l3", func(b string) string { return "BC 线" + b }, " L2–L3"},
	{"_l3_l1", func(b string) string { return "CA 线" + b }, " L3–L1"},
	{"_l1", func(b string) string { return "A 相" + b }, " L1"},
	{"_l2", func(b string) string { return "B 相" + b }, " L2"},
	{"_l3", func(b string) string { return "C 相" + b }, " L3"},
	{"_total", func(b string) string { return "总" + b }, " (total)"},
	{"_avg", func(b string) string { return "平均" + b }, " (average)"},
	{"_sum", func(b string) string { return b + "之和" }, " (sum)"},
	{"_neutral", func(b string) string { return "零线" + b }, " (neutral)"},
}

// numbered is a base name with a number after it: di5, water_leak_2.
var numbered = regexp.MustCompile(`^([a-z][a-z_]*?)_?([0-9]+)$`)

// Lookup is how people see the point of that name, and whether the
// catalogue knows it (directly, by phase or aggregate, or numbered).
func Lookup(name string) (Point, bool) {
	if p, ok := table[name]; ok {
		return p, true
	}
	for _, s := range suffixes {
		base, ok := strings.CutSuffix(name, s.suffix)
		if !ok {
			continue
		}
		if p, ok := table[base]; ok {
			p.ZH, p.EN = s.zh(p.ZH), p.EN+s.en
			return p, true
		}
	}
	if m := numbered.FindStringSubmatch(name); m != nil {
		if p, ok := table[m[1]]; ok {
			p.ZH, p.EN = p.ZH+" "+m[2], p.EN+" "+m[2]
			return p, true
		}
	}
	return Point{}, false
}

// Describe is the point as the console shows it: the catalogue's names
// (the point's own name in both languages when it has none) and the unit
// the device's profile gives it, else the catalogue's.
func Describe(name, profileUnit string) Point {
	p, ok := Lookup(name)
	if !ok {
		p = Point{ZH: name, EN: name}
	}
	if profileUnit != "" {
		p.Unit = profileUnit
	}
	return p
}

// Names are a profile point's own words for people, over the catalogue's:
// a vendor's point the catalogue does not know, or a flag whose 1 means the
// opposite on this model. Each protocol's profile point embeds it
// (`label`, `label_en`, `states` beside `name` and `unit`).
type Names struct {
	Label   string           `yaml:"label" json:"label,omitempty"`
	LabelEN string           `yaml:"label_en" json:"label_en,omitempty"`
	States  map[string]State `yaml:"states" json:"states,omitempty"`
}

// Empty reports whether the names say nothing.
func (n Names) Empty() bool { return n.Label == "" && n.LabelEN == "" && len(n.States) == 0 }

// Check says what is wrong with a profile point's names: a state's value
// must be a number (as the gateway writes it) with both words.
func (n Names) Check() error {
	for v, s := range n.States {
		if _, err := strconv.ParseFloat(v, 64); err != nil {
			return fmt.Errorf("states: %q is not a value the gateway writes (a number such as 0, 1 or -1)", v)
		}
		if s.ZH == "" || s.EN == "" {
			return fmt.Errorf("states[%s]: give zh and en", v)
		}
	}
	return nil
}

// Over is p with the profile's names where it has them.
func (n Names) Over(p Point) Point {
	if n.Label != "" {
		p.ZH = n.Label
		if n.LabelEN == "" {
			p.EN = n.Label
		}
	}
	if n.LabelEN != "" {
		p.EN = n.LabelEN
	}
	if len(n.States) > 0 {
		p.States = n.States
	}
	return p
}

// NamesOf collects the names of the points that have some, for a device's
// Info (nil when none has).
func NamesOf[P any](pts []P, name func(P) string, names func(P) Names) map[string]Names {
	var out map[string]Names
	for _, p := range pts {
		if n := names(p); !n.Empty() {
			if out == nil {
				out = map[string]Names{}
			}
			out[name(p)] = n
		}
	}
	return out
}

// CheckNames checks the names of a profile's points (Check), naming the
// point at fault.
func CheckNames[P any](pts []P, name func(P) string, names func(P) Names) error {
	var errs []error
	for i, p := range pts {
		if err := names(p).Check(); err != nil {
			errs = append(errs, fmt.Errorf("points[%d] (%s): %w", i, name(p), err))
		}
	}
	return errors.Join(errs...)
}
