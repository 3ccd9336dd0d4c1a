// Package households reads and writes the desk's households (units, their
// residents and meters) as CSV or XLSX tables: `estate desk import
// households`, the console's import page and the export of the same
// (docs/operations.md "Importing households"). A table has one row per
// resident; the rows of one unit are merged, and a unit without residents
// is one row with no name. Every row is checked before anything is
// imported, and every problem is reported as "file:row: column: problem".
package households

import (
	"io"
	"regexp"
	"slices"
	"sort"
	"strings"
	"unicode"

	"github.com/estatehq/estate/desk/store"
	"github.com/estatehq/estate/internal/tabular"
	"github.com/estatehq/estate/internal/wire"
)

// Columns are the columns of a households table, in the order exports write them.
var Columns = []string{"site", "building", "floor", "unit", "name", "phone", "contact", "meters"}

// aliases are the Chinese headings a property company's own sheets use.
var aliases = map[string]string{
	"站点": "site", "项目": "site", "小区": "site",
	"楼栋": "building", "楼号": "building", "栋": "building",
	"楼层": "floor", "层": "floor",
	"房号": "unit", "房间": "unit", "房间号": "unit", "户号": "unit",
	"姓名": "name", "住户": "name", "业主": "name", "联系人": "name",
	"电话": "phone", "手机": "phone", "手机号": "phone", "联系电话": "phone",
	"联系方式": "contact", "首选联系方式": "contact",
	"电表": "meters", "电表号": "meters", "表号": "meters", "水表": "meters", "仪表": "meters",
}

// contactAliases are the ways of contact as people write them.
var contactAliases = map[string]string{"电话": "phone", "短信": "sms", "上门": "visit", "应用": "app", "app": "app"}

// Bounds, the same as PUT /units (desk/households.go).
const (
	maxIDLen     = 64
	maxNameLen   = 100
	maxPhoneLen  = 32
	maxMeterLen  = 128
	maxResidents = 20
	maxMeters    = 20
)

var (
	phoneChars  = regexp.MustCompile(`^[0-9+\-() ]+$`)
	excelNumber = regexp.MustCompile(`^[0-9.]+[eE]\+?[0-9]+$`)
	meterSep    = regexp.MustCompile(`[;,；，、\s]+`)
	siteID      = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
)

// Result is a checked table: its households and its problems. The
// households are only to be imported when there are no problems.
type Result struct {
	Units    []store.Unit
	Problems tabular.Problems
	// Rows is the number of rows read (the header left out).
	Rows int
}

// Parse reads a households table (CSV or XLSX, by content or name). site is
// the site the import goes into: rows naming another site are problems;
// empty, every row must name its site.
func Parse(file string, data []byte, site string) Result {
	rows, err := tabular.Read(file, data)
	if err != nil {
		return Result{Problems: asProblems(file, err)}
	}
	return ParseRows(file, rows, site)
}

func asProblems(file string, err error) tabular.Problems {
	if ps, ok := err.(tabular.Problems); ok {
		return ps
	}
	return tabular.Problems{{File: file, Msg: err.Error()}}
}

// unitAcc is a unit being assembled from its rows.
type unitAcc struct {
	unit     store.Unit
	firstRow int
	hasPlace [2]int // rows that gave building and floor
}

// ParseRows checks the rows of a table whose first row is the header.
func ParseRows(file string, rows []tabular.Row, site string) Result {
	var res Result
	if len(rows) == 0 {
		res.Problems = tabular.Problems{tabular.Newf(file, 0, "", "file_empty", "the file is empty; its first row names the columns: %s", strings.Join(Columns, ", "))}
		return res
	}
	cols, ps := tabular.Header(file, rows[0], Columns, aliases)
	res.Problems = ps
	if _, ok := cols["unit"]; !ok {
		res.Problems = append(res.Problems, tabular.Newf(file, rows[0].Num, "unit", "missing_unit_column", "missing column (the unit's number, such as 3-1201)"))
	}
	if len(res.Problems) > 0 {
		return res
	}
	if _, ok := cols["site"]; !ok && site == "" {
		res.Problems = append(res.Problems, tabular.Newf(file, rows[0].Num, "site", "missing_site_column",
			"missing column; name the site of every row, or import into one site (--site)"))
		return res
	}
	type key struct{ site, unit string }
	units := map[key]*unitAcc{}
	var order []key
	meterOwner := map[string]struct {
		unit string
		row  int
	}{}
	for _, row := range rows[1:] {
		res.Rows++
		bad := func(col, code, format string, args ...any) {
			res.Problems = append(res.Problems, tabular.Newf(file, row.Num, col, code, format, args...))
		}
		for i := len(rows[0].Cells); i < len(row.Cells); i++ {
			if row.Cells[i] != "" {
				bad("", "no_heading", "a value in column %d, which has no heading", i+1)
				break
			}
		}
		get := func(col string) string { return row.Cell(cols, col) }
		rowSite := get("site")
		switch {
		case rowSite == "" && site == "":
			bad("site", "site_required", "required (or import into one site with --site)")
			continue
		case rowSite == "":
			rowSite = site
		case site != "" && rowSite != site:
			bad("site", "other_site", "is %s, but the import is into site %s", rowSite, site)
			continue
		case !siteID.MatchString(rowSite) || len(rowSite) > maxIDLen:
			bad("site", "bad_site", "%q is not a site id (letters, digits, - _ .)", rowSite)
			continue
		}
		unit, building, floor := get("unit"), get("building"), get("floor")
		ok := true
		for _, f := range []struct{ col, v string }{{"unit", unit}, {"building", building}, {"floor", floor}} {
			switch {
			case len(f.v) > maxIDLen:
				bad(f.col, "too_long", "longer than %d bytes", maxIDLen)
				ok = false
			case hasControl(f.v):
				bad(f.col, "control", "holds a control character")
				ok = false
			}
		}
		if unit == "" {
			bad("unit", "unit_required", "required (the unit's number, such as 3-1201)")
			ok = false
		} else if strings.ContainsAny(unit, "/?#%") {
			bad("unit", "unit_chars", "%q holds / ? # or %%, which a unit's number cannot", unit)
			ok = false
		}
		// A row whose unit is known is merged into it even when its other
		// cells have problems, so that the rows after it are checked
		// against it (a meter given twice, a building that disagrees).
		placeOK := ok
		name, phone, contact := get("name"), get("phone"), get("contact")
		switch {
		case len(name) > maxNameLen:
			bad("name", "too_long", "longer than %d bytes", maxNameLen)
			ok = false
		case hasControl(name):
			bad("name", "control", "holds a control character")
			ok = false
		}
		switch {
		case phone == "":
		case excelNumber.MatchString(phone):
			bad("phone", "excel_number", "%s is a number the spreadsheet shortened; format the column as text and type the numbers again", phone)
			ok = false
		case len(phone) > maxPhoneLen:
			bad("phone", "too_long", "longer than %d characters", maxPhoneLen)
			ok = false
		case !phoneChars.MatchString(phone):
			bad("phone", "phone_chars", "%q: digits, spaces, + - ( ) only", phone)
			ok = false
		}
		if name == "" && (phone != "" || contact != "") {
			bad("name", "name_required", "required when a phone or contact is given")
			ok = false
		}
		if contact != "" {
			if c, found := contactAliases[strings.ToLower(contact)]; found {
				contact = c
			}
			if !slices.Contains(wire.Contacts, contact) {
				bad("contact", "bad_contact", "%q is not one of %s (or 电话, 短信, 上门)", get("contact"), strings.Join(wire.Contacts, ", "))
				ok = false
			}
		}
		var meters []string
		if m := get("meters"); m != "" {
			for _, id := range meterSep.Split(m, -1) {
				if id == "" {
					continue
				}
				switch {
				case len(id) > maxMeterLen:
					bad("meters", "meter_too_long", "%q is longer than %d bytes", id, maxMeterLen)
					ok = false
				case hasControl(id):
					bad("meters", "control", "holds a control character")
					ok = false
				default:
					meters = append(meters, id)
				}
			}
		}
		if !placeOK {
			continue
		}
		k := key{rowSite, unit}
		acc := units[k]
		if acc == nil {
			acc = &unitAcc{unit: store.Unit{Site: rowSite, Unit: unit, Residents: []store.Resident{}, Meters: []string{}}, firstRow: row.Num}
			units[k] = acc
			order = append(order, k)
		}
		for i, f := range []struct {
			col, v string
			into   *string
		}{{"building", building, &acc.unit.Building}, {"floor", floor, &acc.unit.Floor}} {
			if f.v == "" {
				continue
			}
			if *f.into != "" && *f.into != f.v {
				bad(f.col, "place_conflict", "%s, but row %d gave %s for unit %s", f.v, acc.hasPlace[i], *f.into, unit)
				ok = false
				continue
			}
			*f.into = f.v
			acc.hasPlace[i] = row.Num
		}
		for _, m := range meters {
			mk := rowSite + "\x00" + m
			if prev, dup := meterOwner[mk]; dup {
				if prev.unit != unit {
					bad("meters", "meter_taken", "%s is already the meter of unit %s (row %d); a meter belongs to one unit", m, prev.unit, prev.row)
					ok = false
				}
				continue
			}
			meterOwner[mk] = struct {
				unit string
				row  int
			}{unit, row.Num}
			acc.unit.Meters = append(acc.unit.Meters, m)
		}
		if name != "" && ok {
			acc.unit.Residents = append(acc.unit.Residents, store.Resident{Name: name, Phone: phone, Contact: contact})
		}
		if len(acc.unit.Residents) > maxResidents {
			bad("name", "too_many_residents", "unit %s has more than %d residents", unit, maxResidents)
		}
		if len(acc.unit.Meters) > maxMeters {
			bad("meters", "too_many_meters", "unit %s has more than %d meters", unit, maxMeters)
		}
	}
	for _, k := range order {
		u := units[k].unit
		sort.Strings(u.Meters)
		res.Units = append(res.Units, u)
	}
	if len(res.Units) == 0 && len(res.Problems) == 0 {
		res.Problems = tabular.Problems{tabular.Newf(file, 0, "", "no_rows", "the file has a header but no households")}
	}
	return res
}

func hasControl(s string) bool {
	return strings.IndexFunc(s, unicode.IsControl) >= 0
}

// Rows turns households into the rows of a table: one per resident, the
// unit's place and meters on its first row.
func Rows(units []store.Unit) [][]string {
	var out [][]string
	for _, u := range units {
		meters := strings.Join(u.Meters, ";")
		if len(u.Residents) == 0 {
			out = append(out, []string{u.Site, u.Building, u.Floor, u.Unit, "", "", "", meters})
			continue
		}
		for i, r := range u.Residents {
			row := []string{u.Site, u.Building, u.Floor, u.Unit, r.Name, r.Phone, r.Contact, ""}
			if i == 0 {
				row[7] = meters
			}
			out = append(out, row)
		}
	}
	return out
}

// Write writes households as a table in format "csv" or "xlsx".
func Write(w io.Writer, format string, units []store.Unit) error {
	return tabular.Write(w, format, Columns, Rows(units))
}
