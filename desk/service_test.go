package desk

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/estatehq/estate/desk/deskconfig"
	"github.com/estatehq/estate/desk/store"
	"github.com/estatehq/estate/desk/ticket"
	"github.com/estatehq/estate/internal/config"
	"github.com/estatehq/estate/internal/wire"
)

// clock is a test clock that moves only when told.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// roleTokens has one token per role; the gateway's and "site-eng" are bound to site-a.
var roleTokens = map[string]string{
	RoleAdmin: adminToken, RoleManager: "manager-token-0123456789", RoleEngineer: "engineer-token-0123456789",
	RoleControlRoom: "control-token-0123456789", RoleAssistant: assistantToken, RoleGateway: gatewayToken,
}

// testPasswordHash is "correct horse" at cost 10, the lowest the desk's
// configuration accepts; precomputed, as hashing it takes ~50 ms per test.
const testPasswordHash = "$2a$10$7hAtyrMnqowkEa9GnKRjCurixAS7SOJM85Ln9.pZfT0sNfdnozdU."

// otherPasswordHash is "another horse" at cost 10.
const otherPasswordHash = "$2a$10$GyCy5c/CAZT/op7wRJfM7ueknQMRhH8D3n70ndxrcKFMEwz2M4BMy"

type testDesk struct {
	srv   *Server
	h     http.Handler
	st    *store.Store
	clock *clock
}

func newDesk(t testing.TB, mutate func(*deskconfig.Config)) *testDesk {
	t.Helper()
	hash := testPasswordHash
	cfg := &config.Config{Site: config.Site{ID: "site-a", Timezone: "Asia/Shanghai"}, Desk: deskconfig.Config{
		Listen: "127.0.0.1:0", Driver: "sqlite", SessionTTL: time.Hour, LoginAttempts: 3, LoginWindow: 10 * time.Minute,
		Tokens: []deskconfig.Token{
			{Name: "admin", Token: adminToken, Role: RoleAdmin},
			{Name: "boss", Token: roleTokens[RoleManager], Role: RoleManager},
			{Name: "eng", Token: roleTokens[RoleEngineer], Role: RoleEngineer},
			{Name: "ctrl", Token: roleTokens[RoleControlRoom], Role: RoleControlRoom},
			{Name: "front", Token: assistantToken, Role: RoleAssistant},
			{Name: "gw-a", Token: gatewayToken, Role: RoleGateway, Site: "site-a"},
		},
		Staff: []deskconfig.Staff{{Name: "xiao", DisplayName: "小王", Role: RoleAssistant, Team: "customer_service", PasswordHash: hash}},
	}}
	if mutate != nil {
		mutate(&cfg.Desk)
	}
	policy := StorePolicy(cfg)
	st, err := store.Open(context.Background(), store.SQLiteDialect, filepath.Join(t.TempDir(), "desk.db"), policy)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clk := &clock{now: time.Date(2026, 11, 24, 2, 0, 0, 0, time.UTC)}
	srv := New(cfg.Desk, st, slog.New(slog.NewTextHandler(io.Discard, nil)), WithClock(clk.Now), WithLocation(policy.Location))
	return &testDesk{srv: srv, h: srv.Handler(), st: st, clock: clk}
}

func (d *testDesk) call(t testing.TB, method, path, token, body string) (int, string) {
	t.Helper()
	return call(t, d.h, method, path, token, body)
}

func decodeInto[T any](t *testing.T, body string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	return v
}

// Every route × every role: the role table of routes() is what is enforced,
// a missing token is 401 everywhere, and a gateway stays on its own site.
func TestRouteRoleMatrix(t *testing.T) {
	d := newDesk(t, nil)
	code, body := d.call(t, "POST", "/api/v1/tickets", adminToken, `{"kind":"top_up","title":"low","site":"site-a","unit":"1-101"}`)
	if code != 201 {
		t.Fatalf("seed ticket: %d %s", code, body)
	}
	if code, body := d.call(t, "PUT", "/api/v1/units/site-a/1-101", adminToken, `{"building":"1"}`); code != 200 {
		t.Fatalf("seed unit: %d %s", code, body)
	}
	bodies := map[string]string{
		"POST /tickets":               `{"kind":"repair","title":"door","site":"site-a"}`,
		"POST /tickets/:id/actions":   `{"action":"acknowledge"}`,
		"POST /tickets/:id/comments":  `{"body":"called"}`,
		"POST /tickets/:id/reminders": `{"channel":"phone"}`,
		"PUT /units/:site/:unit":      `{"building":"1"}`,
	}
	query := map[string]string{"/reports/monthly": "?site=site-a&month=2026-11"}
	roles := []string{RoleAdmin, RoleManager, RoleEngineer, RoleControlRoom, RoleAssistant, RoleGateway}
	for _, r := range routes(d.srv) {
		path := strings.NewReplacer(":id", "1", ":site", "site-a", ":unit", "1-101").Replace(r.path) + query[r.path]
		for _, role := range append(roles, "none") {
			t.Run(r.method+" "+r.path+" as "+role, func(t *testing.T) {
				ctx, cancel := context.WithCancel(context.Background())
				if r.path == "/events" {
					// The stream runs until its client goes: end it soon.
					ctx, cancel = context.WithTimeout(context.Background(), 300*time.Millisecond)
				}
				defer cancel()
				req := httptest.NewRequestWithContext(ctx, r.method, "/api/v1"+path, strings.NewReader(bodies[r.method+" "+r.path]))
				req.Header.Set("Content-Type", "application/json")
				if role != "none" {
					req.Header.Set("Authorization", "Bearer "+roleTokens[role])
				}
				rec := httptest.NewRecorder()
				d.h.ServeHTTP(rec, req)
				want := "allowed"
				switch {
				case role == "none":
					want = "401"
				case !slices.Contains(r.roles, role):
					want = "403"
				}
				got := "allowed"
				if rec.Code == 401 || rec.Code == 403 {
					got = fmt.Sprint(rec.Code)
				}
				if r.path == "/logout" && role != "none" && slices.Contains(r.roles, role) && rec.Code == 400 {
					got = "allowed" // an API token is not a session: refused with 400, after authorisation
				}
				if got != want || rec.Code >= 500 {
					t.Errorf("status %d (%s), want %s: %s", rec.Code, got, want, rec.Body.String())
				}
			})
		}
	}
	// The gateway's site binding, on top of its role.
	if code, _ := d.call(t, "GET", "/api/v1/tickets/1", gatewayToken, ""); code != 200 {
		t.Errorf("gateway reading its own site's ticket: %d", code)
	}
	_, body = d.call(t, "POST", "/api/v1/tickets", adminToken, `{"kind":"repair","title":"b","site":"site-b"}`)
	other := decodeInto[wire.Ticket](t, body)
	if code, _ := d.call(t, "GET", fmt.Sprintf("/api/v1/tickets/%d", other.ID), gatewayToken, ""); code != 404 {
		t.Errorf("gateway reading another site's ticket: %d, want 404", code)
	}
}

func TestLifecycleOverHTTP(t *testing.T) {
	d := newDesk(t, nil)
	_, body := d.call(t, "POST", "/api/v1/tickets", assistantToken,
		`{"kind":"complaint","category":"neighbours","title":"noise upstairs","site":"site-a","unit":"2-301","reporter":"Wang","phone":"138"}`)
	tk := decodeInto[wire.Ticket](t, body)
	act := func(change string) (int, string) {
		d.clock.Advance(2 * time.Minute)
		return d.call(t, "POST", fmt.Sprintf("/api/v1/tickets/%d/actions", tk.ID), assistantToken, change)
	}
	steps := []struct {
		change string
		code   int
		says   string
	}{
		{`{"action":"arrive"}`, 409, `"allowed":["acknowledge","dispatch","cancel"]`},
		{`{"action":"dispatch"}`, 422, `"field":"assignee"`},
		{`{"action":"dispatch","assignee":"li","team":"security"}`, 200, `"status":"dispatched"`},
		{`{"action":"resolve"}`, 422, `"field":"resolution"`},
		{`{"action":"resolve","resolution":"talked to 2-401"}`, 200, `"status":"resolved"`},
		{`{"action":"close"}`, 409, "a complaint is closed only after its follow-up"},
		{`{"action":"follow_up","satisfaction":9,"follow_up_note":"ok"}`, 422, `"field":"satisfaction"`},
		{`{"action":"follow_up","satisfaction":5,"follow_up_note":"quiet now"}`, 200, `"satisfaction":5`},
		{`{"action":"close"}`, 200, `"status":"closed"`},
		{`{"action":"fly"}`, 422, `"field":"action"`},
	}
	for _, s := range steps {
		code, body := act(s.change)
		if code != s.code || !strings.Contains(body, s.says) {
			t.Fatalf("%s: %d %s; want %d with %s", s.change, code, body, s.code, s.says)
		}
	}
	_, body = d.call(t, "GET", fmt.Sprintf("/api/v1/tickets/%d/audit", tk.ID), adminToken, "")
	trail := decodeInto[struct{ Audit []ticket.AuditEntry }](t, body).Audit
	var actions []string
	for _, e := range trail {
		actions = append(actions, e.Action)
	}
	if !slices.Equal(actions, []string{"created", "dispatch", "resolve", "follow_up", "close"}) || trail[1].Actor != "front" {
		t.Fatalf("audit: %v (refused actions must not appear)", actions)
	}
	code, body := d.call(t, "POST", fmt.Sprintf("/api/v1/tickets/%d/comments", tk.ID), adminToken, `{"body":"resident thanked us"}`)
	if code != 201 {
		t.Fatalf("comment: %d %s", code, body)
	}
	if _, body := d.call(t, "GET", fmt.Sprintf("/api/v1/tickets/%d/comments", tk.ID), adminToken, ""); !strings.Contains(body, "resident thanked us") {
		t.Fatalf("comments: %s", body)
	}
}

// Missed deadlines escalate through the configured channels: a webhook, a
// WeCom and a DingTalk robot on loopback; a failing channel is retried.
func TestEscalationNotifiesChannels(t *testing.T) {
	var mu sync.Mutex
	got := map[string][]map[string]any{}
	failWeCom := true
	robot := func(name string) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var m map[string]any
			_ = json.NewDecoder(r.Body).Decode(&m)
			mu.Lock()
			defer mu.Unlock()
			if name == "wecom" && failWeCom {
				failWeCom = false
				fmt.Fprint(w, `{"errcode":93000,"errmsg":"invalid webhook url"}`)
				return
			}
			if name == "dingtalk" && (r.URL.Query().Get("sign") == "" || r.URL.Query().Get("timestamp") == "") {
				http.Error(w, "unsigned", 400)
				return
			}
			got[name] = append(got[name], m)
			fmt.Fprint(w, `{"errcode":0,"errmsg":"ok"}`)
		}))
	}
	hook, wecom, ding := robot("webhook"), robot("wecom"), robot("dingtalk")
	defer hook.Close()
	defer wecom.Close()
	defer ding.Close()
	d := newDesk(t, func(c *deskconfig.Config) {
		c.Channels = []deskconfig.Channel{
			{Name: "all-events", Type: "webhook", URL: hook.URL},
			{Name: "managers", Type: "wecom", URL: wecom.URL + "/cgi-bin/webhook/send?key=k", Levels: []string{"manager", "leadership"}},
			{Name: "supervisors", Type: "dingtalk", URL: ding.URL + "/robot/send?access_token=t", Secret: "SEC123", Levels: []string{"supervisor"}, Kinds: []string{"repair"}},
		}
	})
	ctx := context.Background()
	code, body := d.call(t, "POST", "/api/v1/tickets", gatewayToken, `{"kind":"emergency","title":"电梯困人 lift 2","site":"site-a","building":"2"}`)
	if code != 201 {
		t.Fatalf("%d %s", code, body)
	}
	d.call(t, "POST", "/api/v1/tickets", gatewayToken, `{"kind":"repair","title":"door controller offline","site":"site-a"}`)
	d.srv.sendDue(ctx)
	mu.Lock()
	if len(got["webhook"]) != 2 || len(got["wecom"]) != 0 {
		t.Errorf("at creation: webhook %d, wecom %d (its first answer is an error)", len(got["webhook"]), len(got["wecom"]))
	}
	mu.Unlock()

	d.clock.Advance(11 * time.Minute) // emergency: ack and on-site missed; repair: dispatch missed
	if n := d.srv.escalate(ctx); n != 3 {
		t.Fatalf("escalated %d deadlines, want 3", n)
	}
	if n := d.srv.escalate(ctx); n != 0 {
		t.Fatalf("escalated again: %d", n)
	}
	d.srv.sendDue(ctx)
	d.clock.Advance(10 * time.Second) // the failed WeCom message's retry is due
	d.srv.sendDue(ctx)
	mu.Lock()
	defer mu.Unlock()
	if len(got["wecom"]) != 3 { // creation retried + two emergency misses
		t.Fatalf("wecom messages: %d, want 3: %v", len(got["wecom"]), got["wecom"])
	}
	md := got["wecom"][2]["markdown"].(map[string]any)["content"].(string)
	if got["wecom"][2]["msgtype"] != "markdown" || !strings.Contains(md, "### [P1 紧急] 电梯困人 lift 2") || !strings.Contains(md, "超时升级") || strings.Contains(md, "deadline") {
		t.Errorf("wecom markdown: %q", md)
	}
	if len(got["dingtalk"]) != 1 || got["dingtalk"][0]["markdown"].(map[string]any)["title"] != "[P2 报修] door controller offline" {
		t.Errorf("dingtalk: %v", got["dingtalk"])
	}
	if len(got["webhook"]) != 5 || got["webhook"][0]["ticket"] == nil {
		t.Errorf("webhook: %d messages", len(got["webhook"]))
	}
	_, body = d.call(t, "GET", "/api/v1/tickets/1", adminToken, "")
	if tk := decodeInto[wire.Ticket](t, body); tk.EscalationLevel != 3 {
		t.Errorf("emergency escalation level %d", tk.EscalationLevel)
	}
}

func TestLoginSessionsAndRateLimit(t *testing.T) {
	d := newDesk(t, nil)
	code, body := d.call(t, "POST", "/api/v1/login", "", `{"name":"xiao","password":"correct horse"}`)
	if code != 200 {
		t.Fatalf("login: %d %s", code, body)
	}
	session := decodeInto[struct{ Token string }](t, body).Token
	if code, body := d.call(t, "GET", "/api/v1/me", session, ""); code != 200 || !strings.Contains(body, `"role":"assistant"`) || !strings.Contains(body, "小王") {
		t.Fatalf("me: %d %s", code, body)
	}
	if code, _ := d.call(t, "GET", "/api/v1/topups", session, ""); code != 200 {
		t.Errorf("assistant session on topups: %d", code)
	}
	if code, _ := d.call(t, "GET", "/api/v1/reports/monthly?site=site-a&month=2026-11", session, ""); code != 403 {
		t.Errorf("assistant session on reports: %d", code)
	}
	for i := range 3 {
		if code, _ := d.call(t, "POST", "/api/v1/login", "", `{"name":"xiao","password":"wrong"}`); code != 401 {
			t.Fatalf("wrong password %d: %d", i, code)
		}
	}
	if code, body := d.call(t, "POST", "/api/v1/login", "", `{"name":"xiao","password":"correct horse"}`); code != 429 {
		t.Fatalf("after 3 failures: %d %s, want 429", code, body)
	}
	spoofed := httptest.NewRequest("POST", "/api/v1/login", strings.NewReader(`{"name":"xiao","password":"correct horse"}`))
	spoofed.Header.Set("Content-Type", "application/json")
	spoofed.Header.Set("X-Forwarded-For", "203.0.113.9")
	rec := httptest.NewRecorder()
	d.h.ServeHTTP(rec, spoofed)
	if rec.Code != 429 || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("a forged X-Forwarded-For escaped the limit: %d", rec.Code)
	}
	d.clock.Advance(11 * time.Minute)
	if code, _ := d.call(t, "POST", "/api/v1/login", "", `{"name":"xiao","password":"correct horse"}`); code != 200 {
		t.Fatalf("after the window: %d", code)
	}
	if code, _ := d.call(t, "POST", "/api/v1/login", "", `{"name":"nobody","password":"x"}`); code != 401 {
		t.Errorf("unknown name: %d", code)
	}
	if code, _ := d.call(t, "POST", "/api/v1/logout", session, ""); code != 204 {
		t.Fatalf("logout: %d", code)
	}
	if code, _ := d.call(t, "GET", "/api/v1/me", session, ""); code != 401 {
		t.Errorf("after logout: %d", code)
	}
	_, body = d.call(t, "POST", "/api/v1/login", "", `{"name":"xiao","password":"correct horse"}`)
	session = decodeInto[struct{ Token string }](t, body).Token
	d.clock.Advance(61 * time.Minute)
	if code, _ := d.call(t, "GET", "/api/v1/me", session, ""); code != 401 {
		t.Errorf("expired session: %d", code)
	}
}

func TestIdempotencyKeys(t *testing.T) {
	d := newDesk(t, nil)
	post := func(key, body string) (int, string, http.Header) {
		req := httptest.NewRequest("POST", "/api/v1/tickets", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+assistantToken)
		req.Header.Set("Idempotency-Key", key)
		rec := httptest.NewRecorder()
		d.h.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String(), rec.Header()
	}
	req := `{"kind":"request","title":"light out in lobby","site":"site-a"}`
	c1, b1, _ := post("k-1", req)
	c2, b2, h2 := post("k-1", req)
	if c1 != 201 || c2 != 201 || b1 != b2 || h2.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay: %d %s / %d %s", c1, b1, c2, b2)
	}
	if c, b, _ := post("k-1", `{"kind":"request","title":"another","site":"site-a"}`); c != 422 || !strings.Contains(b, "different request") {
		t.Fatalf("key reuse: %d %s", c, b)
	}
	_, body := d.call(t, "GET", "/api/v1/tickets", adminToken, "")
	if n := len(decodeInto[ticketPage](t, body).Tickets); n != 1 {
		t.Fatalf("%d tickets, want 1", n)
	}
}

func TestCursorPagination(t *testing.T) {
	d := newDesk(t, nil)
	for i := range 5 {
		d.call(t, "POST", "/api/v1/tickets", adminToken, fmt.Sprintf(`{"kind":"request","title":"call %d","site":"site-a"}`, i))
	}
	var ids []int64
	path := "/api/v1/tickets?limit=2&sort=id"
	for range 5 {
		_, body := d.call(t, "GET", path, adminToken, "")
		page := decodeInto[ticketPage](t, body)
		for _, tk := range page.Tickets {
			ids = append(ids, tk.ID)
		}
		if page.NextCursor == "" {
			break
		}
		path = "/api/v1/tickets?limit=2&sort=id&cursor=" + page.NextCursor
	}
	if !slices.Equal(ids, []int64{1, 2, 3, 4, 5}) {
		t.Fatalf("pages: %v", ids)
	}
	_, body := d.call(t, "GET", "/api/v1/tickets?q=CALL%203", adminToken, "")
	if page := decodeInto[ticketPage](t, body); len(page.Tickets) != 1 || page.Tickets[0].Title != "call 3" {
		t.Fatalf("search: %s", body)
	}
}

// The assistants' day: households registered, a gateway reports a low
// balance by meter, the list shows who to call, the reminder is recorded.
func TestTopUpsOverHTTP(t *testing.T) {
	d := newDesk(t, nil)
	code, body := d.call(t, "PUT", "/api/v1/units/site-a/3-2-1502", assistantToken,
		`{"building":"3","floor":"15","residents":[{"name":"Chen","phone":"13900000000","contact":"sms"}],"meters":["meter-3-2-1502"]}`)
	if code != 200 || !strings.Contains(body, `"meters":["meter-3-2-1502"]`) {
		t.Fatalf("put unit: %d %s", code, body)
	}
	if code, body := d.call(t, "PUT", "/api/v1/units/site-a/x", assistantToken, `{"residents":[{"name":"A","contact":"pigeon"}]}`); code != 422 ||
		!strings.Contains(body, `"field":"residents[0].contact"`) {
		t.Fatalf("bad resident: %d %s", code, body)
	}
	code, body = d.call(t, "POST", "/api/v1/tickets", gatewayToken, `{"kind":"top_up","title":"余额不足","device":"meter-3-2-1502",
		"alarm_key":"site-a/low/meter-3-2-1502","reading":{"point":"balance","value":6.5,"unit":"CNY","at":"2026-11-24T01:00:00Z"}}`)
	if code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	tk := decodeInto[wire.Ticket](t, body)
	// The gateway's answer carries no resident (issue 20: it read names and
	// phones through it); the front desk sees the contact the desk filled in.
	if tk.Unit != "3-2-1502" || tk.Phone != "" || tk.Reporter != "" {
		t.Fatalf("gateway's answer: %+v", tk)
	}
	_, body = d.call(t, "GET", fmt.Sprintf("/api/v1/tickets/%d", tk.ID), assistantToken, "")
	if tk := decodeInto[wire.Ticket](t, body); tk.Phone != "13900000000" || tk.Reporter != "Chen" {
		t.Fatalf("contact not filled in: %+v", tk)
	}
	code, body = d.call(t, "POST", fmt.Sprintf("/api/v1/tickets/%d/reminders", tk.ID), assistantToken, `{"channel":"phone","answer":"will top up"}`)
	if code != 201 {
		t.Fatalf("reminder: %d %s", code, body)
	}
	if code, body := d.call(t, "POST", fmt.Sprintf("/api/v1/tickets/%d/reminders", tk.ID), assistantToken, `{"channel":"telegram"}`); code != 422 {
		t.Fatalf("bad channel: %d %s", code, body)
	}
	d.clock.Advance(50 * time.Hour)
	_, body = d.call(t, "GET", "/api/v1/topups", assistantToken, "")
	list := decodeInto[struct{ TopUps []store.TopUp }](t, body).TopUps
	if len(list) != 1 || list[0].DaysRed != 2 || list[0].LastReminder == nil || list[0].LastReminder.By != "front" || *list[0].Balance != 6.5 {
		t.Fatalf("daily list: %s", body)
	}
	_, body = d.call(t, "POST", "/api/v1/tickets", adminToken, `{"kind":"repair","title":"x","site":"site-a"}`)
	repair := decodeInto[wire.Ticket](t, body)
	if code, _ := d.call(t, "POST", fmt.Sprintf("/api/v1/tickets/%d/reminders", repair.ID), assistantToken, `{"channel":"phone"}`); code != 409 {
		t.Errorf("reminder on a repair: %d", code)
	}
}

// awaitStreamStart reads an event stream's preamble (the retry: line and the
// blank line after it). The desk writes it only after it has read the stream's
// starting point, so an event written from then on reaches the stream: the
// condition that tests wait for instead of sleeping.
func awaitStreamStart(r *bufio.Reader) error {
	retry := false
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return fmt.Errorf("ended before its preamble: %w", err)
		}
		switch line = strings.TrimSpace(line); {
		case strings.HasPrefix(line, "retry: "):
			retry = true
		case line == "" && retry:
			return nil
		}
	}
}

func TestEventStreamResumes(t *testing.T) {
	d := newDesk(t, nil)
	ts := httptest.NewServer(d.h)
	defer ts.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	open := func(lastID string) (*bufio.Reader, func()) {
		req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL+"/api/v1/events", nil)
		req.Header.Set("Authorization", "Bearer "+roleTokens[RoleControlRoom])
		if lastID != "" {
			req.Header.Set("Last-Event-ID", lastID)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
			t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		r := bufio.NewReader(resp.Body)
		if err := awaitStreamStart(r); err != nil {
			t.Fatalf("stream: %v", err)
		}
		return r, func() { resp.Body.Close() }
	}
	next := func(r *bufio.Reader) (id, typ string) {
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("stream ended: %v", err)
			}
			line = strings.TrimSpace(line)
			if v, ok := strings.CutPrefix(line, "id: "); ok {
				id = v
			}
			if v, ok := strings.CutPrefix(line, "event: "); ok {
				typ = v
			}
			if strings.HasPrefix(line, "data: ") {
				return id, typ
			}
		}
	}
	live, stop := open("") // returns once the stream has read its starting point
	defer stop()
	d.call(t, "POST", "/api/v1/tickets", adminToken, `{"kind":"emergency","title":"fire zone 3","site":"site-a"}`)
	d.call(t, "POST", "/api/v1/tickets/1/actions", adminToken, `{"action":"acknowledge"}`)
	id1, typ1 := next(live)
	id2, typ2 := next(live)
	if typ1 != "ticket.created" || typ2 != "ticket.updated" {
		t.Fatalf("live: %s %s / %s %s", id1, typ1, id2, typ2)
	}
	resumed, stop2 := open(id1)
	defer stop2()
	if id, typ := next(resumed); id != id2 || typ != "ticket.updated" {
		t.Fatalf("resumed after %s: got %s %s, want %s", id1, id, typ, id2)
	}
}

func TestMonthlyReport(t *testing.T) {
	d := newDesk(t, nil)
	for i, change := range []string{`{"action":"dispatch","assignee":"li"}`, `{"action":"resolve","resolution":"fixed","cause":"neighbour party"}`,
		`{"action":"follow_up","satisfaction":4,"follow_up_note":"ok"}`} {
		if i == 0 {
			d.call(t, "POST", "/api/v1/tickets", adminToken, `{"kind":"complaint","category":"neighbours","title":"noise","site":"site-a"}`)
		}
		d.clock.Advance(4 * time.Minute)
		if code, body := d.call(t, "POST", "/api/v1/tickets/1/actions", adminToken, change); code != 200 {
			t.Fatalf("%s: %d %s", change, code, body)
		}
	}
	d.call(t, "POST", "/api/v1/tickets", adminToken, `{"kind":"repair","title":"lamp","site":"site-a"}`)
	d.clock.Advance(20 * time.Minute)
	d.srv.escalate(context.Background())
	code, body := d.call(t, "GET", "/api/v1/reports/monthly?site=site-a&month=2026-11", roleTokens[RoleManager], "")
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	r := decodeInto[store.Report](t, body)
	if r.Tickets != 2 || r.Complaints != 1 || r.ByCategory["complaint/neighbours"] != 1 || r.ByCause["complaint/neighbour party"] != 1 || r.ToDispatch.P50 != 240 || r.FollowUpRate != 1 ||
		r.ComplaintFollowUpRate != 1 || r.SatisfactionMean != 4 {
		t.Fatalf("report: %+v", r)
	}
	shares := map[wire.Step]float64{}
	for _, s := range r.Deadlines {
		shares[s.Step] = s.Share
	}
	if shares[wire.StepDispatch] != 0.5 || shares[wire.StepFollowUp] != 1 {
		t.Errorf("deadline shares: %+v", r.Deadlines)
	}
	req := httptest.NewRequest("GET", "/api/v1/reports/monthly?site=site-a&month=2026-11&format=csv", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	rec := httptest.NewRecorder()
	d.h.ServeHTTP(rec, req)
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/csv") ||
		!strings.Contains(rec.Body.String(), "deadline_met_share,dispatch,0.500") || !strings.Contains(rec.Body.String(), "by_kind,complaint,1") {
		t.Fatalf("csv: %d %s", rec.Code, rec.Body.String())
	}
}

// The OpenAPI document lists exactly the routes the server mounts.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	d := newDesk(t, nil)
	code, body := d.call(t, "GET", "/api/v1/openapi.json", "", "")
	if code != 200 {
		t.Fatal(code)
	}
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal([]byte(body), &doc); err != nil || !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("document: %v %q", err, doc.OpenAPI)
	}
	var documented, mounted []string
	for path, ops := range doc.Paths {
		for method := range ops {
			documented = append(documented, strings.ToUpper(method)+" "+path)
		}
	}
	for _, r := range d.srv.echo.Routes() {
		if !strings.HasPrefix(r.Path, "/api/v1/") || strings.Contains(r.Method, "not_found") {
			continue
		}
		p := r.Path
		for _, name := range []string{"id", "site", "unit"} {
			p = strings.ReplaceAll(p, ":"+name, "{"+name+"}")
		}
		mounted = append(mounted, r.Method+" "+p)
	}
	slices.Sort(documented)
	slices.Sort(mounted)
	if !slices.Equal(documented, mounted) {
		t.Fatalf("OpenAPI paths and routes differ:\ndocumented %v\nmounted    %v", documented, mounted)
	}
}
