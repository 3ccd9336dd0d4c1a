package calendar

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// checkYear holds what any accepted file must satisfy: its days are in its
// year, no day is both off and worked, and the calculator ends on or after
// its start without panicking.
func checkYear(t *testing.T, y *Year) {
	for d := range y.Holidays {
		if d.Year != y.Year {
			t.Fatalf("holiday %s outside %d", d, y.Year)
		}
		if _, ok := y.Workdays[d]; ok {
			t.Fatalf("%s both off and worked", d)
		}
	}
	for d := range y.Workdays {
		if d.Year != y.Year || !y.Working(d) {
			t.Fatalf("workday %s of %d", d, y.Year)
		}
	}
	c, err := New(y)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(y.Year, 6, 1, 9, 0, 0, 0, time.UTC)
	if due, err := c.AddWorkingDays(start, 3, time.UTC); err == nil && due.Before(start) {
		t.Fatalf("due %v before start %v", due, start)
	}
}

func FuzzParseYAML(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("..", "..", "configs", "calendars", "cn-2026.yaml")); err == nil {
		f.Add(b)
	}
	for _, s := range []string{
		"year: 2026\n",
		"year: 2026\nweekend: [friday, saturday]\nholidays:\n  - {date: 2026-10-01, to: 2026-10-07, name: 国庆节}\n",
		"year: 2026\nholidays:\n  - {date: 2026-10-01, to: 2026-10-07, name: a}\n  - {date: 2026-10-07, name: b}\n",
		"year: 2026\nworkdays:\n  - {date: 2026-10-10, name: x}\n  - date: 2026-10-11\n    to: 2026-10-12\n",
		"year: [\n", "- 1\n", "year: 99999999999999999999\n", "",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		y, err := ParseYAML("f.yaml", data)
		if err != nil {
			if _, ok := err.(Problems); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		checkYear(t, y)
	})
}

func FuzzParseCSV(f *testing.F) {
	for _, s := range []string{
		"date,to,type,name\n2026-10-01,2026-10-07,holiday,国庆节\n2026-10-10,,workday,国庆节调休上班\n",
		"# comment\ndate,to,type,name\n2026-01-01,,holiday,元旦\n",
		"date,to,type,name\n\"2026-01-01\",,holiday,\"a,b\"\n",
		"date,to,type,name\n2026-01-01,2026-01-01,holiday,x\n2026-01-01,,workday,y\n",
		"date,to,type,name\n\"unterminated\n", "", "\ufeffdate,to,type,name\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		y, err := ParseCSV("f.csv", data)
		if err != nil {
			if _, ok := err.(Problems); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		checkYear(t, y)
	})
}
