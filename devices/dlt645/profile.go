package dlt645

import (
	"errors"
	"fmt"
	"slices"

	"github.com/estatehq/estate/devices"
	pointnames "github.com/estatehq/estate/devices/points"
)

// Profile is a DL/T 645 meter model as data (configs/profiles/*.yaml): which
// identifiers to read and under which point names.
type Profile struct {
	devices.ProfileHeader `yaml:",inline"` // protocol: dlt645
	Limits                Limits           `yaml:"limits"`
	// Relay is what the meter model's relay control (1CH) accepts.
	Relay  RelaySettings `yaml:"relay"`
	Points []Point       `yaml:"points"`
}

// RelaySettings are a meter model's relay control particulars.
type RelaySettings struct {
	// PasswordOrder is how the model expects the password and operator code
	// on the wire: standard (DL/T 645-2007, the default) or as_typed
	// (OrderStandard, OrderAsTyped). A device's dlt645.password_order wins.
	PasswordOrder string `yaml:"password_order"`
	// AllowDirectClose: the model accepts 1CH (合闸直接, close at once),
	// besides 1AH (跳闸) and 1BH (合闸允许, the customer closes it).
	AllowDirectClose bool `yaml:"allow_direct_close"`
}

// Limits are what the meter model allows per request.
type Limits struct {
	// BlockReads: the meter answers data blocks (02 01 FF 00 for all phase
	// voltages), so points of one block are read in one frame.
	BlockReads bool `yaml:"block_reads"`
}

// Point is one named value read from one data identifier.
type Point struct {
	Name string `yaml:"name"`
	// DI is the data identifier as the standard writes it: "00 01 00 00".
	DI string `yaml:"di"`
	// Format and Signed override (or, for identifiers outside the table,
	// give) the coding: "XXXXXX.XX", "XXX.XXX", "bits16".
	Format string `yaml:"format"`
	Signed bool   `yaml:"signed"`
	Unit   string `yaml:"unit"`
	// Names are what the console calls it, over devices/points' catalogue.
	pointnames.Names `yaml:",inline"`
	// Bit picks one bit of a status word (0 is the lowest); Invert flips it
	// (status word 3 bit 4 is 1 when the relay is open; relay = 1 means on).
	Bit    *int    `yaml:"bit"`
	Invert bool    `yaml:"invert"`
	Scale  float64 `yaml:"scale"`

	di     DI
	format Format
}

// profiles reads the meter profiles named by devices, each file once.
var profiles = devices.NewProfileLoader("profile", ParseProfile)

// LoadProfile reads and checks a profile file (parsed once while it is unchanged).
func LoadProfile(path string) (*Profile, error) { return profiles.LoadFile(path) }

// ProfilePath is where a named profile lives in a profiles folder.
func ProfilePath(dir, name string) string { return devices.ProfilePath(dir, name) }

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
		errs = append(errs, fmt.Errorf("protocol: must be %q for a DL/T 645 profile", Protocol))
	}
	if len(p.Points) == 0 {
		errs = append(errs, errors.New("points: at least one point is required"))
	}
	if o := p.Relay.PasswordOrder; o != "" && o != OrderStandard && o != OrderAsTyped {
		errs = append(errs, fmt.Errorf("relay.password_order: %q: use %s (DL/T 645-2007, the default) or %s", o, OrderStandard, OrderAsTyped))
	}
	seen := map[string]bool{}
	for i := range p.Points {
		pt := &p.Points[i]
		where := fmt.Sprintf("points[%d] (%s)", i, pt.Name)
		if pt.Name == "" {
			errs = append(errs, fmt.Errorf("points[%d].name: required", i))
		} else if seen[pt.Name] {
			errs = append(errs, fmt.Errorf("%s.name: used twice", where))
		}
		seen[pt.Name] = true
		di, err := ParseDI(pt.DI)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s.di: %w", where, err))
			continue
		}
		pt.di = di
		item, known := Items[di]
		switch {
		case pt.Format != "":
			f, err := ParseFormat(pt.Format, pt.Signed)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s.format: %w", where, err))
			}
			pt.format = f
		case known:
			pt.format = item.Format
		default:
			errs = append(errs, fmt.Errorf("%s.format: %s is not in the built-in table; give its format, such as XXXXXX.XX", where, di))
		}
		if pt.Unit == "" && known && pt.Bit == nil {
			pt.Unit = item.Unit
		}
		if pt.Bit != nil && (!pt.format.Binary || *pt.Bit < 0 || *pt.Bit >= pt.format.Bytes*8) {
			errs = append(errs, fmt.Errorf("%s.bit: only for status words (bits16), 0..%d", where, pt.format.Bytes*8-1))
		}
		if pt.Invert && pt.Bit == nil {
			errs = append(errs, fmt.Errorf("%s.invert: only with bit", where))
		}
		if pt.Scale == 0 {
			pt.Scale = 1
		}
	}
	return errors.Join(errs...)
}

// value turns a point's raw bytes into its value.
func (pt *Point) value(raw []byte) (float64, error) {
	v, err := pt.format.Decode(raw)
	if err != nil {
		return 0, err
	}
	if pt.Bit != nil {
		b := (uint64(v) >> uint(*pt.Bit)) & 1
		if pt.Invert {
			b ^= 1
		}
		return float64(b), nil
	}
	return v * pt.Scale, nil
}

// read is one request of a sweep: one identifier or one data block, and the
// points it serves.
type read struct {
	di     DI
	block  bool
	points []*Point
	// elems are the identifiers of a block's elements, in order.
	elems []DI
}

// planReads groups the points into as few requests as the meter allows:
// points of one identifier share a read, and with block reads the points of
// one data block (two or more of them) are read in one frame.
func planReads(p *Profile, unsupportedBlocks map[DI]bool) []read {
	var reads []read
	index := map[DI]int{}
	for i := range p.Points {
		pt := &p.Points[i]
		key := pt.di
		if p.Limits.BlockReads {
			if b, ok := blockOf(pt.di); ok && !unsupportedBlocks[b] && countInBlock(p, b) >= 2 {
				key = b
			}
		}
		if j, ok := index[key]; ok {
			reads[j].points = append(reads[j].points, pt)
			continue
		}
		index[key] = len(reads)
		r := read{di: key, points: []*Point{pt}}
		if key != pt.di {
			r.block, r.elems = true, blocks[key]
		}
		reads = append(reads, r)
	}
	return reads
}

func countInBlock(p *Profile, b DI) int {
	n := map[DI]bool{}
	for _, pt := range p.Points {
		if slices.Contains(blocks[b], pt.di) {
			n[pt.di] = true
		}
	}
	return len(n)
}
