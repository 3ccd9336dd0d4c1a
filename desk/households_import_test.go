package desk

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/estatehq/estate/desk/deskconfig"
	"github.com/estatehq/estate/desk/households"
)

func rawCall(t *testing.T, h http.Handler, method, path, token, contentType string, body []byte) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// The console's import: a dry run reports every bad row and imports
// nothing; a clean file imports whole; the export imports back; an account
// bound to a site imports into its own site only.
func TestHouseholdImportEndpoint(t *testing.T) {
	d := newDesk(t, func(c *deskconfig.Config) {
		c.Tokens = append(c.Tokens, deskconfig.Token{Name: "amy-b", Token: "assistant-of-site-b-000000000000", Role: RoleAssistant, Site: "site-b"})
	})
	report := func(rec *httptest.ResponseRecorder) ImportReport {
		t.Helper()
		var r ImportReport
		if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
			t.Fatalf("%d %s", rec.Code, rec.Body.String())
		}
		return r
	}
	bad := "房号,姓名,电话,电表\n1-101,王芳,13800138000,m1\n1-102,,139,m2\n1-103,李强,abc,m1\n"
	rec := rawCall(t, d.h, "POST", "/api/v1/households/site-a/import?dry_run=true&name=homes.csv", assistantToken, "text/csv", []byte(bad))
	r := report(rec)
	if rec.Code != 422 || r.Imported || r.ProblemsTotal != 3 || len(r.Problems) != 3 ||
		r.Problems[0] != "homes.csv:3: name: required when a phone or contact is given" || !strings.HasPrefix(r.Problems[1], "homes.csv:4: phone:") ||
		r.Problems[2] != "homes.csv:4: meters: m1 is already the meter of unit 1-101 (row 2); a meter belongs to one unit" {
		t.Fatalf("dry run of a bad file: %d %+v", rec.Code, r)
	}
	// Not a dry run: still nothing, as long as one row is bad.
	rec = rawCall(t, d.h, "POST", "/api/v1/households/site-a/import?name=homes.csv", assistantToken, "text/csv", []byte(bad))
	if rec.Code != 422 || report(rec).Imported {
		t.Fatalf("import of a bad file: %d %s", rec.Code, rec.Body.String())
	}
	if code, body := d.call(t, "GET", "/api/v1/units/site-a/1-101", adminToken, ""); code != 404 {
		t.Fatalf("a household of a refused file was imported: %d %s", code, body)
	}

	good := "房号,楼栋,姓名,电话,联系方式,电表\n1-101,1,王芳,13800138000,短信,m1\n1-101,1,李强,13900139000,,\n1-102,1,,,,m2\n"
	rec = rawCall(t, d.h, "POST", "/api/v1/households/site-a/import?dry_run=true&name=homes.csv", assistantToken, "text/csv", []byte(good))
	if r := report(rec); rec.Code != 200 || r.Imported || r.Households != 2 || r.Residents != 2 || r.Meters != 2 || r.Added != 2 {
		t.Fatalf("dry run of a good file: %d %+v", rec.Code, r)
	}
	if code, _ := d.call(t, "GET", "/api/v1/units/site-a/1-101", adminToken, ""); code != 404 {
		t.Fatal("a dry run imported")
	}
	rec = rawCall(t, d.h, "POST", "/api/v1/households/site-a/import?name=homes.csv", assistantToken, "text/csv", []byte(good))
	if r := report(rec); rec.Code != 200 || !r.Imported {
		t.Fatalf("import: %d %+v", rec.Code, r)
	}
	code, body := d.call(t, "GET", "/api/v1/units/site-a/1-101", adminToken, "")
	if code != 200 || !strings.Contains(body, `"name":"李强"`) || !strings.Contains(body, `"contact":"sms"`) {
		t.Fatalf("imported household: %d %s", code, body)
	}

	// Export as XLSX, import it again: the same households, all replaced.
	rec = rawCall(t, d.h, "GET", "/api/v1/households/site-a?format=xlsx", assistantToken, "", nil)
	if rec.Code != 200 || !strings.Contains(rec.Header().Get("Content-Disposition"), "households-site-a.xlsx") {
		t.Fatalf("export: %d %v", rec.Code, rec.Header())
	}
	back := households.Parse("export.xlsx", rec.Body.Bytes(), "site-a")
	if len(back.Problems) > 0 || len(back.Units) != 2 {
		t.Fatalf("export parses as %+v", back)
	}
	rec = rawCall(t, d.h, "POST", "/api/v1/households/site-a/import?name=export.xlsx", adminToken,
		"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", mustExport(t, d, "xlsx"))
	if r := report(rec); rec.Code != 200 || !r.Imported || r.Replaced != 2 || r.Added != 0 {
		t.Fatalf("re-import of the export: %d %+v", rec.Code, r)
	}

	// A site-b account: site A is not its site.
	rec = rawCall(t, d.h, "POST", "/api/v1/households/site-a/import", "assistant-of-site-b-000000000000", "text/csv", []byte(good))
	if rec.Code != 403 {
		t.Errorf("site-b account into site-a: %d %s", rec.Code, rec.Body.String())
	}
	// Engineers do not import households.
	rec = rawCall(t, d.h, "POST", "/api/v1/households/site-a/import", roleTokens[RoleEngineer], "text/csv", []byte(good))
	if rec.Code != 403 {
		t.Errorf("engineer: %d", rec.Code)
	}
	// Over the body limit: 413, nothing read further.
	big := append([]byte("unit\n"), bytes.Repeat([]byte("1-101\n"), maxImportBody/6+10)...)
	rec = rawCall(t, d.h, "POST", "/api/v1/households/site-a/import", adminToken, "text/csv", big)
	if rec.Code != 413 {
		t.Errorf("over the limit: %d", rec.Code)
	}
	// With an idempotency key, a file over the JSON limit arrives whole.
	var many strings.Builder
	many.WriteString("unit,name\n")
	for i := 0; many.Len() < 2<<20; i++ {
		many.WriteString("9-" + strings.Repeat("0", 6) + string(rune('a'+i%26)) + itoa(i) + ",住户\n")
	}
	req := httptest.NewRequest("POST", "/api/v1/households/site-a/import?dry_run=true", strings.NewReader(many.String()))
	req.Header.Set("Authorization", "Bearer "+adminToken)
	req.Header.Set("Idempotency-Key", "import-1")
	rec = httptest.NewRecorder()
	d.h.ServeHTTP(rec, req)
	if r := report(rec); rec.Code != 200 || r.Rows < 50_000 {
		t.Errorf("a 2 MiB file with an idempotency key: %d rows=%d problems=%v", rec.Code, r.Rows, r.Problems)
	}
}

func mustExport(t *testing.T, d *testDesk, format string) []byte {
	t.Helper()
	rec := rawCall(t, d.h, "GET", "/api/v1/households/site-a?format="+format, adminToken, "", nil)
	if rec.Code != 200 {
		t.Fatalf("export: %d", rec.Code)
	}
	return rec.Body.Bytes()
}
