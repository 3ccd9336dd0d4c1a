package modbus

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/estatehq/estate/devices"
	pointnames "github.com/estatehq/estate/devices/points"
)

// Profile is a device's register map, kept as data under configs/profiles/ (the
// way EdgeX device profiles are) so that a new meter model needs YAML, not code.
type Profile struct {
	devices.ProfileHeader `yaml:",inline"` // protocol: empty or modbus
	Limits                Limits           `yaml:"limits"`
	Points                []Point          `yaml:"points"`
}

// Limits are what a real device tolerates per request.
type Limits struct {
	// MaxRegistersPerRead caps one read of registers (the protocol's own limit is 125).
	MaxRegistersPerRead int `yaml:"max_registers_per_read"`
	// MaxBitsPerRead caps one read of coils or discrete inputs (protocol: 2000).
	MaxBitsPerRead int `yaml:"max_bits_per_read"`
	// EvenAddress: reads must start on an even register address and cover an
	// even number of registers (Eastron meters answer nothing otherwise).
	EvenAddress bool `yaml:"even_address"`
	// MinDelay is the least time between the end of one answer and the next
	// request to the same device (slow meter firmware).
	MinDelay time.Duration `yaml:"min_delay"`
	// MaxGap is how many unused registers (bits: 16 times as many) a merged read
	// may span between two points; 0 reads only adjacent points together. A
	// device's max_gap overrides it.
	MaxGap int `yaml:"max_gap"`
}

// Point is one named value in a device's register map.
type Point struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	Table       string `yaml:"table"` // holding, input, coil, discrete
	Address     uint16 `yaml:"address"`
	// Type is bool, int16, uint16, int32, uint32, int64, uint64, float32,
	// float64, string (ASCII, Length registers) or bcd (Length registers, 4 digits each).
	Type  string `yaml:"type"`
	Order string `yaml:"order"` // ABCD (default), DCBA, BADC, CDAB
	// Length is the number of registers of a string or bcd point.
	Length int `yaml:"length"`
	// Bit selects one bit (0 = least significant) of a register for a bool
	// point in a register table.
	Bit int `yaml:"bit"`
	// Scale and Offset turn the raw value into engineering units: raw*scale + offset.
	Scale  float64 `yaml:"scale"`
	Offset float64 `yaml:"offset"`
	Unit   string  `yaml:"unit"`
	// Names are what the console calls it, over devices/points' catalogue.
	pointnames.Names `yaml:",inline"`
	// Group is the poll group: fast, normal (default) or slow; each device sets
	// the groups' intervals.
	Group string `yaml:"group"`
	// Writable points may be written (function 5/15 for coils, 6/16 for
	// holding registers) when the device enables writes.
	Writable bool `yaml:"writable"`
	// WriteFunction forces function 15 or 16 for single-register/coil writes
	// (devices that implement only the "multiple" functions).
	WriteFunction int `yaml:"write_function"`

	kind  kind   // decoded Type
	order order  // decoded Order
	width uint16 // registers (or bits) covered
}

// Register tables.
const (
	TableHolding  = "holding"
	TableInput    = "input"
	TableCoil     = "coil"
	TableDiscrete = "discrete"
)

// Poll groups.
const (
	GroupFast   = "fast"
	GroupNormal = "normal"
	GroupSlow   = "slow"
)

var (
	tables = []string{TableHolding, TableInput, TableCoil, TableDiscrete}
	// Groups are the poll groups, fastest first.
	Groups = []string{GroupFast, GroupNormal, GroupSlow}
	orders = []string{"ABCD", "DCBA", "BADC", "CDAB"}
	// Types are the point types a profile may use.
	Types = []string{"bool", "int16", "uint16", "int32", "uint32", "int64", "uint64", "float32", "float64", "string", "bcd"}
)

// protocolMaxRegisters is the Modbus limit for one read of registers (FC 3/4).
const protocolMaxRegisters = 125

// protocolMaxBits is the Modbus limit for one read of coils or discrete inputs (FC 1/2).
const protocolMaxBits = 2000

// profiles reads the register maps named by devices, each file once.
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

// ProfilePath is where a named profile lives in a profiles folder. A name
// that already is a path to a .yaml file is returned as it is.
func ProfilePath(dir, name string) string { return devices.ProfilePath(dir, name) }

// Point returns the profile's point of that name.
func (p *Profile) Point(name string) (*Point, bool) {
	for i := range p.Points {
		if p.Points[i].Name == name {
			return &p.Points[i], true
		}
	}
	return nil, false
}

// MaxRead is the largest read the profile allows in a table, in registers or bits.
func (p *Profile) MaxRead(table string) int {
	if IsBitTable(table) {
		return p.Limits.MaxBitsPerRead
	}
	return p.Limits.MaxRegistersPerRead
}

// IsBitTable tells the single-bit tables (coils, discrete inputs) from the register tables.
func IsBitTable(table string) bool { return table == TableCoil || table == TableDiscrete }

func (p *Profile) normalise() error {
	var errs []error
	if p.Protocol != "" && !strings.HasPrefix(p.Protocol, "modbus") {
		errs = append(errs, fmt.Errorf("protocol: %q: this is a %s profile, not a Modbus register map", p.Protocol, p.Protocol))
	}
	if p.Name == "" {
		errs = append(errs, errors.New("name: required"))
	}
	if len(p.Points) == 0 {
		errs = append(errs, errors.New("points: at least one point is required"))
	}
	l := &p.Limits
	if l.MaxRegistersPerRead == 0 {
		l.MaxRegistersPerRead = protocolMaxRegisters
	}
	if l.MaxRegistersPerRead < 1 || l.MaxRegistersPerRead > protocolMaxRegisters {
		errs = append(errs, fmt.Errorf("limits.max_registers_per_read: must be 1..%d", protocolMaxRegisters))
	}
	if l.EvenAddress && l.MaxRegistersPerRead < 2 {
		errs = append(errs, errors.New("limits.max_registers_per_read: must be at least 2 with even_address"))
	}
	if l.MaxBitsPerRead == 0 {
		l.MaxBitsPerRead = protocolMaxBits
	}
	if l.MaxBitsPerRead < 1 || l.MaxBitsPerRead > protocolMaxBits {
		errs = append(errs, fmt.Errorf("limits.max_bits_per_read: must be 1..%d", protocolMaxBits))
	}
	if l.MinDelay < 0 || l.MinDelay > 10*time.Second {
		errs = append(errs, errors.New("limits.min_delay: must be between 0 and 10s"))
	}
	if l.MaxGap < 0 || l.MaxGap > protocolMaxRegisters {
		errs = append(errs, fmt.Errorf("limits.max_gap: must be 0..%d registers", protocolMaxRegisters))
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
		for _, err := range pt.normalise() {
			errs = append(errs, fmt.Errorf("%s.%w", where, err))
		}
		if !IsBitTable(pt.Table) && pt.width > 0 {
			start := pt.Address
			if p.Limits.EvenAddress {
				start &^= 1
			}
			if need := span(start, uint32(pt.Address)+uint32(pt.width), p.Limits.EvenAddress); int(need) > p.Limits.MaxRegistersPerRead {
				errs = append(errs, fmt.Errorf("%s: its %d registers need a read of %d, more than limits.max_registers_per_read %d",
					where, pt.width, need, p.Limits.MaxRegistersPerRead))
			}
		}
		if int(pt.Address)+int(pt.width) > 0x10000 {
			errs = append(errs, fmt.Errorf("%s.address: the point runs past register 65535", where))
		}
	}
	return errors.Join(errs...)
}

// normalise fills defaults and compiles the type and order; it returns the
// problems, each starting with the field name.
func (pt *Point) normalise() []error {
	var errs []error
	if !slices.Contains(tables, pt.Table) {
		errs = append(errs, fmt.Errorf("table: %q is not one of %s", pt.Table, strings.Join(tables, ", ")))
	}
	bitTable := IsBitTable(pt.Table)
	if pt.Type == "" {
		pt.Type = "uint16"
		if bitTable {
			pt.Type = "bool"
		}
	}
	k, ok := kindByName[pt.Type]
	if !ok {
		errs = append(errs, fmt.Errorf("type: %q is not one of %s", pt.Type, strings.Join(Types, ", ")))
	}
	pt.kind = k
	if bitTable && ok && k != kindBool {
		errs = append(errs, errors.New("type: coils and discrete inputs are bool"))
	}
	switch {
	case k == kindString || k == kindBCD:
		if pt.Length == 0 && k == kindBCD {
			pt.Length = 1
		}
		if pt.Length < 1 || pt.Length > protocolMaxRegisters {
			errs = append(errs, fmt.Errorf("length: a %s point needs its length in registers (1..%d)", pt.Type, protocolMaxRegisters))
		}
		if k == kindBCD && pt.Length > 4 {
			errs = append(errs, errors.New("length: a bcd point has at most 4 registers (16 digits)"))
		}
		pt.width = uint16(max(1, min(pt.Length, protocolMaxRegisters)))
	case pt.Length != 0:
		errs = append(errs, fmt.Errorf("length: only string and bcd points have a length; %s has a fixed size", pt.Type))
		pt.width = kindWidth[k]
	default:
		pt.width = kindWidth[k]
	}
	if pt.Bit != 0 && (bitTable || k != kindBool) {
		errs = append(errs, errors.New("bit: only a bool point in a register table selects a bit"))
	}
	if pt.Bit < 0 || pt.Bit > 15 {
		errs = append(errs, errors.New("bit: must be 0..15"))
	}
	if pt.Order == "" {
		pt.Order = "ABCD"
	}
	o := slices.Index(orders, pt.Order)
	if o < 0 {
		errs = append(errs, fmt.Errorf("order: %q is not one of %s", pt.Order, strings.Join(orders, ", ")))
		o = 0
	}
	pt.order = order(o)
	if k == kindString && pt.order != orderABCD && pt.order != orderBADC {
		errs = append(errs, errors.New("order: a string is ABCD (first character in the high byte) or BADC (low byte first)"))
	}
	if pt.Scale == 0 {
		pt.Scale = 1
	}
	if pt.Group == "" {
		pt.Group = GroupNormal
	}
	if !slices.Contains(Groups, pt.Group) {
		errs = append(errs, fmt.Errorf("group: %q is not one of %s", pt.Group, strings.Join(Groups, ", ")))
	}
	if pt.Writable && (pt.Table == TableInput || pt.Table == TableDiscrete) {
		errs = append(errs, fmt.Errorf("writable: %s points are read-only in Modbus", pt.Table))
	}
	if pt.Writable && (k == kindString || k == kindBCD) {
		errs = append(errs, errors.New("writable: string and bcd points cannot be written"))
	}
	switch pt.WriteFunction {
	case 0:
	case 15, 16:
		if !pt.Writable {
			errs = append(errs, errors.New("write_function: the point is not writable"))
		} else if (pt.WriteFunction == 15) != (pt.Table == TableCoil) {
			errs = append(errs, errors.New("write_function: 15 writes coils, 16 writes holding registers"))
		}
	default:
		errs = append(errs, errors.New("write_function: must be 15 or 16 (omit it for 5/6 on single values)"))
	}
	return errs
}

// Width is how many registers (or bits, in a bit table) the point occupies.
func (pt *Point) Width() uint16 { return pt.width }

// IsText tells points whose value is text (ASCII strings) rather than a number.
func (pt *Point) IsText() bool { return pt.kind == kindString }
