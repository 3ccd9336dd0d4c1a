package shift

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/estatehq/estate/desk/deskconfig"
	"github.com/estatehq/estate/internal/config"
)

func TestDefaultPlanAt(t *testing.T) {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	p := DefaultPlan()
	for _, c := range []struct {
		at, name, start, end string
	}{
		{"2026-12-03 00:00", "night", "2026-12-03 00:00", "2026-12-03 08:00"},
		{"2026-12-03 07:59", "night", "2026-12-03 00:00", "2026-12-03 08:00"},
		{"2026-12-03 08:00", "day", "2026-12-03 08:00", "2026-12-03 16:00"},
		{"2026-12-03 23:59", "evening", "2026-12-03 16:00", "2026-12-04 00:00"},
	} {
		at, _ := time.ParseInLocation("2006-01-02 15:04", c.at, loc)
		i := p.At("s", at, loc)
		if i.Name != c.name || i.Start.In(loc).Format("2006-01-02 15:04") != c.start || i.End.In(loc).Format("2006-01-02 15:04") != c.end {
			t.Errorf("at %s: %+v", c.at, i)
		}
		if n := p.Next(i, loc); !n.Start.Equal(i.End) {
			t.Errorf("next of %+v: %+v", i, n)
		}
		if pr := p.Previous(i, loc); !pr.End.Equal(i.Start) {
			t.Errorf("previous of %+v: %+v", i, pr)
		}
	}
}

// A plan across midnight, and a day whose clocks change (Europe/Berlin, 29
// March 2026: 02:00 becomes 03:00), still gives one shift for every moment.
func TestPlanAcrossMidnightAndClockChange(t *testing.T) {
	plan, ps := ParsePlan([]deskconfig.ShiftDef{
		{Name: "a", Start: "07:00", End: "19:00"}, {Name: "b", Start: "19:00", End: "07:00"},
	})
	if len(ps) > 0 {
		t.Fatal(ps)
	}
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 28, 12, 0, 0, 0, loc)
	prev := plan.At("s", at, loc)
	for range 10 {
		next := plan.Next(prev, loc)
		if !next.Start.Equal(prev.End) || !next.End.After(next.Start) || next.Name == prev.Name {
			t.Fatalf("after %+v: %+v", prev, next)
		}
		prev = next
	}
}

func TestParsePlanGapsAndOverlaps(t *testing.T) {
	for _, c := range []struct {
		name string
		defs []deskconfig.ShiftDef
		want string
	}{
		{"gap", []deskconfig.ShiftDef{{Name: "a", Start: "08:00", End: "16:00"}, {Name: "b", Start: "17:00", End: "08:00"}},
			"a gap from 16:00 (end of shift a) to 17:00 (start of shift b)"},
		{"overlap", []deskconfig.ShiftDef{{Name: "a", Start: "08:00", End: "17:00"}, {Name: "b", Start: "16:00", End: "08:00"}},
			"shift a (08:00–17:00) overlaps shift b, which starts at 16:00"},
		{"same start", []deskconfig.ShiftDef{{Name: "a", Start: "08:00", End: "16:00"}, {Name: "b", Start: "08:00", End: "16:00"}},
			"overlaps"},
		{"short day", []deskconfig.ShiftDef{{Name: "a", Start: "08:00", End: "20:00"}}, "a gap from 20:00"},
		{"bad time", []deskconfig.ShiftDef{{Name: "a", Start: "8am", End: "20:00"}}, `"8am" is not a time of day`},
		{"24:30", []deskconfig.ShiftDef{{Name: "a", Start: "00:00", End: "24:30"}}, `"24:30" is not a time of day`},
		{"duplicate name", []deskconfig.ShiftDef{{Name: "a", Start: "00:00", End: "12:00"}, {Name: "a", Start: "12:00", End: "24:00"}}, `"a" names another shift`},
	} {
		_, ps := ParsePlan(c.defs)
		var msgs []string
		for _, p := range ps {
			msgs = append(msgs, p.Field+": "+p.Msg)
		}
		if !strings.Contains(strings.Join(msgs, "\n"), c.want) {
			t.Errorf("%s: %v, want %q", c.name, msgs, c.want)
		}
	}
	if p, ps := ParsePlan([]deskconfig.ShiftDef{{Name: "all", Start: "06:00", End: "06:00"}}); len(ps) > 0 || len(p) != 1 {
		t.Errorf("one 24-hour shift: %v %v", p, ps)
	}
}

const shiftsYAML = `site:
  id: centre
  timezone: Asia/Shanghai
desk:
  listen: 127.0.0.1:8080
  database: var/desk.db
  staff:
    - {name: li, role: control_room, password_hash: $2a$10$mCV1Otkwjm.Sddlyw.6tA.MrEaMgYlhrmTmTq47CDeDUnnyqfvCoi}
    - {name: wang, role: control_room, site: north, password_hash: $2a$10$mCV1Otkwjm.Sddlyw.6tA.MrEaMgYlhrmTmTq47CDeDUnnyqfvCoi}
  shifts:
    - site: centre
      shifts:
        - {name: day, label: 白班, start: "08:00", end: "16:00"}
        - {name: evening, label: 中班, start: "16:30", end: "24:00"}
        - {name: night, label: 夜班, start: "00:00", end: "08:00"}
      duty:
        - {shift: day, department: control_room, staff: [li]}
        - {shift: late, department: control_room, staff: [li]}
        - {shift: night, department: kitchen, staff: [li]}
        - {shift: night, department: control_room, staff: [nobody, wang]}
      handover_reminder: 10s
`

// A bad plan in the file is reported as file:line: field: problem.
func TestValidateShifts(t *testing.T) {
	cfg, err := config.Parse("desk.yaml", []byte(shiftsYAML))
	var problems config.Problems
	if err != nil && !errors.As(err, &problems) {
		t.Fatal(err)
	}
	var got []string
	for _, p := range Validate(cfg) {
		got = append(got, p.String())
	}
	all := strings.Join(got, "\n")
	for _, want := range []string{
		"desk.yaml:13: desk.shifts[0].shifts[0].end: a gap from 16:00 (end of shift day) to 16:30 (start of shift evening)",
		"desk.yaml:21: desk.shifts[0].handover_reminder: must be at least 1m, got 10s",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("no %q in:\n%s", want, all)
		}
	}
	cfg2, _ := config.Parse("desk.yaml", []byte(strings.Replace(shiftsYAML, `"16:30"`, `"16:00"`, 1)))
	got = nil
	for _, p := range Validate(cfg2) {
		got = append(got, p.String())
	}
	all = strings.Join(got, "\n")
	for _, want := range []string{
		`desk.yaml:18: desk.shifts[0].duty[1].shift: "late" is not a shift of this plan; use one of night, day, evening`,
		`desk.yaml:19: desk.shifts[0].duty[2].department: "kitchen" is not a department`,
		`desk.yaml:20: desk.shifts[0].duty[3].staff[0]: "nobody" is not in desk.staff`,
		`desk.yaml:20: desk.shifts[0].duty[3].staff[1]: wang works on site north, not centre`,
	} {
		if !strings.Contains(all, want) {
			t.Errorf("no %q in:\n%s", want, all)
		}
	}
}

// FuzzParseClock: any text is a time of day or an error, never a panic,
// and a time it reads prints back to itself.
func FuzzParseClock(f *testing.F) {
	for _, s := range []string{"08:00", "24:00", "00:00", "7:30", "23:59", "24:01", "-1:00", "08:60", "8am", "", ":", "0x1:00", "١٢:٠٠"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseClock(s)
		if err != nil {
			return
		}
		if m < 0 || m >= 1440 {
			t.Fatalf("%q: minute %d", s, m)
		}
		if back, err := ParseClock(clock(m)); err != nil || back != m {
			t.Fatalf("%q: %d prints as %s, read back %d %v", s, m, clock(m), back, err)
		}
	})
}

// FuzzParsePlan: any two-shift plan is refused with problems or covers the
// day exactly once.
func FuzzParsePlan(f *testing.F) {
	f.Add("a", "08:00", "20:00", "b", "20:00", "08:00")
	f.Add("a", "08:00", "16:00", "b", "17:00", "08:00")
	f.Add("a", "00:00", "24:00", "b", "00:00", "00:00")
	f.Fuzz(func(t *testing.T, n1, s1, e1, n2, s2, e2 string) {
		p, ps := ParsePlan([]deskconfig.ShiftDef{{Name: n1, Start: s1, End: e1}, {Name: n2, Start: s2, End: e2}})
		if len(ps) > 0 {
			return
		}
		total := 0
		for _, d := range p {
			total += d.minutes()
		}
		if total != 1440 {
			t.Fatalf("plan %+v covers %d minutes", p, total)
		}
	})
}
