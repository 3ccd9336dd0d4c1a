// Package equipment is the equipment register (设备台账): every piece of a
// site's plant, whether a gateway reports it (its device id) or not
// (transformers, switchgear, pumps, fire extinguishers), with where it is,
// make and model, serial, install date, warranty end, supplier and
// maintenance contractor. Tables of it are read and written as CSV or XLSX
// (internal/tabular), every row checked before anything is imported and
// every problem reported as "file:row: column: problem"; the store beside
// it (store.go) keeps it in the desk's database.
package equipment

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/estatehq/estate/internal/tabular"
)

// Item is one piece of equipment.
type Item struct {
	Site string `json:"site"`
	ID   string `json:"id"`
	Name string `json:"name"`
	// Class groups equipment for plans: elevator, generator, lv_switchgear,
	// hv_switchgear, transformer, battery_bank, fire_system, pump, ...
	Class string `json:"class,omitempty"`
	// Device is the gateway's device id, when a gateway reports it.
	Device      string    `json:"device,omitempty"`
	Building    string    `json:"building,omitempty"`
	Floor       string    `json:"floor,omitempty"`
	Location    string    `json:"location,omitempty"`
	Make        string    `json:"make,omitempty"`
	Model       string    `json:"model,omitempty"`
	Serial      string    `json:"serial"`
	InstallDate string    `json:"install_date,omitempty"` // YYYY-MM-DD
	WarrantyEnd string    `json:"warranty_end,omitempty"` // YYYY-MM-DD
	Supplier    string    `json:"supplier,omitempty"`
	Contractor  string    `json:"contractor,omitempty"`
	Notes       string    `json:"notes,omitempty"`
	UpdatedAt   time.Time `json:"updated_at,omitzero"`
}

// Columns are the columns of an equipment table, in the order exports write them.
var Columns = []string{"site", "id", "name", "class", "device", "building", "floor", "location", "make", "model",
	"serial", "install_date", "warranty_end", "supplier", "contractor", "notes"}

// aliases are the headings of a property company's own 设备台账.
var aliases = map[string]string{
	"站点": "site", "项目": "site", "小区": "site",
	"编号": "id", "设备编号": "id", "资产编号": "id",
	"名称": "name", "设备名称": "name",
	"类别": "class", "设备类别": "class", "类型": "class",
	"网关设备": "device", "设备ID": "device", "监控点": "device",
	"楼栋": "building", "楼号": "building",
	"楼层": "floor",
	"位置": "location", "安装位置": "location",
	"品牌": "make", "厂家": "make", "生产厂家": "make", "制造商": "make",
	"型号": "model", "规格型号": "model",
	"序列号": "serial", "出厂编号": "serial",
	"安装日期": "install_date", "投用日期": "install_date",
	"保修到期": "warranty_end", "保修截止": "warranty_end", "质保到期": "warranty_end",
	"供应商":  "supplier",
	"维保单位": "contractor", "维保商": "contractor",
	"备注": "notes",
}

var (
	idPattern   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
	excelNumber = regexp.MustCompile(`^[0-9.]+[eE]\+?[0-9]+$`)
	deviceID    = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)
)

// Bounds of a field, in bytes.
const (
	maxShort = 64
	maxText  = 200
	maxNotes = 2000
)

// Validate says what is wrong with an item, naming the field.
func (it Item) Validate() error {
	ps := it.problems()
	if len(ps) == 0 {
		return nil
	}
	return fmt.Errorf("%s: %s", ps[0].col, ps[0].msg)
}

type fieldProblem struct{ col, code, msg string }

func (it Item) problems() []fieldProblem {
	var ps []fieldProblem
	bad := func(col, code, format string, args ...any) {
		ps = append(ps, fieldProblem{col, code, fmt.Sprintf(format, args...)})
	}
	if !idPattern.MatchString(it.Site) {
		bad("site", "bad_site", "%q is not a site id (letters, digits, - _ .)", it.Site)
	}
	switch {
	case it.ID == "":
		bad("id", "id_required", "required (the register's number, such as gen-1 or TX-01)")
	case !idPattern.MatchString(it.ID):
		bad("id", "bad_id", "%q is not an id (1 to 64 letters, digits, - _ ., starting with a letter or digit)", it.ID)
	}
	if strings.TrimSpace(it.Name) == "" {
		bad("name", "name_required", "required (what the equipment is, such as 1号发电机)")
	}
	switch {
	case strings.TrimSpace(it.Serial) == "":
		bad("serial", "serial_required", "required (the serial on the nameplate; for equipment without one give the asset number)")
	case excelNumber.MatchString(it.Serial):
		bad("serial", "excel_number", "%s is a number the spreadsheet shortened; format the column as text and type the serials again", it.Serial)
	}
	if it.Class != "" && !idPattern.MatchString(it.Class) {
		bad("class", "bad_class", "%q is not a class name (letters, digits, - _ .)", it.Class)
	}
	if it.Device != "" && (len(it.Device) > 128 || !deviceID.MatchString(it.Device)) {
		bad("device", "bad_device", "%q is not a device id", it.Device)
	}
	for _, f := range []struct{ col, v string }{{"install_date", it.InstallDate}, {"warranty_end", it.WarrantyEnd}} {
		if f.v == "" {
			continue
		}
		if d, err := time.Parse(time.DateOnly, f.v); err != nil || d.Year() < 1950 || d.Year() > 2200 {
			bad(f.col, "bad_date", "%q is not a date (YYYY-MM-DD)", f.v)
		}
	}
	if it.InstallDate != "" && it.WarrantyEnd != "" && it.WarrantyEnd < it.InstallDate {
		bad("warranty_end", "warranty_before_install", "%s is before the install date %s", it.WarrantyEnd, it.InstallDate)
	}
	for _, f := range []struct {
		col, v string
		max    int
	}{{"name", it.Name, maxText}, {"building", it.Building, maxShort}, {"floor", it.Floor, maxShort},
		{"location", it.Location, maxText}, {"make", it.Make, maxText}, {"model", it.Model, maxText},
		{"serial", it.Serial, maxText}, {"supplier", it.Supplier, maxText}, {"contractor", it.Contractor, maxText},
		{"notes", it.Notes, maxNotes}} {
		switch {
		case len(f.v) > f.max:
			bad(f.col, "too_long", "longer than %d bytes", f.max)
		case strings.ContainsFunc(f.v, func(r rune) bool { return unicode.IsControl(r) && (f.col != "notes" || r != '\n') }):
			bad(f.col, "control", "holds a control character")
		}
	}
	return ps
}

// WarrantyDays is how long before a warranty ends its reminder comes.
const WarrantyDays = 30

// WarrantyEnding says whether the warranty ends within WarrantyDays of
// today (a date in the site's time zone) and has not ended before it.
func (it Item) WarrantyEnding(today string) bool {
	if it.WarrantyEnd == "" {
		return false
	}
	t, err := time.Parse(time.DateOnly, today)
	if err != nil {
		return false
	}
	limit := t.AddDate(0, 0, WarrantyDays).Format(time.DateOnly)
	return it.WarrantyEnd >= today && it.WarrantyEnd <= limit
}

// Result is a checked table: its items and its problems. Items are only
// imported when there are no problems.
type Result struct {
	Items    []Item
	Problems tabular.Problems
	Rows     int
}

// Parse reads an equipment table (CSV or XLSX). site is the site the import
// goes into: a row naming another site is a problem; empty, every row names
// its site. A missing serial, or one given twice (in the file, or already
// registered to another piece: existing maps a site's serials to their
// equipment id), is a problem of its row.
func Parse(file string, data []byte, site string, existing map[string]string) Result {
	rows, err := tabular.Read(file, data)
	if err != nil {
		if ps, ok := err.(tabular.Problems); ok {
			return Result{Problems: ps}
		}
		return Result{Problems: tabular.Problems{{File: file, Msg: err.Error()}}}
	}
	return ParseRows(file, rows, site, existing)
}

// ParseRows checks the rows of a table whose first row is the header.
func ParseRows(file string, rows []tabular.Row, site string, existing map[string]string) Result {
	var res Result
	if len(rows) == 0 {
		res.Problems = tabular.Problems{tabular.Newf(file, 0, "", "file_empty", "the file is empty; its first row names the columns: %s", strings.Join(Columns, ", "))}
		return res
	}
	cols, ps := tabular.Header(file, rows[0], Columns, aliases)
	res.Problems = ps
	for _, need := range []string{"id", "name", "serial"} {
		if _, ok := cols[need]; !ok {
			res.Problems = append(res.Problems, tabular.Newf(file, rows[0].Num, need, "missing_column", "missing column"))
		}
	}
	if _, ok := cols["site"]; !ok && site == "" {
		res.Problems = append(res.Problems, tabular.Newf(file, rows[0].Num, "site", "missing_site_column",
			"missing column; name the site of every row, or import into one site"))
	}
	if len(res.Problems) > 0 {
		return res
	}
	ids, serials := map[string]int{}, map[string]int{}
	for _, row := range rows[1:] {
		res.Rows++
		get := func(c string) string { return row.Cell(cols, c) }
		it := Item{Site: get("site"), ID: get("id"), Name: get("name"), Class: get("class"), Device: get("device"),
			Building: get("building"), Floor: get("floor"), Location: get("location"), Make: get("make"), Model: get("model"),
			Serial: get("serial"), InstallDate: normDate(get("install_date")), WarrantyEnd: normDate(get("warranty_end")),
			Supplier: get("supplier"), Contractor: get("contractor"), Notes: get("notes")}
		bad := func(col, code, format string, args ...any) {
			res.Problems = append(res.Problems, tabular.Newf(file, row.Num, col, code, format, args...))
		}
		switch {
		case it.Site == "":
			it.Site = site
		case site != "" && it.Site != site:
			bad("site", "other_site", "is %s, but the import is into site %s", it.Site, site)
			continue
		}
		before := len(res.Problems)
		for _, p := range it.problems() {
			bad(p.col, p.code, "%s", p.msg)
		}
		if it.ID != "" {
			if first, ok := ids[it.Site+"\x00"+it.ID]; ok {
				bad("id", "duplicate_id", "%s is also row %d", it.ID, first)
			} else {
				ids[it.Site+"\x00"+it.ID] = row.Num
			}
		}
		if s := strings.TrimSpace(it.Serial); s != "" {
			if first, ok := serials[it.Site+"\x00"+s]; ok {
				bad("serial", "duplicate_serial", "%s is also row %d", s, first)
			} else {
				serials[it.Site+"\x00"+s] = row.Num
			}
			if owner, ok := existing[s]; ok && owner != it.ID {
				bad("serial", "serial_registered", "%s is already registered to %s", s, owner)
			}
		}
		if len(res.Problems) == before {
			res.Items = append(res.Items, it)
		}
	}
	if res.Rows == 0 {
		res.Problems = append(res.Problems, tabular.Newf(file, 0, "", "no_rows", "the file has a header and no equipment"))
	}
	return res
}

// normDate accepts the ways a spreadsheet writes a date (2026/3/5,
// 2026.03.05, 2026年3月5日) and gives YYYY-MM-DD; anything else is left
// as it is, for Validate to refuse.
func normDate(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return s
	}
	r := strings.NewReplacer("/", "-", ".", "-", "年", "-", "月", "-", "日", "")
	for _, layout := range []string{"2006-1-2", "2006-1-2 15:04:05"} {
		if t, err := time.Parse(layout, r.Replace(s)); err == nil {
			return t.Format(time.DateOnly)
		}
	}
	return s
}

// Rows are items as table rows, in Columns' order.
func Rows(items []Item) [][]string {
	out := make([][]string, 0, len(items))
	for _, it := range items {
		out = append(out, []string{it.Site, it.ID, it.Name, it.Class, it.Device, it.Building, it.Floor, it.Location,
			it.Make, it.Model, it.Serial, it.InstallDate, it.WarrantyEnd, it.Supplier, it.Contractor, it.Notes})
	}
	return out
}

// Classes are the classes the console offers (any other is allowed).
var Classes = []string{"elevator", "generator", "lv_switchgear", "hv_switchgear", "transformer", "battery_bank",
	"fire_system", "fire_extinguisher", "pump", "meter", "access", "leak", "power"}

// ClassOfFamily is the class of a device family reported by a gateway.
func ClassOfFamily(family string) string {
	if slices.Contains(Classes, family) {
		return family
	}
	switch family {
	case "firepanel":
		return "fire_system"
	case "water":
		return "meter"
	}
	return family
}
