package desk

import (
	"fmt"
	"strings"
	"testing"

	"github.com/estatehq/estate/desk/deskconfig"
	"github.com/estatehq/estate/internal/wire"
)

func withHead(c *deskconfig.Config) {
	c.Staff = append(c.Staff, deskconfig.Staff{Name: "zhu", DisplayName: "朱主任", Role: RoleManager, Team: "management", PasswordHash: testPasswordHash, Site: "site-a"})
	c.Sites = []deskconfig.Site{{ID: "site-a", Timezone: "Asia/Shanghai", Head: "zhu", SatisfactionThreshold: 4}}
}

// The owner is who opens the case (the head for an important complaint);
// the owner's tasks are refused to others with a sentence; handovers need a
// note and a staff member of the site; "my cases" lists what one owns.
func TestOwnerOverTheAPI(t *testing.T) {
	d := newDesk(t, withHead)
	create := func(token, body string) wire.Ticket {
		t.Helper()
		code, out := d.call(t, "POST", "/api/v1/tickets", token, body)
		if code != 201 {
			t.Fatalf("create: %d %s", code, out)
		}
		return decodeInto[wire.Ticket](t, out)
	}
	plain := create(assistantToken, `{"kind":"complaint","title":"垃圾未清","site":"site-a","unit":"1-101"}`)
	important := create(assistantToken, `{"kind":"complaint","sub_kind":"important","title":"业主委员会投诉","site":"site-a"}`)
	gw := create(gatewayToken, `{"kind":"repair","title":"门禁离线","site":"site-a"}`)
	if plain.Owner != "front" || important.Owner != "zhu" || gw.Owner != "" {
		t.Fatalf("owners: %q %q %q", plain.Owner, important.Owner, gw.Owner)
	}
	// Someone else's reply: 403 with who owns it.
	code, body := d.call(t, "POST", fmt.Sprintf("/api/v1/tickets/%d/reply", important.ID), assistantToken, `{"note":"x"}`)
	if code != 403 || !strings.Contains(body, "its owner's task (zhu)") {
		t.Errorf("reply by not the owner: %d %s", code, body)
	}
	code, body = d.call(t, "POST", fmt.Sprintf("/api/v1/tickets/%d/reply", plain.ID), assistantToken, `{"note":"已安排保洁今天清理"}`)
	if code != 200 || !strings.Contains(body, `"reply_note":"已安排保洁今天清理"`) {
		t.Errorf("reply: %d %s", code, body)
	}
	for _, bad := range []struct{ body, want string }{
		{`{"role":"owner","to":"xiao"}`, "needs a note"},
		{`{"role":"owner","to":"nobody","note":"x"}`, "not a staff member of site site-a"},
		{`{"role":"boss","to":"xiao","note":"x"}`, "role: owner"},
	} {
		code, body := d.call(t, "POST", fmt.Sprintf("/api/v1/tickets/%d/handover", plain.ID), assistantToken, bad.body)
		if code != 422 || !strings.Contains(body, bad.want) {
			t.Errorf("handover %s: %d %s", bad.body, code, body)
		}
	}
	code, body = d.call(t, "POST", fmt.Sprintf("/api/v1/tickets/%d/handover", plain.ID), roleTokens[RoleEngineer], `{"role":"owner","to":"xiao","note":"x"}`)
	if code != 403 {
		t.Errorf("handover by a stranger: %d %s", code, body)
	}
	code, body = d.call(t, "POST", fmt.Sprintf("/api/v1/tickets/%d/handover", plain.ID), assistantToken, `{"role":"owner","to":"xiao","note":"明天休假"}`)
	if code != 200 || !strings.Contains(body, `"owner":"xiao"`) {
		t.Fatalf("handover: %d %s", code, body)
	}
	_, body = d.call(t, "GET", fmt.Sprintf("/api/v1/tickets/%d/audit", plain.ID), adminToken, "")
	if !strings.Contains(body, `"action":"handover_owner"`) || !strings.Contains(body, "front → xiao: 明天休假") {
		t.Errorf("handover not audited: %s", body)
	}
	_, body = d.call(t, "GET", "/api/v1/tickets?mine=owner", assistantToken, "")
	if strings.Contains(body, "垃圾未清") {
		t.Errorf("front still lists the case handed over: %s", body)
	}
	// A gateway's ticket is owned by whoever accepts it.
	d.call(t, "POST", fmt.Sprintf("/api/v1/tickets/%d/actions", gw.ID), roleTokens[RoleControlRoom], `{"action":"acknowledge"}`)
	_, body = d.call(t, "GET", "/api/v1/tickets?mine=owner", roleTokens[RoleControlRoom], "")
	if !strings.Contains(body, "门禁离线") {
		t.Errorf("ctrl's cases: %s", body)
	}
	code, body = d.call(t, "GET", "/api/v1/tickets?mine=everyone", adminToken, "")
	if code != 400 || !strings.Contains(body, "mine=owner") {
		t.Errorf("mine=everyone: %d %s", code, body)
	}
	// The daily review lists them by owner.
	code, body = d.call(t, "GET", "/api/v1/reviews/daily?site=site-a", roleTokens[RoleManager], "")
	if code != 200 || !strings.Contains(body, `"owner":"zhu"`) || !strings.Contains(body, `"owner":"ctrl"`) {
		t.Errorf("daily review: %d %s", code, body)
	}
}

// The bad input of issue 14 that is the owner's side: each a 4xx with a
// sentence, and nothing changed.
func TestOwnerSideBadInput(t *testing.T) {
	d := newDesk(t, withHead)
	_, body := d.call(t, "POST", "/api/v1/tickets", assistantToken, `{"kind":"repair","title":"漏水","site":"site-a"}`)
	repair := decodeInto[wire.Ticket](t, body)
	_, body = d.call(t, "POST", "/api/v1/tickets", roleTokens[RoleControlRoom], `{"kind":"emergency","title":"电梯困人","site":"site-a"}`)
	em := decodeInto[wire.Ticket](t, body)
	trail := func(id int64) string {
		_, b := d.call(t, "GET", fmt.Sprintf("/api/v1/tickets/%d/audit", id), adminToken, "")
		return b
	}
	beforeRepair, beforeEm := trail(repair.ID), trail(em.ID)

	// A follow-up on a ticket not resolved.
	code, body := d.call(t, "POST", fmt.Sprintf("/api/v1/tickets/%d/actions", repair.ID), assistantToken, `{"action":"follow_up","satisfaction":5,"follow_up_note":"ok"}`)
	if code != 409 || !strings.Contains(body, "a repair ticket that is new cannot follow_up") {
		t.Errorf("follow-up of a new ticket: %d %s", code, body)
	}
	// An incident report on a non-emergency.
	code, body = d.call(t, "PUT", fmt.Sprintf("/api/v1/tickets/%d/incident", repair.ID), assistantToken, `{"what_happened":"x"}`)
	if code != 422 || !strings.Contains(body, "for emergencies and power-distribution accidents only") {
		t.Errorf("incident report on a repair: %d %s", code, body)
	}
	// An approval by a non-manager (the report submitted by its owner first).
	full := `{"what_happened":"2人被困","cause":"门锁故障","measures":"维保放人","result":"无人受伤","people":"ctrl, eng","submit":true}`
	if code, body := d.call(t, "PUT", fmt.Sprintf("/api/v1/tickets/%d/incident", em.ID), roleTokens[RoleControlRoom], full); code != 200 {
		t.Fatalf("submit: %d %s", code, body)
	}
	code, body = d.call(t, "POST", fmt.Sprintf("/api/v1/tickets/%d/incident/decision", em.ID), assistantToken, `{"approve":true}`)
	if code != 403 || !strings.Contains(body, "only a manager approves or returns an incident report") {
		t.Errorf("approval by an assistant: %d %s", code, body)
	}
	_, body = d.call(t, "GET", fmt.Sprintf("/api/v1/tickets/%d/incident", em.ID), roleTokens[RoleManager], "")
	if !strings.Contains(body, `"state":"submitted"`) || !strings.Contains(body, `"decide":true`) {
		t.Errorf("after the refused approval: %s", body)
	}
	// Not the owner writes it: 403.
	code, body = d.call(t, "PUT", fmt.Sprintf("/api/v1/tickets/%d/incident", em.ID), assistantToken, full)
	if code != 403 || !strings.Contains(body, "written by its owner (ctrl)") {
		t.Errorf("report by not the owner: %d %s", code, body)
	}
	if trail(repair.ID) != beforeRepair {
		t.Errorf("the refused calls changed the repair's trail")
	}
	if got := trail(em.ID); strings.Count(got, `"action":"incident_`) != 1 || !strings.HasPrefix(got, strings.TrimSuffix(strings.TrimSpace(beforeEm), "]}")) {
		t.Errorf("the emergency's trail: %s", got)
	}
}

// An emergency closes only when its incident report is approved; an
// unsatisfied follow-up (below the site's threshold, 4 here) reopens.
func TestEmergencyClosesWithItsApprovedReport(t *testing.T) {
	d := newDesk(t, withHead)
	_, body := d.call(t, "POST", "/api/v1/tickets", roleTokens[RoleControlRoom], `{"kind":"emergency","title":"水浸","site":"site-a"}`)
	em := decodeInto[wire.Ticket](t, body)
	act := func(token, body string) (int, string) {
		return d.call(t, "POST", fmt.Sprintf("/api/v1/tickets/%d/actions", em.ID), token, body)
	}
	act(roleTokens[RoleControlRoom], `{"action":"dispatch","assignee":"eng"}`)
	act(roleTokens[RoleEngineer], `{"action":"arrive"}`)
	act(roleTokens[RoleEngineer], `{"action":"resolve","resolution":"关阀抽水"}`)
	code, body := act(roleTokens[RoleControlRoom], `{"action":"close"}`)
	if code != 409 || !strings.Contains(body, "no incident report") {
		t.Fatalf("close without a report: %d %s", code, body)
	}
	full := `{"what_happened":"B1 水浸","cause":"水管爆裂","measures":"关阀抽水","result":"无损失","people":"ctrl, eng","submit":true}`
	d.call(t, "PUT", fmt.Sprintf("/api/v1/tickets/%d/incident", em.ID), roleTokens[RoleControlRoom], full)
	if code, body := act(roleTokens[RoleControlRoom], `{"action":"close"}`); code != 409 || !strings.Contains(body, "the report is submitted") {
		t.Fatalf("close with a submitted report: %d %s", code, body)
	}
	if code, body := d.call(t, "POST", fmt.Sprintf("/api/v1/tickets/%d/incident/decision", em.ID), roleTokens[RoleManager], `{"approve":false}`); code != 422 {
		t.Errorf("returned without a reason: %d %s", code, body)
	}
	if code, body := d.call(t, "POST", fmt.Sprintf("/api/v1/tickets/%d/incident/decision", em.ID), roleTokens[RoleManager], `{"approve":true}`); code != 200 || !strings.Contains(body, `"state":"approved"`) {
		t.Fatalf("approve: %d %s", code, body)
	}
	if code, body := act(roleTokens[RoleControlRoom], `{"action":"close"}`); code != 200 || !strings.Contains(body, `"status":"closed"`) {
		t.Fatalf("close with the approved report: %d %s", code, body)
	}

	_, body = d.call(t, "POST", "/api/v1/tickets", assistantToken, `{"kind":"repair","title":"水龙头","site":"site-a","unit":"1-101"}`)
	rp := decodeInto[wire.Ticket](t, body)
	for _, b := range []string{`{"action":"dispatch","assignee":"eng","team":"customer_service"}`, `{"action":"resolve","resolution":"换垫圈"}`} {
		d.call(t, "POST", fmt.Sprintf("/api/v1/tickets/%d/actions", rp.ID), adminToken, b)
	}
	code, body = d.call(t, "POST", fmt.Sprintf("/api/v1/tickets/%d/actions", rp.ID), assistantToken, `{"action":"follow_up","satisfaction":3,"follow_up_note":"还是滴水"}`)
	if code != 200 || !strings.Contains(body, `"status":"dispatched"`) || !strings.Contains(body, `"team":"engineering"`) {
		t.Fatalf("unsatisfied follow-up: %d %s", code, body)
	}
}
