package cjt188

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// FlowWatch is the watch of a building's main meter (its cjt188.flow_watch
// block): a burst main or a tap left running shows as a flow far above the
// meter's own recent pattern, a leak as a flow that never stops at night.
type FlowWatch struct {
	// Baseline is how far back the meter's own pattern is taken from (the
	// median flow of that time, default 2h).
	Baseline time.Duration `yaml:"baseline"`
	// JumpFactor: a flow above this many times the baseline is a jump (default 3)…
	JumpFactor float64 `yaml:"jump_factor"`
	// MinJump: …and at least this much above it, m³/h (default 1), so that
	// a quiet building's 0.1 → 0.4 is not news.
	MinJump float64 `yaml:"min_jump"`
	// Night is the hours (site time) when a building's use should stop now
	// and then ("01:00-05:00", the default).
	Night string `yaml:"night"`
	// NightMinFlow: a night whose flow never fell to this (m³/h, default 0.05)
	// ran all night.
	NightMinFlow float64 `yaml:"night_min_flow"`

	nightFrom, nightTo time.Duration // since midnight
}

type fieldProblem struct{ field, msg string }

func (w *FlowWatch) check() []fieldProblem {
	var ps []fieldProblem
	if w.Baseline < 0 || w.Baseline > 0 && w.Baseline < 10*time.Minute {
		ps = append(ps, fieldProblem{"baseline", "at least 10m"})
	}
	if w.JumpFactor != 0 && w.JumpFactor <= 1 {
		ps = append(ps, fieldProblem{"jump_factor", "must be above 1"})
	}
	if w.MinJump < 0 || w.NightMinFlow < 0 {
		ps = append(ps, fieldProblem{"min_jump", "min_jump and night_min_flow must not be negative"})
	}
	if _, _, err := parseNight(w.Night); err != nil {
		ps = append(ps, fieldProblem{"night", err.Error()})
	}
	return ps
}

// withDefaults returns the watch with its defaults filled in.
func (w FlowWatch) withDefaults() FlowWatch {
	if w.Baseline == 0 {
		w.Baseline = 2 * time.Hour
	}
	if w.JumpFactor == 0 {
		w.JumpFactor = 3
	}
	if w.MinJump == 0 {
		w.MinJump = 1
	}
	if w.NightMinFlow == 0 {
		w.NightMinFlow = 0.05
	}
	w.nightFrom, w.nightTo, _ = parseNight(w.Night)
	return w
}

func parseNight(s string) (from, to time.Duration, err error) {
	if s == "" {
		s = "01:00-05:00"
	}
	a, b, ok := strings.Cut(s, "-")
	clock := func(c string) (time.Duration, error) {
		h, m, ok := strings.Cut(strings.TrimSpace(c), ":")
		hh, err1 := strconv.Atoi(h)
		mm, err2 := strconv.Atoi(m)
		if !ok || err1 != nil || err2 != nil || hh < 0 || hh > 23 || mm < 0 || mm > 59 {
			return 0, fmt.Errorf("%q is not a time of day HH:MM", c)
		}
		return time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute, nil
	}
	if !ok {
		return 0, 0, fmt.Errorf("%q: want HH:MM-HH:MM (site time), such as 01:00-05:00", s)
	}
	if from, err = clock(a); err != nil {
		return 0, 0, err
	}
	if to, err = clock(b); err != nil {
		return 0, 0, err
	}
	if from == to {
		return 0, 0, fmt.Errorf("%q: the night cannot be empty", s)
	}
	return from, to, nil
}

// FlowSample is one flow of a meter at a time.
type FlowSample struct {
	At   time.Time
	Flow float64 // m³/h
}

// JumpVerdict is what FlowJump found.
type JumpVerdict struct {
	// Known: there is enough of a pattern to judge (at least 10 samples
	// covering half the baseline).
	Known bool
	// Baseline is the median flow of the baseline period (m³/h).
	Baseline float64
	// Jump: the flow is above JumpFactor × Baseline and MinJump above it.
	Jump bool
}

// FlowJump judges the flow cur against the meter's own pattern in hist (the
// samples before cur, oldest first): the median of those in the baseline
// period before cur. A pure function of its arguments.
func FlowJump(w FlowWatch, hist []FlowSample, cur FlowSample) JumpVerdict {
	w = w.withDefaults()
	from := cur.At.Add(-w.Baseline)
	var flows []float64
	var first time.Time
	for _, s := range hist {
		if s.At.Before(from) || !s.At.Before(cur.At) {
			continue
		}
		if first.IsZero() {
			first = s.At
		}
		flows = append(flows, s.Flow)
	}
	if len(flows) < 10 || cur.At.Sub(first) < w.Baseline/2 {
		return JumpVerdict{}
	}
	sort.Float64s(flows)
	median := flows[len(flows)/2]
	if len(flows)%2 == 0 {
		median = (flows[len(flows)/2-1] + flows[len(flows)/2]) / 2
	}
	jump := cur.Flow > w.JumpFactor*median && cur.Flow-median >= w.MinJump
	return JumpVerdict{Known: true, Baseline: median, Jump: jump}
}

// NightVerdict is what NightFlow found about the last night.
type NightVerdict struct {
	// Known: a night ended at or before now and the samples cover it (no
	// gap longer than an hour, from its start to its end).
	Known bool
	// From and To are the last night's bounds.
	From, To time.Time
	// Min is the lowest flow of that night (m³/h).
	Min float64
	// Ran: the flow never fell to NightMinFlow all night.
	Ran bool
}

// NightFlow judges the last night that ended at or before now (site time in
// loc) from hist (oldest first). A pure function of its arguments.
func NightFlow(w FlowWatch, hist []FlowSample, now time.Time, loc *time.Location) NightVerdict {
	w = w.withDefaults()
	local := now.In(loc)
	midnight := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, loc)
	end := midnight.Add(w.nightTo)
	if end.After(local) {
		end = end.AddDate(0, 0, -1)
	}
	dayOfEnd := time.Date(end.Year(), end.Month(), end.Day(), 0, 0, 0, 0, loc)
	start := dayOfEnd.Add(w.nightFrom)
	if w.nightFrom > w.nightTo {
		start = start.AddDate(0, 0, -1) // 23:00-05:00 starts the evening before
	}
	v := NightVerdict{From: start, To: end, Min: -1}
	last := start
	covered := false
	for _, s := range hist {
		if s.At.Before(start) || s.At.After(end) {
			continue
		}
		if s.At.Sub(last) > time.Hour {
			return NightVerdict{From: start, To: end}
		}
		last = s.At
		if v.Min < 0 || s.Flow < v.Min {
			v.Min = s.Flow
		}
		covered = true
	}
	if !covered || end.Sub(last) > time.Hour {
		return NightVerdict{From: start, To: end}
	}
	v.Known = true
	v.Ran = v.Min > w.NightMinFlow
	return v
}

// flowWatcher keeps a main meter's recent flows and turns the verdicts into
// events: a jump while it lasts, a night that ran all night once per night.
type flowWatcher struct {
	w     FlowWatch
	loc   *time.Location
	hist  []FlowSample
	jump  bool
	night time.Time // the end of the last night reported on
	ran   bool
}

// flowNotice is a change the watcher found.
type flowNotice struct {
	kind   string // flow_jump or night_flow
	active bool
	text   string
	value  float64
}

func newFlowWatcher(w FlowWatch, loc *time.Location) *flowWatcher {
	return &flowWatcher{w: w.withDefaults(), loc: loc}
}

// observe takes one flow and returns what changed.
func (f *flowWatcher) observe(s FlowSample) []flowNotice {
	var out []flowNotice
	j := FlowJump(f.w, f.hist, s)
	switch {
	case j.Known && j.Jump && !f.jump:
		f.jump = true
		out = append(out, flowNotice{kind: "flow_jump", active: true, value: s.Flow,
			text: fmt.Sprintf("flow %.2f m³/h against %.2f m³/h usual in the last %s", s.Flow, j.Baseline, f.w.Baseline)})
	case f.jump && (!j.Known || !j.Jump):
		f.jump = false
		out = append(out, flowNotice{kind: "flow_jump", active: false, value: s.Flow,
			text: fmt.Sprintf("flow back to %.2f m³/h", s.Flow)})
	}
	f.hist = append(f.hist, s)
	n := NightFlow(f.w, f.hist, s.At, f.loc)
	if n.Known && !n.To.Equal(f.night) {
		f.night = n.To
		switch {
		case n.Ran:
			f.ran = true
			out = append(out, flowNotice{kind: "night_flow", active: true, value: n.Min,
				text: fmt.Sprintf("water ran all night %s–%s: never below %.2f m³/h", n.From.Format("01-02 15:04"), n.To.Format("15:04"), n.Min)})
		case f.ran:
			f.ran = false
			out = append(out, flowNotice{kind: "night_flow", active: false, value: n.Min,
				text: fmt.Sprintf("the night %s–%s fell to %.2f m³/h", n.From.Format("01-02 15:04"), n.To.Format("15:04"), n.Min)})
		}
	}
	// Keep what the next verdicts need: the baseline, and the last night.
	keep := s.At.Add(-max(f.w.Baseline, 26*time.Hour))
	if i, _ := slices.BinarySearchFunc(f.hist, keep, func(x FlowSample, t time.Time) int { return x.At.Compare(t) }); i > 0 {
		f.hist = slices.Delete(f.hist, 0, i)
	}
	return out
}
