package modbus

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Script drives a simulated device: how each point's value moves over time,
// and when the device misbehaves. Engineers write one in YAML for
// `estate sim modbus --script`; tests build them in Go.
//
//	points:
//	  voltage: {sine: {mid: 230, amp: 3, period: 60s}}
//	  energy_import: {ramp: {from: 1200, rate: 0.01}}
//	  balance: {drain: {from: 22, rate: 0.5}}
//	  voltage_l2: {drop: {from: 230, at: 30s}}
//	  relay: {steps: {values: [1, 0], every: 20s}}
//	  serial_number: {text: SN-0001}
//	faults:
//	  - {at: 40s, for: 10s, silent: true}
//	  - {exceptions: {0x0048: 2}}
//	  - {delay: 300ms}
type Script struct {
	Points map[string]Behavior `yaml:"points"`
	Faults []FaultStep         `yaml:"faults"`
}

// Behavior is how one point's value moves; give one of its fields.
type Behavior struct {
	Value *float64 `yaml:"value"` // constant
	Text  string   `yaml:"text"`  // a string point's text
	Ramp  *Ramp    `yaml:"ramp"`
	Sine  *Sine    `yaml:"sine"`
	Steps *Steps   `yaml:"steps"`
	Drain *Drain   `yaml:"drain"`
	Drop  *Drop    `yaml:"drop"`
}

// Ramp rises by Rate per second from From; with To set it starts over at From
// once it passes To (a sawtooth).
type Ramp struct {
	From float64  `yaml:"from"`
	Rate float64  `yaml:"rate"`
	To   *float64 `yaml:"to"`
}

// Sine swings around Mid by Amp over Period.
type Sine struct {
	Mid    float64       `yaml:"mid"`
	Amp    float64       `yaml:"amp"`
	Period time.Duration `yaml:"period"`
}

// Steps holds each value for Every, in turn, over and over.
type Steps struct {
	Values []float64     `yaml:"values"`
	Every  time.Duration `yaml:"every"`
}

// Drain runs down from From by Rate per second and stops at Floor (a prepaid
// balance).
type Drain struct {
	From  float64 `yaml:"from"`
	Rate  float64 `yaml:"rate"`
	Floor float64 `yaml:"floor"`
}

// Drop holds From until At, then To (a supply voltage falling to 0).
type Drop struct {
	From float64       `yaml:"from"`
	At   time.Duration `yaml:"at"`
	To   float64       `yaml:"to"`
}

// FaultStep makes the device misbehave from At for For (0: from then on).
type FaultStep struct {
	At         time.Duration   `yaml:"at"`
	For        time.Duration   `yaml:"for"`
	Silent     bool            `yaml:"silent"`
	Delay      time.Duration   `yaml:"delay"`
	WrongSlave bool            `yaml:"wrong_slave"`
	CorruptCRC bool            `yaml:"corrupt_crc"`
	Garbage    bool            `yaml:"garbage"`
	Truncate   bool            `yaml:"truncate"`
	Exceptions map[uint16]byte `yaml:"exceptions"`
	Only       []uint16        `yaml:"only"`
}

// ParseScript decodes a script and checks it against the profile it drives.
func ParseScript(data []byte, p *Profile) (*Script, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var sc Script
	if err := dec.Decode(&sc); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("script: %w", err)
	}
	if err := sc.Check(p); err != nil {
		return nil, err
	}
	return &sc, nil
}

// Check reports points the profile lacks and behaviors that give no value.
func (sc *Script) Check(p *Profile) error {
	var errs []error
	for _, name := range sortedNames(sc.Points) {
		b := sc.Points[name]
		pt, ok := p.Point(name)
		if !ok {
			errs = append(errs, fmt.Errorf("script: points.%s: profile %s has no such point", name, p.Name))
			continue
		}
		n := 0
		for _, set := range []bool{b.Value != nil, b.Text != "", b.Ramp != nil, b.Sine != nil, b.Steps != nil, b.Drain != nil, b.Drop != nil} {
			if set {
				n++
			}
		}
		switch {
		case n != 1:
			errs = append(errs, fmt.Errorf("script: points.%s: give exactly one of value, text, ramp, sine, steps, drain, drop", name))
		case b.Text != "" && !pt.IsText():
			errs = append(errs, fmt.Errorf("script: points.%s: text is for string points", name))
		case b.Steps != nil && (len(b.Steps.Values) == 0 || b.Steps.Every <= 0):
			errs = append(errs, fmt.Errorf("script: points.%s.steps: needs values and every", name))
		case b.Sine != nil && b.Sine.Period <= 0:
			errs = append(errs, fmt.Errorf("script: points.%s.sine: needs a period", name))
		}
	}
	for i, f := range sc.Faults {
		if f.At < 0 || f.For < 0 {
			errs = append(errs, fmt.Errorf("script: faults[%d]: at and for must not be negative", i))
		}
	}
	return errors.Join(errs...)
}

func sortedNames(m map[string]Behavior) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// At is the behavior's value t after the start.
func (b Behavior) At(t time.Duration) float64 {
	s := t.Seconds()
	switch {
	case b.Value != nil:
		return *b.Value
	case b.Ramp != nil:
		v := b.Ramp.From + b.Ramp.Rate*s
		if to := b.Ramp.To; to != nil && b.Ramp.Rate != 0 && *to != b.Ramp.From {
			span := *to - b.Ramp.From
			v = b.Ramp.From + math.Mod(b.Ramp.Rate*s, span)
		}
		return v
	case b.Sine != nil:
		return b.Sine.Mid + b.Sine.Amp*math.Sin(2*math.Pi*s/b.Sine.Period.Seconds())
	case b.Steps != nil:
		return b.Steps.Values[int(t/b.Steps.Every)%len(b.Steps.Values)]
	case b.Drain != nil:
		return math.Max(b.Drain.Floor, b.Drain.From-b.Drain.Rate*s)
	case b.Drop != nil:
		if t < b.Drop.At {
			return b.Drop.From
		}
		return b.Drop.To
	}
	return 0
}

// FaultsAt is the union of the fault steps active t after the start.
func (sc *Script) FaultsAt(t time.Duration) Faults {
	var f Faults
	for _, st := range sc.Faults {
		if t < st.At || st.For > 0 && t >= st.At+st.For {
			continue
		}
		f.Silent = f.Silent || st.Silent
		f.Delay = max(f.Delay, st.Delay)
		f.WrongSlave = f.WrongSlave || st.WrongSlave
		f.CorruptCRC = f.CorruptCRC || st.CorruptCRC
		f.Garbage = f.Garbage || st.Garbage
		f.Truncate = f.Truncate || st.Truncate
		f.Only = append(f.Only, st.Only...)
		for a, c := range st.Exceptions {
			if f.Exceptions == nil {
				f.Exceptions = map[uint16]byte{}
			}
			f.Exceptions[a] = c
		}
	}
	return f
}

// Apply sets every scripted point and the faults as they are t after the start.
func (sc *Script) Apply(s *Slave, t time.Duration) {
	for name, b := range sc.Points {
		if b.Text != "" {
			_ = s.SetText(name, b.Text)
			continue
		}
		_ = s.Set(name, b.At(t))
	}
	if len(sc.Faults) > 0 {
		s.SetFaults(sc.FaultsAt(t))
	}
}

// Run applies the script every tick until ctx ends.
func (sc *Script) Run(ctx context.Context, s *Slave, tick time.Duration) {
	start := time.Now()
	tk := time.NewTicker(tick)
	defer tk.Stop()
	for {
		sc.Apply(s, time.Since(start))
		select {
		case <-ctx.Done():
			return
		case <-tk.C:
		}
	}
}

// DefaultScript gives every point of a profile a plausible moving value, by
// its unit, so that a simulator started without a script shows a live device.
// Writable points are left alone: they hold what clients write.
func DefaultScript(p *Profile) *Script {
	sc := &Script{Points: map[string]Behavior{}}
	for i, pt := range p.Points {
		if pt.Writable {
			continue // a setpoint keeps what a client writes
		}
		phase := time.Duration(i) * 7 * time.Second
		var b Behavior
		switch {
		case pt.IsText():
			b.Text = strings.ToUpper(fmt.Sprintf("%s-%04d", p.Model, 1))
		case pt.kind == kindBool:
			b.Steps = &Steps{Values: []float64{0, 1}, Every: 30*time.Second + phase}
		case pt.kind == kindBCD:
			v := float64(12345678 % int(math.Pow10(min(8, int(pt.width)*4))))
			b.Value = &v
		default:
			b = unitBehavior(pt, phase)
		}
		sc.Points[pt.Name] = b
	}
	return sc
}

func unitBehavior(pt Point, phase time.Duration) Behavior {
	sine := func(mid, amp float64) Behavior {
		return Behavior{Sine: &Sine{Mid: mid, Amp: amp, Period: time.Minute + phase}}
	}
	switch strings.ToLower(pt.Unit) {
	case "v":
		return sine(230, 2)
	case "a":
		return sine(5, 1)
	case "w", "va", "var":
		return sine(1100, 200)
	case "kw", "kva", "kvar":
		return sine(1.1, 0.2)
	case "hz":
		return sine(50, 0.05)
	case "kwh", "kvarh":
		return Behavior{Ramp: &Ramp{From: 1000, Rate: 0.001}}
	case "cny", "yuan":
		return Behavior{Drain: &Drain{From: 100, Rate: 0.01}}
	}
	if strings.Contains(pt.Name, "factor") {
		return sine(0.95, 0.02)
	}
	v := 1.0
	return Behavior{Value: &v}
}
