package tabular

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

// What Write writes, Read reads back cell for cell, in both formats: text
// that looks like a number keeps its zeros, quotes and commas survive, and
// the rows keep the numbers a spreadsheet shows.
func TestWriteReadRoundTrip(t *testing.T) {
	header := []string{"unit", "name", "phone", "note"}
	rows := [][]string{
		{"0101", "王芳", "013800138000", `say "hi", then go`},
		{"1-102", "Zhang, Wei", "", ""},
		{"1-103", "李强", "+86 139", "1.5"},
	}
	for _, format := range []string{"csv", "xlsx"} {
		var buf bytes.Buffer
		if err := Write(&buf, format, header, rows); err != nil {
			t.Fatal(err)
		}
		if got := Format("x", buf.Bytes()); got != format {
			t.Errorf("%s reads as %s", format, got)
		}
		back, err := Read("f."+format, buf.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		if len(back) != 4 || back[0].Num != 1 || back[3].Num != 4 || !reflect.DeepEqual(back[0].Cells, header) {
			t.Fatalf("%s: %+v", format, back)
		}
		for i, r := range rows {
			got := back[i+1].Cells
			for len(got) < len(r) {
				got = append(got, "")
			}
			if !reflect.DeepEqual(got, r) {
				t.Errorf("%s row %d: %q, want %q", format, i+2, got, r)
			}
		}
	}
}

func TestReadRefusals(t *testing.T) {
	for _, c := range []struct{ name, data, want string }{
		{"gbk.csv", "unit\n\xb7\xbf\n", "gbk.csv: the file is not UTF-8 text"},
		{"nul.csv", "unit\n1\x00\n", "nul.csv: the file holds NUL bytes"},
		{"wide.csv", strings.Repeat("a,", MaxColumns+1) + "\n", "wide.csv:1: more than 100 columns"},
		{"bad.xlsx", "PK\x03\x04rest", "bad.xlsx: not a readable XLSX workbook"},
		{"quote.csv", "a\n\"b\n", "quote.csv:2: not valid CSV"},
	} {
		_, err := Read(c.name, []byte(c.data))
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q…", c.name, err, c.want)
		}
	}
	// Rows left empty keep the numbers of the rows after them.
	rows, err := Read("gaps.csv", []byte("unit\n\n,,\n1-101\n"))
	if err != nil || len(rows) != 2 || rows[1].Num != 4 {
		t.Errorf("gaps: %+v %v", rows, err)
	}
}

// FuzzRead: no file, CSV or XLSX, makes the reader panic or return a row
// beyond its limits.
func FuzzRead(f *testing.F) {
	var x bytes.Buffer
	if err := Write(&x, "xlsx", []string{"unit", "name"}, [][]string{{"1-101", "王芳"}}); err != nil {
		f.Fatal(err)
	}
	f.Add(x.Bytes())
	f.Add([]byte("\ufeffunit,name\n1-101,\"王,芳\"\n"))
	f.Add([]byte("a;b\r\n\"c\"\"d\"\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, err := Read("f", data)
		if err != nil {
			if _, ok := err.(Problems); !ok {
				t.Fatalf("error that is not a Problems list: %v", err)
			}
			return
		}
		last := 0
		for _, r := range rows {
			if r.Num <= last || len(r.Cells) > MaxColumns {
				t.Fatalf("row %d after %d with %d cells", r.Num, last, len(r.Cells))
			}
			last = r.Num
		}
	})
}
