package calendar

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Problem is one thing wrong in a calendar file, located as `estate check`
// locates configuration problems: file:line: field: message.
type Problem struct {
	File  string
	Line  int
	Field string
	Msg   string
}

func (p Problem) String() string {
	loc := p.File
	if p.Line > 0 {
		loc = fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	if p.Field == "" {
		return loc + ": " + p.Msg
	}
	return loc + ": " + p.Field + ": " + p.Msg
}

// Problems is every problem of a file; a file with any is not used.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// MaxFileSize bounds a calendar file: a year is a few dozen lines.
const MaxFileSize = 1 << 20

// maxRange bounds one holiday's length: China's longest is nine days, and a
// range of months is a typing mistake.
const maxRange = 31

// entry is one line of a file: a day or a range of days off or worked.
type entry struct {
	line       int
	field      string // where it is, for messages: holidays[2]
	from, to   Date
	name       string
	workday    bool
	fromS, toS string
}

// builder collects a file's entries and checks them together.
type builder struct {
	file    string
	year    int
	weekend []time.Weekday
	entries []entry
	ps      Problems
}

func (b *builder) add(line int, field, format string, args ...any) {
	b.ps = append(b.ps, Problem{File: b.file, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)})
}

var weekdayNames = map[string]time.Weekday{
	"sunday": time.Sunday, "monday": time.Monday, "tuesday": time.Tuesday, "wednesday": time.Wednesday,
	"thursday": time.Thursday, "friday": time.Friday, "saturday": time.Saturday,
}

// finish checks the entries (dates in the year, ranges in order, no day
// given twice, make-up days on days that would be off) and builds the year.
func (b *builder) finish() (*Year, error) {
	y := &Year{Year: b.year, File: b.file, Weekend: b.weekend, Holidays: map[Date]string{}, Workdays: map[Date]string{}}
	if y.Weekend == nil {
		y.Weekend = []time.Weekday{time.Saturday, time.Sunday}
	}
	type seen struct {
		line  int
		field string
	}
	taken := map[Date]seen{}
	for _, e := range b.entries {
		if e.from.Year != b.year {
			b.add(e.line, e.field+".date", "%s is not in %d, the year of this file", e.fromS, b.year)
			continue
		}
		if e.to.Year != b.year {
			b.add(e.line, e.field+".to", "%s is not in %d, the year of this file", e.toS, b.year)
			continue
		}
		days := 0
		for d := e.from; ; d = d.next() {
			days++
			if days > maxRange {
				b.add(e.line, e.field+".to", "%s to %s is longer than %d days", e.fromS, e.toS, maxRange)
				break
			}
			if prev, ok := taken[d]; ok {
				b.add(e.line, e.field, "%s is already given at line %d (%s)", d, prev.line, prev.field)
			} else {
				taken[d] = seen{e.line, e.field}
				if e.workday {
					if !contains(y.Weekend, d.Weekday()) {
						b.add(e.line, e.field+".date", "%s is a %s, already a working day: a make-up working day (调休上班) is a weekend day", d, d.Weekday())
					}
					y.Workdays[d] = e.name
				} else {
					y.Holidays[d] = e.name
				}
			}
			if d == e.to {
				break
			}
		}
	}
	if len(b.ps) > 0 {
		return nil, b.ps
	}
	return y, nil
}

func contains(ws []time.Weekday, w time.Weekday) bool {
	for _, x := range ws {
		if x == w {
			return true
		}
	}
	return false
}

// rangeOf reads an entry's dates; to may be empty (one day).
func (b *builder) rangeOf(e *entry) bool {
	var err error
	if e.from, err = parseDate(e.fromS); err != nil {
		b.add(e.line, e.field+".date", "%v", err)
		return false
	}
	e.to = e.from
	if e.toS != "" {
		if e.to, err = parseDate(e.toS); err != nil {
			b.add(e.line, e.field+".to", "%v", err)
			return false
		}
		if e.to.String() < e.from.String() {
			b.add(e.line, e.field+".to", "%s is before the first day %s", e.toS, e.fromS)
			return false
		}
	}
	if strings.TrimSpace(e.name) == "" {
		b.add(e.line, e.field+".name", "required: what the day is (国庆节, 国庆节调休上班)")
		return false
	}
	if len(e.name) > 100 {
		b.add(e.line, e.field+".name", "longer than 100 bytes")
		return false
	}
	return true
}

// ParseYAML reads one year's calendar:
//
//	year: 2026
//	weekend: [saturday, sunday]   # optional; the default
//	holidays:
//	  - {date: 2026-10-01, to: 2026-10-07, name: 国庆节}
//	workdays:                     # make-up working days (调休上班)
//	  - {date: 2026-10-10, name: 国庆节调休上班}
func ParseYAML(name string, data []byte) (*Year, error) {
	b := &builder{file: name}
	if len(data) > MaxFileSize {
		return nil, Problems{{File: name, Msg: fmt.Sprintf("larger than %d bytes: a calendar file is one year", MaxFileSize)}}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		line := 0
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			fmt.Sscanf(strings.TrimPrefix(err.Error(), "yaml: "), "line %d:", &line)
		}
		return nil, Problems{{File: name, Line: line, Msg: "not YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}}
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, Problems{{File: name, Line: 1, Msg: "a calendar file is a mapping with year, holidays and workdays"}}
	}
	root := doc.Content[0]
	yearLine := 0
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		switch k.Value {
		case "year":
			yearLine = v.Line
			n, err := strconv.Atoi(v.Value)
			if err != nil || v.Kind != yaml.ScalarNode || n < 2000 || n > 2200 {
				b.add(v.Line, "year", "%q is not a year such as 2026", v.Value)
				b.year = -1
				continue
			}
			b.year = n
		case "weekend":
			if v.Kind != yaml.SequenceNode {
				b.add(v.Line, "weekend", "a list of days such as [saturday, sunday]")
				continue
			}
			b.weekend = []time.Weekday{}
			for j, w := range v.Content {
				wd, ok := weekdayNames[strings.ToLower(w.Value)]
				if !ok || w.Kind != yaml.ScalarNode {
					b.add(w.Line, fmt.Sprintf("weekend[%d]", j), "%q is not a day of the week (monday … sunday)", w.Value)
					continue
				}
				if contains(b.weekend, wd) {
					b.add(w.Line, fmt.Sprintf("weekend[%d]", j), "%s is given twice", w.Value)
					continue
				}
				b.weekend = append(b.weekend, wd)
			}
		case "holidays", "workdays":
			if v.Kind != yaml.SequenceNode {
				if !(v.Kind == yaml.ScalarNode && v.Tag == "!!null") {
					b.add(v.Line, k.Value, "a list of entries such as {date: 2026-10-01, to: 2026-10-07, name: 国庆节}")
				}
				continue
			}
			for j, item := range v.Content {
				e := entry{line: item.Line, field: fmt.Sprintf("%s[%d]", k.Value, j), workday: k.Value == "workdays"}
				if item.Kind != yaml.MappingNode {
					b.add(item.Line, e.field, "an entry such as {date: 2026-10-01, name: 国庆节}")
					continue
				}
				bad := false
				for m := 0; m+1 < len(item.Content); m += 2 {
					ik, iv := item.Content[m], item.Content[m+1]
					if iv.Kind != yaml.ScalarNode {
						b.add(iv.Line, e.field+"."+ik.Value, "a single value")
						bad = true
						continue
					}
					switch ik.Value {
					case "date":
						e.fromS = iv.Value
					case "to":
						if e.workday {
							b.add(iv.Line, e.field+".to", "make-up working days are given one by one")
							bad = true
						}
						e.toS = iv.Value
					case "name":
						e.name = iv.Value
					default:
						b.add(ik.Line, e.field+"."+ik.Value, "unknown field; an entry has date, to (holidays only) and name")
						bad = true
					}
				}
				if e.fromS == "" {
					b.add(item.Line, e.field+".date", "required: the day, such as 2026-10-01")
					continue
				}
				if !bad && b.rangeOf(&e) {
					b.entries = append(b.entries, e)
				}
			}
		default:
			b.add(k.Line, k.Value, "unknown field; a calendar file has year, weekend, holidays and workdays")
		}
	}
	if b.year == 0 {
		b.add(yearLine, "year", "required: the year this file gives, such as 2026")
	}
	if b.year <= 0 {
		return nil, b.ps
	}
	return b.finish()
}

// ParseCSV reads one year's calendar as CSV with the header date,to,type,name:
// type is holiday or workday (a make-up working day), to is empty for a
// single day; the year is the first row's. Lines starting with # are comments.
//
//	date,to,type,name
//	2026-10-01,2026-10-07,holiday,国庆节
//	2026-10-10,,workday,国庆节调休上班
func ParseCSV(name string, data []byte) (*Year, error) {
	b := &builder{file: name}
	if len(data) > MaxFileSize {
		return nil, Problems{{File: name, Msg: fmt.Sprintf("larger than %d bytes: a calendar file is one year", MaxFileSize)}}
	}
	r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(data, []byte("\ufeff"))))
	r.Comment = '#'
	r.FieldsPerRecord = -1
	header := true
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		line := 0
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				line = pe.Line
			}
			b.add(line, "", "not CSV: %v", errors.Unwrap(err))
			return nil, b.ps
		}
		line, _ = r.FieldPos(0)
		if header {
			header = false
			if strings.Join(rec, ",") != "date,to,type,name" {
				b.add(line, "header", "the first line must be date,to,type,name")
				return nil, b.ps
			}
			continue
		}
		field := fmt.Sprintf("row %d", line)
		if len(rec) != 4 {
			b.add(line, field, "%d fields; a row has date,to,type,name", len(rec))
			continue
		}
		e := entry{line: line, field: field, fromS: strings.TrimSpace(rec[0]), toS: strings.TrimSpace(rec[1]), name: strings.TrimSpace(rec[3])}
		switch strings.TrimSpace(rec[2]) {
		case "holiday":
		case "workday":
			e.workday = true
			if e.toS != "" {
				b.add(line, field+".to", "make-up working days are given one by one")
				continue
			}
		default:
			b.add(line, field+".type", "%q is not holiday or workday", rec[2])
			continue
		}
		if !b.rangeOf(&e) {
			continue
		}
		if b.year == 0 {
			b.year = e.from.Year
		}
		b.entries = append(b.entries, e)
	}
	if header {
		b.add(1, "header", "empty: the first line must be date,to,type,name")
	}
	if b.year == 0 {
		if len(b.ps) == 0 {
			b.add(1, "", "no days: give the year's holidays and make-up working days")
		}
		return nil, b.ps
	}
	return b.finish()
}
