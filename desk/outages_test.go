package desk

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/estatehq/estate/desk/deskconfig"
	"github.com/estatehq/estate/desk/store"
	"github.com/estatehq/estate/internal/wire"
)

// beat is site-a's gateway heartbeat: meters of buildings 1 and 2 on feeders
// f1 and f2; meter-1 allows relay control, meter-2 nothing.
func beat(results string) string {
	return `{"gateway":"gw-1","site":"site-a","interval":10000000000,
		"devices":[{"id":"meter-1","family":"meter","building":"1","unit":"1-101","state":"online","controls":["relay"]},
		           {"id":"meter-2","family":"meter","building":"2","unit":"2-201","state":"online"}],
		"feeders":[{"id":"f1","building":"1","buildings":["1"],"devices":["meter-1"]},{"id":"f2","building":"2","buildings":["2"],"devices":["meter-2"]}]` +
		results + `}`
}

func heartbeatAnswer(t *testing.T, d *testDesk, results string) wire.HeartbeatAnswer {
	t.Helper()
	code, body := d.call(t, "POST", "/api/v1/gateways/heartbeat", gatewayToken, beat(results))
	switch code {
	case 204:
		return wire.HeartbeatAnswer{}
	case 200:
		return decodeInto[wire.HeartbeatAnswer](t, body)
	}
	t.Fatalf("heartbeat: %d %s", code, body)
	return wire.HeartbeatAnswer{}
}

// Bad outage requests and approvals: clear errors, nothing recorded or
// changed. A good one is approved by a manager other than its requester:
// its households are told (by their preferred channel) and its window goes
// to the site's gateway until it ends or is cancelled.
func TestPlannedOutageRequests(t *testing.T) {
	d := newDesk(t, nil)
	heartbeatAnswer(t, d, "")
	for _, u := range []string{`"1-101","building":"1","residents":[{"name":"A","phone":"1","contact":"sms"}]`,
		`"1-102","building":"1","residents":[]`, `"2-201","building":"2","residents":[{"name":"B","phone":"2"}]`} {
		unit, rest, _ := strings.Cut(u, ",")
		if code, body := d.call(t, "PUT", "/api/v1/units/site-a/"+strings.Trim(unit, `"`), adminToken, "{"+rest+`,"meters":[]}`); code != 200 && code != 204 {
			t.Fatalf("unit: %d %s", code, body)
		}
	}
	now := d.clock.Now()
	at := func(d time.Duration) string { return now.Add(d).Format(time.RFC3339) }
	eng, boss := roleTokens[RoleEngineer], roleTokens[RoleManager]
	for _, c := range []struct{ name, body, field string }{
		{"a window in the past", fmt.Sprintf(`{"site":"site-a","buildings":["1"],"start":%q,"end":%q,"reason":"x"}`, at(-2*time.Hour), at(-time.Hour)), "end"},
		{"a start in the past", fmt.Sprintf(`{"site":"site-a","buildings":["1"],"start":%q,"end":%q,"reason":"x"}`, at(-time.Hour), at(time.Hour)), "start"},
		{"an end before its start", fmt.Sprintf(`{"site":"site-a","buildings":["1"],"start":%q,"end":%q,"reason":"x"}`, at(2*time.Hour), at(time.Hour)), "end"},
		{"an unknown building", fmt.Sprintf(`{"site":"site-a","buildings":["9"],"start":%q,"end":%q,"reason":"x"}`, at(time.Hour), at(2*time.Hour)), "buildings"},
		{"an unknown feeder", fmt.Sprintf(`{"site":"site-a","feeder":"f9","start":%q,"end":%q,"reason":"x"}`, at(time.Hour), at(2*time.Hour)), "feeder"},
		{"feeder and buildings", fmt.Sprintf(`{"site":"site-a","feeder":"f1","buildings":["1"],"start":%q,"end":%q,"reason":"x"}`, at(time.Hour), at(2*time.Hour)), "feeder"},
		{"no reason", fmt.Sprintf(`{"site":"site-a","buildings":["1"],"start":%q,"end":%q,"reason":" "}`, at(time.Hour), at(2*time.Hour)), "reason"},
		{"longer than a week", fmt.Sprintf(`{"site":"site-a","buildings":["1"],"start":%q,"end":%q,"reason":"x"}`, at(time.Hour), at(200*time.Hour)), "end"},
		{"no site for an account of every site", fmt.Sprintf(`{"buildings":["1"],"start":%q,"end":%q,"reason":"x"}`, at(time.Hour), at(2*time.Hour)), "site"},
	} {
		code, body := d.call(t, "POST", "/api/v1/outages", eng, c.body)
		if code != 422 || !strings.Contains(body, `"field":"`+c.field+`"`) {
			t.Errorf("%s: %d %s, want 422 on %s", c.name, code, body, c.field)
		}
	}
	if os, _ := d.st.ListOutages(t.Context(), "", 10); len(os) != 0 {
		t.Fatalf("bad requests recorded %d outages", len(os))
	}
	code, body := d.call(t, "POST", "/api/v1/outages", eng, fmt.Sprintf(`{"site":"site-a","feeder":"f1","start":%q,"end":%q,"reason":"变压器检修"}`, at(time.Hour), at(3*time.Hour)))
	if code != 201 {
		t.Fatalf("request: %d %s", code, body)
	}
	o := decodeInto[OutageView](t, body)
	if len(o.Affected) != 2 || o.Affected[0].Unit != "1-101" || o.Affected[0].Channel != "sms" || o.Affected[1].Channel != "notice" {
		t.Fatalf("affected: %+v", o.Affected)
	}
	path := fmt.Sprintf("/api/v1/outages/%d", o.ID)
	if code, body := d.call(t, "POST", path+"/approve", eng, ""); code != 403 {
		t.Errorf("an engineer approved: %d %s", code, body)
	}
	if code, body := d.call(t, "POST", path+"/approve", assistantToken, ""); code != 403 {
		t.Errorf("an assistant approved: %d %s", code, body)
	}
	if a := heartbeatAnswer(t, d, ""); len(a.Windows) != 0 {
		t.Fatalf("a window before approval: %+v", a)
	}
	code, body = d.call(t, "POST", path+"/approve", boss, `{"note":"同意"}`)
	if code != 200 {
		t.Fatalf("approve: %d %s", code, body)
	}
	o = decodeInto[OutageView](t, body)
	if o.Status != store.OutageApproved || len(o.Notices) != 2 || !strings.Contains(o.Notices[0].TextZH, "变压器检修") ||
		!strings.Contains(o.Notices[0].TextZH, "1栋 1-101") || !strings.Contains(o.Notices[0].TextZH, "2026-11-24 11:00 至 2026-11-24 13:00") || o.Note != "同意" || !strings.Contains(o.Notices[0].TextEN, "Asia/Shanghai") {
		t.Fatalf("approved: %+v", o)
	}
	if code, _ := d.call(t, "POST", path+"/approve", adminToken, ""); code != 409 {
		t.Errorf("approved twice: %d", code)
	}
	a := heartbeatAnswer(t, d, "")
	if len(a.Windows) != 1 || a.Windows[0].Scope != wire.ScopeFeeder || a.Windows[0].Feeder != "f1" || a.Windows[0].Cause != fmt.Sprintf("planned outage #%d", o.ID) {
		t.Fatalf("answer: %+v", a)
	}
	if code, _ := d.call(t, "POST", path+"/cancel", boss, ""); code != 200 {
		t.Fatalf("cancel: %d", code)
	}
	if a := heartbeatAnswer(t, d, ""); len(a.Windows) != 0 {
		t.Fatalf("a cancelled outage's window still handed: %+v", a)
	}
	// The consoles of the site hear each step on the event stream.
	if got := objectEvents(t, d, "site-a", "outage.", o.ID); got != "outage.requested:eng outage.approved:boss outage.cancelled:boss" {
		t.Errorf("outage events: %s", got)
	}
	if got := objectEvents(t, d, "site-b", "outage.", o.ID); got != "" {
		t.Errorf("another site's stream has site-a's outage: %s", got)
	}
}

// objectEvents are the events of a site about one object, as type:actor.
func objectEvents(t *testing.T, d *testDesk, site, prefix string, id int64) string {
	t.Helper()
	evs, err := d.st.Events(t.Context(), 0, site, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		if !strings.HasPrefix(e.Type, prefix) {
			continue
		}
		var oe store.ObjectEvent
		if err := json.Unmarshal(e.Data, &oe); err != nil {
			t.Fatalf("event %s: %v", e.Type, err)
		}
		if oe.ID == id && e.Site == site {
			out = append(out, e.Type+":"+oe.By)
		}
	}
	return strings.Join(out, " ")
}

// The manager who requests an outage does not approve it too.
func TestOutageApprovedByAnotherPerson(t *testing.T) {
	d := newDesk(t, nil)
	heartbeatAnswer(t, d, "")
	now := d.clock.Now()
	_, body := d.call(t, "POST", "/api/v1/outages", roleTokens[RoleManager], fmt.Sprintf(`{"site":"site-a","buildings":["1"],"start":%q,"end":%q,"reason":"x"}`,
		now.Add(time.Hour).Format(time.RFC3339), now.Add(2*time.Hour).Format(time.RFC3339)))
	o := decodeInto[OutageView](t, body)
	if code, body := d.call(t, "POST", fmt.Sprintf("/api/v1/outages/%d/approve", o.ID), roleTokens[RoleManager], ""); code != 403 || !strings.Contains(body, "another person") {
		t.Fatalf("self-approval: %d %s", code, body)
	}
}

// Commands: refused at once for a device that does not allow them (nothing
// kept); approved by a manager; handed to the gateway until it reports the
// result, which is recorded once; every step audited. A site's rule
// approves closing a relay after the meter's top-up reminder closed.
func TestCommandLifecycle(t *testing.T) {
	d := newDesk(t, func(c *deskconfig.Config) {
		c.Sites = []deskconfig.Site{{ID: "site-a", Timezone: "Asia/Shanghai", CommandRules: []deskconfig.CommandRule{{Action: wire.CommandRelayClose, AfterTopUp: 24 * time.Hour}}}}
	})
	heartbeatAnswer(t, d, "")
	eng, boss := roleTokens[RoleEngineer], roleTokens[RoleManager]
	for _, c := range []struct{ name, body, want string }{
		{"a device without writes", `{"site":"site-a","device":"meter-2","action":"relay_trip","reason":"x"}`, "does not allow relay_trip"},
		{"a valve on a meter with a relay", `{"site":"site-a","device":"meter-1","action":"valve_close","reason":"x"}`, "does not allow valve_close"},
		{"an unknown device", `{"site":"site-a","device":"meter-9","action":"relay_trip","reason":"x"}`, "no gateway of site site-a reports a device meter-9"},
		{"a write without its point", `{"site":"site-a","device":"meter-1","action":"modbus_write","reason":"x"}`, "point"},
		{"an unknown action", `{"site":"site-a","device":"meter-1","action":"explode","reason":"x"}`, "is not one of"},
		{"no reason", `{"site":"site-a","device":"meter-1","action":"relay_trip"}`, "reason"},
	} {
		if code, body := d.call(t, "POST", "/api/v1/commands", eng, c.body); code != 422 || !strings.Contains(body, c.want) {
			t.Errorf("%s: %d %s", c.name, code, body)
		}
	}
	if cs, _ := d.st.ListCommands(t.Context(), "", "", 10); len(cs) != 0 {
		t.Fatalf("refused requests kept: %+v", cs)
	}
	code, body := d.call(t, "POST", "/api/v1/commands", eng, `{"site":"site-a","device":"meter-1","action":"relay_trip","reason":"欠费"}`)
	if code != 201 {
		t.Fatalf("request: %d %s", code, body)
	}
	c := decodeInto[CommandView](t, body)
	if c.Status != store.CommandRequested || c.Gateway != "gw-1" {
		t.Fatalf("requested: %+v", c)
	}
	if a := heartbeatAnswer(t, d, ""); len(a.Commands) != 0 {
		t.Fatalf("an unapproved command handed: %+v", a)
	}
	path := fmt.Sprintf("/api/v1/commands/%d", c.ID)
	if code, _ := d.call(t, "POST", path+"/approve", eng, ""); code != 403 {
		t.Errorf("an engineer approved: %d", code)
	}
	if code, _ := d.call(t, "POST", path+"/approve", boss, ""); code != 200 {
		t.Fatalf("approve: %d", code)
	}
	for range 2 { // handed again until the gateway reports
		if a := heartbeatAnswer(t, d, ""); len(a.Commands) != 1 || a.Commands[0].ID != c.ID || a.Commands[0].Action != wire.CommandRelayTrip {
			t.Fatalf("answer: %+v", a)
		}
	}
	result := fmt.Sprintf(`,"results":[{"id":%d,"outcome":"refused","detail":"wrong password","at":"2026-11-24T02:00:01Z"}]`, c.ID)
	if a := heartbeatAnswer(t, d, result); len(a.Acked) != 1 || a.Acked[0] != c.ID || len(a.Commands) != 0 {
		t.Fatalf("answer to the result: %+v", a)
	}
	heartbeatAnswer(t, d, strings.Replace(result, "refused", "done", 1)) // reported again, differently: ignored
	_, body = d.call(t, "GET", path, boss, "")
	c = decodeInto[CommandView](t, body)
	var steps []string
	for _, s := range c.Audit {
		steps = append(steps, s.Step+":"+s.Actor)
	}
	if c.Status != wire.OutcomeRefused || c.Detail != "wrong password" || strings.Join(steps, " ") != "requested:eng approved:boss delivered:gateway:gw-1 refused:gateway:gw-1" {
		t.Fatalf("command after its result: %+v (%v)", c.DeviceCommand, steps)
	}
	if code, _ := d.call(t, "POST", path+"/approve", boss, ""); code != 409 {
		t.Errorf("approved after its result: %d", code)
	}
	if got := objectEvents(t, d, "site-a", "command.", c.ID); got != "command.requested:eng command.approved:boss command.delivered:gateway:gw-1 command.refused:gateway:gw-1" {
		t.Errorf("command events: %s", got)
	}
	// A relay close without a top-up waits for a manager; after the
	// meter's top-up reminder closed, the site's rule approves it.
	_, body = d.call(t, "POST", "/api/v1/commands", eng, `{"site":"site-a","device":"meter-1","action":"relay_close","reason":"合闸"}`)
	if c := decodeInto[CommandView](t, body); c.Status != store.CommandRequested {
		t.Fatalf("a close without a top-up: %+v", c)
	}
	open := `{"idempotency_key":"k1","alarm_key":"site-a/low/meter-1","action":"open","at":"2026-11-24T01:00:00Z",
		"ticket":{"kind":"top_up","title":"low","site":"site-a","device":"meter-1","alarm_key":"site-a/low/meter-1"}}`
	clear := `{"idempotency_key":"k2","alarm_key":"site-a/low/meter-1","action":"clear","close":true,"note":"balance back","at":"2026-11-24T02:00:00Z"}`
	for _, a := range []string{open, clear} {
		if code, body := d.call(t, "POST", "/api/v1/alarm-actions", gatewayToken, a); code >= 300 {
			t.Fatalf("alarm action: %d %s", code, body)
		}
	}
	_, body = d.call(t, "POST", "/api/v1/commands", eng, `{"site":"site-a","device":"meter-1","action":"relay_close","reason":"已充值"}`)
	if c := decodeInto[CommandView](t, body); c.Status != store.CommandApproved || c.ApprovedBy != "rule:relay_close" || len(c.Audit) != 2 {
		t.Fatalf("a close after a top-up: %+v", c)
	}
}
