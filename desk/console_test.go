package desk

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/estatehq/estate/desk/deskconfig"
	"github.com/estatehq/estate/desk/store"
	"github.com/estatehq/estate/desk/ticket"
	"github.com/estatehq/estate/internal/wire"
)

// The ticket page reads from GET /tickets/{id} what the lifecycle allows now,
// the site's name and the console link; the actions it offers are exactly
// those, status after status, and parts are kept at resolve.
func TestTicketDetailForTheConsole(t *testing.T) {
	d := newDesk(t, func(c *deskconfig.Config) {
		c.PublicURL = "https://desk.example.com/"
		c.Sites = []deskconfig.Site{{ID: "site-a", Name: "演示花园", Timezone: "Asia/Shanghai"}}
	})
	code, body := d.call(t, "POST", "/api/v1/tickets", adminToken,
		`{"kind":"repair","title":"tap leaks","site":"site-a","building":"1","floor":"3","unit":"1-301","reporter":"张女士","phone":"13800001234","source":"phone"}`)
	if code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	id := decodeInto[wire.Ticket](t, body).ID
	detail := func(token string) TicketDetail {
		t.Helper()
		code, body := d.call(t, "GET", fmt.Sprintf("/api/v1/tickets/%d", id), token, "")
		if code != 200 {
			t.Fatalf("get: %d %s", code, body)
		}
		return decodeInto[TicketDetail](t, body)
	}
	got := detail(adminToken)
	if got.SiteName != "演示花园" || got.SiteTimezone != "Asia/Shanghai" || got.Link != fmt.Sprintf("https://desk.example.com/#/tickets/%d", id) {
		t.Errorf("site name %q, link %q", got.SiteName, got.Link)
	}
	steps := []struct {
		body string
		want wire.Status
	}{
		{`{"action":"dispatch","assignee":"eng","team":"engineering"}`, wire.Dispatched},
		{`{"action":"arrive"}`, wire.OnSite},
		{`{"action":"resolve","resolution":"replaced the washer","cause":"wear","parts":"washer ×1","charge_cents":1500}`, wire.Resolved},
		{`{"action":"follow_up","satisfaction":5,"follow_up_note":"fine now"}`, wire.FollowedUp},
		{`{"action":"close"}`, wire.Closed},
	}
	for _, s := range steps {
		before := detail(adminToken)
		want := ticket.AllowedActions(before.Kind, before.Status)
		if before.AcknowledgedAt != nil {
			want = slices.DeleteFunc(want, func(a ticket.Action) bool { return a == ticket.Acknowledge })
		}
		if !slices.Equal(before.AllowedActions, want) {
			t.Errorf("%s: allowed %v, want %v", before.Status, before.AllowedActions, want)
		}
		action, _, _ := strings.Cut(strings.TrimPrefix(s.body, `{"action":"`), `"`)
		if !slices.Contains(before.AllowedActions, ticket.Action(action)) {
			t.Fatalf("%s does not offer %s: %v", before.Status, action, before.AllowedActions)
		}
		if code, body := d.call(t, "POST", fmt.Sprintf("/api/v1/tickets/%d/actions", id), adminToken, s.body); code != 200 {
			t.Fatalf("%s: %d %s", s.body, code, body)
		}
		if got := detail(adminToken); got.Status != s.want {
			t.Fatalf("after %s: %s, want %s", action, got.Status, s.want)
		}
	}
	if got := detail(adminToken); got.Parts != "washer ×1" || got.ChargeCents != 1500 || got.Cause != "wear" ||
		!slices.Equal(got.AllowedActions, []ticket.Action{ticket.Reopen}) {
		t.Errorf("closed ticket: parts %q, charge %d, cause %q, allowed %v", got.Parts, got.ChargeCents, got.Cause, got.AllowedActions)
	}
	// A refused action says what is allowed instead.
	code, body = d.call(t, "POST", fmt.Sprintf("/api/v1/tickets/%d/actions", id), adminToken, `{"action":"arrive"}`)
	if code != 409 || !strings.Contains(body, `"allowed":["reopen"]`) {
		t.Errorf("arrive on a closed ticket: %d %s", code, body)
	}
	// Gateways take no actions: none are offered.
	if got := detail(gatewayToken); len(got.AllowedActions) != 0 || got.Phone != "" {
		t.Errorf("gateway sees allowed %v, phone %q", got.AllowedActions, got.Phone)
	}
}

// Engineers and the control room see the resident masked, except the
// engineer the ticket is dispatched to by name; the front desk sees all.
func TestResidentMaskedForRolesThatDoNotCall(t *testing.T) {
	d := newDesk(t, nil)
	code, body := d.call(t, "POST", "/api/v1/tickets", adminToken,
		`{"kind":"repair","title":"no power","site":"site-a","unit":"1-301","reporter":"张女士","phone":"13800001234","source":"phone"}`)
	if code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	id := decodeInto[wire.Ticket](t, body).ID
	seen := func(token string) (string, string) {
		t.Helper()
		_, body := d.call(t, "GET", fmt.Sprintf("/api/v1/tickets/%d", id), token, "")
		tk := decodeInto[wire.Ticket](t, body)
		_, body = d.call(t, "GET", "/api/v1/tickets?unit=1-301", token, "")
		list := decodeInto[ticketPage](t, body)
		if len(list.Tickets) != 1 || list.Tickets[0].Phone != tk.Phone || list.Tickets[0].Reporter != tk.Reporter {
			t.Errorf("the list shows the resident otherwise than the ticket: %+v", list.Tickets)
		}
		return tk.Reporter, tk.Phone
	}
	if name, phone := seen(roleTokens[RoleEngineer]); name != "张**" || phone != "138****1234" {
		t.Errorf("engineer sees %q %q, want masked", name, phone)
	}
	// The control room sees names, the phone masked (issue 15: unless an emergency).
	if name, phone := seen(roleTokens[RoleControlRoom]); name != "张女士" || phone != "138****1234" {
		t.Errorf("control room sees %q %q, want the name and the phone masked", name, phone)
	}
	for _, role := range []string{RoleAdmin, RoleManager, RoleAssistant} {
		if name, phone := seen(roleTokens[role]); name != "张女士" || phone != "13800001234" {
			t.Errorf("%s sees %q %q, want the resident", role, name, phone)
		}
	}
	// Dispatched to the engineer "eng" by name: eng calls the resident; the
	// control room still sees the mask. The action's answer is masked too.
	code, body = d.call(t, "POST", fmt.Sprintf("/api/v1/tickets/%d/actions", id), roleTokens[RoleControlRoom], `{"action":"dispatch","assignee":"eng"}`)
	if code != 200 || strings.Contains(body, "13800001234") {
		t.Errorf("control room's dispatch answer: %d %s", code, body)
	}
	if name, phone := seen(roleTokens[RoleEngineer]); name != "张女士" || phone != "13800001234" {
		t.Errorf("the assigned engineer sees %q %q", name, phone)
	}
	if _, phone := seen(roleTokens[RoleControlRoom]); phone != "138****1234" {
		t.Errorf("control room sees %q after dispatch", phone)
	}
	for in, want := range map[string]string{"": "", "110": "***", "13800001234": "138****1234", "+8613800001234": "+86*******1234"} {
		if got := maskPhone(in); got != want {
			t.Errorf("maskPhone(%q) = %q, want %q", in, got, want)
		}
	}
}

// mine=true is my work: tickets assigned to me by name or dispatched to my team.
func TestMyWork(t *testing.T) {
	d := newDesk(t, func(c *deskconfig.Config) {
		c.Staff = append(c.Staff, deskconfig.Staff{Name: "li", DisplayName: "李工", Role: RoleEngineer, Team: "engineering", PasswordHash: testPasswordHash})
	})
	open := func(title, dispatch string) int64 {
		t.Helper()
		code, body := d.call(t, "POST", "/api/v1/tickets", adminToken, `{"kind":"repair","title":"`+title+`","site":"site-a","source":"phone"}`)
		if code != 201 {
			t.Fatalf("create: %d %s", code, body)
		}
		id := decodeInto[wire.Ticket](t, body).ID
		if dispatch != "" {
			if code, body := d.call(t, "POST", fmt.Sprintf("/api/v1/tickets/%d/actions", id), adminToken, dispatch); code != 200 {
				t.Fatalf("dispatch: %d %s", code, body)
			}
		}
		return id
	}
	mine := open("to li", `{"action":"dispatch","assignee":"li"}`)
	team := open("to engineering", `{"action":"dispatch","team":"engineering"}`)
	open("to security", `{"action":"dispatch","team":"security"}`)
	open("to someone else", `{"action":"dispatch","assignee":"wang"}`)
	open("not dispatched", "")
	code, body := d.call(t, "POST", "/api/v1/login", "", `{"name":"li","password":"correct horse"}`)
	if code != 200 {
		t.Fatalf("login: %d %s", code, body)
	}
	session := decodeInto[struct{ Token string }](t, body).Token
	code, body = d.call(t, "GET", "/api/v1/tickets?mine=true&open=true", session, "")
	if code != 200 {
		t.Fatalf("my work: %d %s", code, body)
	}
	var ids []int64
	for _, tk := range decodeInto[ticketPage](t, body).Tickets {
		ids = append(ids, tk.ID)
	}
	if !slices.Equal(ids, []int64{team, mine}) {
		t.Errorf("li's work = %v, want %v", ids, []int64{team, mine})
	}
	if code, _ := d.call(t, "GET", "/api/v1/tickets?mine=yes", session, ""); code != 400 {
		t.Errorf("mine=yes: %d", code)
	}
}

// An alarm that opens no ticket (a forced door) is kept by the desk from the
// heartbeats: a critical one stays listed after the gateway stops reporting
// it (the door closed after seconds) until someone acknowledges it, once per
// episode; who and when are kept and shown on every console's alarm list.
func TestAcknowledgeTicketlessAlarm(t *testing.T) {
	d := newDesk(t, nil)
	const door = `{"key":"site-a/door_forced/door-1/door 1","rule":"door_forced","device":"door-1","state":"firing","severity":"critical","since":"2026-11-24T01:59:30Z","message_zh":"门被强行打开"}`
	const held = `{"key":"site-a/door_held/door-2","rule":"door_held","device":"door-2","state":"firing","severity":"warning","since":"2026-11-24T01:59:40Z"}`
	const fire = `{"key":"site-a/fire/panel-1","rule":"fire","device":"panel-1","state":"firing","severity":"critical","ticketed":true,"since":"2026-11-24T01:59:00Z"}`
	beat := func(alarms ...string) {
		t.Helper()
		body := `{"gateway":"gw-1","site":"site-a","interval":10000000000,"devices":[{"id":"door-1","family":"access","state":"online"}],"alarms":[` + strings.Join(alarms, ",") + `]}`
		if code, out := d.call(t, "POST", "/api/v1/gateways/heartbeat", gatewayToken, body); code != 204 {
			t.Fatalf("heartbeat: %d %s", code, out)
		}
	}
	list := func() map[string]AlarmView {
		t.Helper()
		_, body := d.call(t, "GET", "/api/v1/alarms?suppressed=false", roleTokens[RoleManager], "")
		out := map[string]AlarmView{}
		for _, a := range decodeInto[struct{ Alarms []AlarmView }](t, body).Alarms {
			out[a.Key] = a
		}
		return out
	}
	beat(door, held, fire)
	d.clock.Advance(8 * time.Second)
	beat(fire) // the door closed again, the held door too
	got := list()
	if a, ok := got["site-a/door_forced/door-1/door 1"]; !ok || a.State != "cleared" || a.AcknowledgedBy != "" || a.LastSeen == nil {
		t.Errorf("the forced door after it closed: %+v (listed %v)", a, ok)
	}
	if _, ok := got["site-a/door_held/door-2"]; ok {
		t.Errorf("a warning that opens no ticket is listed after it ended")
	}
	for _, tc := range []struct {
		token, body string
		want        int
	}{
		{roleTokens[RoleControlRoom], `{"key":"site-a/door_forced/door-1/door 1"}`, 200},
		{roleTokens[RoleEngineer], `{"key":"site-a/door_forced/door-1/door 1"}`, 404}, // acknowledged and no longer firing
		{roleTokens[RoleControlRoom], `{"key":"site-a/fire/panel-1"}`, 409},           // ticketed: acknowledge the ticket
		{roleTokens[RoleControlRoom], `{"key":"site-a/door_forced/door-9"}`, 404},
		{roleTokens[RoleControlRoom], `{"key":""}`, 422},
		{roleTokens[RoleControlRoom], `{"key":"x","extra":1}`, 400},
		{roleTokens[RoleAssistant], `{"key":"site-a/door_forced/door-1/door 1"}`, 403},
		{gatewayToken, `{"key":"site-a/door_forced/door-1/door 1"}`, 403},
	} {
		code, body := d.call(t, "POST", "/api/v1/alarms/ack", tc.token, tc.body)
		if code != tc.want {
			t.Errorf("ack %s by %s: %d, want %d: %s", tc.body, tc.token, code, tc.want, body)
		}
		if code == 200 && !strings.Contains(body, `"acknowledged_by":"ctrl"`) {
			t.Errorf("ack answer: %s", body)
		}
	}
	if _, ok := list()["site-a/door_forced/door-1/door 1"]; ok {
		t.Errorf("an acknowledged forced door that closed is still listed")
	}
	// The door is forced again: a new episode, firing and not acknowledged;
	// acknowledged while it fires, it shows who and when.
	beat(strings.Replace(door, "01:59:30Z", "02:05:00Z", 1), fire)
	if a := list()["site-a/door_forced/door-1/door 1"]; a.State != "firing" || a.AcknowledgedBy != "" {
		t.Errorf("the new episode: %+v", a)
	}
	if code, body := d.call(t, "POST", "/api/v1/alarms/ack", roleTokens[RoleEngineer], `{"key":"site-a/door_forced/door-1/door 1"}`); code != 200 {
		t.Fatalf("ack the new episode: %d %s", code, body)
	}
	if a := list()["site-a/door_forced/door-1/door 1"]; a.AcknowledgedBy != "eng" || a.AcknowledgedAt == nil || !a.AcknowledgedAt.Equal(d.clock.Now()) {
		t.Errorf("acknowledged while firing: %+v", a)
	}
}

// Notifications link to the ticket's page when desk.public_url is set.
func TestNotificationLink(t *testing.T) {
	d := newDesk(t, func(c *deskconfig.Config) { c.PublicURL = "https://desk.example.com" })
	msg := d.srv.message(deskconfig.Channel{Type: "wecom"}, store.Notification{Event: "created", Ticket: wire.Ticket{ID: 7, Kind: wire.Repair, Priority: "P3"}}, Mentions{})
	if !strings.Contains(msg, "\n- 查看：[#7](https://desk.example.com/#/tickets/7)\n") {
		t.Errorf("no link line in %q", msg)
	}
	if got := newDesk(t, nil).srv.ticketLink(7); got != "" {
		t.Errorf("without public_url: %q", got)
	}
}

// Each role takes its own steps: an engineer does not follow up or close,
// an assistant is not on site; what the detail offers is what the desk takes.
func TestActionsByRole(t *testing.T) {
	d := newDesk(t, nil)
	code, body := d.call(t, "POST", "/api/v1/tickets", adminToken, `{"kind":"repair","title":"tap","site":"site-a","source":"phone"}`)
	if code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	id := decodeInto[wire.Ticket](t, body).ID
	act := func(role, change string) int {
		code, _ := d.call(t, "POST", fmt.Sprintf("/api/v1/tickets/%d/actions", id), roleTokens[role], change)
		return code
	}
	offered := func(role string) []ticket.Action {
		_, body := d.call(t, "GET", fmt.Sprintf("/api/v1/tickets/%d", id), roleTokens[role], "")
		return decodeInto[TicketDetail](t, body).AllowedActions
	}
	if got := offered(RoleEngineer); !slices.Equal(got, []ticket.Action{ticket.Acknowledge, ticket.Dispatch}) {
		t.Errorf("engineer offered %v on a new ticket", got)
	}
	if code := act(RoleEngineer, `{"action":"cancel","note":"no"}`); code != 403 {
		t.Errorf("engineer cancels: %d", code)
	}
	if code := act(RoleEngineer, `{"action":"dispatch","assignee":"eng"}`); code != 200 {
		t.Errorf("engineer takes the ticket: %d", code)
	}
	if code := act(RoleAssistant, `{"action":"arrive"}`); code != 403 {
		t.Errorf("assistant arrives: %d", code)
	}
	for _, change := range []string{`{"action":"arrive"}`, `{"action":"resolve","resolution":"done"}`} {
		if code := act(RoleEngineer, change); code != 200 {
			t.Errorf("engineer %s: %d", change, code)
		}
	}
	if got := offered(RoleEngineer); len(got) != 0 {
		t.Errorf("engineer offered %v on a resolved ticket", got)
	}
	if got := offered(RoleAssistant); !slices.Equal(got, []ticket.Action{ticket.FollowUp, ticket.CloseTicket, ticket.Reopen}) {
		t.Errorf("assistant offered %v on a resolved ticket", got)
	}
	if code := act(RoleEngineer, `{"action":"follow_up","satisfaction":5,"follow_up_note":"x"}`); code != 403 {
		t.Errorf("engineer follows up: %d", code)
	}
	if code := act(RoleAssistant, `{"action":"follow_up","satisfaction":5,"follow_up_note":"fine"}`); code != 200 {
		t.Errorf("assistant follows up: %d", code)
	}
}
