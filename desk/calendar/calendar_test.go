package calendar

import (
	"errors"
	"os"
	"path/filepath"
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

// cn2026 is the calendar shipped under configs/.
func cn2026(t testing.TB) *Calendar {
	t.Helper()
	c, err := Load(filepath.Join("..", "..", "configs", "calendars", "cn-2026.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func at(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", s, shanghai)
	if err != nil {
		panic(err)
	}
	return t
}

// The shipped 2026 file says what the State Council's notice says, day by day
// around the holidays with make-up days.
func TestChina2026Days(t *testing.T) {
	c := cn2026(t)
	for _, tc := range []struct {
		day     string
		working bool
		name    string
	}{
		{"2026-01-01", false, "元旦"},
		{"2026-01-03", false, "元旦"},
		{"2026-01-04", true, "元旦调休上班"}, // a Sunday worked
		{"2026-01-05", true, ""},
		{"2026-02-13", true, ""},        // Friday
		{"2026-02-14", true, "春节调休上班"},  // Saturday worked
		{"2026-02-15", false, "春节"},     // Sunday, first day off
		{"2026-02-23", false, "春节"},     // Monday, last day off
		{"2026-02-24", true, ""},        // Tuesday
		{"2026-02-28", true, "春节调休上班"},  // Saturday worked
		{"2026-03-01", false, ""},       // an ordinary Sunday
		{"2026-04-06", false, "清明节"},    // Monday off
		{"2026-05-09", true, "劳动节调休上班"}, // Saturday worked
		{"2026-09-20", true, "国庆节调休上班"}, // Sunday worked
		{"2026-09-25", false, "中秋节"},
		{"2026-09-30", true, ""},
		{"2026-10-01", false, "国庆节"},
		{"2026-10-07", false, "国庆节"},
		{"2026-10-08", true, ""},
		{"2026-10-10", true, "国庆节调休上班"}, // Saturday worked
		{"2026-10-11", false, ""},
	} {
		d, err := parseDate(tc.day)
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.Working(d)
		if err != nil || got != tc.working || c.Name(d) != tc.name {
			t.Errorf("%s (%s): working %v %q %v, want %v %q", tc.day, d.Weekday(), got, c.Name(d), err, tc.working, tc.name)
		}
	}
}

// The deadline calculator across China's 2026 holiday weeks with make-up
// working days: working time runs only on working days, midnight to midnight.
func TestAddWorkingDaysChina2026(t *testing.T) {
	c := cn2026(t)
	for _, tc := range []struct {
		name  string
		start string
		n     int
		due   string
	}{
		{"an ordinary Friday evening: one working day is Monday evening", "2026-03-06 18:30", 1, "2026-03-09 18:30"},
		{"an ordinary Tuesday morning", "2026-03-10 09:00", 1, "2026-03-11 09:00"},
		{"three working days from Thursday", "2026-03-12 10:00", 3, "2026-03-17 10:00"},
		{"Saturday: the clock starts on Monday at midnight", "2026-03-07 11:00", 1, "2026-03-10 00:00"},
		// National Day: Thu 1 Oct – Wed 7 Oct off, Sun 20 Sep and Sat 10 Oct worked.
		{"Wednesday 30 Sep evening, before National Day", "2026-09-30 19:00", 1, "2026-10-08 19:00"},
		{"Friday 9 Oct evening: the make-up Saturday", "2026-10-09 18:30", 1, "2026-10-10 18:30"},
		{"two working days from Friday 9 Oct: Saturday, then Monday", "2026-10-09 18:30", 2, "2026-10-12 18:30"},
		{"a report on 3 Oct, a holiday: due the end of Thursday 8 Oct", "2026-10-03 15:00", 1, "2026-10-09 00:00"},
		{"Friday 18 Sep evening: the make-up Sunday 20 Sep", "2026-09-18 20:00", 1, "2026-09-20 20:00"},
		{"Thursday 24 Sep: 中秋 Friday–Sunday off, then Monday", "2026-09-24 17:00", 1, "2026-09-28 17:00"},
		{"three working days from Wednesday 23 Sep: Thu, Mon, Tue", "2026-09-23 10:00", 3, "2026-09-29 10:00"},
		// Spring Festival: Sun 15 Feb – Mon 23 Feb off, Sat 14 and Sat 28 Feb worked.
		{"Friday 13 Feb evening: the make-up Saturday 14 Feb", "2026-02-13 18:30", 1, "2026-02-14 18:30"},
		{"Saturday 14 Feb evening (worked): next is Tuesday 24 Feb", "2026-02-14 18:00", 1, "2026-02-24 18:00"},
		{"two working days from Saturday 14 Feb", "2026-02-14 18:00", 2, "2026-02-25 18:00"},
		{"Friday 27 Feb evening: the make-up Saturday 28 Feb", "2026-02-27 18:30", 1, "2026-02-28 18:30"},
		{"no working days: due at once", "2026-03-06 18:30", 0, "2026-03-06 18:30"},
		{"New Year's Day (off): the make-up Sunday 4 Jan, to its end", "2026-01-01 10:00", 1, "2026-01-05 00:00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.AddWorkingDays(at(tc.start), tc.n, shanghai)
			if err != nil {
				t.Fatal(err)
			}
			if want := at(tc.due); !got.Equal(want) {
				t.Errorf("%s + %d working days = %s (%s), want %s (%s)", tc.start, tc.n,
					got.In(shanghai).Format("2006-01-02 15:04 Mon"), tc.name, want.Format("2006-01-02 15:04 Mon"), tc.due)
			}
		})
	}
}

// A deadline running into a year no file gives is an error naming the year and the file.
func TestMissingYear(t *testing.T) {
	c := cn2026(t)
	_, err := c.AddWorkingDays(at("2026-12-31 10:00"), 2, shanghai)
	var my *MissingYearError
	if !errors.As(err, &my) || my.Year != 2027 || !strings.Contains(err.Error(), "2027") || !strings.Contains(err.Error(), "cn-2026.yaml") {
		t.Fatalf("2026-12-31 + 2 working days: %v", err)
	}
	// One working day from Wednesday 30 Dec ends on Thursday 31 Dec.
	if _, err := c.AddWorkingDays(at("2026-12-30 10:00"), 1, shanghai); err != nil {
		t.Errorf("30 Dec + 1 working day stays in 2026: %v", err)
	}
}

// Sites without a calendar file count Monday to Friday.
func TestWeekdays(t *testing.T) {
	got, err := Weekdays{}.AddWorkingDays(at("2026-10-09 18:30"), 1, shanghai)
	if err != nil || !got.Equal(at("2026-10-12 18:30")) {
		t.Errorf("Friday + 1 weekday: %v %v", got, err)
	}
	got, err = Weekdays{}.AddWorkingDays(at("2026-12-31 10:00"), 300, shanghai)
	if err != nil || got.Year() != 2028 {
		t.Errorf("300 weekdays from the end of 2026: %v %v", got, err)
	}
}

// Every malformed file is refused with file:line: field and what is wrong.
func TestParseProblems(t *testing.T) {
	for _, tc := range []struct {
		name, file, text, want string
	}{
		{"overlapping holidays", "y.yaml", "year: 2026\nholidays:\n  - {date: 2026-10-01, to: 2026-10-07, name: 国庆节}\n  - {date: 2026-10-07, to: 2026-10-08, name: 多一天}\n",
			"y.yaml:4: holidays[1]: 2026-10-07 is already given at line 3 (holidays[0])"},
		{"a day off and worked", "y.yaml", "year: 2026\nholidays:\n  - {date: 2026-10-10, name: x}\nworkdays:\n  - {date: 2026-10-10, name: y}\n",
			"y.yaml:5: workdays[0]: 2026-10-10 is already given at line 3 (holidays[0])"},
		{"malformed date", "y.yaml", "year: 2026\nholidays:\n  - {date: 2026-02-30, name: x}\n", "y.yaml:3: holidays[0].date: \"2026-02-30\" is not a date"},
		{"short date", "y.yaml", "year: 2026\nholidays:\n  - {date: 2026-2-3, name: x}\n", "y.yaml:3: holidays[0].date: \"2026-2-3\" is not a date"},
		{"another year", "y.yaml", "year: 2026\nholidays:\n  - {date: 2027-01-01, name: 元旦}\n", "y.yaml:3: holidays[0].date: 2027-01-01 is not in 2026"},
		{"range backwards", "y.yaml", "year: 2026\nholidays:\n  - {date: 2026-10-07, to: 2026-10-01, name: x}\n", "y.yaml:3: holidays[0].to: 2026-10-01 is before the first day"},
		{"range too long", "y.yaml", "year: 2026\nholidays:\n  - {date: 2026-01-01, to: 2026-03-01, name: x}\n", "y.yaml:3: holidays[0].to: 2026-01-01 to 2026-03-01 is longer than 31 days"},
		{"make-up on a weekday", "y.yaml", "year: 2026\nworkdays:\n  - {date: 2026-10-09, name: x}\n", "y.yaml:3: workdays[0].date: 2026-10-09 is a Friday, already a working day"},
		{"no name", "y.yaml", "year: 2026\nholidays:\n  - {date: 2026-10-01}\n", "y.yaml:3: holidays[0].name: required"},
		{"no year", "y.yaml", "holidays: []\n", "y.yaml: year: required"},
		{"bad year", "y.yaml", "year: twenty\n", "y.yaml:1: year: \"twenty\" is not a year"},
		{"unknown field", "y.yaml", "year: 2026\nholiday: []\n", "y.yaml:2: holiday: unknown field"},
		{"bad weekend", "y.yaml", "year: 2026\nweekend: [saturday, sabbath]\n", "y.yaml:2: weekend[1]: \"sabbath\" is not a day of the week"},
		{"not yaml", "y.yaml", "year: [2026\n", "y.yaml:1: not YAML"},
		{"csv overlap", "c.csv", "date,to,type,name\n2026-10-01,2026-10-07,holiday,国庆节\n2026-10-05,,holiday,x\n", "c.csv:3: row 3: 2026-10-05 is already given at line 2 (row 2)"},
		{"csv header", "c.csv", "day,type\n", "c.csv:1: header: the first line must be date,to,type,name"},
		{"csv type", "c.csv", "date,to,type,name\n2026-10-01,,off,x\n", "c.csv:2: row 2.type: \"off\" is not holiday or workday"},
		{"csv fields", "c.csv", "date,to,type,name\n2026-10-01,holiday\n", "c.csv:2: row 2: 2 fields"},
		{"csv two years", "c.csv", "date,to,type,name\n2026-10-01,,holiday,x\n2027-01-01,,holiday,y\n", "c.csv:3: row 3.date: 2027-01-01 is not in 2026"},
		{"csv workday range", "c.csv", "date,to,type,name\n2026-10-10,2026-10-11,workday,x\n", "c.csv:2: row 2.to: make-up working days are given one by one"},
		{"extension", "c.txt", "", "c.txt: a calendar file is .yaml, .yml or .csv"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.file, []byte(tc.text))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v\nwant %s", err, tc.want)
			}
		})
	}
}

// The CSV form reads the same year as the YAML form.
func TestCSVMatchesYAML(t *testing.T) {
	csvText := "# 2026, as configs/calendars/cn-2026.yaml\ndate,to,type,name\n" +
		"2026-01-01,2026-01-03,holiday,元旦\n2026-02-15,2026-02-23,holiday,春节\n2026-04-04,2026-04-06,holiday,清明节\n" +
		"2026-05-01,2026-05-05,holiday,劳动节\n2026-06-19,2026-06-21,holiday,端午节\n2026-09-25,2026-09-27,holiday,中秋节\n" +
		"2026-10-01,2026-10-07,holiday,国庆节\n2026-01-04,,workday,元旦调休上班\n2026-02-14,,workday,春节调休上班\n" +
		"2026-02-28,,workday,春节调休上班\n2026-05-09,,workday,劳动节调休上班\n2026-09-20,,workday,国庆节调休上班\n2026-10-10,,workday,国庆节调休上班\n"
	y, err := ParseCSV("cn-2026.csv", []byte(csvText))
	if err != nil {
		t.Fatal(err)
	}
	c := cn2026(t)
	for d := (Date{2026, 1, 1}); d.Year == 2026; d = d.next() {
		want, _ := c.Working(d)
		if y.Working(d) != want {
			t.Errorf("%s: CSV says working %v, YAML %v", d, y.Working(d), want)
		}
	}
}

// Two files for one year are refused, naming both.
func TestTwoFilesOneYear(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"a.yaml", "b.yaml"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("year: 2026\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	_, err := Load(filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yaml"))
	if err == nil || !strings.Contains(err.Error(), "b.yaml: year 2026 is already given by") {
		t.Fatalf("two files for 2026: %v", err)
	}
}
