package cjt188

import (
	"errors"
	"fmt"
	"time"

	"github.com/estatehq/estate/devices"
	pointnames "github.com/estatehq/estate/devices/points"
)

// Profile is a CJ/T 188 water meter model as data (configs/profiles/*.yaml):
// which identifiers to read, where each point sits in a reply's data, and
// how the meter wants its identifiers and its type.
type Profile struct {
	devices.ProfileHeader `yaml:",inline"` // protocol: cjt188
	// Edition is the edition of CJ/T 188 the meter follows (2004 or 2018);
	// both share the frame and the identifiers read here.
	Edition string `yaml:"edition"`
	// MeterType is T of the meter's frames (10H cold water … 19H); 0x10 if zero.
	MeterType int `yaml:"meter_type"`
	// DIOrder is how the meter wants identifiers on the wire: low_first
	// (DI0 first, 901F as 1F 90; the default) or high_first (90 1F).
	DIOrder string `yaml:"di_order"`
	// FlowFrom names a volume point from whose rise the driver derives the
	// point flow (m³/h) over FlowWindow, for meters that report no flow.
	FlowFrom string `yaml:"flow_from"`
	// FlowWindow is how far back the derived flow looks (default 5m): a
	// volume in 0.01 m³ steps read once a minute needs minutes to say more
	// than "a step or none".
	FlowWindow time.Duration `yaml:"flow_window"`
	Points     []Point       `yaml:"points"`

	meterType byte
	order     Order
}

// Point is one named value of one identifier's reply.
type Point struct {
	Name string `yaml:"name"`
	// DI is the identifier as the standard prints it: "901F".
	DI string `yaml:"di"`
	// Offset is where the point's field starts in the reply's data, after
	// the identifier and SER (901F: current volume at 0, settlement-day
	// volume at 5, real time at 10, ST at 17).
	Offset int `yaml:"offset"`
	// Format: volume, flow, XXXXXX.XX, XXXXXXXX, XXXX, XX, st, bin8.
	Format string `yaml:"format"`
	// Field picks a meaning of a status word: valve (0 open, 1 closed, 3
	// fault) or battery_low (1 low); Bit picks any one bit instead.
	Field string  `yaml:"field"`
	Bit   *int    `yaml:"bit"`
	Unit  string  `yaml:"unit"`
	Scale float64 `yaml:"scale"`
	// Names are what the console calls it, over devices/points' catalogue.
	pointnames.Names `yaml:",inline"`

	di     DI
	format Format
}

// Points the driver adds to a reading.
const (
	// PointFlow is the flow derived from the volume (m³/h).
	PointFlow = "flow"
)

var profiles = devices.NewProfileLoader("profile", ParseProfile)

// LoadProfile reads and checks a profile file (parsed once while it is unchanged).
func LoadProfile(path string) (*Profile, error) { return profiles.LoadFile(path) }

// ParseProfile decodes and checks profile text; name is used in messages.
func ParseProfile(name string, data []byte) (*Profile, error) {
	var p Profile
	if err := devices.DecodeProfile(data, &p); err != nil {
		return nil, fmt.Errorf("profile %s: %w", name, err)
	}
	if err := p.normalise(); err != nil {
		return nil, fmt.Errorf("profile %s: %w", name, err)
	}
	if err := pointnames.CheckNames(p.Points, func(pt Point) string { return pt.Name }, func(pt Point) pointnames.Names { return pt.Names }); err != nil {
		return nil, fmt.Errorf("profile %s: %w", name, err)
	}
	return &p, nil
}

func (p *Profile) normalise() error {
	var errs []error
	if p.Name == "" {
		errs = append(errs, errors.New("name: required"))
	}
	if p.Protocol != Protocol {
		errs = append(errs, fmt.Errorf("protocol: must be %q for a CJ/T 188 profile", Protocol))
	}
	switch p.Edition {
	case "", "2004", "2018":
	default:
		errs = append(errs, fmt.Errorf("edition: %q is not 2004 or 2018", p.Edition))
	}
	switch {
	case p.MeterType == 0:
		p.meterType = TypeColdWater
	case IsWaterType(byte(p.MeterType)) && p.MeterType <= 0xFF:
		p.meterType = byte(p.MeterType)
	default:
		errs = append(errs, fmt.Errorf("meter_type: %#x is not a water meter's type (0x10 to 0x19)", p.MeterType))
	}
	o, err := ParseOrder(p.DIOrder)
	if err != nil {
		errs = append(errs, fmt.Errorf("di_order: %w", err))
	}
	p.order = o
	if p.FlowWindow == 0 {
		p.FlowWindow = 5 * time.Minute
	} else if p.FlowWindow < 30*time.Second {
		errs = append(errs, fmt.Errorf("flow_window: at least 30s, got %s", p.FlowWindow))
	}
	if len(p.Points) == 0 {
		errs = append(errs, errors.New("points: at least one point is required"))
	}
	seen := map[string]bool{}
	for i := range p.Points {
		pt := &p.Points[i]
		where := fmt.Sprintf("points[%d] (%s)", i, pt.Name)
		switch {
		case pt.Name == "":
			errs = append(errs, fmt.Errorf("points[%d].name: required", i))
		case pt.Name == PointFlow && p.FlowFrom != "":
			errs = append(errs, fmt.Errorf("%s.name: %q is the point derived from flow_from", where, PointFlow))
		case seen[pt.Name]:
			errs = append(errs, fmt.Errorf("%s.name: used twice", where))
		}
		seen[pt.Name] = true
		di, err := ParseDI(pt.DI)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s.di: %w", where, err))
		}
		pt.di = di
		f, err := ParseFormat(pt.Format)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s.format: %w", where, err))
		}
		pt.format = f
		if pt.Offset < 0 || pt.Offset+f.Bytes > MaxDataLen-3 {
			errs = append(errs, fmt.Errorf("%s.offset: %d is outside a reply", where, pt.Offset))
		}
		switch {
		case pt.Field != "" && pt.Bit != nil:
			errs = append(errs, fmt.Errorf("%s: field and bit exclude each other", where))
		case pt.Field != "" && pt.Field != "valve" && pt.Field != "battery_low":
			errs = append(errs, fmt.Errorf("%s.field: %q is not valve or battery_low", where, pt.Field))
		case (pt.Field != "" || pt.Bit != nil) && f.Name != "st":
			errs = append(errs, fmt.Errorf("%s: field and bit are for status words (format st)", where))
		case pt.Bit != nil && (*pt.Bit < 0 || *pt.Bit > 15):
			errs = append(errs, fmt.Errorf("%s.bit: 0..15", where))
		}
		if pt.Unit == "" {
			switch f.Name {
			case "volume":
				pt.Unit = "m³"
			case "flow":
				pt.Unit = "m³/h"
			}
		}
		if pt.Scale == 0 {
			pt.Scale = 1
		}
	}
	if p.FlowFrom != "" {
		ok := false
		for _, pt := range p.Points {
			ok = ok || pt.Name == p.FlowFrom && pt.format.Name == "volume"
		}
		if !ok {
			errs = append(errs, fmt.Errorf("flow_from: %q is not a volume point of this profile", p.FlowFrom))
		}
	}
	return errors.Join(errs...)
}

// value turns a point's field (from the reply's value bytes) into its value.
func (pt *Point) value(value []byte) (float64, error) {
	if pt.Offset+pt.format.Bytes > len(value) {
		return 0, fmt.Errorf("cjt188: %s: reply of %d bytes has no field at %d", pt.Name, len(value), pt.Offset)
	}
	v, err := pt.format.Decode(value[pt.Offset:])
	if err != nil {
		return 0, err
	}
	st := Status(uint16(v))
	switch {
	case pt.Field == "valve":
		return float64(st.Valve()), nil
	case pt.Field == "battery_low":
		if st.BatteryLow() {
			return 1, nil
		}
		return 0, nil
	case pt.Bit != nil:
		return float64((uint16(st) >> uint(*pt.Bit)) & 1), nil
	}
	return v * pt.Scale, nil
}

// reads are the identifiers a poll asks for, in the profile's order, each once.
func (p *Profile) reads() []DI {
	var out []DI
	seen := map[DI]bool{}
	for _, pt := range p.Points {
		if !seen[pt.di] {
			seen[pt.di] = true
			out = append(out, pt.di)
		}
	}
	return out
}

// ProfilePath is where a named profile lives in a profiles folder.
func ProfilePath(dir, name string) string { return devices.ProfilePath(dir, name) }

// Type is T of the meter's frames.
func (p *Profile) Type() byte { return p.meterType }

// Order is how the meter wants its identifiers on the wire.
func (p *Profile) Order() Order { return p.order }
