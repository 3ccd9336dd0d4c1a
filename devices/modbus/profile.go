package modbus

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Profile is a device's register map, kept as data under configs/profiles/ (the
// way EdgeX device profiles are) so that a new meter model needs YAML, not code.
type Profile struct {
	Name         string  `yaml:"name"`
	Description  string  `yaml:"description"`
	Manufacturer string  `yaml:"manufacturer"`
	Model        string  `yaml:"model"`
	Family       string  `yaml:"family"`
	Source       string  `yaml:"source"`
	Limits       Limits  `yaml:"limits"`
	Points       []Point `yaml:"points"`
}

// Limits are what a real device tolerates per request.
type Limits struct {
	// MaxRegistersPerRead caps one read (the protocol's own limit is 125).
	MaxRegistersPerRead int `yaml:"max_registers_per_read"`
}

// Point is one named value in a device's register map.
type Point struct {
	Name    string `yaml:"name"`
	Table   string `yaml:"table"` // holding, input, coil, discrete
	Address uint16 `yaml:"address"`
	Type    string `yaml:"type"`  // bool, int16, uint16, int32, uint32, int64, uint64, float32, float64
	Order   string `yaml:"order"` // ABCD (default), DCBA, BADC, CDAB
	// Scale and Offset turn the raw value into engineering units: raw*scale + offset.
	Scale  float64 `yaml:"scale"`
	Offset float64 `yaml:"offset"`
	Unit   string  `yaml:"unit"`
}

// Register tables.
const (
	TableHolding  = "holding"
	TableInput    = "input"
	TableCoil     = "coil"
	TableDiscrete = "discrete"
)

var (
	tables     = []string{TableHolding, TableInput, TableCoil, TableDiscrete}
	orders     = []string{"ABCD", "DCBA", "BADC", "CDAB"}
	typeWidths = map[string]uint16{ // in registers; bool is one bit
		"bool": 1, "int16": 1, "uint16": 1, "int32": 2, "uint32": 2, "float32": 2,
		"int64": 4, "uint64": 4, "float64": 4,
	}
)

// protocolMaxRegisters is the Modbus limit for one read of registers (FC 3/4).
const protocolMaxRegisters = 125

// protocolMaxBits is the Modbus limit for one read of coils or discrete inputs (FC 1/2).
const protocolMaxBits = 2000

// LoadProfile reads and checks a profile file.
func LoadProfile(path string) (*Profile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("profile %s: %w", path, err)
	}
	return ParseProfile(path, data)
}

// ParseProfile decodes and checks profile text; name is used in messages.
func ParseProfile(name string, data []byte) (*Profile, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var p Profile
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("profile %s: %w", name, err)
	}
	if err := p.normalise(); err != nil {
		return nil, fmt.Errorf("profile %s: %w", name, err)
	}
	return &p, nil
}

// ProfilePath is where a named profile lives in a profiles folder.
func ProfilePath(dir, name string) string { return filepath.Join(dir, name+".yaml") }

func (p *Profile) normalise() error {
	var errs []error
	if p.Name == "" {
		errs = append(errs, errors.New("name: required"))
	}
	if len(p.Points) == 0 {
		errs = append(errs, errors.New("points: at least one point is required"))
	}
	if p.Limits.MaxRegistersPerRead == 0 {
		p.Limits.MaxRegistersPerRead = protocolMaxRegisters
	}
	if p.Limits.MaxRegistersPerRead < 1 || p.Limits.MaxRegistersPerRead > protocolMaxRegisters {
		errs = append(errs, fmt.Errorf("limits.max_registers_per_read: must be 1..%d", protocolMaxRegisters))
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
		if !slices.Contains(tables, pt.Table) {
			errs = append(errs, fmt.Errorf("%s.table: %q is not one of %s", where, pt.Table, strings.Join(tables, ", ")))
		}
		if pt.Type == "" {
			pt.Type = "uint16"
			if pt.Table == TableCoil || pt.Table == TableDiscrete {
				pt.Type = "bool"
			}
		}
		if _, ok := typeWidths[pt.Type]; !ok {
			errs = append(errs, fmt.Errorf("%s.type: %q is not a supported type", where, pt.Type))
		}
		isBitTable := pt.Table == TableCoil || pt.Table == TableDiscrete
		if isBitTable != (pt.Type == "bool") {
			errs = append(errs, fmt.Errorf("%s.type: coils and discrete inputs are bool, registers are not", where))
		}
		if pt.Order == "" {
			pt.Order = "ABCD"
		}
		if !slices.Contains(orders, pt.Order) {
			errs = append(errs, fmt.Errorf("%s.order: %q is not one of %s", where, pt.Order, strings.Join(orders, ", ")))
		}
		if pt.Scale == 0 {
			pt.Scale = 1
		}
	}
	return errors.Join(errs...)
}

// width is how many registers (or bits) the point occupies.
func (pt *Point) width() uint16 { return typeWidths[pt.Type] }

// Decode turns the raw big-endian register bytes of one point into its value in
// engineering units. raw must hold exactly width()*2 bytes.
func (pt *Point) Decode(raw []byte) (float64, error) {
	if len(raw) != int(pt.width())*2 {
		return 0, fmt.Errorf("point %s: %d bytes for %s, want %d", pt.Name, len(raw), pt.Type, pt.width()*2)
	}
	var buf [8]byte
	b := reorder(buf[:len(raw)], raw, pt.Order)
	var v float64
	switch pt.Type {
	case "int16":
		v = float64(int16(binary.BigEndian.Uint16(b)))
	case "uint16":
		v = float64(binary.BigEndian.Uint16(b))
	case "int32":
		v = float64(int32(binary.BigEndian.Uint32(b)))
	case "uint32":
		v = float64(binary.BigEndian.Uint32(b))
	case "float32":
		v = float64(math.Float32frombits(binary.BigEndian.Uint32(b)))
	case "int64":
		v = float64(int64(binary.BigEndian.Uint64(b)))
	case "uint64":
		v = float64(binary.BigEndian.Uint64(b))
	case "float64":
		v = math.Float64frombits(binary.BigEndian.Uint64(b))
	default:
		return 0, fmt.Errorf("point %s: type %s is not a register type", pt.Name, pt.Type)
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("point %s: register value is not a number", pt.Name)
	}
	return v*pt.Scale + pt.Offset, nil
}

// Encode is the inverse of Decode, used by the simulators: it returns the
// registers' big-endian bytes for a value in engineering units.
func (pt *Point) Encode(value float64) []byte {
	raw := (value - pt.Offset) / pt.Scale
	b := make([]byte, int(pt.width())*2)
	switch pt.Type {
	case "int16":
		binary.BigEndian.PutUint16(b, uint16(int16(math.Round(raw))))
	case "uint16":
		binary.BigEndian.PutUint16(b, uint16(math.Round(raw)))
	case "int32":
		binary.BigEndian.PutUint32(b, uint32(int32(math.Round(raw))))
	case "uint32":
		binary.BigEndian.PutUint32(b, uint32(math.Round(raw)))
	case "float32":
		binary.BigEndian.PutUint32(b, math.Float32bits(float32(raw)))
	case "int64":
		binary.BigEndian.PutUint64(b, uint64(int64(math.Round(raw))))
	case "uint64":
		binary.BigEndian.PutUint64(b, uint64(math.Round(raw)))
	case "float64":
		binary.BigEndian.PutUint64(b, math.Float64bits(raw))
	}
	// Every byte order is its own inverse, so the same shuffle puts bytes on the wire.
	return reorder(make([]byte, len(b)), b, pt.Order)
}

// reorder copies wire bytes into dst in ABCD (big-endian) order.
func reorder(dst, src []byte, order string) []byte {
	n := len(src)
	switch order {
	case "DCBA": // fully little-endian
		for i := range n {
			dst[i] = src[n-1-i]
		}
	case "BADC": // bytes swapped inside each register
		for i := 0; i+1 < n; i += 2 {
			dst[i], dst[i+1] = src[i+1], src[i]
		}
	case "CDAB": // registers in reverse order, bytes big-endian inside each
		for w := 0; w < n/2; w++ {
			copy(dst[w*2:w*2+2], src[n-2-w*2:n-w*2])
		}
	default:
		copy(dst, src)
	}
	return dst
}
