package households

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/estatehq/estate/desk/store"
	"github.com/estatehq/estate/internal/tabular"
	"github.com/estatehq/estate/internal/testenv"
)

const goodCSV = "\xef\xbb\xbf楼栋,楼层,房号,姓名,电话,联系方式,电表\n" +
	"3,12,3-1201,王芳,13800138000,电话,meter-3-1201\n" +
	"3,12,3-1201,李强,139 0013 9000,sms,\n" +
	"3,12,3-1202,,,,meter-3-1202;meter-3-1202b\n" +
	"\n" +
	"\"5\",1,5-101,\"Zhang, Wei\",+86-21-5555,visit,m-5-101\n"

func TestParseMergesRowsOfAUnit(t *testing.T) {
	res := Parse("homes.csv", []byte(goodCSV), "site-a")
	if len(res.Problems) > 0 {
		t.Fatalf("problems: %v", res.Problems)
	}
	want := []store.Unit{
		{Site: "site-a", Unit: "3-1201", Building: "3", Floor: "12", Meters: []string{"meter-3-1201"},
			Residents: []store.Resident{{Name: "王芳", Phone: "13800138000", Contact: "phone"}, {Name: "李强", Phone: "139 0013 9000", Contact: "sms"}}},
		{Site: "site-a", Unit: "3-1202", Building: "3", Floor: "12", Meters: []string{"meter-3-1202", "meter-3-1202b"}, Residents: []store.Resident{}},
		{Site: "site-a", Unit: "5-101", Building: "5", Floor: "1", Meters: []string{"m-5-101"},
			Residents: []store.Resident{{Name: "Zhang, Wei", Phone: "+86-21-5555", Contact: "visit"}}},
	}
	if !reflect.DeepEqual(res.Units, want) {
		t.Errorf("units:\n%+v\nwant\n%+v", res.Units, want)
	}
	if res.Rows != 4 {
		t.Errorf("rows %d", res.Rows)
	}
}

// Every bad row is reported, each as file:row: column: problem, and the
// result holds no problem-free subset to import by mistake.
func TestParseReportsEveryBadRow(t *testing.T) {
	csv := "site,building,floor,unit,name,phone,contact,meters\n" +
		"site-a,3,12,3-1201,王芳,1.38E+10,phone,m1\n" + // 2: phone shortened by Excel
		"site-b,3,12,3-1202,李强,139,phone,m2\n" + // 3: another site
		"site-a,3,12,,赵六,139,phone,m3\n" + // 4: no unit
		"site-a,3,12,3-1204,,139,,m4\n" + // 5: phone without a name
		"site-a,3,12,3-1205,钱七,139,fax,m5\n" + // 6: unknown contact
		"site-a,3,12,3-1206,孙八,139,phone,m1\n" + // 7: meter of another unit
		"site-a,4,12,3-1201,周九,139,phone,\n" + // 8: building disagrees with row 2
		"site-a,3,12,3-1208,吴十,13x,phone,\n" + // 9: phone letters
		"site-a,3,12," + strings.Repeat("u", 65) + ",郑,1,phone,\n" + // 10: unit too long
		"site-a,3,12,3-1210,王,1,phone,m10,extra\n" // 11: value without heading
	res := Parse("homes.csv", []byte(csv), "site-a")
	want := []string{
		"homes.csv:2: phone: 1.38E+10 is a number the spreadsheet shortened",
		"homes.csv:3: site: is site-b, but the import is into site site-a",
		"homes.csv:4: unit: required",
		"homes.csv:5: name: required when a phone or contact is given",
		"homes.csv:6: contact: \"fax\" is not one of",
		"homes.csv:7: meters: m1 is already the meter of unit 3-1201 (row 2)",
		"homes.csv:8: building: 4, but row 2 gave 3 for unit 3-1201",
		"homes.csv:9: phone: \"13x\": digits",
		"homes.csv:10: unit: longer than 64 bytes",
		"homes.csv:11: a value in column 9, which has no heading",
	}
	if len(res.Problems) != len(want) {
		t.Errorf("%d problems, want %d:\n%v", len(res.Problems), len(want), res.Problems)
	}
	for i, w := range want {
		if i >= len(res.Problems) || !strings.HasPrefix(res.Problems[i].String(), w) {
			t.Errorf("problem %d: %v, want %q…", i, res.Problems, w)
			break
		}
	}
	for _, c := range []struct{ name, data, want string }{
		{"empty.csv", "", "empty.csv: the file is empty"},
		{"nounit.csv", "name,phone\nx,1\n", "nounit.csv:1: unit: missing column"},
		{"unknown.csv", "unit,colour\n1,red\n", "unknown.csv:1: colour: unknown column"},
		{"gbk.csv", "unit\n\xb7\xbf\xba\xc5\n", "gbk.csv: the file is not UTF-8 text"},
		{"quote.csv", "unit\n\"1-101\n", "quote.csv:2: not valid CSV"},
		{"headonly.csv", "unit,name\n", "headonly.csv: the file has a header but no households"},
	} {
		res := Parse(c.name, []byte(c.data), "site-a")
		if len(res.Problems) == 0 || !strings.HasPrefix(res.Problems[0].String(), c.want) {
			t.Errorf("%s: %v, want %q…", c.name, res.Problems, c.want)
		}
	}
	// Without a site to import into, every row names its own.
	res = Parse("homes.csv", []byte("unit,name\n1-101,王\n"), "")
	if len(res.Problems) != 1 || !strings.Contains(res.Problems[0].String(), "site: missing column") {
		t.Errorf("no site: %v", res.Problems)
	}
}

// What is exported imports again to the same households, as CSV and as XLSX,
// through the store of either dialect.
func TestExportImportRoundTrip(t *testing.T) {
	for _, b := range []struct {
		name string
		dsn  func(t *testing.T) string
	}{
		{store.SQLiteDialect, func(t *testing.T) string { return filepath.Join(t.TempDir(), "desk.db") }},
		{store.PostgresDialect, func(t *testing.T) string { return testenv.PostgreSQL(t) }},
	} {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			st, err := store.Open(ctx, b.name, b.dsn(t), store.Policy{})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			res := Parse("homes.csv", []byte(goodCSV), "site-a")
			if err := st.ImportUnits(ctx, res.Units); err != nil {
				t.Fatal(err)
			}
			first, err := st.ListUnits(ctx, "site-a")
			if err != nil || len(first) != 3 {
				t.Fatalf("%d units %v", len(first), err)
			}
			for _, format := range []string{"csv", "xlsx"} {
				var buf bytes.Buffer
				if err := Write(&buf, format, first); err != nil {
					t.Fatal(err)
				}
				if got := tabular.Format("export", buf.Bytes()); got != format {
					t.Errorf("export as %s reads as %s", format, got)
				}
				back := Parse("export."+format, buf.Bytes(), "site-a")
				if len(back.Problems) > 0 {
					t.Fatalf("%s: %v", format, back.Problems)
				}
				if err := st.ImportUnits(ctx, back.Units); err != nil {
					t.Fatal(err)
				}
				again, err := st.ListUnits(ctx, "site-a")
				if err != nil || !reflect.DeepEqual(again, first) {
					t.Errorf("%s round trip:\n%+v\nwant\n%+v", format, again, first)
				}
			}
			// Other sites see none of it.
			if other, err := st.ListUnits(ctx, "site-b"); err != nil || len(other) != 0 {
				t.Errorf("site-b: %+v %v", other, err)
			}
		})
	}
}

// A spreadsheet typed by people (numbers as numbers, a second sheet, rows
// left empty) reads as it shows.
func TestParseXLSXAsTyped(t *testing.T) {
	var buf bytes.Buffer
	if err := tabular.Write(&buf, "xlsx", []string{"房号", "姓名", "手机", "电表"}, [][]string{{"1-101", "王芳", "13800138000", "m1"}, {}, {"1-102", "李强", "", ""}}); err != nil {
		t.Fatal(err)
	}
	res := Parse("homes.xlsx", buf.Bytes(), "site-a")
	if len(res.Problems) > 0 || len(res.Units) != 2 || res.Units[0].Residents[0].Phone != "13800138000" {
		t.Fatalf("%+v", res)
	}
	if res := Parse("bad.xlsx", []byte("PK\x03\x04 not a zip"), "site-a"); len(res.Problems) != 1 || !strings.Contains(res.Problems[0].Msg, "not a readable XLSX") {
		t.Errorf("broken xlsx: %v", res.Problems)
	}
}

// FuzzParseCSV: no input makes the parser panic; what it accepts is within
// the bounds of PUT /units and exports and parses back to itself.
func FuzzParseCSV(f *testing.F) {
	f.Add([]byte(goodCSV))
	f.Add([]byte("site,unit,name,phone,contact,meters\nsite-a,1,a,1,phone,m1;m2\nsite-a,1,b,,,m3\n"))
	f.Add([]byte("unit\n\"a\"\"b\",x\n"))
	f.Add([]byte("unit,building\n1,2\n1,3\n"))
	f.Add([]byte("\xef\xbb\xbfunit;name\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		res := Parse("f.csv", data, "site-a")
		if len(res.Problems) > 0 {
			for _, p := range res.Problems {
				if p.File != "f.csv" || p.Msg == "" {
					t.Fatalf("problem without a place or a message: %+v", p)
				}
			}
			return
		}
		for _, u := range res.Units {
			if u.Unit == "" || len(u.Unit) > maxIDLen || len(u.Residents) > maxResidents || len(u.Meters) > maxMeters || u.Site != "site-a" {
				t.Fatalf("accepted out of bounds: %+v", u)
			}
		}
		var buf bytes.Buffer
		if err := Write(&buf, "csv", res.Units); err != nil {
			t.Fatal(err)
		}
		back := Parse("back.csv", buf.Bytes(), "site-a")
		if len(back.Problems) > 0 || !reflect.DeepEqual(back.Units, res.Units) {
			t.Fatalf("export does not parse back:\n%q\n%+v\n%+v\n%v", buf.String(), res.Units, back.Units, back.Problems)
		}
	})
}

// Every problem code the import can report has its Chinese message in the
// console's catalogue (the page says problems in the user's language).
func TestProblemCodesHaveChineseMessages(t *testing.T) {
	i18n, err := os.ReadFile("../../web/src/i18n.ts")
	if err != nil {
		t.Fatal(err)
	}
	code := regexp.MustCompile(`(?:bad\([^,\n]+, |Newf\(file, [^,\n]+, [^,\n]+, )"([a-z0-9_]+)"`)
	for _, src := range []string{"households.go", "../../internal/tabular/tabular.go"} {
		text, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		found := code.FindAllStringSubmatch(string(text), -1)
		if len(found) < 5 {
			t.Fatalf("%s: only %d codes found; the pattern is stale", src, len(found))
		}
		for _, m := range found {
			if !strings.Contains(string(i18n), `"hh.p.`+m[1]+`":`) {
				t.Errorf("%s: code %s has no message hh.p.%s in web/src/i18n.ts", src, m[1], m[1])
			}
		}
	}
}
