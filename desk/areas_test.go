package desk

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/estatehq/estate/desk/deskconfig"
	"github.com/estatehq/estate/desk/store"
	"github.com/estatehq/estate/desk/ticket"
	"github.com/estatehq/estate/internal/wire"
)

// areaDesk has two assistants with console logins, xiao and li, and three
// households of site A in buildings 1 and 2.
func areaDesk(t *testing.T) (*testDesk, map[string]string) {
	t.Helper()
	d := newDesk(t, func(c *deskconfig.Config) {
		c.LoginAttempts = 100
		c.Staff = append(c.Staff,
			deskconfig.Staff{Name: "li", DisplayName: "小李", Role: RoleAssistant, PasswordHash: testPasswordHash},
			deskconfig.Staff{Name: "wu", DisplayName: "吴工", Role: RoleEngineer, PasswordHash: testPasswordHash},
			deskconfig.Staff{Name: "bee", DisplayName: "B", Role: RoleAssistant, Site: "site-b", PasswordHash: testPasswordHash})
	})
	for _, u := range []struct{ unit, building string }{{"1-101", "1"}, {"1-102", "1"}, {"2-201", "2"}} {
		body := fmt.Sprintf(`{"building":%q,"residents":[{"name":"住户%s","phone":"1380000%s"}],"meters":["m-%s"]}`, u.building, u.unit, strings.ReplaceAll(u.unit, "-", ""), u.unit)
		if code, out := d.call(t, "PUT", "/api/v1/units/site-a/"+u.unit, adminToken, body); code != 200 {
			t.Fatalf("unit: %d %s", code, out)
		}
	}
	sessions := map[string]string{}
	for _, name := range []string{"xiao", "li"} {
		code, body := d.call(t, "POST", "/api/v1/login", "", `{"name":"`+name+`","password":"correct horse"}`)
		if code != 200 {
			t.Fatalf("login %s: %d %s", name, code, body)
		}
		sessions[name] = decodeInto[struct{ Token string }](t, body).Token
	}
	return d, sessions
}

func topUpFor(t *testing.T, d *testDesk, unit string) wire.Ticket {
	t.Helper()
	code, body := d.call(t, "POST", "/api/v1/tickets", gatewayToken, fmt.Sprintf(`{"kind":"top_up","title":"low %s","site":"site-a","device":"m-%s",
		"reading":{"point":"balance","value":4.5,"unit":"CNY","at":"2026-11-24T01:00:00Z"}}`, unit, unit))
	if code != 201 {
		t.Fatalf("top-up %s: %d %s", unit, code, body)
	}
	tk, err := d.st.GetTicket(context.Background(), decodeInto[wire.Ticket](t, body).ID)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

func auditHas(t *testing.T, d *testDesk, id int64, action, note string) bool {
	t.Helper()
	trail, err := d.st.Audit(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return slices.ContainsFunc(trail, func(a ticket.AuditEntry) bool { return a.Action == action && strings.Contains(a.Note, note) })
}

func TestAreas(t *testing.T) {
	d, sess := areaDesk(t)
	manager := roleTokens[RoleManager]
	// Bad input: a clear error naming the field, and nothing saved.
	for _, tc := range []struct {
		name, body string
		code       int
		want       string
	}{
		{"no name", `{"site":"site-a","assistant":"xiao","buildings":["1"]}`, 422, "name: required"},
		{"unknown assistant", `{"site":"site-a","name":"x","assistant":"nobody","buildings":["1"]}`, 422, `assistant: \"nobody\" is not a staff member`},
		{"an engineer as assistant", `{"site":"site-a","name":"x","assistant":"wu","buildings":["1"]}`, 422, "assistant: wu is engineer"},
		{"another site's assistant", `{"site":"site-a","name":"x","assistant":"bee","buildings":["1"]}`, 422, "bee works on site site-b"},
		{"no households", `{"site":"site-a","name":"x","assistant":"xiao"}`, 422, "buildings: give the area's buildings"},
		{"a building twice", `{"site":"site-a","name":"x","assistant":"xiao","buildings":["1","1"]}`, 422, `buildings[1]: \"1\" is given twice`},
		{"no site", `{"name":"x","assistant":"xiao","buildings":["1"]}`, 422, "site: required"},
		{"unknown field", `{"site":"site-a","name":"x","assistant":"xiao","buildings":["1"],"colour":"red"}`, 400, "colour: unknown field"},
	} {
		code, body := d.call(t, "POST", "/api/v1/areas", manager, tc.body)
		if code != tc.code || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %d %s, want %d %q", tc.name, code, body, tc.code, tc.want)
		}
	}
	if as, _ := d.st.Areas(context.Background(), "site-a"); len(as) != 0 {
		t.Fatalf("bad input saved areas: %+v", as)
	}
	if code, _ := d.call(t, "POST", "/api/v1/areas", sess["xiao"], `{"site":"site-a","name":"x","assistant":"xiao","buildings":["1"]}`); code != 403 {
		t.Errorf("an assistant makes areas: %d", code)
	}

	// A top-up of building 2 before any area: nobody's.
	t2 := topUpFor(t, d, "2-201")
	if t2.Assignee != "" {
		t.Fatalf("assigned without an area: %+v", t2)
	}
	code, body := d.call(t, "POST", "/api/v1/areas", manager, `{"site":"site-a","name":"1 栋","assistant":"xiao","buildings":["1"]}`)
	if code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	areaA := decodeInto[areaChanged](t, body).Area
	// The area's households' tickets are owned by its assistant from their start.
	t1 := topUpFor(t, d, "1-101")
	if t1.Assignee != "xiao" || t1.Team != "customer_service" || t1.Status != wire.New || !auditHas(t, d, t1.ID, "area", "area 1 栋: owned by xiao") {
		t.Fatalf("top-up in xiao's area: %+v", t1)
	}
	code, body = d.call(t, "POST", "/api/v1/tickets", assistantToken, `{"kind":"repair","title":"tap","site":"site-a","unit":"1-102","source":"phone"}`)
	repair := decodeInto[wire.Ticket](t, body)
	if code != 201 || repair.Assignee != "" {
		t.Fatalf("repair: %d %s", code, body)
	}
	mine := func(who string) []int64 {
		_, body := d.call(t, "GET", "/api/v1/tickets?mine=true", sess[who], "")
		var ids []int64
		for _, tk := range decodeInto[ticketPage](t, body).Tickets {
			ids = append(ids, tk.ID)
		}
		slices.Sort(ids)
		return ids
	}
	if got := mine("xiao"); !slices.Equal(got, []int64{t1.ID, repair.ID}) {
		t.Errorf("xiao's work: %v", got)
	}
	// A building already in an area, in another one: 409, nothing changed.
	code, body = d.call(t, "POST", "/api/v1/areas", manager, `{"site":"site-a","name":"2 栋","assistant":"li","buildings":["2","1"]}`)
	if code != 409 || !strings.Contains(body, `building 1 is already in area \"1 栋\"`) {
		t.Errorf("overlap: %d %s", code, body)
	}
	code, body = d.call(t, "POST", "/api/v1/areas", manager, `{"site":"site-a","name":"2 栋","assistant":"li","units":["2-201"]}`)
	if code != 201 || !slices.Equal(decodeInto[areaChanged](t, body).Moved, []int64{t2.ID}) {
		t.Fatalf("area of 2-201: %d %s", code, body)
	}
	areaB := decodeInto[areaChanged](t, body).Area

	// The red-meter list: the caller's area first, the longest red first within.
	order := func(token, query string) []string {
		_, body := d.call(t, "GET", "/api/v1/topups"+query, token, "")
		var units []string
		for _, l := range decodeInto[struct{ TopUps []store.TopUp }](t, body).TopUps {
			units = append(units, l.Unit+"@"+l.Assistant)
		}
		return units
	}
	if got := order(sess["xiao"], ""); !slices.Equal(got, []string{"1-101@xiao", "2-201@li"}) {
		t.Errorf("xiao's list: %v", got)
	}
	if got := order(sess["li"], ""); !slices.Equal(got, []string{"2-201@li", "1-101@xiao"}) {
		t.Errorf("li's list: %v", got)
	}
	if got := order(sess["xiao"], "?area=mine"); !slices.Equal(got, []string{"1-101@xiao"}) {
		t.Errorf("xiao's own: %v", got)
	}
	if got := order(manager, fmt.Sprintf("?area=%d", areaB.ID)); !slices.Equal(got, []string{"2-201@li"}) {
		t.Errorf("area B: %v", got)
	}
	if code, _ := d.call(t, "GET", "/api/v1/topups?area=x", manager, ""); code != 400 {
		t.Errorf("area=x: %d", code)
	}

	// Reassigning area A moves its open cases, each with the note; a closed one stays.
	code, body = d.call(t, "POST", "/api/v1/tickets", assistantToken, `{"kind":"request","title":"done","site":"site-a","unit":"1-101","source":"phone"}`)
	closed := decodeInto[wire.Ticket](t, body)
	d.call(t, "POST", fmt.Sprintf("/api/v1/tickets/%d/actions", closed.ID), adminToken, `{"action":"cancel","note":"dup"}`)
	code, body = d.call(t, "PUT", fmt.Sprintf("/api/v1/areas/%d", areaA.ID), manager, `{"name":"1 栋","assistant":"li","buildings":["1"],"note":"小王休假"}`)
	if code != 200 {
		t.Fatalf("reassign: %d %s", code, body)
	}
	moved := decodeInto[areaChanged](t, body).Moved
	if !slices.Equal(moved, []int64{t1.ID, repair.ID}) {
		t.Errorf("moved %v", moved)
	}
	t1, _ = d.st.GetTicket(context.Background(), t1.ID)
	if t1.Assignee != "li" || !auditHas(t, d, t1.ID, "area", "moved from xiao to li: 小王休假") || !auditHas(t, d, repair.ID, "area", "moved from xiao to li") {
		t.Errorf("after the reassignment: %+v", t1)
	}
	if auditHas(t, d, closed.ID, "area", "moved") {
		t.Error("a cancelled case moved")
	}
	if got := mine("li"); !slices.Equal(got, []int64{t2.ID, t1.ID, repair.ID}) {
		t.Errorf("li's work: %v", got)
	}
	// xiao's team (customer_service) still sees the top-ups; the household's repair is li's now.
	if got := mine("xiao"); slices.Contains(got, repair.ID) {
		t.Errorf("xiao's work after: %v", got)
	}
	_, body = d.call(t, "GET", "/api/v1/areas?site=site-a", assistantToken, "")
	as := decodeInto[struct{ Areas []store.Area }](t, body).Areas
	if len(as) != 2 || as[0].Name != "1 栋" || as[0].Households != 2 || as[0].OpenCases != 2 || as[1].Households != 1 || !slices.Equal(as[1].Units, []string{"2-201"}) {
		t.Errorf("areas: %s", body)
	}
	if code, _ := d.call(t, "GET", "/api/v1/areas", assistantToken, ""); code != 400 {
		t.Errorf("areas without a site: %d", code)
	}
	// Deleting area B leaves its case without an owner, with a note.
	code, body = d.call(t, "DELETE", fmt.Sprintf("/api/v1/areas/%d?note=merged", areaB.ID), manager, "")
	if code != 200 || !auditHas(t, d, t2.ID, "area", "no longer in an area (was li): merged") {
		t.Errorf("delete: %d %s", code, body)
	}
	if code, _ := d.call(t, "DELETE", fmt.Sprintf("/api/v1/areas/%d", areaB.ID), manager, ""); code != 404 {
		t.Errorf("deleted twice: %d", code)
	}
}
