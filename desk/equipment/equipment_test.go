package equipment

import (
	"bytes"
	"strings"
	"testing"

	"github.com/estatehq/estate/internal/tabular"
)

const good = `编号,名称,类别,网关设备,楼栋,位置,品牌,型号,序列号,安装日期,保修到期,供应商,维保单位
gen-1,1号柴油发电机,generator,power-1-b1,1,B1 发电机房,Cummins,C550D5,CU2024-0815,2024/3/1,2027年2月28日,康明斯华东,沪电维保
tx-1,1号变压器,transformer,,1,B1 配电房,TBEA,SCB13-1250,TB-88123,2023-06-01,2026-06-01,特变电工,沪电维保
`

func TestParseChineseHeadings(t *testing.T) {
	res := Parse("台账.csv", []byte(good), "site-a", nil)
	if len(res.Problems) > 0 {
		t.Fatal(res.Problems)
	}
	if len(res.Items) != 2 || res.Rows != 2 {
		t.Fatalf("%d items of %d rows", len(res.Items), res.Rows)
	}
	g := res.Items[0]
	if g.Site != "site-a" || g.ID != "gen-1" || g.Device != "power-1-b1" || g.Serial != "CU2024-0815" ||
		g.InstallDate != "2024-03-01" || g.WarrantyEnd != "2027-02-28" || g.Contractor != "沪电维保" || g.Location != "B1 发电机房" {
		t.Errorf("row 2 read as %+v", g)
	}
}

func TestParseProblemsNameTheRow(t *testing.T) {
	cases := []struct {
		name, file string
		existing   map[string]string
		want       []string
	}{
		{"missing serial", "id,name,serial\ngen-1,发电机,\npump-1,水泵,P-1\n", nil,
			[]string{"t.csv:2: serial: required"}},
		{"duplicate serial", "id,name,serial\ngen-1,发电机,S-1\npump-1,水泵,S-1\n", nil,
			[]string{"t.csv:3: serial: S-1 is also row 2"}},
		{"serial registered to another", "id,name,serial\npump-2,水泵,S-9\n", map[string]string{"S-9": "pump-1"},
			[]string{"t.csv:2: serial: S-9 is already registered to pump-1"}},
		{"duplicate id", "id,name,serial\ngen-1,发电机,S-1\ngen-1,发电机,S-2\n", nil,
			[]string{"t.csv:3: id: gen-1 is also row 2"}},
		{"impossible date", "id,name,serial,warranty_end\ngen-1,发电机,S-1,2026-02-31\n", nil,
			[]string{`t.csv:2: warranty_end: "2026-02-31" is not a date`}},
		{"serial shortened by the spreadsheet", "id,name,serial\ngen-1,发电机,1.23457E+11\n", nil,
			[]string{"t.csv:2: serial: 1.23457E+11 is a number the spreadsheet shortened"}},
		{"no serial column", "id,name\ngen-1,发电机\n", nil, []string{"t.csv:1: serial: missing column"}},
		{"other site", "site,id,name,serial\nsite-b,gen-1,发电机,S\n", nil, []string{"t.csv:2: site: is site-b, but the import is into site site-a"}},
		{"warranty before install", "id,name,serial,install_date,warranty_end\ngen-1,发电机,S,2025-01-01,2024-01-01\n", nil,
			[]string{"t.csv:2: warranty_end: 2024-01-01 is before the install date 2025-01-01"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := Parse("t.csv", []byte(c.file), "site-a", c.existing)
			got := res.Problems.Error()
			for _, w := range c.want {
				if !strings.Contains(got, w) {
					t.Errorf("problems %q, want %q", got, w)
				}
			}
			if len(res.Problems) != len(c.want) {
				t.Errorf("%d problems, want %d: %s", len(res.Problems), len(c.want), got)
			}
		})
	}
}

func TestXLSXRoundTrip(t *testing.T) {
	res := Parse("a.csv", []byte(good), "site-a", nil)
	var buf bytes.Buffer
	if err := tabular.Write(&buf, "xlsx", Columns, Rows(res.Items)); err != nil {
		t.Fatal(err)
	}
	back := Parse("a.xlsx", buf.Bytes(), "site-a", nil)
	if len(back.Problems) > 0 || len(back.Items) != 2 {
		t.Fatalf("%v %d", back.Problems, len(back.Items))
	}
	for i := range back.Items {
		if back.Items[i] != res.Items[i] {
			t.Errorf("row %d: %+v, want %+v", i, back.Items[i], res.Items[i])
		}
	}
}

func TestWarrantyEnding(t *testing.T) {
	it := Item{WarrantyEnd: "2026-12-20"}
	for today, want := range map[string]bool{"2026-11-19": false, "2026-11-20": true, "2026-12-20": true, "2026-12-21": false} {
		if got := it.WarrantyEnding(today); got != want {
			t.Errorf("on %s: %v, want %v", today, got, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(good))
	f.Add([]byte("id,name,serial\ngen-1,发电机,\n"))
	f.Add([]byte("site,id,name,serial,install_date\nsite-a,x,y,z,2026年13月1日\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		res := Parse("f.csv", data, "site-a", nil)
		seen := map[string]bool{}
		for _, it := range res.Items {
			if err := it.Validate(); err != nil {
				t.Fatalf("an accepted row does not validate: %v (%+v)", err, it)
			}
			if seen[it.Serial] {
				t.Fatalf("serial %q accepted twice", it.Serial)
			}
			seen[it.Serial] = true
		}
	})
}
