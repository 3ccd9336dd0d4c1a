package desk

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/estatehq/estate/desk/deskconfig"
	"github.com/estatehq/estate/desk/store"
	"github.com/estatehq/estate/internal/wire"
)

// The household whose data the matrix follows, on site A.
const (
	pdName        = "张女士"
	pdMasked      = "张**"
	pdPhone       = "13800001234"
	pdMaskedPhone = "138****1234"
	pdUnit        = "3-1-101"
)

// pdCaller is one caller of the matrix: a role, its token, its login name
// and the site its token is bound to ("" every site).
type pdCaller struct {
	label, role, name, token, site string
}

// pdCallers are every role on site A (two engineers: one the emergency is
// dispatched to, one not) and every role bound to site B.
func pdCallers() []pdCaller {
	cs := []pdCaller{
		{"admin", RoleAdmin, "admin", adminToken, ""},
		{"manager", RoleManager, "boss", roleTokens[RoleManager], ""},
		{"assistant", RoleAssistant, "front", assistantToken, ""},
		{"engineer assigned", RoleEngineer, "eng", roleTokens[RoleEngineer], ""},
		{"engineer not assigned", RoleEngineer, "eng2", "engineer2-token-0123456789", ""},
		{"control room", RoleControlRoom, "ctrl", roleTokens[RoleControlRoom], ""},
		{"gateway", RoleGateway, "gw-a", gatewayToken, "site-a"},
	}
	for _, role := range []string{RoleAdmin, RoleManager, RoleAssistant, RoleEngineer, RoleControlRoom, RoleGateway} {
		cs = append(cs, pdCaller{role + " of site B", role, role + "-b", role + "-site-b-token-0123456789", "site-b"})
	}
	return cs
}

func pdDesk(t *testing.T) (*testDesk, []pdCaller) {
	callers := pdCallers()
	d := newDesk(t, func(c *deskconfig.Config) {
		c.Tokens = append(c.Tokens, deskconfig.Token{Name: "eng2", Token: "engineer2-token-0123456789", Role: RoleEngineer})
		for _, k := range callers {
			if k.site == "site-b" {
				c.Tokens = append(c.Tokens, deskconfig.Token{Name: k.name, Token: k.token, Role: k.role, Site: "site-b"})
			}
		}
	})
	return d, callers
}

// want is what the specification lets a caller see of the resident of a
// ticket as it stands: name and phone each "full", "masked" or "none".
func pdWant(k pdCaller, t wire.Ticket) (name, phone string) {
	switch k.role {
	case RoleAdmin, RoleManager, RoleAssistant:
		return "full", "full"
	case RoleEngineer:
		if t.Assignee == k.name && t.Status.Open() {
			return "full", "full"
		}
		return "masked", "masked"
	case RoleControlRoom:
		if t.Kind == wire.Emergency && t.Status.Open() {
			return "full", "full"
		}
		return "full", "masked"
	}
	return "none", "none"
}

func pdForm(v, full, masked string) string {
	switch v {
	case full:
		return "full"
	case masked:
		return "masked"
	case "":
		return "none"
	}
	return "other:" + v
}

// pdNothingOfA fails when an answer to a site-B caller shows anything of
// site A's household.
func pdNothingOfA(t *testing.T, what, body string) {
	t.Helper()
	for _, s := range []string{"张", pdPhone, pdMaskedPhone, pdUnit} {
		if strings.Contains(body, s) {
			t.Errorf("%s: a site-B caller sees %q of site A: %.300s", what, s, body)
		}
	}
}

// Every route that carries a resident's name, phone, household or unit ×
// every role × both sites: what each caller sees is what the specification
// gives it (issue 15 part 5), the event stream and the CSV export included;
// and the unmasked views are in the access log.
func TestPersonalDataRouteRoleSite(t *testing.T) {
	d, callers := pdDesk(t)
	must := func(want int, method, path, body string) string {
		t.Helper()
		code, out := d.call(t, method, path, adminToken, body)
		if code != want {
			t.Fatalf("seed %s %s: %d %s", method, path, code, out)
		}
		return out
	}
	must(200, "PUT", "/api/v1/units/site-a/"+pdUnit, `{"building":"3","residents":[{"name":"`+pdName+`","phone":"`+pdPhone+`","contact":"sms"}],"meters":["meter-301"]}`)
	must(200, "PUT", "/api/v1/units/site-b/9-101", `{"building":"9","residents":[{"name":"Bob","phone":"13900009999"}],"meters":["meter-b"]}`)
	topUp := decodeInto[wire.Ticket](t, must(201, "POST", "/api/v1/tickets", `{"kind":"top_up","title":"low","site":"site-a","device":"meter-301",
		"reading":{"point":"balance","value":4.5,"unit":"CNY","at":"2026-11-24T01:00:00Z"}}`))
	if topUp.Phone != pdPhone || topUp.Unit != pdUnit {
		t.Fatalf("the top-up is not completed from the register: %+v", topUp)
	}
	flood := decodeInto[wire.Ticket](t, must(201, "POST", "/api/v1/tickets", `{"kind":"emergency","title":"flooding","site":"site-a","unit":"`+pdUnit+
		`","reporter":"`+pdName+`","phone":"`+pdPhone+`","source":"phone"}`))
	must(200, "POST", fmt.Sprintf("/api/v1/tickets/%d/actions", flood.ID), `{"action":"dispatch","assignee":"eng"}`)
	// A closed emergency: the control room no longer sees its phone.
	old := decodeInto[wire.Ticket](t, must(201, "POST", "/api/v1/tickets", `{"kind":"emergency","title":"old flood","site":"site-a","unit":"`+pdUnit+
		`","reporter":"`+pdName+`","phone":"`+pdPhone+`","source":"phone"}`))
	must(200, "POST", fmt.Sprintf("/api/v1/tickets/%d/actions", old.ID), `{"action":"cancel","note":"duplicate"}`)

	checkTicket := func(t *testing.T, k pdCaller, route string, got wire.Ticket, truth wire.Ticket) {
		t.Helper()
		wn, wp := pdWant(k, truth)
		if gn, gp := pdForm(got.Reporter, pdName, pdMasked), pdForm(got.Phone, pdPhone, pdMaskedPhone); gn != wn || gp != wp {
			t.Errorf("%s, ticket %d (%s %s, assignee %q): name %s, phone %s; want %s, %s", route, got.ID, truth.Kind, truth.Status, truth.Assignee, gn, gp, wn, wp)
		}
		if k.role == RoleGateway && got.Contact != "" {
			t.Errorf("%s: a gateway sees the way of contact %q", route, got.Contact)
		}
		if got.Unit != pdUnit {
			t.Errorf("%s: unit %q", route, got.Unit)
		}
	}
	truth := func(id int64) wire.Ticket {
		tk, err := d.st.GetTicket(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		return tk
	}
	ts := httptest.NewServer(d.h)
	defer ts.Close()
	idem := 0
	for _, k := range callers {
		t.Run(k.label, func(t *testing.T) {
			call := func(method, path, body string, header ...string) (int, string) {
				req := httptest.NewRequest(method, path, strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+k.token)
				for i := 0; i+1 < len(header); i += 2 {
					req.Header.Set(header[i], header[i+1])
				}
				rec := httptest.NewRecorder()
				d.h.ServeHTTP(rec, req)
				return rec.Code, rec.Body.String()
			}
			onB := k.site == "site-b"
			routes := []struct {
				name, method, path, body string
				roles                    []string
				check                    func(t *testing.T, body string)
			}{
				{"POST /tickets (completed from the register)", "POST", "/api/v1/tickets",
					`{"kind":"top_up","title":"low again","site":"site-a","device":"meter-301"}`, everyoneRoles,
					func(t *testing.T, body string) {
						checkTicket(t, k, "POST /tickets", decodeInto[wire.Ticket](t, body), truth(topUp.ID))
					}},
				{"GET /tickets?unit=", "GET", "/api/v1/tickets?unit=" + pdUnit, "", everyoneRoles, func(t *testing.T, body string) {
					page := decodeInto[ticketPage](t, body)
					if len(page.Tickets) != 3 {
						t.Fatalf("list: %d tickets", len(page.Tickets))
					}
					for _, tk := range page.Tickets {
						checkTicket(t, k, "GET /tickets", tk, truth(tk.ID))
					}
				}},
				{"GET /tickets/:id top-up", "GET", fmt.Sprintf("/api/v1/tickets/%d", topUp.ID), "", everyoneRoles,
					func(t *testing.T, body string) {
						checkTicket(t, k, "GET top-up", decodeInto[wire.Ticket](t, body), truth(topUp.ID))
					}},
				{"GET /tickets/:id emergency", "GET", fmt.Sprintf("/api/v1/tickets/%d", flood.ID), "", everyoneRoles,
					func(t *testing.T, body string) {
						checkTicket(t, k, "GET emergency", decodeInto[wire.Ticket](t, body), truth(flood.ID))
					}},
				{"GET /tickets/:id closed emergency", "GET", fmt.Sprintf("/api/v1/tickets/%d", old.ID), "", everyoneRoles,
					func(t *testing.T, body string) {
						checkTicket(t, k, "GET old", decodeInto[wire.Ticket](t, body), truth(old.ID))
					}},
				{"POST /tickets/:id/actions", "POST", fmt.Sprintf("/api/v1/tickets/%d/actions", flood.ID), `{"action":"acknowledge"}`, staffRoles,
					func(t *testing.T, body string) {
						checkTicket(t, k, "action", decodeInto[wire.Ticket](t, body), truth(flood.ID))
					}},
				{"POST /alarm-actions", "POST", "/api/v1/alarm-actions", "", []string{RoleGateway, RoleAdmin}, func(t *testing.T, body string) {
					r := decodeInto[wire.AlarmActionResult](t, body)
					checkTicket(t, k, "alarm action", r.Ticket, truth(r.Ticket.ID))
				}},
				{"GET /topups", "GET", "/api/v1/topups", "", frontDesk, func(t *testing.T, body string) {
					list := decodeInto[struct{ TopUps []store.TopUp }](t, body).TopUps
					if len(list) != 1 {
						t.Fatalf("top-ups: %s", body)
					}
					wn, wp := pdWant(k, truth(topUp.ID))
					if gn, gp := pdForm(list[0].Resident, pdName, pdMasked), pdForm(list[0].Phone, pdPhone, pdMaskedPhone); gn != wn || gp != wp || list[0].Unit != pdUnit {
						t.Errorf("top-ups: name %s phone %s unit %q; want %s %s", gn, gp, list[0].Unit, wn, wp)
					}
				}},
				{"GET /units/:site/:unit", "GET", "/api/v1/units/site-a/" + pdUnit, "", staffRoles, func(t *testing.T, body string) {
					u := decodeInto[store.Unit](t, body)
					// The household record: as its open emergency allows (dispatched
					// to "eng"; the control room during an emergency).
					wn, wp := pdWant(k, truth(flood.ID))
					if len(u.Residents) != 1 || u.Unit != pdUnit {
						t.Fatalf("unit: %s", body)
					}
					if gn, gp := pdForm(u.Residents[0].Name, pdName, pdMasked), pdForm(u.Residents[0].Phone, pdPhone, pdMaskedPhone); gn != wn || gp != wp {
						t.Errorf("household: name %s phone %s; want %s %s", gn, gp, wn, wp)
					}
				}},
				{"GET /households/:site (CSV)", "GET", "/api/v1/households/site-a?format=csv", "", []string{RoleAdmin, RoleManager, RoleAssistant}, func(t *testing.T, body string) {
					if !strings.Contains(body, pdName) || !strings.Contains(body, pdPhone) || !strings.Contains(body, pdUnit) {
						t.Errorf("export: %s", body)
					}
				}},
				{"GET /tickets/:id/sms", "GET", fmt.Sprintf("/api/v1/tickets/%d/sms", topUp.ID), "", frontDesk, func(t *testing.T, body string) {
					if strings.Contains(body, "张") || strings.Contains(body, "138") {
						t.Errorf("messages: %s", body)
					}
				}},
			}
			for _, r := range routes {
				t.Run(r.name, func(t *testing.T) {
					body := r.body
					if r.path == "/api/v1/alarm-actions" {
						idem++
						body = fmt.Sprintf(`{"idempotency_key":"pd-%d","alarm_key":"site-a/low/meter-301","action":"open","at":"2026-11-24T01:59:00Z",
							"ticket":{"kind":"top_up","title":"low","site":"site-a","device":"meter-301","alarm_key":"site-a/low/meter-301"}}`, idem)
					}
					code, out := call(r.method, r.path, body)
					allowedRole := slices.Contains(r.roles, k.role)
					switch {
					case !allowedRole:
						if code != 403 {
							t.Errorf("role %s: %d, want 403", k.role, code)
						}
					case onB:
						if code < 400 && r.method == "GET" && !strings.HasPrefix(r.path, "/api/v1/tickets?") && r.path != "/api/v1/topups" {
							t.Errorf("site B caller: %d", code)
						}
					case code >= 300:
						t.Fatalf("%d %s", code, out)
					default:
						r.check(t, out)
					}
					if onB || !allowedRole {
						pdNothingOfA(t, r.name, out)
					}
				})
			}
			// The event stream, from the beginning of history.
			t.Run("GET /events", func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL+"/api/v1/events?after=0", nil)
				req.Header.Set("Authorization", "Bearer "+k.token)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				if k.role == RoleGateway {
					if resp.StatusCode != 403 {
						t.Errorf("gateway stream: %d", resp.StatusCode)
					}
					return
				}
				r := bufio.NewReader(resp.Body)
				if err := awaitStreamStart(r); err != nil {
					t.Fatal(err)
				}
				want := 0
				if !onB {
					evs, _ := d.st.Events(ctx, 0, "site-a", 1000)
					want = len(evs)
				}
				var datas []string
				for len(datas) < want {
					line, err := r.ReadString('\n')
					if err != nil {
						t.Fatalf("stream ended after %d of %d events: %v", len(datas), want, err)
					}
					if data, ok := strings.CutPrefix(strings.TrimSpace(line), "data: "); ok {
						datas = append(datas, data)
					}
				}
				if onB {
					// Site B's own history only: read up to the first keep-alive is
					// too slow; site B has its one unit's events, none of A.
					cancel()
					rest, _ := io.ReadAll(r)
					pdNothingOfA(t, "events", string(rest))
					return
				}
				for _, data := range datas {
					var got wire.Ticket
					if err := json.Unmarshal([]byte(data), &got); err != nil || got.Unit != pdUnit {
						continue // the other site's events are not here; site A has only this household's
					}
					// Each event as its ticket stood then: the engineer sees the
					// emergency's resident only from its dispatch on.
					checkTicket(t, k, "event", got, got)
				}
			})
		})
	}

	// The access log: every unmasked phone and household record viewed,
	// by whom and why; managers list it, with the reason a caller gave.
	if code, _ := call(t, d.h, "GET", "/api/v1/units/site-a/"+pdUnit, assistantToken, ""); code != 200 {
		t.Fatal(code)
	}
	req := httptest.NewRequest("GET", "/api/v1/tickets/"+fmt.Sprint(flood.ID), nil)
	req.Header.Set("Authorization", "Bearer "+assistantToken)
	req.Header.Set(ReasonHeader, "回访 flooding follow-up")
	d.h.ServeHTTP(httptest.NewRecorder(), req)
	_, body := d.call(t, "GET", "/api/v1/access-log?site=site-a&limit=1000", roleTokens[RoleManager], "")
	log := decodeInto[struct{ Access []store.Access }](t, body).Access
	by := map[string][]store.Access{}
	for _, a := range log {
		by[a.Actor] = append(by[a.Actor], a)
		if a.Site != "site-a" {
			t.Errorf("an entry of site %s: %+v", a.Site, a)
		}
	}
	has := func(actor, subject, what string) bool {
		return slices.ContainsFunc(by[actor], func(a store.Access) bool {
			return a.Subject == subject && strings.HasPrefix(a.What, what)
		})
	}
	for _, actor := range []string{"admin", "boss", "front"} {
		if !has(actor, "ticket", "phone") || !has(actor, "unit", "household") || !has(actor, "households", "household export") {
			t.Errorf("%s's views are not all logged: %+v", actor, by[actor])
		}
	}
	for _, a := range by["eng2"] {
		if a.What != "household" {
			t.Errorf("eng2 saw no unmasked phone, yet: %+v", a)
		}
	}
	if !has("eng", "ticket", "phone") || !has("ctrl", "ticket", "phone") || !has("eng2", "unit", "household") {
		t.Errorf("engineers' and control room's views: eng %+v ctrl %+v eng2 %+v", by["eng"], by["ctrl"], by["eng2"])
	}
	if len(by["gw-a"]) != 0 {
		t.Errorf("a gateway saw residents' data: %+v", by["gw-a"])
	}
	if !slices.ContainsFunc(by["front"], func(a store.Access) bool {
		return a.Reason == "回访 flooding follow-up" && a.SubjectID == fmt.Sprint(flood.ID)
	}) {
		t.Errorf("the reason given is not logged: %+v", by["front"])
	}
	if !slices.ContainsFunc(by["front"], func(a store.Access) bool { return a.Route == "GET /api/v1/events" }) {
		t.Errorf("the event stream's unmasked phones are not logged")
	}
	if code, _ := d.call(t, "GET", "/api/v1/access-log", assistantToken, ""); code != 403 {
		t.Errorf("an assistant lists the access log: %d", code)
	}
	if code, _ := d.call(t, "GET", "/api/v1/access-log?from=yesterday", adminToken, ""); code != 400 {
		t.Errorf("a bad from: %d", code)
	}
}

// The event stream ends with its session: at logout and at expiry.
func TestEventStreamEndsWithSession(t *testing.T) {
	d := newDesk(t, nil)
	ts := httptest.NewServer(d.h)
	defer ts.Close()
	login := func() string {
		code, body := d.call(t, "POST", "/api/v1/login", "", `{"name":"xiao","password":"correct horse"}`)
		if code != 200 {
			t.Fatalf("login: %d %s", code, body)
		}
		return decodeInto[struct{ Token string }](t, body).Token
	}
	open := func(token string) (*http.Response, *bufio.Reader) {
		req, _ := http.NewRequest("GET", ts.URL+"/api/v1/events", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("stream: %v %v", resp, err)
		}
		r := bufio.NewReader(resp.Body)
		if err := awaitStreamStart(r); err != nil {
			t.Fatal(err)
		}
		return resp, r
	}
	ended := func(r *bufio.Reader) {
		t.Helper()
		done := make(chan error, 1)
		go func() { _, err := io.Copy(io.Discard, r); done <- err }()
		select {
		case <-done:
		case <-time.After(3*eventPoll + 5*time.Second):
			t.Fatal("the stream goes on after its session ended")
		}
	}
	tok := login()
	resp, r := open(tok)
	defer resp.Body.Close()
	if code, _ := d.call(t, "POST", "/api/v1/logout", tok, ""); code != 204 {
		t.Fatal(code)
	}
	ended(r)
	tok = login()
	resp2, r2 := open(tok)
	defer resp2.Body.Close()
	d.clock.Advance(2 * time.Hour) // the session's TTL is an hour
	ended(r2)
}
