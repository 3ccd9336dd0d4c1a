// Package tabular reads and writes the tables people keep in spreadsheets:
// CSV (UTF-8, with or without Excel's byte-order mark) and XLSX (the first
// sheet, through excelize). Imports of households (desk/households) and of
// devices (internal/devicecsv) read their files here, so that both report
// problems as "file:row: column: problem" with the row a spreadsheet shows.
package tabular

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"
)

// Row is one line of a table with the number a spreadsheet shows for it
// (the header is row 1).
type Row struct {
	Num   int
	Cells []string
}

// Problem is one thing wrong with a row. Code and Args name the message
// and its values, for consoles that say it in the user's language
// (web/src/pages/households.ts); Msg is the English text.
type Problem struct {
	File   string   `json:"file"`
	Row    int      `json:"row,omitempty"`
	Column string   `json:"column,omitempty"`
	Msg    string   `json:"message"`
	Code   string   `json:"code,omitempty"`
	Args   []string `json:"args,omitempty"`
}

// Newf builds a problem with its code and the English text of format and
// args (the args are kept as text for translations).
func Newf(file string, row int, column, code, format string, args ...any) Problem {
	p := Problem{File: file, Row: row, Column: column, Msg: fmt.Sprintf(format, args...), Code: code}
	for _, a := range args {
		p.Args = append(p.Args, fmt.Sprint(a))
	}
	return p
}

func (p Problem) String() string {
	loc := p.File
	if p.Row > 0 {
		loc = fmt.Sprintf("%s:%d", p.File, p.Row)
	}
	if p.Column == "" {
		return loc + ": " + p.Msg
	}
	return loc + ": " + p.Column + ": " + p.Msg
}

// Problems are every problem of a file; it is the error of a refused import.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Limits of what a file may hold: a large estate has a few thousand
// households and a gateway a few thousand devices.
const (
	MaxRows    = 100_000
	MaxColumns = 100
	MaxCell    = 4096
	// maxUnzipped bounds an XLSX's unpacked size (a small file may unpack
	// to gigabytes).
	maxUnzipped = 256 << 20
)

// Format is a file's format: "csv" or "xlsx".
func Format(file string, data []byte) string {
	if bytes.HasPrefix(data, []byte("PK\x03\x04")) || strings.EqualFold(filepath.Ext(file), ".xlsx") {
		return "xlsx"
	}
	return "csv"
}

// Read reads a table: XLSX when the data is a zip (or the name ends in
// .xlsx), CSV otherwise. Empty rows are left out; their numbers are kept.
func Read(file string, data []byte) ([]Row, error) {
	if Format(file, data) == "xlsx" {
		return readXLSX(file, data)
	}
	return ReadCSV(file, data)
}

// ReadCSV reads CSV text; fields may be quoted, rows may have fewer cells.
func ReadCSV(file string, data []byte) ([]Row, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if !utf8.Valid(data) {
		return nil, Problems{Newf(file, 0, "", "not_utf8", "the file is not UTF-8 text; save it from the spreadsheet as \"CSV UTF-8\" or as XLSX")}
	}
	if bytes.IndexByte(data, 0) >= 0 {
		return nil, Problems{Newf(file, 0, "", "nul", "the file holds NUL bytes: it is not a CSV text file")}
	}
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	r.ReuseRecord = false
	var rows []Row
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, Problems{Newf(file, pe.StartLine, "", "bad_csv", "not valid CSV: %v", pe.Err)}
			}
			return nil, Problems{{File: file, Msg: err.Error()}}
		}
		line, _ := r.FieldPos(0)
		if row, ok, err := newRow(file, line, rec); err != nil {
			return nil, err
		} else if ok {
			rows = append(rows, row)
		}
		if len(rows) > MaxRows {
			return nil, Problems{Newf(file, line, "", "too_many_rows", "more than %d rows; split the file", MaxRows)}
		}
	}
	return rows, nil
}

func newRow(file string, num int, cells []string) (Row, bool, error) {
	if len(cells) > MaxColumns {
		return Row{}, false, Problems{Newf(file, num, "", "too_many_columns", "more than %d columns", MaxColumns)}
	}
	empty := true
	for i, c := range cells {
		c = strings.TrimSpace(c)
		cells[i] = c
		if c != "" {
			empty = false
		}
	}
	return Row{Num: num, Cells: cells}, !empty, nil
}

func readXLSX(file string, data []byte) ([]Row, error) {
	f, err := excelize.OpenReader(bytes.NewReader(data), excelize.Options{UnzipSizeLimit: maxUnzipped, UnzipXMLSizeLimit: 16 << 20})
	if err != nil {
		return nil, Problems{Newf(file, 0, "", "bad_xlsx", "not a readable XLSX workbook: %v", err)}
	}
	defer f.Close()
	sheets := f.GetSheetList()
	if len(sheets) == 0 {
		return nil, Problems{Newf(file, 0, "", "no_sheet", "the workbook has no sheet")}
	}
	it, err := f.Rows(sheets[0])
	if err != nil {
		return nil, Problems{{File: file, Msg: fmt.Sprintf("sheet %q: %v", sheets[0], err)}}
	}
	defer it.Close()
	var rows []Row
	for num := 1; it.Next(); num++ {
		cells, err := it.Columns()
		if err != nil {
			return nil, Problems{{File: file, Row: num, Msg: err.Error()}}
		}
		for _, c := range cells {
			if !utf8.ValidString(c) || strings.ContainsRune(c, 0) {
				return nil, Problems{Newf(file, num, "", "bad_cell_text", "a cell holds text that is not valid UTF-8 or a NUL")}
			}
		}
		if row, ok, err := newRow(file, num, cells); err != nil {
			return nil, err
		} else if ok {
			rows = append(rows, row)
		}
		if len(rows) > MaxRows {
			return nil, Problems{Newf(file, num, "", "too_many_rows", "more than %d rows; split the file", MaxRows)}
		}
	}
	if err := it.Error(); err != nil {
		return nil, Problems{{File: file, Msg: err.Error()}}
	}
	return rows, nil
}

// Write writes a header and rows as CSV or XLSX (format "csv" or "xlsx").
func Write(w io.Writer, format string, header []string, rows [][]string) error {
	switch format {
	case "csv", "":
		// The byte-order mark makes Excel read the file as UTF-8 (Chinese
		// names otherwise open as mojibake); Read skips it.
		if _, err := io.WriteString(w, "\ufeff"); err != nil {
			return err
		}
		cw := csv.NewWriter(w)
		if err := cw.Write(header); err != nil {
			return err
		}
		if err := cw.WriteAll(rows); err != nil {
			return err
		}
		return cw.Error()
	case "xlsx":
		f := excelize.NewFile()
		defer f.Close()
		sheet := f.GetSheetName(0)
		sw, err := f.NewStreamWriter(sheet)
		if err != nil {
			return err
		}
		// Every cell is text, so that phone numbers and ids keep their
		// leading zeros and digits when the file is opened and saved again.
		style, err := f.NewStyle(&excelize.Style{NumFmt: 49})
		if err != nil {
			return err
		}
		put := func(num int, cells []string) error {
			vals := make([]any, len(cells))
			for i, c := range cells {
				vals[i] = excelize.Cell{Value: c, StyleID: style}
			}
			cell, _ := excelize.CoordinatesToCellName(1, num)
			return sw.SetRow(cell, vals)
		}
		if err := put(1, header); err != nil {
			return err
		}
		for i, r := range rows {
			if err := put(i+2, r); err != nil {
				return err
			}
		}
		if err := sw.Flush(); err != nil {
			return err
		}
		return f.Write(w)
	}
	return fmt.Errorf("unknown format %q (csv or xlsx)", format)
}

// Header maps a header row's column names (after aliases) to their
// positions; unknown and repeated names are problems.
func Header(file string, row Row, known []string, aliases map[string]string) (map[string]int, Problems) {
	cols := map[string]int{}
	var ps Problems
	for i, name := range row.Cells {
		key := strings.ToLower(strings.TrimSpace(name))
		if a, ok := aliases[key]; ok {
			key = a
		}
		if key == "" {
			continue
		}
		if !slices.Contains(known, key) {
			ps = append(ps, Newf(file, row.Num, name, "unknown_column", "unknown column; known: %s", strings.Join(known, ", ")))
			continue
		}
		if _, dup := cols[key]; dup {
			ps = append(ps, Newf(file, row.Num, name, "repeated_column", "repeated column"))
			continue
		}
		cols[key] = i
	}
	return cols, ps
}

// Cell is a row's value of a column ("" when the row is shorter).
func (r Row) Cell(cols map[string]int, name string) string {
	i, ok := cols[name]
	if !ok || i >= len(r.Cells) {
		return ""
	}
	return r.Cells[i]
}
