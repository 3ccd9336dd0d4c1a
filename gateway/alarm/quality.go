package alarm

import (
	"fmt"
	"math"
	"strings"

	"github.com/estatehq/estate/devices"
	"github.com/estatehq/estate/internal/config"
)

// Power quality: rules that judge several points of one reading together.
// A threshold rule with points judges the worst of them; a deviation rule
// the points' distance from a nominal value in percent (GB/T 12325 supply
// voltage deviation); an imbalance rule how far the points stray from
// their mean (phase currents).

// Imbalance is the largest deviation of the values from their mean, over
// the mean, in percent (the "maximum deviation from the average" definition
// of NEMA MG 1 and IEC 60034-26 for unbalance). ok is false without values
// or when the mean is not positive (no load: nothing to judge).
func Imbalance(vals []float64) (pct, mean float64, ok bool) {
	if len(vals) == 0 {
		return 0, 0, false
	}
	for _, v := range vals {
		mean += v
	}
	mean /= float64(len(vals))
	if !(mean > 0) || math.IsInf(mean, 0) {
		return 0, mean, false
	}
	var dev float64
	for _, v := range vals {
		dev = max(dev, math.Abs(v-mean))
	}
	return dev / mean * 100, mean, true
}

// pctEpsilon absorbs rounding in percentages computed from limits given
// in volts.
const pctEpsilon = 1e-9

// Deviation is v's deviation from nominal in percent: −8 is 8 % under.
func Deviation(v, nominal float64) float64 { return (v - nominal) / nominal * 100 }

// measure is what a multi-point rule judges in one reading.
type measure struct {
	value  float64 // the worst point's value; an imbalance's percentage
	point  string  // the worst point; "" for an imbalance
	active bool
	text   string // the values judged, for the ticket
}

// points returns the rule's points present with good quality, in order.
func (r *rule) points(rd *devices.Reading) (names []string, vals []float64) {
	for _, p := range r.cfg.Points {
		if v, ok := rd.Get(p); ok {
			names, vals = append(names, p), append(vals, v)
		}
	}
	return names, vals
}

// multi reports whether a rule judges several points (rather than its point).
func (r *rule) multi() bool {
	return len(r.cfg.Points) > 0 || r.cfg.Type == config.RuleDeviation || r.cfg.Type == config.RuleImbalance
}

// judge evaluates a multi-point rule on a reading; ok is false when the
// reading lacks what it needs (a poll group without those points), which
// leaves the alarm as it is. firing selects the clear level (hysteresis).
func (r *rule) judge(rd *devices.Reading, firing bool, unit func(string) string) (m measure, ok bool) {
	c := r.cfg
	names, vals := r.points(rd)
	if len(names) == 0 {
		return m, false
	}
	switch c.Type {
	case config.RuleThreshold:
		worst := -1
		for i, v := range vals {
			if c.Abs {
				vals[i] = math.Abs(v)
			}
			if worst < 0 || c.Below != nil && vals[i] < vals[worst] || c.Above != nil && vals[i] > vals[worst] {
				worst = i
			}
		}
		m = measure{value: vals[worst], point: names[worst], active: r.thresholdActive(vals[worst], firing)}
		m.text = listValues(names, vals, unit)
		return m, true
	case config.RuleDeviation:
		nom := *c.Nominal
		worst, score := -1, math.Inf(-1)
		for i, v := range vals {
			d := Deviation(v, nom)
			// How far past (or within) its side's limit: the worst point is
			// the one nearest or furthest beyond a limit.
			s := math.Inf(-1)
			if d < 0 && c.BelowPct != nil {
				s = -d / *c.BelowPct
			} else if d >= 0 && c.AbovePct != nil {
				s = d / *c.AbovePct
			}
			if worst < 0 || s > score {
				worst, score = i, s
			}
			// At the limit is within it: 235.4 V is +7 % of 220 V, whatever
			// the last bit of the float says.
			if d < 0 && c.BelowPct != nil && -d > *c.BelowPct+pctEpsilon || d > 0 && c.AbovePct != nil && d > *c.AbovePct+pctEpsilon {
				m.active = true
			}
		}
		m.value, m.point = vals[worst], names[worst]
		lo, hi := "—", "—"
		if c.BelowPct != nil {
			lo = fmt.Sprintf("−%g %%", *c.BelowPct)
		}
		if c.AbovePct != nil {
			hi = fmt.Sprintf("+%g %%", *c.AbovePct)
		}
		m.text = fmt.Sprintf("%s: %s %+.2f %% (允许 / allowed %s … %s of %g)", listValues(names, vals, unit),
			names[worst], Deviation(vals[worst], nom), lo, hi, nom)
		return m, true
	case config.RuleImbalance:
		if len(names) < len(c.Points) {
			return m, false // judged on all phases of one reading only
		}
		pct, mean, ok := Imbalance(vals)
		if !ok {
			return measure{text: listValues(names, vals, unit)}, true // no load: not imbalanced
		}
		m.value = pct
		m.active = !(c.MinMean != nil && mean < *c.MinMean) && imbalanceActive(c, pct, firing)
		m.text = fmt.Sprintf("%s: 平均 / mean %s, 不平衡度 / imbalance %.1f %%", listValues(names, vals, unit),
			FormatValue(mean), pct)
		return m, true
	}
	return m, false
}

// imbalanceActive is an imbalance rule's level with its clear level.
func imbalanceActive(c *config.Rule, pct float64, firing bool) bool {
	if firing && c.Clear != nil {
		return pct > *c.Clear
	}
	return pct > *c.Above || c.Inclusive && pct == *c.Above
}

func listValues(names []string, vals []float64, unit func(string) string) string {
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = strings.TrimSpace(n + " " + FormatValue(vals[i]) + " " + unit(n))
	}
	return strings.Join(parts, ", ")
}

// evalMulti applies a multi-point rule to a reading.
func (e *Engine) evalMulti(s *slot, rd *devices.Reading) {
	a := s.alarm
	firing := a != nil && a.Phase == Firing
	units := s.dev.info.Units
	m, ok := s.rule.judge(rd, firing, func(p string) string { return units[p] })
	if !ok {
		return
	}
	if s.rule.cfg.OnlyIf != nil {
		holds, known := s.rule.guard(rd)
		if !known {
			return
		}
		m.active = m.active && holds
	}
	if a == nil && !m.active {
		return
	}
	a = e.alarmOf(s)
	if !firing {
		// What a ticket opened now says; a firing alarm keeps the values it
		// fired with (a write per reading otherwise).
		a.Point, a.Text = m.point, m.text
	}
	e.observe(s, m.active, rd.Time, m.value)
}
