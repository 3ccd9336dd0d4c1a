package alarm

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/estatehq/estate/devices"
	"github.com/estatehq/estate/internal/config"
)

// rule is a configured rule compiled for evaluation.
type rule struct {
	cfg    *config.Rule
	timing Timing
	in     []float64 // state rule values
	riseBy float64
}

func compile(r *config.Rule) *rule {
	c := &rule{cfg: r, timing: Timing{For: r.For, KeepFor: r.KeepFor, MinHold: r.MinHold, MaxRaisesPerHour: r.MaxRaisesPerHour}}
	if r.Equals != nil {
		c.in = []float64{*r.Equals}
	}
	c.in = append(c.in, r.In...)
	if r.RiseBy != nil {
		c.riseBy = *r.RiseBy
	}
	return c
}

// matches reports whether the rule selects a device.
func (r *rule) matches(d config.Device) bool {
	c := r.cfg
	if c.Type == config.RuleOutage {
		return false
	}
	if c.Family != "" && c.Family != d.Family || c.Profile != "" && c.Profile != d.Profile ||
		c.Building != "" && c.Building != d.Building || c.Floor != "" && c.Floor != d.Floor {
		return false
	}
	if len(c.Devices) > 0 && !slices.Contains(c.Devices, d.ID) {
		return false
	}
	for _, t := range c.Tags {
		if !slices.Contains(d.Tags, t) {
			return false
		}
	}
	return true
}

// thresholdActive is the hysteresis: a firing alarm stays active until the
// value passes the clear level; an inactive or pending one needs the firing level.
func (r *rule) thresholdActive(v float64, firing bool) bool {
	c := r.cfg
	switch {
	case c.Below != nil:
		level := *c.Below
		if firing {
			if c.Clear != nil {
				return v < *c.Clear
			}
			return v < level || c.Inclusive && v == level
		}
		return v < level || c.Inclusive && v == level
	case c.Above != nil:
		level := *c.Above
		if firing {
			if c.Clear != nil {
				return v > *c.Clear
			}
			return v > level || c.Inclusive && v == level
		}
		return v > level || c.Inclusive && v == level
	}
	return false
}

func (r *rule) stateActive(v float64) bool {
	for _, x := range r.in {
		if v == x {
			return true
		}
	}
	return false
}

// guard evaluates only_if on the reading; true when there is none.
func (r *rule) guard(rd *devices.Reading) (holds, known bool) {
	o := r.cfg.OnlyIf
	if o == nil {
		return true, true
	}
	v, ok := rd.Get(o.Point)
	if !ok {
		return false, false
	}
	switch {
	case o.Equals != nil:
		return v == *o.Equals, true
	case o.Below != nil:
		return v < *o.Below || o.Inclusive && v == *o.Below, true
	case o.Above != nil:
		return v > *o.Above || o.Inclusive && v == *o.Above, true
	}
	return true, true
}

// FormatValue renders a reading for people: two decimals, cut rather than
// rounded, so that 9.9996 below a threshold of 10 shows as 9.99, not 10.00.
func FormatValue(v float64) string {
	return strconv.FormatFloat(math.Floor(v*100)/100, 'f', 2, 64)
}

// render fills a message template.
func render(tmpl string, f fields) string {
	if !strings.Contains(tmpl, "{") {
		return tmpl
	}
	return strings.NewReplacer(
		"{site}", f.site, "{device}", f.device, "{building}", f.building, "{floor}", f.floor,
		"{unit}", f.unit, "{point}", f.point, "{value}", FormatValue(f.value),
		"{value_unit}", f.valueUnit, "{time}", f.at.Format("2006-01-02 15:04:05"),
		"{source}", f.source, "{text}", f.text, "{feeder}", f.feeder,
	).Replace(tmpl)
}

type fields struct {
	site, device, building, floor, unit, point, valueUnit, source, sourceZH, text, textZH, feeder string
	value                                                                                         float64
	at                                                                                            time.Time
}
