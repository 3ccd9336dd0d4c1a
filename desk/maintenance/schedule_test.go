package maintenance

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

var shanghai = func() *time.Location {
	l, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		panic(err)
	}
	return l
}()

func day(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", s, shanghai)
	if err != nil {
		panic(err)
	}
	return t
}

func fptr(v float64) *float64 { return &v }

func basePlan() Plan {
	return Plan{ID: "p1", Site: "s", Name: "plan", Equipment: "gen-1", Active: true,
		Checklist: []Item{{ID: "a", Text: "检查", Kind: KindCheck}}}
}

// holidays is a WorkingDays with extra days off and make-up working days,
// the shape the site calendar will have.
type holidays struct {
	off, on map[string]bool
}

func (h holidays) IsWorkingDay(d time.Time) bool {
	k := d.Format(time.DateOnly)
	if h.on[k] {
		return true
	}
	if h.off[k] {
		return false
	}
	return Weekends{}.IsWorkingDay(d)
}

// TestCalendarOccurrences lists a year of each shape of calendar and checks
// every date against one worked out by hand.
func TestCalendarOccurrences(t *testing.T) {
	from, to := day("2026-01-01 00:00"), day("2027-01-01 00:00")
	cases := []struct {
		name  string
		cal   Calendar
		wd    WorkingDays
		count int
		first []string // the first occurrences, "MM-DD HH:MM"
		check map[int]string
	}{
		{"every 15 days", Calendar{Every: 15, Unit: Day, Start: "2026-01-01", At: "09:00"}, nil, 25,
			[]string{"01-01 09:00", "01-16 09:00", "01-31 09:00", "02-15 09:00"}, map[int]string{24: "12-27 09:00"}},
		{"weekly on monday", Calendar{Every: 1, Unit: Week, Weekday: "monday", Start: "2026-01-01", At: "10:00"}, nil, 52,
			[]string{"01-05 10:00", "01-12 10:00"}, map[int]string{51: "12-28 10:00"}},
		{"fortnightly on friday", Calendar{Every: 2, Unit: Week, Weekday: "Friday", Start: "2026-01-01"}, nil, 26,
			[]string{"01-02 09:00", "01-16 09:00"}, map[int]string{25: "12-18 09:00"}},
		{"monthly on the 31st is the month's last day", Calendar{Every: 1, Unit: Month, Day: 31, Start: "2026-01-01"}, nil, 12,
			[]string{"01-31 09:00", "02-28 09:00", "03-31 09:00", "04-30 09:00"}, map[int]string{11: "12-31 09:00"}},
		{"quarterly from the start's day", Calendar{Every: 3, Unit: Month, Start: "2026-02-10"}, nil, 4,
			[]string{"02-10 09:00", "05-10 09:00", "08-10 09:00", "11-10 09:00"}, nil},
		{"monthly on the 5th, working days only", Calendar{Every: 1, Unit: Month, Day: 5, Start: "2026-01-01", WorkingDaysOnly: true}, nil, 12,
			// 2026-04-05 is a Sunday, 07-05 a Sunday, 09-05 a Saturday, 12-05 a Saturday.
			[]string{"01-05 09:00", "02-05 09:00", "03-05 09:00", "04-06 09:00"}, map[int]string{6: "07-06 09:00", 8: "09-07 09:00", 11: "12-07 09:00"}},
		{"monthly with a holiday calendar", Calendar{Every: 1, Unit: Month, Day: 1, Start: "2026-01-01", WorkingDaysOnly: true},
			holidays{off: map[string]bool{"2026-01-01": true, "2026-01-02": true, "2026-05-01": true, "2026-10-01": true, "2026-10-02": true},
				on: map[string]bool{"2026-02-01": true}}, 12,
			[]string{"01-05 09:00", "02-01 09:00", "03-02 09:00"}, map[int]string{4: "05-04 09:00", 9: "10-05 09:00"}},
		{"yearly LV overhaul", Calendar{Every: 1, Unit: Year, Month: 4, Day: 15, Start: "2026-01-01", WorkingDaysOnly: true, At: "08:30"}, nil, 1,
			[]string{"04-15 08:30"}, nil},
		{"HV test on a Sunday moves to Monday", Calendar{Every: 2, Unit: Year, Month: 5, Day: 10, Start: "2026-01-01", WorkingDaysOnly: true}, nil, 1,
			[]string{"05-11 09:00"}, nil},
		{"a yearly date before the start is next year's", Calendar{Every: 1, Unit: Year, Month: 3, Day: 1, Start: "2025-06-01"}, nil, 1,
			[]string{"03-01 09:00"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := basePlan()
			p.Calendar = &c.cal
			if err := p.Validate(); err != nil {
				t.Fatal(err)
			}
			got := c.cal.Occurrences(from, to, shanghai, c.wd, 1000)
			if len(got) != c.count {
				t.Fatalf("%d occurrences, want %d: %v", len(got), c.count, got)
			}
			for i, want := range c.first {
				if s := got[i].Format("01-02 15:04"); s != want {
					t.Errorf("occurrence %d is %s, want %s", i, s, want)
				}
			}
			for i, want := range c.check {
				if s := got[i].Format("01-02 15:04"); s != want {
					t.Errorf("occurrence %d is %s, want %s", i, s, want)
				}
			}
			for i := 1; i < len(got); i++ {
				if !got[i].After(got[i-1]) {
					t.Fatalf("occurrences out of order: %v then %v", got[i-1], got[i])
				}
				if c.cal.WorkingDaysOnly {
					wd := c.wd
					if wd == nil {
						wd = Weekends{}
					}
					if !wd.IsWorkingDay(got[i]) {
						t.Errorf("%v is not a working day", got[i])
					}
				}
			}
		})
	}
	// 29 February is 28 February in common years.
	leap := Calendar{Every: 1, Unit: Year, Month: 2, Day: 29, Start: "2024-01-01"}
	got := leap.Occurrences(day("2024-01-01 00:00"), day("2029-01-01 00:00"), shanghai, nil, 10)
	var s []string
	for _, g := range got {
		s = append(s, g.Format(time.DateOnly))
	}
	if strings.Join(s, " ") != "2024-02-29 2025-02-28 2026-02-28 2027-02-28 2028-02-29" {
		t.Errorf("29 February each year: %v", s)
	}
}

func TestPlanValidation(t *testing.T) {
	cases := []struct {
		name string
		edit func(*Plan)
		want string
	}{
		{"no trigger", func(p *Plan) {}, "calendar: the plan has no trigger"},
		{"31 February", func(p *Plan) { p.Calendar = &Calendar{Every: 1, Unit: Year, Month: 2, Day: 31, Start: "2026-01-01"} }, "February 31 does not exist"},
		{"31 April", func(p *Plan) { p.Calendar = &Calendar{Every: 1, Unit: Year, Month: 4, Day: 31, Start: "2026-01-01"} }, "April 31 does not exist"},
		{"month 13", func(p *Plan) { p.Calendar = &Calendar{Every: 1, Unit: Year, Month: 13, Day: 1, Start: "2026-01-01"} }, "month: 13"},
		{"bad start", func(p *Plan) { p.Calendar = &Calendar{Every: 1, Unit: Day, Start: "2026-02-30"} }, "start:"},
		{"every 0", func(p *Plan) { p.Calendar = &Calendar{Every: 0, Unit: Day, Start: "2026-02-01"} }, "every: 0"},
		{"fortnight unit", func(p *Plan) { p.Calendar = &Calendar{Every: 1, Unit: "fortnight", Start: "2026-02-01"} }, "unit:"},
		{"bad weekday", func(p *Plan) { p.Calendar = &Calendar{Every: 1, Unit: Week, Weekday: "周一", Start: "2026-02-01"} }, "weekday:"},
		{"usage of nothing", func(p *Plan) { p.Usage = &Usage{Point: "generator_running", Measure: RunningHours} }, "usage.every"},
		{"usage measure", func(p *Plan) { p.Usage = &Usage{Point: "x", Measure: "hours", Every: 1} }, "usage.measure"},
		{"both targets", func(p *Plan) { p.Class = "generator"; p.Usage = &Usage{Point: "x", Measure: Counter, Every: 1} }, "not both"},
		{"limits on a check", func(p *Plan) {
			p.Usage = &Usage{Point: "x", Measure: Counter, Every: 1}
			p.Checklist[0].Min = fptr(1)
		}, "only a reading has limits"},
		{"min above max", func(p *Plan) {
			p.Usage = &Usage{Point: "x", Measure: Counter, Every: 1}
			p.Checklist = []Item{{ID: "v", Text: "电压", Kind: KindReading, Min: fptr(240), Max: fptr(200)}}
		}, "above max"},
		{"evidence on a note", func(p *Plan) {
			p.Usage = &Usage{Point: "x", Measure: Counter, Every: 1}
			p.Checklist = []Item{{ID: "v", Text: "运行", Kind: KindNote, Evidence: &Evidence{Rule: RanAtLeast, Points: []string{"x"}, Minutes: 15}}}
		}, "ran_at_least fills a check item"},
		{"item twice", func(p *Plan) {
			p.Usage = &Usage{Point: "x", Measure: Counter, Every: 1}
			p.Checklist = append(p.Checklist, p.Checklist[0])
		}, `"a" is given twice`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := basePlan()
			c.edit(&p)
			err := p.Validate()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}

// generatorSamples is a generator that runs from 08:00 to 13:00 every day,
// its contact sampled every 5 minutes.
func generatorSamples(from, to time.Time) []Sample {
	var out []Sample
	step := 5 * time.Minute
	for t := from.Truncate(step); t.Before(to); t = t.Add(step) {
		h := t.In(shanghai).Hour()
		v := 0.0
		if h >= 8 && h < 13 {
			v = 1
		}
		out = append(out, Sample{Time: t, Value: v})
	}
	return out
}

// TestYearOfPlans runs a year of three plans on a fake clock that moves an
// hour at a time, with usage measured from the generator's contact as the
// desk measures it, and checks every occurrence.
func TestYearOfPlans(t *testing.T) {
	start, end := day("2026-01-01 00:00"), day("2027-01-01 00:00")
	elevator := basePlan()
	elevator.ID, elevator.Calendar = "lift", &Calendar{Every: 15, Unit: Day, Start: "2026-01-01", At: "09:00"}
	usageOnly := basePlan()
	usageOnly.ID, usageOnly.Usage = "hours", &Usage{Point: "generator_running", Measure: RunningHours, Every: 10}
	both := basePlan()
	both.ID = "weekly"
	both.Calendar = &Calendar{Every: 1, Unit: Week, Weekday: "monday", Start: "2026-01-05", At: "10:00"}
	both.Usage = &Usage{Point: "generator_running", Measure: RunningHours, Every: 25}

	type got struct{ at, trigger string }
	run := func(p Plan) []got {
		st := State{Since: start}
		var out []got
		for now := start; now.Before(end); now = now.Add(time.Hour) {
			usage := 0.0
			if p.Usage != nil {
				from := st.UsageFrom()
				usage = Measure(p.Usage.Measure, generatorSamples(from, now), from, now, MaxHold)
			}
			var o *Occurrence
			o, st = Step(p, st, now, usage, shanghai, Weekends{})
			if o != nil {
				out = append(out, got{o.Due.In(shanghai).Format("01-02 15:04"), o.Trigger})
				// Stepping again at the same moment opens nothing more.
				if again, _ := Step(p, st, now, 0, shanghai, Weekends{}); again != nil {
					t.Fatalf("%s: a second occurrence at %v", p.ID, now)
				}
			}
		}
		return out
	}

	// Elevator: every 15 days at 09:00 from 1 January: day 0, 15, ... 360.
	var want []got
	for d := 0; d <= 360; d += 15 {
		want = append(want, got{start.AddDate(0, 0, d).Add(9 * time.Hour).Format("01-02 15:04"), TriggerCalendar})
	}
	compare(t, "lift", run(elevator), want)

	// Usage only: 5 running hours a day, 10 per occurrence: due when the
	// second day's run ends, at 13:00 every other day.
	want = nil
	for d := 1; d < 365; d += 2 {
		want = append(want, got{start.AddDate(0, 0, d).Add(13 * time.Hour).Format("01-02 15:04"), TriggerUsage})
	}
	compare(t, "hours", run(usageOnly), want)

	// Weekly on Monday at 10:00 or at 25 running hours: from Monday 10:00
	// the generator has run 3 h that day and 5 h a day after, so 25 h are
	// reached on Saturday at 10:00; from there Monday 10:00 comes at 10 h.
	// Before the first Monday (5 January) it ran 22 h: the calendar comes first.
	want = nil
	for mon := day("2026-01-05 10:00"); mon.Before(end); mon = mon.AddDate(0, 0, 7) {
		want = append(want, got{mon.Format("01-02 15:04"), TriggerCalendar})
		if sat := mon.AddDate(0, 0, 5); sat.Before(end) {
			want = append(want, got{sat.Format("01-02 15:04"), TriggerUsage})
		}
	}
	compare(t, "weekly", run(both), want)
}

func compare[T comparable](t *testing.T, name string, got, want []T) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d occurrences, want %d\n got %v\nwant %v", name, len(got), len(want), got, want)
		return
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("%s: occurrence %d is %v, want %v", name, i, got[i], want[i])
		}
	}
}

func TestNextExplains(t *testing.T) {
	p := basePlan()
	p.Calendar = &Calendar{Every: 1, Unit: Week, Weekday: "thursday", Start: "2026-12-01", At: "09:00"}
	p.Usage = &Usage{Point: "generator_running", Measure: RunningHours, Every: 250}
	d := Next(p, State{Since: day("2026-12-11 12:00")}, day("2026-12-12 12:00"), 231, shanghai, nil)
	if d.Now || d.Explain != "due on 12-17 09:00, or at 250 running hours; now 231" {
		t.Errorf("explanation %q (now %v)", d.Explain, d.Now)
	}
	if d.ExplainZH != "12-17 09:00 到期, 或运行小时达到 250 (当前 231)" {
		t.Errorf("Chinese explanation %q", d.ExplainZH)
	}
	d = Next(p, State{Since: day("2026-12-11 12:00")}, day("2026-12-12 12:00"), 250.5, shanghai, nil)
	if !d.Now || d.Trigger != TriggerUsage {
		t.Errorf("at 250.5 hours: %+v", d)
	}
}

// A desk that was down for three weeks opens one order for a weekly plan,
// for the latest week, not three.
func TestMissedOccurrencesAreOne(t *testing.T) {
	p := basePlan()
	p.Calendar = &Calendar{Every: 1, Unit: Week, Weekday: "monday", Start: "2026-01-05", At: "10:00"}
	st := State{Since: day("2026-01-01 00:00")}
	o, st := Step(p, st, day("2026-01-27 08:00"), 0, shanghai, nil)
	if o == nil || o.Due.Format("01-02") != "01-26" {
		t.Fatalf("occurrence %+v", o)
	}
	if o, _ := Step(p, st, day("2026-02-01 08:00"), 0, shanghai, nil); o != nil {
		t.Fatalf("another occurrence before the next Monday: %+v", o)
	}
}

func TestMeasure(t *testing.T) {
	t0 := day("2026-03-01 00:00")
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	contact := []Sample{{at(0), 0}, {at(10), 1}, {at(11), 1}, {at(40), 1}, {at(45), 0}, {at(50), 1}, {at(51), 0}}
	// on 10→11 (1), 11→16 (hold 5), 40→45 (5), 50→51 (1): 12 minutes; starts 2.
	if h := Measure(RunningHours, contact, t0, at(60), MaxHold); h*60 < 11.99 || h*60 > 12.01 {
		t.Errorf("running minutes %v, want 12", h*60)
	}
	if n := Measure(Starts, contact, t0, at(60), MaxHold); n != 2 {
		t.Errorf("starts %v, want 2", n)
	}
	energy := []Sample{{at(0), 100}, {at(1), 101.5}, {at(2), 0}, {at(3), 2}}
	if d := Measure(Counter, energy, t0, at(60), MaxHold); d != 3.5 {
		t.Errorf("counter increase %v, want 3.5 (a reset adds nothing)", d)
	}
}

func TestEvaluateEvidence(t *testing.T) {
	t0 := day("2026-03-02 10:00")
	ran := Item{ID: "run", Text: "试运行", Kind: KindCheck, Evidence: &Evidence{Rule: RanAtLeast, Points: []string{"generator_running"}, Minutes: 15}}
	var s []Sample
	for m := 0; m <= 20; m++ {
		s = append(s, Sample{t0.Add(time.Duration(m) * time.Minute), 1})
	}
	r := Evaluate(ran, map[string][]Sample{"generator_running": s}, t0, t0.Add(time.Hour))
	if r.Pass == nil || !*r.Pass || !r.Auto || r.Readings[0].Minutes < 20 {
		t.Errorf("ran 20 minutes: %+v", r)
	}
	r = Evaluate(ran, map[string][]Sample{"generator_running": s[:10]}, t0, t0.Add(time.Hour))
	if r.Pass == nil || *r.Pass {
		t.Errorf("ran 14 minutes passes: %+v", r)
	}
	r = Evaluate(ran, nil, t0, t0.Add(time.Hour))
	if r.Pass == nil || *r.Pass || !strings.Contains(r.Summary, "no readings") {
		t.Errorf("no readings: %+v", r)
	}
	volts := Item{ID: "v", Text: "三相电压", Kind: KindReading, Unit: "V", Min: fptr(198), Max: fptr(242),
		Evidence: &Evidence{Rule: Within, Points: []string{"voltage_a", "voltage_b", "voltage_c"}}}
	phases := map[string][]Sample{
		"voltage_a": {{t0, 220}, {t0.Add(time.Minute), 221}},
		"voltage_b": {{t0, 219}},
		"voltage_c": {{t0, 230}, {t0.Add(2 * time.Minute), 243}},
	}
	r = Evaluate(volts, phases, t0, t0.Add(time.Hour))
	if r.Pass == nil || *r.Pass || len(r.Readings) != 3 || r.Readings[2].Max != 243 {
		t.Errorf("phase C at 243 V passes: %+v", r)
	}
	phases["voltage_c"] = phases["voltage_c"][:1]
	r = Evaluate(volts, phases, t0, t0.Add(time.Hour))
	if r.Pass == nil || !*r.Pass {
		t.Errorf("all phases within limits fails: %+v", r)
	}
}

func TestCheckResults(t *testing.T) {
	yes := true
	reading := Item{ID: "fuel", Text: "燃油", Kind: KindReading, Min: fptr(50), Max: fptr(100), Required: true}
	if _, err := Check(reading, Result{Pass: &yes}); err == nil || !strings.Contains(err.Error(), "a reading (a number) is required") {
		t.Errorf("a pass on a reading: %v", err)
	}
	r, err := Check(reading, Result{Value: fptr(40)})
	if err != nil || r.Pass == nil || *r.Pass {
		t.Errorf("40 %% fuel below 50: %+v %v", r, err)
	}
	check := Item{ID: "leak", Text: "无渗漏", Kind: KindCheck, Required: true}
	if _, err := Check(check, Result{Value: fptr(1)}); err == nil || !strings.Contains(err.Error(), "pass/fail item") {
		t.Errorf("a value on a check: %v", err)
	}
	if _, err := Check(check, Result{}); err == nil {
		t.Error("a required check left empty passes")
	}
	photo := Item{ID: "p", Text: "照片", Kind: KindPhoto}
	if _, err := Check(photo, Result{Pass: &yes}); err == nil {
		t.Error("a pass on a photo item passes")
	}
}

func TestShippedTemplates(t *testing.T) {
	ts, err := Templates()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, p := range ts {
		names[p.Template] = true
	}
	for _, want := range []string{"elevator-half-monthly", "generator-weekly", "lv-switchgear-yearly", "hv-test-biennial", "battery-bank-yearly", "fire-system-monthly"} {
		if !names[want] {
			t.Errorf("template %s is not shipped", want)
		}
	}
	_, err = ParseTemplates("t.yaml", []byte("templates:\n  - template: x\n    name: x\n    class: c\n    checklist: [{id: a, text: a, kind: check}]\n"))
	if err == nil || !strings.Contains(err.Error(), "t.yaml:2: template x: calendar: the plan has no trigger") {
		t.Errorf("a template without a trigger: %v", err)
	}
	_, err = ParseTemplates("t.yaml", []byte("templates:\n  - template: x\n    name: x\n    class: c\n    calendar: {every: 1, unit: year, month: 2, day: 31, start: '2026-01-01'}\n    checklist: [{id: a, text: a, kind: check}]\n"))
	if err == nil || !strings.Contains(err.Error(), "t.yaml:2: template x: calendar.day: February 31 does not exist") {
		t.Errorf("31 February: %v", err)
	}
}

func FuzzParseTemplates(f *testing.F) {
	f.Add([]byte("templates:\n  - template: x\n    name: x\n    class: c\n    calendar: {every: 1, unit: day, start: '2026-01-01'}\n    checklist: [{id: a, text: a, kind: check}]\n"))
	f.Add([]byte("templates: [{template: y, class: c, calendar: {every: 2, unit: year, month: 2, day: 29, start: '2024-01-01', working_days_only: true}}]"))
	f.Add([]byte("templates: 3"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ps, err := ParseTemplates("f.yaml", data)
		if err != nil {
			return
		}
		for _, p := range ps {
			if p.Calendar != nil {
				// Every valid calendar has a next occurrence, after any time.
				if p.Calendar.After(day("2030-06-01 00:00"), shanghai, Weekends{}).IsZero() && p.Calendar.Unit != Year {
					t.Fatalf("no occurrence after 2030 for %+v", p.Calendar)
				}
			}
		}
	})
}

// FuzzPlan decodes plans as the API does: a plan that validates always has
// a next occurrence after its start and steps without opening two
// occurrences at one moment.
func FuzzPlan(f *testing.F) {
	f.Add([]byte(`{"id":"p","name":"n","equipment":"e","calendar":{"every":15,"unit":"day","start":"2026-01-01"},"checklist":[{"id":"a","text":"a","kind":"check"}]}`))
	f.Add([]byte(`{"id":"p","name":"n","class":"c","calendar":{"every":1,"unit":"year","month":2,"day":29,"start":"2024-01-01","working_days_only":true},"usage":{"point":"x","measure":"starts","every":3},"checklist":[{"id":"a","text":"a","kind":"reading","min":1,"max":2}]}`))
	f.Add([]byte(`{"id":"p","name":"n","equipment":"e","calendar":{"every":1,"unit":"month","day":31,"start":"2026-01-31","at":"23:59"},"checklist":[{"id":"a","text":"a","kind":"note"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var p Plan
		if json.Unmarshal(data, &p) != nil || p.Validate() != nil {
			return
		}
		st := State{Since: day("2026-06-01 12:00")}
		now := day("2026-06-01 12:00")
		for range 5 {
			o, next := Step(p, st, now, 1e6, shanghai, Weekends{})
			if o != nil {
				if again, _ := Step(p, next, now, 0, shanghai, Weekends{}); again != nil && p.Calendar != nil && again.Trigger == TriggerCalendar {
					t.Fatalf("two calendar occurrences at %v", now)
				}
			}
			st = next
			if p.Calendar != nil {
				n := p.Calendar.After(now, shanghai, Weekends{})
				if n.IsZero() || !n.After(now) {
					t.Fatalf("no next occurrence after %v: %+v", now, p.Calendar)
				}
				now = n
			} else {
				now = now.Add(time.Hour)
			}
		}
	})
}

func BenchmarkStepCalendarAndUsage(b *testing.B) {
	p := basePlan()
	p.Calendar = &Calendar{Every: 1, Unit: Week, Weekday: "monday", Start: "2020-01-06", At: "10:00"}
	p.Usage = &Usage{Point: "generator_running", Measure: RunningHours, Every: 250}
	st := State{Since: day("2020-01-01 00:00"), LastCalendar: day("2026-11-30 10:00")}
	now := day("2026-12-03 12:00")
	b.ReportAllocs()
	for b.Loop() {
		Step(p, st, now, 231, shanghai, Weekends{})
	}
}

func BenchmarkMeasureWeekOfMinutes(b *testing.B) {
	from := day("2026-03-02 00:00")
	to := from.AddDate(0, 0, 7)
	s := generatorSamples(from, to)
	b.ReportAllocs()
	for b.Loop() {
		Measure(RunningHours, s, from, to, MaxHold)
	}
}
