package maintenance

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// Sample is one telemetry value (InfluxDB's, read back by desk/history).
type Sample struct {
	Time  time.Time `json:"t"`
	Value float64   `json:"v"`
}

// MaxHold is how long a sample's value is taken to last when the next one
// is further away: a device that stopped answering is not running.
const MaxHold = 5 * time.Minute

// Measure turns a point's samples in [from, to) into a usage figure:
// running hours (time the contact was on, each value held until the next
// sample, at most hold; a mean between 0 and 1 of a downsampled series
// counts as that fraction), starts (off→on changes), or a counter's
// increase (resets, a counter going down, add nothing).
func Measure(measure string, samples []Sample, from, to time.Time, hold time.Duration) float64 {
	if hold <= 0 {
		hold = MaxHold
	}
	s := make([]Sample, 0, len(samples))
	for _, x := range samples {
		if !x.Time.Before(from) && x.Time.Before(to) && !math.IsNaN(x.Value) && !math.IsInf(x.Value, 0) {
			s = append(s, x)
		}
	}
	sort.SliceStable(s, func(i, j int) bool { return s[i].Time.Before(s[j].Time) })
	switch measure {
	case RunningHours:
		var on time.Duration
		for i, x := range s {
			end := to
			if i+1 < len(s) {
				end = s[i+1].Time
			}
			span := min(end.Sub(x.Time), hold)
			f := math.Max(0, math.Min(1, x.Value))
			on += time.Duration(f * float64(span))
		}
		return on.Hours()
	case Starts:
		n, prev := 0.0, -1.0
		for _, x := range s {
			cur := 0.0
			if x.Value >= 0.5 {
				cur = 1
			}
			if prev == 0 && cur == 1 {
				n++
			}
			prev = cur
		}
		return n
	case Counter:
		var inc float64
		for i := 1; i < len(s); i++ {
			if d := s[i].Value - s[i-1].Value; d > 0 {
				inc += d
			}
		}
		return inc
	}
	return 0
}

// Result is one checklist item as done: by a person (Pass, Value, Photo,
// Note) or from telemetry (Auto, with the readings that decided it).
type Result struct {
	Item  string   `json:"item"`
	Pass  *bool    `json:"pass,omitempty"`
	Value *float64 `json:"value,omitempty"`
	Photo string   `json:"photo,omitempty"`
	Note  string   `json:"note,omitempty"`
	// Auto is true when telemetry filled the item; Readings are what it read.
	Auto     bool      `json:"auto,omitempty"`
	Readings []Reading `json:"readings,omitempty"`
	Summary  string    `json:"summary,omitempty"`
}

// Reading is what one point showed over the evidence's window.
type Reading struct {
	Point   string    `json:"point"`
	Samples int       `json:"samples"`
	Min     float64   `json:"min"`
	Max     float64   `json:"max"`
	Last    float64   `json:"last"`
	LastAt  time.Time `json:"last_at,omitzero"`
	Minutes float64   `json:"minutes,omitempty"` // ran_at_least: minutes on
}

// Evaluate fills an evidence item from the samples of its points in
// [from, to). Without samples of a point it fails and says so: no
// evidence is no proof.
func Evaluate(it Item, samples map[string][]Sample, from, to time.Time) Result {
	r := Result{Item: it.ID, Auto: true}
	e := it.Evidence
	if e == nil {
		return Result{Item: it.ID}
	}
	pass := true
	var notes []string
	for _, pt := range e.Points {
		var rd Reading
		rd.Point = pt
		first := true
		var in []Sample
		for _, x := range samples[pt] {
			if x.Time.Before(from) || !x.Time.Before(to) || math.IsNaN(x.Value) {
				continue
			}
			in = append(in, x)
			rd.Samples++
			if first || x.Value < rd.Min {
				rd.Min = x.Value
			}
			if first || x.Value > rd.Max {
				rd.Max = x.Value
			}
			if first || !x.Time.Before(rd.LastAt) {
				rd.Last, rd.LastAt = x.Value, x.Time
			}
			first = false
		}
		if rd.Samples == 0 {
			pass = false
			notes = append(notes, pt+": no readings")
			r.Readings = append(r.Readings, rd)
			continue
		}
		switch e.Rule {
		case RanAtLeast:
			rd.Minutes = Measure(RunningHours, in, from, to, MaxHold) * 60
			if rd.Minutes < e.Minutes {
				pass = false
			}
			notes = append(notes, fmt.Sprintf("%s on %.0f min (needs %g)", pt, rd.Minutes, e.Minutes))
		case Within:
			if (it.Min != nil && rd.Min < *it.Min) || (it.Max != nil && rd.Max > *it.Max) {
				pass = false
			}
			notes = append(notes, fmt.Sprintf("%s %g..%g%s", pt, rd.Min, rd.Max, it.Unit))
		}
		r.Readings = append(r.Readings, rd)
	}
	r.Pass = &pass
	if e.Rule == Within && len(r.Readings) > 0 {
		v := r.Readings[0].Last
		r.Value = &v
	}
	r.Summary = strings.Join(notes, "; ")
	return r
}

// Check says what is wrong with a person's result for an item: a pass/fail
// on a reading, a number on a check, a value that is not a finite number.
// It returns the result with Pass decided for a reading by its limits.
func Check(it Item, r Result) (Result, error) {
	r.Item, r.Auto, r.Readings, r.Summary = it.ID, false, nil, ""
	if len(r.Note) > 2000 || len(r.Photo) > 500 {
		return r, errors.New("note is at most 2000 bytes, photo 500")
	}
	switch it.Kind {
	case KindCheck:
		if r.Value != nil {
			return r, fmt.Errorf("%s is a pass/fail item; give pass, not a value", it.ID)
		}
		if r.Pass == nil && it.Required {
			return r, fmt.Errorf("%s: pass or fail is required", it.ID)
		}
	case KindReading:
		if r.Value == nil {
			if it.Required {
				return r, fmt.Errorf("%s: a reading (a number) is required", it.ID)
			}
			return r, nil
		}
		if math.IsNaN(*r.Value) || math.IsInf(*r.Value, 0) {
			return r, fmt.Errorf("%s: the reading must be a finite number", it.ID)
		}
		pass := (it.Min == nil || *r.Value >= *it.Min) && (it.Max == nil || *r.Value <= *it.Max)
		r.Pass = &pass
	case KindPhoto:
		if r.Value != nil || r.Pass != nil {
			return r, fmt.Errorf("%s is a photo item; give photo, the picture's reference", it.ID)
		}
		if r.Photo == "" && it.Required {
			return r, fmt.Errorf("%s: a photo reference is required", it.ID)
		}
		if strings.ContainsAny(r.Photo, "\x00\r\n") {
			return r, fmt.Errorf("%s: the photo reference holds a control character", it.ID)
		}
	case KindNote:
		if r.Value != nil || r.Pass != nil {
			return r, fmt.Errorf("%s is a note item; give note", it.ID)
		}
		if strings.TrimSpace(r.Note) == "" && it.Required {
			return r, fmt.Errorf("%s: a note is required", it.ID)
		}
	}
	return r, nil
}
