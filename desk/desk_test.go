package desk

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/estatehq/estate/desk/deskconfig"
	"github.com/estatehq/estate/desk/store"
	"github.com/estatehq/estate/internal/wire"
)

const (
	adminToken     = "admin-token-0123456789"
	assistantToken = "assistant-token-0123456789"
	gatewayToken   = "gateway-token-0123456789"
)

func newTestDesk(t *testing.T) http.Handler {
	t.Helper()
	st, err := store.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "desk.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg := deskconfig.Config{Listen: "127.0.0.1:0", Tokens: []deskconfig.Token{
		{Name: "admin", Token: adminToken, Role: RoleAdmin},
		{Name: "front", Token: assistantToken, Role: RoleAssistant},
		{Name: "gw-a", Token: gatewayToken, Role: RoleGateway, Site: "site-a"},
	}}
	return New(cfg, st, slog.New(slog.NewTextHandler(io.Discard, nil))).Handler()
}

func call(t testing.TB, h http.Handler, method, path, token, body string) (int, string) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

const alarmTicket = `{"kind":"top_up","title":"1-101 low balance","site":"site-a","building":"1","unit":"1-101",
	"device":"m1","alarm_key":"site-a/low/m1","reading":{"point":"balance","value":9.5,"unit":"CNY","at":"2026-11-24T10:00:00Z"}}`

func TestAuthentication(t *testing.T) {
	h := newTestDesk(t)
	cases := []struct {
		name, method, path, token, body string
		want                            int
	}{
		{"no token", "GET", "/api/v1/tickets", "", "", 401},
		{"unknown token", "GET", "/api/v1/tickets", "not-a-known-token-000", "", 401},
		{"no token on create", "POST", "/api/v1/tickets", "", alarmTicket, 401},
		{"no token on get", "GET", "/api/v1/tickets/1", "", "", 401},
		{"admin lists", "GET", "/api/v1/tickets", adminToken, "", 200},
		{"assistant lists", "GET", "/api/v1/tickets", assistantToken, "", 200},
		{"gateway creates for its site", "POST", "/api/v1/tickets", gatewayToken, alarmTicket, 201},
		{"gateway creates for another site", "POST", "/api/v1/tickets", gatewayToken, strings.Replace(alarmTicket, `"site-a"`, `"site-b"`, 1), 403},
		{"gateway lists another site", "GET", "/api/v1/tickets?site=site-b", gatewayToken, "", 403},
		{"health needs no token", "GET", "/healthz", "", "", 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, body := call(t, h, tc.method, tc.path, tc.token, tc.body)
			if code != tc.want {
				t.Errorf("%s %s: status %d, want %d (%s)", tc.method, tc.path, code, tc.want, body)
			}
			if code >= 400 && !strings.Contains(body, `"error"`) {
				t.Errorf("error body without an error field: %s", body)
			}
		})
	}
}

func TestCreateIsIdempotentPerAlarmKey(t *testing.T) {
	h := newTestDesk(t)
	code, body := call(t, h, "POST", "/api/v1/tickets", gatewayToken, alarmTicket)
	if code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	var first wire.Ticket
	if err := json.Unmarshal([]byte(body), &first); err != nil {
		t.Fatal(err)
	}
	if first.Kind != wire.TopUp || first.Priority != "P3" || first.Status != wire.New || first.Source != wire.SourceDeviceAlarm ||
		first.CreatedBy != "gw-a" || first.Reading == nil || first.Reading.Value != 9.5 || first.Unit != "1-101" {
		t.Errorf("created ticket: %+v", first)
	}
	for range 3 {
		code, body = call(t, h, "POST", "/api/v1/tickets", gatewayToken, alarmTicket)
		if code != 200 || !strings.Contains(body, `"id":1,`) {
			t.Errorf("repeat create: %d %s, want 200 with the same ticket", code, body)
		}
	}
	code, body = call(t, h, "GET", "/api/v1/tickets", adminToken, "")
	var list struct{ Tickets []wire.Ticket }
	_ = json.Unmarshal([]byte(body), &list)
	if code != 200 || len(list.Tickets) != 1 {
		t.Errorf("list after repeats: %d, %d tickets", code, len(list.Tickets))
	}
	code, body = call(t, h, "GET", "/api/v1/tickets/1", assistantToken, "")
	if code != 200 || !strings.Contains(body, `"alarm_key":"site-a/low/m1"`) {
		t.Errorf("get: %d %s", code, body)
	}
}

func TestBadInput(t *testing.T) {
	h := newTestDesk(t)
	cases := []struct {
		name, method, path, body string
		want                     int
		says                     string
	}{
		{"not json", "POST", "/api/v1/tickets", `{"kind":`, 400, "not a valid request in JSON"},
		{"wrong type", "POST", "/api/v1/tickets", `{"kind":"repair","title":5,"site":"s"}`, 400, `"field":"title"`},
		{"unknown field", "POST", "/api/v1/tickets", `{"kind":"repair","title":"x","site":"s","colour":"red"}`, 400, `colour: unknown field`},
		{"two values", "POST", "/api/v1/tickets", `{"kind":"repair","title":"x","site":"s"} {}`, 400, "not a valid request"},
		{"title too long", "POST", "/api/v1/tickets", `{"kind":"repair","site":"s","title":"` + strings.Repeat("x", 201) + `"}`, 422, "title is longer than 200 bytes"},
		{"bad contact", "POST", "/api/v1/tickets", `{"kind":"repair","site":"s","title":"x","contact":"fax"}`, 422, `contact \"fax\" is not one of`},
		{"bad status filter", "GET", "/api/v1/tickets?status=done", "", 400, `"field":"status"`},
		{"unknown filter", "GET", "/api/v1/tickets?colour=red", "", 400, "colour: unknown query parameter"},
		{"bad cursor", "GET", "/api/v1/tickets?cursor=zzz", "", 400, `"field":"cursor"`},
		{"bad sort", "GET", "/api/v1/tickets?sort=title", "", 400, `"field":"sort"`},
		{"action on missing ticket", "POST", "/api/v1/tickets/99/actions", `{"action":"dispatch","assignee":"li"}`, 404, "no ticket 99"},
		{"bad report month", "GET", "/api/v1/reports/monthly?site=s&month=11-2026", "", 400, `"field":"month"`},
		{"unknown kind", "POST", "/api/v1/tickets", `{"kind":"fix","title":"x","site":"s"}`, 422, `kind \"fix\" is not one of`},
		{"no title", "POST", "/api/v1/tickets", `{"kind":"repair","site":"s"}`, 422, "title is required"},
		{"no site", "POST", "/api/v1/tickets", `{"kind":"repair","title":"x"}`, 422, "site is required"},
		{"bad id", "GET", "/api/v1/tickets/abc", "", 400, "positive number"},
		{"missing ticket", "GET", "/api/v1/tickets/99", "", 404, "no ticket 99"},
		{"bad limit", "GET", "/api/v1/tickets?limit=0", "", 400, "limit"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, body := call(t, h, tc.method, tc.path, adminToken, tc.body)
			if code != tc.want || !strings.Contains(body, tc.says) {
				t.Errorf("status %d body %s; want %d saying %q", code, body, tc.want, tc.says)
			}
		})
	}
	_, body := call(t, h, "GET", "/api/v1/tickets", adminToken, "")
	if !strings.Contains(body, `"tickets":[]`) {
		t.Errorf("bad input wrote something: %s", body)
	}
}
