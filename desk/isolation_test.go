package desk

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/estatehq/estate/desk/deskconfig"
	"github.com/estatehq/estate/desk/shift"
	"github.com/estatehq/estate/desk/store"
	"github.com/estatehq/estate/internal/testenv"
	"github.com/estatehq/estate/internal/wire"
)

// The two-site isolation suite (issue 20): a desk serving site-a and site-b,
// attacked with site A's gateway token, a site-A-bound token of every staff
// role and a site-A staff account's console session, through every route
// and every way of naming an object. Nothing of
// site B may be seen (no secret of it in any answer) or changed (its
// tickets, trails, comments, reminders, household and gateway status are
// byte for byte the same after the attack).

// Tokens of the two-site desk: every staff role bound to site-a, the two
// gateways, and an all-sites admin that seeds both sites.
var isoTokens = map[string]string{
	RoleAdmin: "iso-admin-a-0123456789", RoleManager: "iso-manager-a-0123456789", RoleEngineer: "iso-engineer-a-0123456789",
	RoleControlRoom: "iso-control-a-0123456789", RoleAssistant: "iso-assistant-a-0123456789", RoleGateway: "iso-gateway-a-0123456789",
}

const (
	isoRoot     = "iso-root-all-sites-0123456789"
	isoGatewayB = "iso-gateway-b-0123456789"
	// What of site B no caller of site A may ever read.
	secretTitle = "SECRET-B"
	secretName  = "Bob-of-B"
	secretPhone = "13800000002"
	// Site B's real fire alarm, and the idempotency key its gateway uses
	// (predictable: <alarm key>@<episode start>/<action>).
	fireB    = "site-b/fire_alarm/panel-b"
	fireBKey = fireB + "@2026-11-24T01:59:00Z/open"
	// Site B's forced door, an alarm that opens no ticket (ticket: none).
	doorB = "site-b/door_forced/door-b"
)

var isoRoles = []string{RoleGateway, RoleAdmin, RoleManager, RoleEngineer, RoleControlRoom, RoleAssistant}

type isoDesk struct {
	*testDesk
	// ids of site B's tickets: the top-up reminder and the fire alarm.
	topUpB, fireB int64
	// ids of site A's tickets.
	topUpA int64
	// Site B's key (lent to Bob-of-B) and handover sheet (desk/shift).
	keyB, sheetB int64
	// Site B's planned outage (approved: its notices and window) and command.
	outageB, commandB int64
	// roundB is site B's round of today (its inspection round), roundA site A's.
	roundB, roundA int64
}

// isoBackends runs the suite on SQLite and, when ESTATE_TEST_POSTGRES_URL is
// set (or CI=true, where its absence fails), on PostgreSQL.
func isoBackends(t *testing.T, test func(t *testing.T, open func(t *testing.T) *store.Store)) {
	t.Run("sqlite", func(t *testing.T) {
		test(t, func(t *testing.T) *store.Store {
			return openIsoStore(t, store.SQLiteDialect, filepath.Join(t.TempDir(), "desk.db"))
		})
	})
	t.Run("postgres", func(t *testing.T) {
		if os.Getenv("ESTATE_TEST_POSTGRES_URL") == "" && os.Getenv("CI") != "true" {
			t.Skip("ESTATE_TEST_POSTGRES_URL not set")
		}
		test(t, func(t *testing.T) *store.Store { return openIsoStore(t, store.PostgresDialect, testenv.PostgreSQL(t)) })
	})
}

func openIsoStore(t *testing.T, dialect, dsn string) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), dialect, dsn, store.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

var isoHash = func() string {
	h, err := bcrypt.GenerateFromPassword([]byte("correct horse"), bcrypt.MinCost)
	if err != nil {
		panic(err)
	}
	return string(h)
}()

// newIsoDesk builds the two-site desk on st and seeds both sites.
// isoConfig is the two-site desk's configuration (every replica's).
func isoConfig() deskconfig.Config {
	cfg := deskconfig.Config{Listen: "127.0.0.1:0", Driver: "sqlite", SessionTTL: time.Hour, LoginAttempts: 100, LoginWindow: time.Minute,
		Tokens: []deskconfig.Token{
			{Name: "root", Token: isoRoot, Role: RoleAdmin},
			{Name: "gw-b", Token: isoGatewayB, Role: RoleGateway, Site: "site-b"},
		},
		Staff: []deskconfig.Staff{{Name: "amy", DisplayName: "Amy", Role: RoleAssistant, Site: "site-a", PasswordHash: isoHash},
			{Name: "bob-b", DisplayName: secretName, Role: RoleEngineer, Site: "site-b", PasswordHash: isoHash}},
	}
	for _, role := range isoRoles {
		cfg.Tokens = append(cfg.Tokens, deskconfig.Token{Name: role + "-a", Token: isoTokens[role], Role: role, Site: "site-a"})
	}
	// An inspection round on each site; site B's names its secret.
	for _, site := range []string{"a", "b"} {
		name, cp := "round A", "A-CP"
		if site == "b" {
			name, cp = secretTitle+" round", "B-CP"
		}
		cfg.Rounds = append(cfg.Rounds, deskconfig.Route{ID: "daily", Site: "site-" + site, Name: name,
			Checkpoints: []deskconfig.Checkpoint{{Code: cp, Name: name + " pump room", Items: []deskconfig.CheckItem{{ID: "ok", Label: "ok", Type: "check"}}}}})
	}
	return cfg
}

func newIsoDesk(t *testing.T, st *store.Store) *isoDesk {
	t.Helper()
	cfg := isoConfig()
	clk := &clock{now: time.Date(2026, 11, 24, 2, 0, 0, 0, time.UTC)}
	srv := New(cfg, st, slog.New(slog.NewTextHandler(io.Discard, nil)), WithClock(clk.Now))
	d := &isoDesk{testDesk: &testDesk{srv: srv, h: srv.Handler(), st: st, clock: clk}}

	must := func(want int, method, path, token, body string) string {
		t.Helper()
		code, out := d.call(t, method, path, token, body)
		if code != want {
			t.Fatalf("seed %s %s: %d %s", method, path, code, out)
		}
		return out
	}
	for _, site := range []string{"a", "b"} {
		name, phone := "Ann-of-A", "13900000001"
		if site == "b" {
			name, phone = secretName, secretPhone
		}
		must(200, "PUT", "/api/v1/units/site-"+site+"/1-101", isoRoot,
			fmt.Sprintf(`{"building":"1","residents":[{"name":%q,"phone":%q,"contact":"sms"}],"meters":["meter-%s"]}`, name, phone, site))
	}
	topUp := func(token, site, title string) int64 {
		body := must(201, "POST", "/api/v1/tickets", token, fmt.Sprintf(`{"kind":"top_up","title":%q,"site":"site-%s","device":"meter-%s",
			"alarm_key":"site-%s/low/meter-%s","reading":{"point":"balance","value":3,"unit":"CNY","at":"2026-11-24T01:00:00Z"}}`, title, site, site, site, site))
		return decodeInto[wire.Ticket](t, body).ID
	}
	d.topUpA = topUp(isoTokens[RoleGateway], "a", "low balance A")
	d.topUpB = topUp(isoGatewayB, "b", secretTitle+" low balance")
	body := must(201, "POST", "/api/v1/alarm-actions", isoGatewayB, fireAction(fireBKey, fireB, "site-b", secretTitle+" fire", ""))
	d.fireB = decodeInto[wire.AlarmActionResult](t, body).Ticket.ID
	must(201, "POST", fmt.Sprintf("/api/v1/tickets/%d/comments", d.fireB), isoRoot, `{"body":"`+secretTitle+` called the brigade"}`)
	must(201, "POST", fmt.Sprintf("/api/v1/tickets/%d/reminders", d.topUpB), isoRoot, `{"channel":"phone","answer":"`+secretTitle+`"}`)
	must(204, "POST", "/api/v1/gateways/heartbeat", isoGatewayB,
		`{"gateway":"gw-b-1","site":"site-b","interval":10000000000,"devices":[{"id":"panel-b","family":"fire_panel","state":"online"}],
		"alarms":[{"key":"`+fireB+`","rule":"fire_alarm","device":"panel-b","state":"firing","ticketed":true},
		{"key":"`+doorB+`","rule":"door_forced","device":"door-b","state":"firing","severity":"critical","since":"2026-11-24T01:59:30Z"}]}`)
	must(204, "POST", "/api/v1/gateways/heartbeat", isoTokens[RoleGateway],
		`{"gateway":"gw-a-1","site":"site-a","interval":10000000000,"devices":[{"id":"panel-a","family":"fire_panel","state":"online"}]}`)
	// Site B's control room: a key out, a note, a handover sheet.
	d.keyB = decodeInto[struct{ ID int64 }](t, must(201, "POST", "/api/v1/keys", isoRoot, `{"site":"site-b","label":"KB-1","name":"`+secretTitle+` plant room"}`)).ID
	must(201, "POST", fmt.Sprintf("/api/v1/keys/%d/lend?site=site-b", d.keyB), isoRoot, `{"borrower":"`+secretName+`"}`)
	must(201, "POST", "/api/v1/duty/entries", isoRoot, `{"site":"site-b","kind":"instruction","body":"`+secretTitle+` instruction"}`)
	d.sheetB = decodeInto[struct{ ID int64 }](t, must(200, "POST", "/api/v1/duty/sheets", isoRoot, `{"site":"site-b"}`)).ID
	d.seedMaintenanceB(t)
	// Today's rounds of both sites; B's reader has scanned B's checkpoint and
	// B's round has a failed item with its ticket.
	roundOf := func(site string) int64 {
		var list struct{ Rounds []struct{ ID int64 } }
		if err := json.Unmarshal([]byte(must(200, "GET", "/api/v1/rounds?site="+site, isoRoot, "")), &list); err != nil || len(list.Rounds) != 1 {
			t.Fatalf("rounds of %s: %v %+v", site, err, list)
		}
		return list.Rounds[0].ID
	}
	d.roundA, d.roundB = roundOf("site-a"), roundOf("site-b")
	must(200, "POST", "/api/v1/rounds/reader-visits", isoGatewayB, `{"checkpoint":"B-CP","reader":"patrol-b","at":"2026-11-24T01:58:00Z"}`)
	must(200, "POST", fmt.Sprintf("/api/v1/rounds/%d/results", d.roundB), isoRoot, `{"checkpoint":"B-CP","item":"ok","outcome":"fail","note":"`+secretTitle+` leak"}`)
	return d
}

// seedMaintenanceB gives site B an approved planned outage (its notices and
// the window its gateways receive) and an approved command for its gateway,
// every one carrying the secret.
func (d *isoDesk) seedMaintenanceB(t *testing.T) {
	t.Helper()
	ctx, now := context.Background(), d.clock.Now()
	o, err := d.st.CreateOutage(ctx, store.Outage{Site: "site-b", Buildings: []string{"1"}, Start: now.Add(time.Hour), End: now.Add(2 * time.Hour),
		Reason: secretTitle + " switchgear", RequestedBy: "bob-b", RequestedAt: now})
	if err != nil {
		t.Fatal(err)
	}
	w := wire.Window{ID: store.OutageWindowID(o.ID), Scope: wire.ScopeBuildings, Buildings: []string{"1"}, Start: o.Start, End: o.End, Cause: secretTitle + " outage"}
	if _, err := d.st.ApproveOutage(ctx, "site-b", o.ID, "boss-b", secretTitle, now, []store.Notice{{Unit: "1-101", Building: "1", Channel: "sms", TextZH: secretTitle, TextEN: secretTitle}}, w); err != nil {
		t.Fatal(err)
	}
	c, err := d.st.CreateCommand(ctx, store.DeviceCommand{Site: "site-b", Gateway: "gw-b-1", Device: "meter-b", Action: wire.CommandRelayTrip,
		Reason: secretTitle + " arrears", RequestedBy: "bob-b", RequestedAt: now}, "boss-b", "")
	if err != nil {
		t.Fatal(err)
	}
	d.outageB, d.commandB = o.ID, c.ID
}

func fireAction(idemKey, alarmKey, site, title, note string) string {
	return fmt.Sprintf(`{"idempotency_key":%q,"alarm_key":%q,"action":"open","note":%q,"at":"2026-11-24T01:59:00Z",
		"ticket":{"kind":"emergency","title":%q,"site":%q,"device":"panel","alarm_key":%q}}`, idemKey, alarmKey, note, title, site, alarmKey)
}

// siteB is everything of site B in the store, to compare before and after.
func (d *isoDesk) siteB(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	var out strings.Builder
	add := func(v any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(v)
		out.Write(b)
		out.WriteByte('\n')
	}
	add(d.st.ListTickets(ctx, store.Filter{Site: "site-b", Limit: 500}))
	for _, id := range []int64{d.topUpB, d.fireB} {
		add(d.st.GetTicket(ctx, id))
		add(d.st.Audit(ctx, id))
		add(d.st.Comments(ctx, id))
		add(d.st.Reminders(ctx, id))
	}
	add(d.st.GetUnit(ctx, "site-b", "1-101"))
	add(d.st.GatewayStatuses(ctx, "site-b"))
	add(d.st.AlarmLog(ctx, "site-b", time.Time{}))
	ds := d.srv.Duty().Store()
	add(ds.Sheets(ctx, shift.SheetFilter{Site: "site-b"}))
	add(ds.Entries(ctx, shift.EntryFilter{Site: "site-b"}))
	add(ds.Keys(ctx, "site-b", time.Time{}))
	add(ds.Loans(ctx, shift.LoanFilter{Site: "site-b"}, time.Time{}))
	add(d.st.ListOutages(ctx, "site-b", 100))
	add(d.st.OutageNotices(ctx, "site-b", d.outageB))
	add(d.st.SiteWindows(ctx, "site-b", time.Time{}))
	add(d.st.ListCommands(ctx, "site-b", "", 100))
	add(d.st.CommandAudit(ctx, d.commandB))
	add(d.srv.rounds.Get(ctx, d.roundB, func(string) bool { return true }))
	return out.String()
}

// leaks names what of site B an answer shows.
func leaks(body string) []string {
	var found []string
	for _, s := range []string{secretTitle, secretName, secretPhone, "gw-b-1", "panel-b\",\"family", fireB, doorB} {
		if strings.Contains(body, s) {
			found = append(found, s)
		}
	}
	return found
}

// isoCase is one attack on one route. want are the acceptable answers for a
// caller whose role the route allows (a refused role must get 403).
type isoCase struct {
	name, path, body string
	header           map[string]string
	want             []int
	// check, when set, looks further at a successful answer.
	check func(t *testing.T, role string, body string)
}

// isoCases lists, for each route of the router ("METHOD /path"), the ways
// of naming site B's objects through it.
func (d *isoDesk) isoCases() map[string][]isoCase {
	tk := func(id int64, rest string) string { return fmt.Sprintf("/api/v1/tickets/%d%s", id, rest) }
	round := func(id int64, rest string) string { return fmt.Sprintf("/api/v1/rounds/%d%s", id, rest) }
	noB := func(t *testing.T, role, body string) {}
	byIDs := func(rest string, body string) []isoCase {
		return []isoCase{
			{name: "top-up of B by id", path: tk(d.topUpB, rest), body: body, want: []int{404}},
			{name: "fire of B by id", path: tk(d.fireB, rest), body: body, want: []int{404}},
		}
	}
	return map[string][]isoCase{
		"GET /healthz":                  {{name: "health", path: "/healthz", want: []int{200}}},
		"GET /metrics":                  {{name: "metrics", path: "/metrics", want: []int{200}}},
		"GET /api/v1/openapi.json":      {{name: "document", path: "/api/v1/openapi.json", want: []int{200}}},
		"POST /api/v1/login":            {{name: "B's name as a login", path: "/api/v1/login", body: `{"name":"gw-b","password":"x"}`, want: []int{401}}},
		"GET /api/v1/me":                {{name: "who am I", path: "/api/v1/me", want: []int{200}}},
		"GET /api/v1/staff":             {{name: "B's people", path: "/api/v1/staff", want: []int{200}, check: noB}},
		"POST /api/v1/logout":           {{name: "logout of a token", path: "/api/v1/logout", want: []int{400}}},
		"GET /api/v1/tickets/:id":       byIDs("", ""),
		"GET /api/v1/tickets/:id/audit": byIDs("/audit", ""),
		// The owner's side (owner.go).
		"POST /api/v1/tickets/:id/handover":          byIDs("/handover", `{"role":"owner","to":"eng-a","note":"probe"}`),
		"POST /api/v1/tickets/:id/reply":             byIDs("/reply", `{"note":"probe"}`),
		"GET /api/v1/tickets/:id/calls":              byIDs("/calls", ""),
		"POST /api/v1/tickets/:id/calls":             byIDs("/calls", `{"note":"probe"}`),
		"GET /api/v1/tickets/:id/incident":           byIDs("/incident", ""),
		"PUT /api/v1/tickets/:id/incident":           byIDs("/incident", `{"what_happened":"probe"}`),
		"POST /api/v1/tickets/:id/incident/decision": byIDs("/incident/decision", `{"approve":true}`),
		"GET /api/v1/reviews/daily":                  {{name: "B's daily review", path: "/api/v1/reviews/daily?site=site-b", want: []int{403}}},
		"GET /api/v1/reviews/weekly":                 {{name: "B's weekly review", path: "/api/v1/reviews/weekly?site=site-b", want: []int{403}}},
		"GET /api/v1/tickets/:id/comments":           byIDs("/comments", ""),
		"POST /api/v1/tickets/:id/comments":          byIDs("/comments", `{"body":"probe"}`),
		"GET /api/v1/tickets/:id/reminders":          byIDs("/reminders", ""),
		"POST /api/v1/tickets/:id/reminders":         byIDs("/reminders", `{"channel":"phone"}`),
		"GET /api/v1/tickets/:id/notes":              byIDs("/notes", ""),
		"POST /api/v1/tickets/:id/actions": append(byIDs("/actions", `{"action":"cancel","note":"probe"}`),
			isoCase{name: "reopen B by id", path: tk(d.fireB, "/actions"), body: `{"action":"acknowledge"}`, want: []int{404}}),
		"PATCH /api/v1/tickets/:id": append(byIDs("", `{"cause":"probe"}`),
			isoCase{name: "B's fire made a complaint", path: tk(d.fireB, ""), body: `{"kind":"complaint"}`, want: []int{404}}),
		"GET /api/v1/kinds": {
			{name: "site=site-b", path: "/api/v1/kinds?site=site-b", want: []int{403}},
			{name: "own site", path: "/api/v1/kinds", want: []int{200}, check: noB},
		},
		"POST /api/v1/tickets": {
			{name: "site B named", path: "/api/v1/tickets", body: `{"kind":"request","title":"probe","site":"site-b"}`, want: []int{403}},
			{name: "a complaint linked to B's case", path: "/api/v1/tickets",
				body: fmt.Sprintf(`{"kind":"complaint","title":"probe","site":"site-a","parent_id":%d}`, d.fireB), want: []int{422}},
			{name: "B's fire alarm key on site A (issue 20: read and raise)", path: "/api/v1/tickets",
				body: `{"kind":"emergency","title":"probe","site":"site-a","alarm_key":"` + fireB + `"}`, want: []int{422}},
			{name: "B's fire alarm key squatted by a request", path: "/api/v1/tickets",
				body: `{"kind":"request","title":"probe","site":"site-a","alarm_key":"` + fireB + `"}`, want: []int{422}},
			{name: "B's low-balance key with B's meter", path: "/api/v1/tickets",
				body: `{"kind":"top_up","title":"probe","site":"site-a","device":"meter-b","alarm_key":"site-b/low/meter-b"}`, want: []int{422}},
			{name: "B's unit on site A", path: "/api/v1/tickets",
				body: `{"kind":"top_up","title":"probe","site":"site-a","unit":"1-101","device":"meter-b"}`, want: []int{200, 201},
				check: func(t *testing.T, role, body string) {
					if tk := decodeInto[wire.Ticket](t, body); tk.Site != "site-a" {
						t.Errorf("ticket on %s", tk.Site)
					}
				}},
		},
		"GET /api/v1/tickets": {
			{name: "list", path: "/api/v1/tickets", want: []int{200}, check: noB},
			{name: "site=site-b", path: "/api/v1/tickets?site=site-b", want: []int{403}},
			{name: "search q= B's title", path: "/api/v1/tickets?q=" + secretTitle, want: []int{200}, check: noB},
			{name: "search q= B's phone", path: "/api/v1/tickets?q=" + secretPhone, want: []int{200}, check: noB},
			{name: "by B's device", path: "/api/v1/tickets?device=meter-b", want: []int{200}, check: noB},
			{name: "by unit", path: "/api/v1/tickets?unit=1-101&open=true", want: []int{200}, check: noB},
			{name: "oldest first from 0", path: "/api/v1/tickets?sort=id&limit=500", want: []int{200}, check: noB},
			{name: "my work", path: "/api/v1/tickets?mine=true", want: []int{200}, check: noB},
		},
		"GET /api/v1/sites": {
			{name: "list", path: "/api/v1/sites", want: []int{200}, check: func(t *testing.T, role, body string) {
				if strings.Contains(body, "site-b") {
					t.Errorf("%s sees site B among the sites: %s", role, body)
				}
			}},
		},
		"GET /api/v1/topups": {
			{name: "list", path: "/api/v1/topups", want: []int{200}, check: noB},
			{name: "site=site-b", path: "/api/v1/topups?site=site-b", want: []int{403}},
		},
		"GET /api/v1/units/:site/:unit": {{name: "B's household", path: "/api/v1/units/site-b/1-101", want: []int{403}}},
		"PUT /api/v1/units/:site/:unit": {{name: "B's household overwritten", path: "/api/v1/units/site-b/1-101",
			body: `{"building":"9","residents":[{"name":"Mallory","phone":"1"}]}`, want: []int{403}}},
		"POST /api/v1/households/:site/import": {
			{name: "into site B", path: "/api/v1/households/site-b/import", body: "unit,name,phone\n1-101,Mallory,1\n", want: []int{403}},
			{name: "dry run into site B", path: "/api/v1/households/site-b/import?dry_run=true", body: "unit,name\n1-101,Mallory\n", want: []int{403}},
			{name: "rows naming site B, into site A", path: "/api/v1/households/site-a/import", body: "site,unit,name\nsite-b,1-101,Mallory\n", want: []int{422}},
		},
		"GET /api/v1/households/:site": {
			{name: "B's households", path: "/api/v1/households/site-b", want: []int{403}},
			{name: "B's households as XLSX", path: "/api/v1/households/site-b?format=xlsx", want: []int{403}},
			{name: "A's households", path: "/api/v1/households/site-a", want: []int{200}, check: noB},
		},
		"GET /api/v1/events": {
			{name: "history from 0", path: "/api/v1/events?after=0", want: []int{200}, check: noB},
			{name: "Last-Event-ID 0", path: "/api/v1/events", header: map[string]string{"Last-Event-ID": "0"}, want: []int{200}, check: noB},
		},
		"GET /api/v1/reports/monthly": {
			{name: "B's report", path: "/api/v1/reports/monthly?site=site-b&month=2026-11", want: []int{403}},
			{name: "B's report as CSV", path: "/api/v1/reports/monthly?site=site-b&month=2026-11&format=csv", want: []int{403}},
		},
		"POST /api/v1/alarm-actions": {
			{name: "note on B's fire alarm", path: "/api/v1/alarm-actions",
				body: `{"idempotency_key":"probe-1","alarm_key":"` + fireB + `","action":"note","note":"probe","at":"2026-11-24T02:00:00Z"}`, want: []int{403}},
			{name: "clear B's top-up", path: "/api/v1/alarm-actions",
				body: `{"idempotency_key":"probe-2","alarm_key":"site-b/low/meter-b","action":"clear","close":true,"note":"probe","at":"2026-11-24T02:00:00Z"}`, want: []int{403}},
			{name: "open with B's key on site A", path: "/api/v1/alarm-actions", body: fireAction("probe-3", fireB, "site-a", "probe", "probe"), want: []int{403}},
			{name: "B's idempotency key replayed with B's action (issue 20)", path: "/api/v1/alarm-actions",
				body: fireAction(fireBKey, fireB, "site-b", secretTitle+" fire", ""), want: []int{403}},
			{name: "B's idempotency key on A's own alarm", path: "/api/v1/alarm-actions",
				body: fireAction(fireBKey, "site-a/fire_alarm/panel-a", "site-a", "fire A", ""), want: []int{200, 201},
				check: func(t *testing.T, role, body string) {
					r := decodeInto[wire.AlarmActionResult](t, body)
					if r.Ticket.Site != "site-a" || r.Ticket.ID == d.fireB {
						t.Errorf("answered with %+v", r)
					}
				}},
			{name: "note by idempotency key of B on A's alarm", path: "/api/v1/alarm-actions",
				body: `{"idempotency_key":"` + fireBKey + `","alarm_key":"site-a/low/meter-a","action":"note","note":"x","at":"2026-11-24T02:00:00Z"}`,
				want: []int{200, 422}},
		},
		"POST /api/v1/gateways/heartbeat": {
			{name: "B's gateway id on site A", path: "/api/v1/gateways/heartbeat", body: `{"gateway":"gw-b-1","site":"site-a","devices":[]}`, want: []int{403}},
			{name: "B's gateway id on site B", path: "/api/v1/gateways/heartbeat", body: `{"gateway":"gw-b-1","site":"site-b","devices":[]}`, want: []int{403}},
			{name: "B's command results reported by A's gateway", path: "/api/v1/gateways/heartbeat",
				body: fmt.Sprintf(`{"gateway":"gw-a-1","site":"site-a","devices":[],"results":[{"id":%d,"outcome":"done","at":"2026-11-24T02:00:00Z"}]}`, d.commandB),
				want: []int{200, 204}, check: noB},
			{name: "A's answer holds none of B's windows or commands", path: "/api/v1/gateways/heartbeat",
				body: `{"gateway":"gw-a-1","site":"site-a","devices":[{"id":"panel-a","family":"fire_panel","state":"online"}]}`,
				want: []int{200, 204}, check: noB},
		},
		"GET /api/v1/gateways": {
			{name: "list", path: "/api/v1/gateways", want: []int{200}, check: noB},
			{name: "site=site-b", path: "/api/v1/gateways?site=site-b", want: []int{200}, check: noB},
		},
		"GET /api/v1/alarms": {
			{name: "list", path: "/api/v1/alarms", want: []int{200}, check: noB},
			{name: "site=site-b", path: "/api/v1/alarms?site=site-b", want: []int{200}, check: noB},
		},
		"POST /api/v1/alarms/ack": {
			{name: "B's forced door", path: "/api/v1/alarms/ack", body: `{"key":"` + doorB + `"}`, want: []int{404}},
			{name: "B's fire alarm", path: "/api/v1/alarms/ack", body: `{"key":"` + fireB + `"}`, want: []int{404}},
		},
		"GET /api/v1/devices": {
			{name: "list", path: "/api/v1/devices", want: []int{200}, check: noB},
			{name: "site=site-b", path: "/api/v1/devices?site=site-b", want: []int{200}, check: noB},
		},
		"GET /api/v1/devices/:id/latest": {{name: "B's panel", path: "/api/v1/devices/panel-b/latest?site=site-b", want: []int{404}}},
		"GET /api/v1/devices/:id/history": {
			{name: "B's panel", path: "/api/v1/devices/panel-b/history?site=site-b&point=x", want: []int{404}},
			{name: "B's panel around a moment", path: "/api/v1/devices/panel-b/history?site=site-b&point=x&at=2026-11-24T01:59:00Z", want: []int{404}},
		},
		"GET /api/v1/devices/:id/alarms": {{name: "B's panel", path: "/api/v1/devices/panel-b/alarms", want: []int{404}}},
		"GET /*":                         {{name: "console", path: "/tickets/" + fmt.Sprint(d.fireB), want: []int{200}}},
		// The control room's shifts, duty log and keys (duty.go).
		"GET /api/v1/duty": {
			{name: "own site", path: "/api/v1/duty", want: []int{200}, check: noB},
			{name: "site=site-b", path: "/api/v1/duty?site=site-b", want: []int{403}},
		},
		"GET /api/v1/duty/on-duty": {
			{name: "own site", path: "/api/v1/duty/on-duty?department=control_room", want: []int{200}, check: noB},
			{name: "site=site-b", path: "/api/v1/duty/on-duty?department=control_room&site=site-b", want: []int{403}},
		},
		"POST /api/v1/duty/entries": {{name: "into B's log", path: "/api/v1/duty/entries", body: `{"site":"site-b","kind":"note","body":"probe"}`, want: []int{403}}},
		"POST /api/v1/duty/sheets": {
			{name: "B's sheet rebuilt", path: "/api/v1/duty/sheets", body: `{"site":"site-b"}`, want: []int{403}},
			{name: "B's sheet by query", path: "/api/v1/duty/sheets?site=site-b", body: `{}`, want: []int{403}},
		},
		"GET /api/v1/duty/sheets/:id": {
			{name: "B's sheet by id", path: fmt.Sprintf("/api/v1/duty/sheets/%d", d.sheetB), want: []int{404}},
			{name: "B's sheet by id and site", path: fmt.Sprintf("/api/v1/duty/sheets/%d?site=site-b", d.sheetB), want: []int{403}},
		},
		"POST /api/v1/duty/sheets/:id/sign": {
			{name: "B's sheet signed", path: fmt.Sprintf("/api/v1/duty/sheets/%d/sign", d.sheetB), body: `{}`, want: []int{404}},
			{name: "B's sheet signed naming B", path: fmt.Sprintf("/api/v1/duty/sheets/%d/sign?site=site-b", d.sheetB), body: `{}`, want: []int{403}},
		},
		"POST /api/v1/duty/sheets/:id/accept": {
			{name: "B's sheet accepted", path: fmt.Sprintf("/api/v1/duty/sheets/%d/accept", d.sheetB), body: `{"keys_counted":0}`, want: []int{404}},
		},
		"GET /api/v1/duty/log": {
			{name: "search B's words (the search ignores case; the answer repeats q)", path: "/api/v1/duty/log?q=" + strings.ToLower(secretTitle), want: []int{200}, check: noB},
			{name: "own log", path: "/api/v1/duty/log?from=2026-11-01&to=2026-12-01", want: []int{200}, check: noB},
			{name: "site=site-b", path: "/api/v1/duty/log?site=site-b", want: []int{403}},
		},
		"GET /api/v1/keys": {
			{name: "own register", path: "/api/v1/keys", want: []int{200}, check: noB},
			{name: "site=site-b", path: "/api/v1/keys?site=site-b", want: []int{403}},
		},
		"POST /api/v1/keys": {
			{name: "into B's register", path: "/api/v1/keys", body: `{"site":"site-b","label":"KB-2","name":"probe"}`, want: []int{403}},
			{name: "B's label on A", path: "/api/v1/keys", body: `{"label":"KB-1","name":"probe"}`, want: []int{201, 409}},
		},
		"POST /api/v1/keys/:id/lend": {
			{name: "B's key lent", path: fmt.Sprintf("/api/v1/keys/%d/lend", d.keyB), body: `{"borrower":"Mallory"}`, want: []int{404}},
			{name: "B's key lent naming B", path: fmt.Sprintf("/api/v1/keys/%d/lend?site=site-b", d.keyB), body: `{"borrower":"Mallory"}`, want: []int{403}},
		},
		"POST /api/v1/keys/:id/return": {{name: "B's key returned", path: fmt.Sprintf("/api/v1/keys/%d/return", d.keyB), want: []int{404}}},
		// Planned outages and commands (outages.go, commands.go).
		"GET /api/v1/outages": {
			{name: "list", path: "/api/v1/outages", want: []int{200}, check: noB},
			{name: "site=site-b", path: "/api/v1/outages?site=site-b", want: []int{200}, check: noB},
		},
		"POST /api/v1/outages": {
			{name: "site B named", path: "/api/v1/outages", body: `{"site":"site-b","buildings":["1"],"start":"2026-11-24T03:00:00Z","end":"2026-11-24T04:00:00Z","reason":"probe"}`, want: []int{403}},
			{name: "B's feeder on site A", path: "/api/v1/outages", body: `{"feeder":"feeder-b","start":"2026-11-24T03:00:00Z","end":"2026-11-24T04:00:00Z","reason":"probe"}`, want: []int{422}},
		},
		"GET /api/v1/outages/:id":          {{name: "B's outage by id", path: fmt.Sprintf("/api/v1/outages/%d", d.outageB), want: []int{404}}},
		"POST /api/v1/outages/:id/approve": {{name: "B's outage approved", path: fmt.Sprintf("/api/v1/outages/%d/approve", d.outageB), want: []int{404}}},
		"POST /api/v1/outages/:id/reject":  {{name: "B's outage rejected", path: fmt.Sprintf("/api/v1/outages/%d/reject", d.outageB), want: []int{404}}},
		"POST /api/v1/outages/:id/cancel":  {{name: "B's outage cancelled", path: fmt.Sprintf("/api/v1/outages/%d/cancel", d.outageB), want: []int{404}}},
		"GET /api/v1/commands": {
			{name: "list", path: "/api/v1/commands", want: []int{200}, check: noB},
			{name: "site=site-b", path: "/api/v1/commands?site=site-b&device=meter-b", want: []int{200}, check: noB},
		},
		"POST /api/v1/commands": {
			{name: "site B named", path: "/api/v1/commands", body: `{"site":"site-b","device":"meter-b","action":"relay_trip","reason":"probe"}`, want: []int{403}},
			{name: "B's meter on site A", path: "/api/v1/commands", body: `{"device":"meter-b","action":"relay_trip","reason":"probe"}`, want: []int{422}},
		},
		"GET /api/v1/commands/:id":          {{name: "B's command by id", path: fmt.Sprintf("/api/v1/commands/%d", d.commandB), want: []int{404}}},
		"POST /api/v1/commands/:id/approve": {{name: "B's command approved", path: fmt.Sprintf("/api/v1/commands/%d/approve", d.commandB), want: []int{404}}},
		"POST /api/v1/commands/:id/reject":  {{name: "B's command rejected", path: fmt.Sprintf("/api/v1/commands/%d/reject", d.commandB), want: []int{404}}},
		"GET /api/v1/rounds": {
			{name: "today's rounds", path: "/api/v1/rounds", want: []int{200}, check: noB},
			{name: "site=site-b", path: "/api/v1/rounds?site=site-b", want: []int{403}},
		},
		"GET /api/v1/rounds/routes":     {{name: "routes and their labels", path: "/api/v1/rounds/routes", want: []int{200}, check: noB}},
		"GET /api/v1/rounds/:id":        {{name: "B's round by id", path: round(d.roundB, ""), want: []int{404}}},
		"POST /api/v1/rounds/:id/start": {{name: "start B's round", path: round(d.roundB, "/start"), want: []int{404}}},
		"POST /api/v1/rounds/:id/visits": {
			{name: "confirm B's checkpoint on B's round", path: round(d.roundB, "/visits"), body: `{"code":"B-CP","method":"manual"}`, want: []int{404}},
			{name: "B's checkpoint on A's round", path: round(d.roundA, "/visits"), body: `{"code":"B-CP","method":"manual"}`, want: []int{422}},
		},
		"POST /api/v1/rounds/:id/results": {
			{name: "answer on B's round", path: round(d.roundB, "/results"), body: `{"checkpoint":"B-CP","item":"ok","outcome":"pass"}`, want: []int{404}},
			{name: "B's checkpoint on A's round", path: round(d.roundA, "/results"), body: `{"checkpoint":"B-CP","item":"ok","outcome":"pass"}`, want: []int{422}},
		},
		"POST /api/v1/rounds/:id/finish": {{name: "finish B's round", path: round(d.roundB, "/finish"), want: []int{404}}},
		"POST /api/v1/rounds/reader-visits": {
			{name: "a visit on site B", path: "/api/v1/rounds/reader-visits", body: `{"site":"site-b","checkpoint":"B-CP","reader":"patrol-b","at":"2026-11-24T01:59:00Z"}`, want: []int{403}},
			{name: "B's checkpoint on site A", path: "/api/v1/rounds/reader-visits", body: `{"checkpoint":"B-CP","reader":"patrol-b","at":"2026-11-24T01:59:00Z"}`, want: []int{422}},
		},
	}
}

// TestSiteIsolation walks every route of the router: each must have cases,
// and no site-A caller of any role sees or changes anything of site B.
func TestSiteIsolation(t *testing.T) {
	isoBackends(t, func(t *testing.T, open func(t *testing.T) *store.Store) {
		d := newIsoDesk(t, open(t))
		cases := d.isoCases()
		maps.Copy(cases, d.privacyIsoCases(t)) // areas, access log, SMS (privacy_test.go)
		maps.Copy(cases, d.plantIsoCases(t))   // isolation_plant_test.go
		allowed := map[string][]string{}
		for _, r := range routes(d.srv) {
			allowed[r.method+" /api/v1"+r.path] = r.roles
		}
		before := d.siteB(t)
		for _, r := range d.srv.echo.Routes() {
			if strings.Contains(r.Method, "not_found") || strings.HasPrefix(r.Method, "echo_route") {
				continue
			}
			route := r.Method + " " + r.Path
			cs, ok := cases[route]
			if !ok {
				t.Errorf("route %s has no isolation case: add the ways of naming another site's objects through it to isoCases", route)
				continue
			}
			for _, c := range cs {
				// Every role's site-A token, and a site-A staff account's console session.
				for _, caller := range append(slices.Clone(isoRoles), "session") {
					t.Run(route+"/"+c.name+"/"+caller, func(t *testing.T) {
						role, token := caller, isoTokens[caller]
						if caller == "session" {
							role, token = RoleAssistant, d.login(t)
						}
						code, body := d.isoCall(t, r.Method, c, token)
						want := c.want
						if caller == "session" && route == "POST /api/v1/logout" {
							want = []int{204} // a session, not a token: it ends
						}
						if roles, ok := allowed[route]; ok && !slices.Contains(roles, role) {
							want = []int{403}
						}
						if !slices.Contains(want, code) {
							t.Errorf("status %d, want %v: %s", code, want, body)
						}
						if l := leaks(body); len(l) > 0 {
							t.Errorf("answer shows site B's %v: %s", l, body)
						}
						if c.check != nil && code < 300 {
							c.check(t, role, body)
						}
					})
				}
			}
		}
		if after := d.siteB(t); after != before {
			t.Errorf("site B changed:\nbefore %s\nafter  %s", before, after)
		}
	})
}

// login opens a console session of amy, the site-A assistant.
func (d *isoDesk) login(t *testing.T) string {
	t.Helper()
	code, body := d.call(t, "POST", "/api/v1/login", "", `{"name":"amy","password":"correct horse"}`)
	if code != 200 {
		t.Fatalf("login: %d %s", code, body)
	}
	return decodeInto[struct{ Token string }](t, body).Token
}

func (d *isoDesk) isoCall(t *testing.T, method string, c isoCase, token string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	if strings.HasPrefix(c.path, "/api/v1/events") {
		ctx, cancel = context.WithTimeout(context.Background(), 300*time.Millisecond) // the stream runs until its client goes
	}
	defer cancel()
	req := httptest.NewRequestWithContext(ctx, method, c.path, strings.NewReader(c.body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	d.h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

// The attacks of issue 20, one by one, with what the desk answers now.
func TestIssue20Attacks(t *testing.T) {
	isoBackends(t, func(t *testing.T, open func(t *testing.T) *store.Store) {
		d := newIsoDesk(t, open(t))
		ctx := context.Background()
		gwA, staffA := isoTokens[RoleGateway], isoTokens[RoleAssistant]
		report := func(attack string, code int, body string) {
			t.Logf("%s → %d %s", attack, code, strings.TrimSpace(body))
		}

		t.Run("cross-site read and write through alarm_key", func(t *testing.T) {
			before := d.siteB(t)
			for _, token := range []string{gwA, staffA} {
				code, body := d.call(t, "POST", "/api/v1/tickets", token,
					`{"kind":"emergency","title":"probe","site":"site-a","alarm_key":"`+fireB+`"}`)
				report("POST /tickets site-a with site B's alarm_key", code, body)
				if code != 422 || len(leaks(body)) > 0 {
					t.Errorf("%d %s", code, body)
				}
			}
			// Even an all-sites account cannot file a key under another site.
			code, body := d.call(t, "POST", "/api/v1/tickets", isoRoot, `{"kind":"request","title":"probe","site":"site-a","alarm_key":"`+fireB+`"}`)
			report("POST /tickets by an all-sites admin, site-a with site B's key", code, body)
			if code != 422 {
				t.Errorf("%d %s", code, body)
			}
			if after := d.siteB(t); after != before {
				t.Errorf("site B changed (priority raise?):\n%s\n%s", before, after)
			}
		})

		t.Run("alarm-key squatting", func(t *testing.T) {
			const key = "site-b/fire_alarm/panel-b2"
			code, body := d.call(t, "POST", "/api/v1/tickets", gwA, `{"kind":"request","title":"harmless","site":"site-a","alarm_key":"`+key+`"}`)
			report("site A squats site B's fire-alarm key", code, body)
			if code != 422 {
				t.Errorf("%d %s", code, body)
			}
			// A squatter row written straight to the store (a database of
			// before this fix) holds the key on its own site only.
			if _, _, err := d.st.CreateTicket(ctx, wire.NewTicket{Kind: wire.Request, Title: "squat", Site: "site-a", AlarmKey: key}, "old", d.clock.Now()); err != nil {
				t.Fatal(err)
			}
			code, body = d.call(t, "POST", "/api/v1/alarm-actions", isoGatewayB, fireAction(key+"@x/open", key, "site-b", "real fire", ""))
			report("site B's real fire alarm after the squat", code, body)
			r := decodeInto[wire.AlarmActionResult](t, body)
			if code != 201 || !r.Created || r.Ticket.Site != "site-b" || r.Ticket.Kind != wire.Emergency {
				t.Errorf("site B's fire alarm: %d %s", code, body)
			}
		})

		t.Run("idempotency replay across sites", func(t *testing.T) {
			code, body := d.call(t, "POST", "/api/v1/alarm-actions", gwA, fireAction(fireBKey, fireB, "site-b", "probe", ""))
			report("site A replays site B's idempotency key and action", code, body)
			if code != 403 || len(leaks(body)) > 0 {
				t.Errorf("%d %s", code, body)
			}
			code, body = d.call(t, "POST", "/api/v1/alarm-actions", gwA, fireAction(fireBKey, "site-a/fire_alarm/panel-a9", "site-a", "fire A", ""))
			report("site A uses site B's idempotency key for its own alarm", code, body)
			r := decodeInto[wire.AlarmActionResult](t, body)
			if code != 201 || r.Replayed || r.Ticket.Site != "site-a" || len(leaks(body)) > 0 {
				t.Errorf("%d %s", code, body)
			}
			// The same key by the admin (another caller) is another key too.
			code, body = d.call(t, "POST", "/api/v1/alarm-actions", isoRoot, `{"idempotency_key":"`+fireBKey+`","alarm_key":"`+fireB+`","action":"note","note":"root note","at":"2026-11-24T02:00:00Z"}`)
			report("an all-sites admin with site B's key (another caller)", code, body)
			if r := decodeInto[wire.AlarmActionResult](t, body); code != 200 || r.Replayed || r.Ticket.ID != d.fireB {
				t.Errorf("%d %s", code, body)
			}
		})

		t.Run("Idempotency-Key header across callers", func(t *testing.T) {
			post := func(token, body string) (int, string, string) {
				req := httptest.NewRequest("POST", "/api/v1/tickets", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("Idempotency-Key", "shared-key")
				rec := httptest.NewRecorder()
				d.h.ServeHTTP(rec, req)
				return rec.Code, rec.Body.String(), rec.Header().Get("Idempotent-Replayed")
			}
			code, body, _ := post(isoGatewayB, `{"kind":"request","title":"`+secretTitle+` lift","site":"site-b"}`)
			if code != 201 {
				t.Fatalf("site B: %d %s", code, body)
			}
			code, body, replayed := post(gwA, `{"kind":"request","title":"`+secretTitle+` lift","site":"site-b"}`)
			report("site A replays site B's Idempotency-Key and body on POST /tickets", code, body)
			if code != 403 || replayed != "" || len(leaks(body)) > 0 {
				t.Errorf("%d %s (replayed %q)", code, body, replayed)
			}
			code, body, replayed = post(gwA, `{"kind":"request","title":"lift A","site":"site-a"}`)
			report("site A uses site B's Idempotency-Key for its own ticket", code, body)
			if code != 201 || replayed != "" || len(leaks(body)) > 0 {
				t.Errorf("%d %s (replayed %q)", code, body, replayed)
			}
			code, body, _ = post(gwA, `{"kind":"request","title":"lift A again","site":"site-a"}`)
			report("site A's key again with another body", code, body)
			if code != 422 {
				t.Errorf("%d %s", code, body)
			}
		})

		t.Run("same key, different body", func(t *testing.T) {
			code, body := d.call(t, "POST", "/api/v1/alarm-actions", isoGatewayB, fireAction(fireBKey, fireB, "site-b", secretTitle+" fire", "changed"))
			report("site B's key again with another body", code, body)
			if code != 422 || !strings.Contains(body, "different") {
				t.Errorf("%d %s", code, body)
			}
			code, body = d.call(t, "POST", "/api/v1/alarm-actions", isoGatewayB, fireAction(fireBKey, fireB, "site-b", secretTitle+" fire", ""))
			report("site B's key again with the same body", code, body)
			if r := decodeInto[wire.AlarmActionResult](t, body); code != 200 || !r.Replayed || r.Ticket.ID != d.fireB {
				t.Errorf("%d %s", code, body)
			}
		})

		t.Run("heartbeat naming another site's gateway", func(t *testing.T) {
			for _, site := range []string{"site-a", "site-b"} {
				code, body := d.call(t, "POST", "/api/v1/gateways/heartbeat", gwA, `{"gateway":"gw-b-1","site":"`+site+`","devices":[]}`)
				report("site A's gateway reports gw-b-1 on "+site, code, body)
				if code != 403 {
					t.Errorf("%d %s", code, body)
				}
			}
			gs, err := d.st.GatewayStatuses(ctx, "")
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, g := range gs {
				if g.Gateway == "gw-b-1" {
					found = g.Site == "site-b" && len(g.Devices) == 1 && g.Devices[0].ID == "panel-b"
				}
			}
			if !found {
				t.Errorf("site B's gateway status changed: %+v", gs)
			}
		})

		t.Run("50 parallel requests with one key store one effect", func(t *testing.T) {
			parallel := func(n int, do func() (int, string)) map[int]int {
				var mu sync.Mutex
				codes := map[int]int{}
				var wg sync.WaitGroup
				for range n {
					wg.Go(func() {
						code, body := do()
						mu.Lock()
						codes[code]++
						mu.Unlock()
						if code >= 500 {
							t.Errorf("%d %s", code, body)
						}
					})
				}
				wg.Wait()
				return codes
			}
			comments := func(id int64) int {
				cs, err := d.st.Comments(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				return len(cs)
			}
			// Comments with one Idempotency-Key.
			before := comments(d.topUpA)
			codes := parallel(50, func() (int, string) {
				req := httptest.NewRequest("POST", fmt.Sprintf("/api/v1/tickets/%d/comments", d.topUpA), strings.NewReader(`{"body":"called"}`))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+staffA)
				req.Header.Set("Idempotency-Key", "one-key")
				rec := httptest.NewRecorder()
				d.h.ServeHTTP(rec, req)
				return rec.Code, rec.Body.String()
			})
			t.Logf("50 parallel comments with one Idempotency-Key: answers %v, comments stored %d", codes, comments(d.topUpA)-before)
			if n := comments(d.topUpA) - before; n != 1 {
				t.Errorf("%d comments stored, want 1 (answers %v)", n, codes)
			}
			// Alarm-action notes with one idempotency key.
			before = comments(d.topUpA)
			codes = parallel(50, func() (int, string) {
				return d.call(t, "POST", "/api/v1/alarm-actions", gwA,
					`{"idempotency_key":"note-1","alarm_key":"site-a/low/meter-a","action":"note","note":"still low","at":"2026-11-24T02:00:00Z"}`)
			})
			t.Logf("50 parallel alarm-action notes with one key: answers %v, notes stored %d", codes, comments(d.topUpA)-before)
			if n := comments(d.topUpA) - before; n != 1 || codes[200] != 50 {
				t.Errorf("%d notes stored, want 1 (answers %v)", n, codes)
			}
			// Alarm-action opens with one key: one ticket.
			codes = parallel(50, func() (int, string) {
				return d.call(t, "POST", "/api/v1/alarm-actions", gwA, fireAction("open-1", "site-a/fire_alarm/zone-7", "site-a", "fire zone 7", ""))
			})
			ts, err := d.st.ListTickets(ctx, store.Filter{Site: "site-a", Search: "fire zone 7", Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("50 parallel alarm-action opens with one key: answers %v, tickets %d", codes, len(ts))
			if len(ts) != 1 || codes[201] != 1 || codes[200] != 49 {
				t.Errorf("%d tickets, answers %v", len(ts), codes)
			}
		})
	})
}

// The event stream carries the caller's site only, without residents'
// contacts for engineers and the control room, history included; it ends
// when its session does.
func TestEventStreamIsolation(t *testing.T) {
	d := newIsoDesk(t, openIsoStore(t, store.SQLiteDialect, filepath.Join(t.TempDir(), "desk.db")))
	ts := httptest.NewServer(d.h)
	defer ts.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// read collects a stream's data lines from ?after=0 until the stream has
	// caught up (the first keep-alive or the deadline) or ends.
	stream := func(token string) (*http.Response, *bufio.Reader) {
		req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL+"/api/v1/events?after=0", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 {
			t.Fatalf("stream: %d", resp.StatusCode)
		}
		r := bufio.NewReader(resp.Body)
		if err := awaitStreamStart(r); err != nil {
			t.Fatal(err)
		}
		return resp, r
	}
	// history reads the events there are: the seed wrote a known number for site A.
	history := func(r *bufio.Reader, n int) []string {
		var out []string
		for len(out) < n {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("stream ended after %d events: %v", len(out), err)
			}
			if data, ok := strings.CutPrefix(strings.TrimSpace(line), "data: "); ok {
				out = append(out, data)
			}
		}
		return out
	}
	all, err := d.st.Events(ctx, 0, "site-a", 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, role := range []string{RoleEngineer, RoleControlRoom, RoleAssistant, RoleManager} {
		resp, r := stream(isoTokens[role])
		evs := history(r, len(all))
		resp.Body.Close()
		joined := strings.Join(evs, "\n")
		if l := leaks(joined); len(l) > 0 {
			t.Errorf("%s: site B's %v in the stream", role, l)
		}
		seesPhone := strings.Contains(joined, "13900000001")
		if want := role == RoleAssistant || role == RoleManager; seesPhone != want {
			t.Errorf("%s: resident's phone shown %v, want %v: %s", role, seesPhone, want, joined)
		}
	}

	ends := func(what string, r *bufio.Reader) {
		done := make(chan error, 1)
		go func() {
			_, err := io.Copy(io.Discard, r)
			done <- err
		}()
		select {
		case err := <-done:
			t.Logf("stream ended after %s (%v)", what, err)
		case <-time.After(3 * eventPoll):
			t.Errorf("stream still open %s after %s", 3*eventPoll, what)
		}
	}
	session := d.login(t)
	resp, r := stream(session)
	defer resp.Body.Close()
	if code, body := d.call(t, "POST", "/api/v1/logout", session, ""); code != 204 {
		t.Fatalf("logout: %d %s", code, body)
	}
	ends("logout", r)

	session = d.login(t)
	resp2, r2 := stream(session)
	defer resp2.Body.Close()
	d.clock.Advance(2 * time.Hour)
	ends("expiry", r2)
}
