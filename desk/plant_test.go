package desk

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/estatehq/estate/desk/history"
	"github.com/estatehq/estate/desk/maintenance"
	"github.com/estatehq/estate/desk/store"
	"github.com/estatehq/estate/internal/config"
	"github.com/estatehq/estate/internal/testenv"
	"github.com/estatehq/estate/internal/wire"
)

func mustCall(t *testing.T, d *testDesk, want int, method, path, token, body string) string {
	t.Helper()
	code, out := d.call(t, method, path, token, body)
	if code != want {
		t.Fatalf("%s %s: %d, want %d: %s", method, path, code, want, out)
	}
	return out
}

const registerCSV = `编号,名称,类别,网关设备,楼栋,位置,品牌,型号,序列号,安装日期,保修到期,供应商,维保单位
gen-1,1号柴油发电机,generator,power-1-b1,1,B1 发电机房,Cummins,C550D5,CU2024-0815,2024-03-01,2026-12-20,康明斯华东,沪电维保
tx-1,1号变压器,transformer,,1,B1 配电房,TBEA,SCB13-1250,TB-88123,2023-06-01,2027-06-01,特变电工,沪电维保
lift-1-a,1栋A梯,elevator,lift-1-a,1,1栋A单元,Otis,GeN2,OT-55120,2022-01-10,2025-01-10,奥的斯,奥的斯维保
`

func heartbeat(t *testing.T, d *testDesk, devices string) {
	t.Helper()
	mustCall(t, d, 204, "POST", "/api/v1/gateways/heartbeat", gatewayToken,
		`{"gateway":"gw-a","site":"site-a","interval":10000000000,"devices":[`+devices+`]}`)
}

// TestEquipmentRegister imports a register, refuses a bad table whole,
// lists it with the gateways' devices, exports it back and reminds of a
// warranty a month before it ends, once.
func TestEquipmentRegister(t *testing.T) { plantBackends(t, testEquipmentRegister) }

func testEquipmentRegister(t *testing.T, d *testDesk) {
	heartbeat(t, d, `{"id":"power-1-b1","family":"power","state":"online"},{"id":"meter-1-1-101","family":"meter","building":"1","state":"online"}`)

	// A table with a missing and a duplicate serial is refused whole.
	bad := registerCSV + "pump-1,1号水泵,pump,,1,B1,,,,,,,\npump-2,2号水泵,pump,,1,B1,,,TB-88123,,,,\n"
	code, out := d.call(t, "POST", "/api/v1/equipment/site-a/import?name=台账.csv", adminToken, bad)
	if code != 422 || !strings.Contains(out, `"file":"台账.csv","row":5,"column":"serial"`) || !strings.Contains(out, "TB-88123 is also row 3") {
		t.Fatalf("bad table: %d %s", code, out)
	}
	if out := mustCall(t, d, 200, "GET", "/api/v1/equipment", adminToken, ""); strings.Contains(out, "gen-1") {
		t.Fatalf("a refused table imported something: %s", out)
	}
	out = mustCall(t, d, 200, "POST", "/api/v1/equipment/site-a/import?name=台账.csv", adminToken, registerCSV)
	if !strings.Contains(out, `"imported":true`) || !strings.Contains(out, `"items":3`) {
		t.Fatalf("import: %s", out)
	}
	// Site-bound callers import into their own site only.
	if code, _ := d.call(t, "POST", "/api/v1/equipment/site-b/import", gatewayToken, registerCSV); code != 403 {
		t.Errorf("gateway import: %d", code)
	}
	list := decodeInto[struct {
		Equipment []RegisterEntry `json:"equipment"`
	}](t, mustCall(t, d, 200, "GET", "/api/v1/equipment", roleTokens[RoleEngineer], ""))
	byID := map[string]RegisterEntry{}
	for _, e := range list.Equipment {
		byID[e.ID] = e
	}
	if g := byID["gen-1"]; !g.Registered || g.Reported == nil || g.Reported.State != "online" {
		t.Errorf("gen-1 with its device: %+v", g)
	}
	if m := byID["meter-1-1-101"]; m.Registered || m.Reported == nil || m.Class != "meter" {
		t.Errorf("a reported device not registered: %+v", m)
	}
	if len(list.Equipment) != 4 {
		t.Errorf("%d entries, want 3 registered and 1 reported", len(list.Equipment))
	}
	// The clock is 2026-11-24: gen-1's warranty ends 2026-12-20, within 30 days.
	if !byID["gen-1"].WarrantyEnding || byID["tx-1"].WarrantyEnding || byID["lift-1-a"].WarrantyEnding {
		t.Errorf("warranty flags: gen-1 %v tx-1 %v lift %v", byID["gen-1"].WarrantyEnding, byID["tx-1"].WarrantyEnding, byID["lift-1-a"].WarrantyEnding)
	}

	// Export and import back: the same register.
	csv := mustCall(t, d, 200, "GET", "/api/v1/equipment/site-a?format=csv", adminToken, "")
	if !strings.Contains(csv, "gen-1,1号柴油发电机,generator,power-1-b1") {
		t.Errorf("export: %s", csv)
	}
	out = mustCall(t, d, 200, "POST", "/api/v1/equipment/site-a/import?dry_run=true&name=back.csv", adminToken, csv)
	if !strings.Contains(out, `"items":3`) || !strings.Contains(out, `"problems":[]`) {
		t.Errorf("export imports back: %s", out)
	}
	xlsx := mustCall(t, d, 200, "GET", "/api/v1/equipment/site-a?format=xlsx", adminToken, "")
	out = mustCall(t, d, 200, "POST", "/api/v1/equipment/site-a/import?dry_run=true&name=back.xlsx", adminToken, xlsx)
	if !strings.Contains(out, `"items":3`) {
		t.Errorf("XLSX export imports back: %s", out)
	}

	// One entry by hand: a second piece with gen-1's serial is a conflict.
	code, out = d.call(t, "PUT", "/api/v1/equipment/site-a/gen-2", adminToken, `{"name":"2号发电机","serial":"CU2024-0815"}`)
	if code != 409 || !strings.Contains(out, "serial already registered") {
		t.Errorf("serial taken: %d %s", code, out)
	}
	code, out = d.call(t, "PUT", "/api/v1/equipment/site-a/ext-1", adminToken, `{"name":"灭火器","serial":""}`)
	if code != 422 || !strings.Contains(out, `"field":"serial"`) {
		t.Errorf("no serial: %d %s", code, out)
	}
	mustCall(t, d, 200, "PUT", "/api/v1/equipment/site-a/ext-1", adminToken,
		`{"name":"B1 灭火器组","class":"fire_extinguisher","serial":"EXT-B1-01","location":"B1 配电房","warranty_end":"2027-01-01"}`)

	// The warranty reminder: once, however often the desk steps.
	for range 2 {
		if _, err := d.srv.StepMaintenance(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	ts, err := d.st.ListTickets(context.Background(), store.Filter{Site: "site-a", Kind: wire.Request, Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 1 || ts[0].Category != WarrantyCategory || ts[0].Device != "power-1-b1" || !strings.Contains(ts[0].Title, "2026-12-20") {
		t.Fatalf("warranty reminders: %+v", ts)
	}
	// The entry's history shows it.
	out = mustCall(t, d, 200, "GET", "/api/v1/equipment/site-a/gen-1", adminToken, "")
	if !strings.Contains(out, `"category":"warranty"`) {
		t.Errorf("history of gen-1: %s", out)
	}
	// ext-1's warranty comes within a month on 2026-12-02.
	d.clock.Advance(8 * 24 * time.Hour)
	if n, err := d.srv.StepMaintenance(context.Background()); err != nil || n != 1 {
		t.Errorf("ext-1's reminder: %d %v", n, err)
	}
}

// TestMaintenanceCalendarPlan makes a plan from a template, refuses bad
// plans with the field, opens an order when it comes due with its deadline
// and checklist, escalates it like a repair when late, and completes it.
func TestMaintenanceCalendarPlan(t *testing.T) {
	plantBackends(t, testMaintenanceCalendarPlan)
}

// plantBackends runs a test on SQLite and on PostgreSQL (ESTATE_TEST_POSTGRES_URL;
// in CI its absence fails).
func plantBackends(t *testing.T, test func(t *testing.T, d *testDesk)) {
	t.Run("sqlite", func(t *testing.T) { test(t, newDesk(t, nil)) })
	t.Run("postgres", func(t *testing.T) {
		if os.Getenv("ESTATE_TEST_POSTGRES_URL") == "" && os.Getenv("CI") != "true" {
			t.Skip("ESTATE_TEST_POSTGRES_URL not set")
		}
		d := newDesk(t, nil)
		st, err := store.Open(context.Background(), store.PostgresDialect, testenv.PostgreSQL(t), store.Policy{Location: d.srv.siteLocation})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		srv := New(d.srv.cfg, st, d.srv.log, WithClock(d.clock.Now), WithLocation(d.srv.location))
		test(t, &testDesk{srv: srv, h: srv.Handler(), st: st, clock: d.clock})
	})
}

func testMaintenanceCalendarPlan(t *testing.T, d *testDesk) {
	mustCall(t, d, 200, "POST", "/api/v1/equipment/site-a/import", adminToken, registerCSV)

	for _, c := range []struct{ body, want string }{
		{`{"name":"x","equipment":"lift-1-a","checklist":[{"id":"a","text":"a","kind":"check"}]}`, "no trigger"},
		{`{"name":"x","equipment":"lift-1-a","calendar":{"every":1,"unit":"year","month":2,"day":31,"start":"2026-01-01"},"checklist":[{"id":"a","text":"a","kind":"check"}]}`, "February 31 does not exist"},
		{`{"template":"no-such"}`, "no template"},
		// A usage trigger on equipment without a device.
		{`{"template":"generator-weekly","equipment":"tx-1"}`, "tx-1 has no gateway device"},
		// A reading with limits on a check item: outside its type.
		{`{"name":"x","equipment":"tx-1","calendar":{"every":1,"unit":"day","start":"2026-01-01"},"checklist":[{"id":"a","text":"a","kind":"check","min":1}]}`, "only a reading has limits"},
	} {
		code, out := d.call(t, "PUT", "/api/v1/maintenance/site-a/plans/bad", adminToken, c.body)
		if code != 422 || !strings.Contains(out, c.want) {
			t.Errorf("plan %s: %d %s, want 422 with %q", c.body, code, out, c.want)
		}
	}
	// The elevator template, for the class: every 15 days from today (2026-11-24, site time) at 09:00.
	out := mustCall(t, d, 200, "PUT", "/api/v1/maintenance/site-a/plans/lifts", adminToken, `{"template":"elevator-half-monthly","class":"elevator","contractor":"奥的斯维保"}`)
	v := decodeInto[PlanView](t, out)
	if len(v.Targets) != 1 || v.Targets[0].Equipment != "lift-1-a" || v.Targets[0].Next.Explain != "due now (calendar): due on 11-24 09:00" {
		t.Fatalf("plan view: %s", out)
	}
	// 02:00 UTC is 10:00 in Shanghai: the first occurrence (09:00) has
	// come (and gen-1's warranty reminder with it).
	if n, err := d.srv.StepMaintenance(context.Background()); err != nil || n != 2 {
		t.Fatalf("step: %d %v", n, err)
	}
	if n, _ := d.srv.StepMaintenance(context.Background()); n != 0 {
		t.Fatalf("a second step opened %d more", n)
	}
	orders := decodeInto[struct {
		Orders []maintenance.Order `json:"orders"`
	}](t, mustCall(t, d, 200, "GET", "/api/v1/maintenance/site-a/orders?status=open", roleTokens[RoleEngineer], "")).Orders
	if len(orders) != 1 {
		t.Fatalf("orders: %+v", orders)
	}
	o := orders[0]
	loc, _ := time.LoadLocation("Asia/Shanghai")
	if o.Due.In(loc).Format("2006-01-02 15:04") != "2026-11-24 09:00" || o.Deadline.Sub(o.Due) != 48*time.Hour ||
		o.Contractor != "奥的斯维保" || len(o.Checklist) != 7 || o.Window.To.Sub(o.Window.From) != 2*time.Hour || o.Window.Devices[0] != "lift-1-a" {
		t.Errorf("order: %+v", o)
	}
	tk, err := d.st.GetTicket(context.Background(), o.Ticket)
	if err != nil {
		t.Fatal(err)
	}
	if tk.Kind != wire.Repair || tk.Category != MaintenanceCategory || tk.Status != wire.Dispatched || tk.Device != "lift-1-a" {
		t.Errorf("ticket: %+v", tk)
	}
	var resolveDue time.Time
	for _, dl := range tk.Deadlines {
		if dl.Step == wire.StepResolve {
			resolveDue = dl.DueAt
		}
	}
	if !resolveDue.Equal(o.Deadline) {
		t.Errorf("the ticket's resolve deadline is %v, want the order's %v (%+v)", resolveDue, o.Deadline, tk.Deadlines)
	}
	// The window is what the gateways are to be told.
	if out := mustCall(t, d, 200, "GET", "/api/v1/maintenance/site-a/windows", gatewayToken, ""); !strings.Contains(out, `"devices":["lift-1-a"]`) {
		t.Errorf("windows: %s", out)
	}
	// …and they are, in the heartbeat's answer, as planned outages are: the
	// work on the lift raises no alarm of it.
	var got *wire.Window
	for _, w := range heartbeatAnswer(t, d, "").Windows {
		if w.ID == fmt.Sprintf("maintenance:%d", o.ID) {
			got = &w
		}
	}
	if got == nil || got.Scope != wire.ScopeDevices || len(got.Devices) != 1 || got.Devices[0] != "lift-1-a" || !got.MutesAll() ||
		!got.Start.Equal(o.Window.From) || !got.End.Equal(o.Window.To) || got.Cause != fmt.Sprintf("maintenance order #%d", o.ID) {
		t.Errorf("the heartbeat's answer carries %+v, want order #%d's window %+v", got, o.ID, o.Window)
	}

	// Late: two days and more after its due time the order is overdue and
	// the desk's deadline scheduler escalates its ticket.
	d.clock.Advance(49 * time.Hour)
	missed, err := d.st.MissDeadlines(context.Background(), d.clock.Now(), 100)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, m := range missed {
		if m.TicketID == o.Ticket && m.Step == wire.StepResolve {
			found = true
		}
	}
	if !found {
		t.Errorf("the late order was not escalated: %+v", missed)
	}
	rep := decodeInto[MaintenanceReport](t, mustCall(t, d, 200, "GET", "/api/v1/maintenance/site-a/report", roleTokens[RoleManager], ""))
	if len(rep.Overdue) != 1 || rep.Overdue[0].ID != o.ID {
		t.Errorf("overdue in the report: %+v", rep.Overdue)
	}

	// Completing: a reading outside its type, an unknown item and a missing
	// required item are refused, each named; nothing is saved.
	code, out := d.call(t, "POST", fmt.Sprintf("/api/v1/maintenance/site-a/orders/%d/complete", o.ID), roleTokens[RoleEngineer],
		`{"results":[{"item":"leveling","pass":true},{"item":"nope","pass":true}],"minutes":90}`)
	if code != 422 || !strings.Contains(out, "results[1].item: no item") || !strings.Contains(out, "machine-room: required") {
		t.Errorf("bad results: %d %s", code, out)
	}
	code, out = d.call(t, "POST", fmt.Sprintf("/api/v1/maintenance/site-a/orders/%d/complete", o.ID), roleTokens[RoleEngineer],
		`{"results":[{"item":"machine-room","pass":true},{"item":"brake","pass":false,"note":"制动间隙偏大"},{"item":"doors","pass":true},
		{"item":"alarm-bell","pass":true},{"item":"leveling","value":"12"}],"minutes":90}`)
	if code != 400 && code != 422 {
		t.Errorf("a reading given as text: %d %s", code, out)
	}
	out = mustCall(t, d, 200, "POST", fmt.Sprintf("/api/v1/maintenance/site-a/orders/%d/complete", o.ID), roleTokens[RoleEngineer],
		`{"results":[{"item":"machine-room","pass":true},{"item":"brake","pass":false,"note":"制动间隙偏大"},{"item":"doors","pass":true},
		{"item":"alarm-bell","pass":true},{"item":"leveling","value":12},{"item":"photo","photo":"photos/lift-1-a-2026-11-26.jpg"}],"minutes":90,"note":"已调整"}`)
	done := decodeInto[struct {
		Order maintenance.Order `json:"order"`
	}](t, out).Order
	if done.Status != maintenance.Done || done.Failed != 2 || done.Minutes != 90 {
		t.Errorf("done: %+v", done)
	}
	if tk, _ := d.st.GetTicket(context.Background(), o.Ticket); tk.Status != wire.Resolved || !strings.Contains(tk.Resolution, "2 failed") {
		t.Errorf("ticket after completion: %s %q", tk.Status, tk.Resolution)
	}
	if code, _ := d.call(t, "POST", fmt.Sprintf("/api/v1/maintenance/site-a/orders/%d/complete", o.ID), roleTokens[RoleEngineer], `{"results":[]}`); code != 409 {
		t.Errorf("completing twice: %d", code)
	}
	rep = decodeInto[MaintenanceReport](t, mustCall(t, d, 200, "GET", "/api/v1/maintenance/site-a/report", roleTokens[RoleManager], ""))
	if len(rep.ByMonth) != 1 || rep.ByMonth[0].Key != "2026-11" || rep.ByMonth[0].Rate != 100 || rep.ByMonth[0].OnTime != 0 ||
		len(rep.ByContractor) != 1 || rep.ByContractor[0].Key != "奥的斯维保" || rep.Minutes != 90 {
		t.Errorf("report: %+v", rep)
	}
	if len(rep.FailedItems) != 1 || rep.FailedItems[0].Category != "mechanical" || rep.FailedItems[0].Count != 2 {
		t.Errorf("failed items: %+v", rep.FailedItems)
	}
	if len(rep.PlansDue) != 0 && rep.PlansDue[0].Equipment != "lift-1-a" {
		t.Errorf("plans due: %+v", rep.PlansDue)
	}
	csv := mustCall(t, d, 200, "GET", "/api/v1/maintenance/site-a/report?format=csv", roleTokens[RoleManager], "")
	if !strings.Contains(csv, "month,2026-11,1,1,0,100.0,90,") || !strings.Contains(csv, "failed_items,mechanical,,,,,,2") {
		t.Errorf("report CSV: %s", csv)
	}
	// Assistants keep no plans.
	if code, _ := d.call(t, "PUT", "/api/v1/maintenance/site-a/plans/x", assistantToken, `{"template":"elevator-half-monthly"}`); code != 403 {
		t.Errorf("assistant: %d", code)
	}
}

// writeLines writes InfluxDB line protocol (v1 /write) to a test database.
func writeLines(t *testing.T, serverURL, bucket string, lines []string) {
	t.Helper()
	db, _, _ := strings.Cut(bucket, "/")
	resp, err := http.Post(serverURL+"/write?precision=ns&db="+url.QueryEscape(db), "text/plain", strings.NewReader(strings.Join(lines, "\n")))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 {
		t.Fatalf("write: %d", resp.StatusCode)
	}
}

// TestMaintenanceUsageFromInfluxDB: the generator's running contact, as the
// gateway writes it to InfluxDB, drives a usage plan to due; the test-run
// item is filled from the same telemetry with its readings; a usage trigger
// on a point the device does not report is refused.
func TestMaintenanceUsageFromInfluxDB(t *testing.T) {
	serverURL, bucket := testenv.InfluxDB(t)
	d := newDesk(t, nil)
	reader := history.New(config.InfluxDB{URL: serverURL, Bucket: bucket})
	t.Cleanup(reader.Close)
	d.srv.SetHistory(reader)
	// Recent times: InfluxDB keeps them, and "the last day" of points includes them.
	start := time.Now().UTC().Add(-3 * time.Hour).Truncate(time.Minute)
	d.clock.mu.Lock()
	d.clock.now = start
	d.clock.mu.Unlock()
	heartbeat(t, d, `{"id":"power-1-b1","family":"power","state":"online"}`)
	mustCall(t, d, 200, "POST", "/api/v1/equipment/site-a/import", adminToken, registerCSV)
	// The contact is off until the plan starts, then the generator runs 40 minutes.
	var lines []string
	for m := -10; m <= 60; m++ {
		v := 0
		if m >= 5 && m < 45 {
			v = 1
		}
		lines = append(lines, fmt.Sprintf("power,site=site-a,device=power-1-b1 generator_running=%d,ats_on_mains=1 %d", v, start.Add(time.Duration(m)*time.Minute).UnixNano()))
	}
	writeLines(t, serverURL, bucket, lines)

	code, out := d.call(t, "PUT", "/api/v1/maintenance/site-a/plans/gen-hours", adminToken,
		`{"name":"发电机运行保养","equipment":"gen-1","usage":{"point":"running_hours","measure":"running_hours","every":0.5},"checklist":[{"id":"a","text":"a","kind":"check"}]}`)
	if code != 422 || !strings.Contains(out, "device power-1-b1 of gen-1 has no point running_hours (it reports: ats_on_mains, generator_running)") {
		t.Fatalf("usage on a missing point: %d %s", code, out)
	}
	// Every half running hour, or weekly: the generator template with its evidence item.
	out = mustCall(t, d, 200, "PUT", "/api/v1/maintenance/site-a/plans/gen-hours", adminToken,
		`{"template":"generator-weekly","equipment":"gen-1","usage":{"point":"generator_running","measure":"running_hours","every":0.5}}`)
	if !strings.Contains(out, "or at 0.5 running hours; now 0") {
		t.Errorf("plan view before any run: %s", out)
	}
	if n, err := d.srv.StepMaintenance(context.Background()); err != nil || n != 1 { // the warranty reminder of gen-1 only
		t.Fatalf("first step: %d %v", n, err)
	}
	d.clock.Advance(20 * time.Minute) // 15 minutes run: 0.25 h
	if n, err := d.srv.StepMaintenance(context.Background()); err != nil || n != 0 {
		t.Fatalf("after 15 minutes: %d %v", n, err)
	}
	out = mustCall(t, d, 200, "GET", "/api/v1/maintenance/site-a/plans", adminToken, "")
	if !strings.Contains(out, "or at 0.5 running hours; now 0.2") {
		t.Errorf("plan after 15 running minutes: %s", out)
	}
	d.clock.Advance(20 * time.Minute) // 35 minutes run
	if n, err := d.srv.StepMaintenance(context.Background()); err != nil || n != 1 {
		t.Fatalf("after 35 minutes: %d %v", n, err)
	}
	orders := decodeInto[struct {
		Orders []maintenance.Order `json:"orders"`
	}](t, mustCall(t, d, 200, "GET", "/api/v1/maintenance/site-a/orders?equipment=gen-1", adminToken, "")).Orders
	if len(orders) != 1 || orders[0].Trigger != maintenance.TriggerUsage || orders[0].Usage < 0.5 {
		t.Fatalf("usage order: %+v", orders)
	}
	d.clock.Advance(30 * time.Minute)
	out = mustCall(t, d, 200, "POST", fmt.Sprintf("/api/v1/maintenance/site-a/orders/%d/evidence", orders[0].ID), roleTokens[RoleEngineer], "")
	o := decodeInto[maintenance.Order](t, out)
	if len(o.Results) != 1 || o.Results[0].Item != "test-run" || o.Results[0].Pass == nil || !*o.Results[0].Pass ||
		len(o.Results[0].Readings) != 1 || o.Results[0].Readings[0].Minutes < 39 || o.Results[0].Readings[0].Minutes > 41 {
		t.Errorf("evidence: %s", out)
	}
}
