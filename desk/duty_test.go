package desk

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/estatehq/estate/desk/deskconfig"
	"github.com/estatehq/estate/desk/shift"
	"github.com/estatehq/estate/desk/store"
	"github.com/estatehq/estate/internal/config"
	"github.com/estatehq/estate/internal/testenv"
)

// The control room of site-a in Asia/Shanghai: three shifts (the default
// plan), one operator each, an engineer on duty by day, a supervisor's and
// a manager's channel.
var dutyTokens = map[string]string{
	"nina": "duty-nina-night-0123456789", "dora": "duty-dora-day-0123456789", "evan": "duty-evan-evening-0123456789",
}

func dutyConfig(d *deskconfig.Config) {
	d.Sites = []deskconfig.Site{{ID: "site-a", Name: "演示花园", Timezone: "Asia/Shanghai"}}
	for name, tok := range dutyTokens {
		d.Tokens = append(d.Tokens, deskconfig.Token{Name: name, Token: tok, Role: RoleControlRoom, Site: "site-a"})
	}
	d.Channels = []deskconfig.Channel{
		{Name: "supervisors", Type: "webhook", URL: "http://127.0.0.1:9/hook", Levels: []string{"supervisor"}},
		{Name: "managers", Type: "webhook", URL: "http://127.0.0.1:9/hook", Levels: []string{"manager"}},
	}
	d.Shifts = []deskconfig.ShiftPlan{{Site: "site-a", HandoverReminder: 15 * time.Minute, Duty: []deskconfig.DutyRoster{
		{Shift: "night", Department: "control_room", Staff: []string{"nina"}},
		{Shift: "day", Department: "control_room", Staff: []string{"dora"}},
		{Shift: "evening", Department: "control_room", Staff: []string{"evan"}},
		{Shift: "day", Department: "engineering", Staff: []string{"eng"}},
	}}}
}

var shanghai = func() *time.Location {
	l, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		panic(err)
	}
	return l
}()

func (c *clock) Set(t time.Time) { c.mu.Lock(); c.now = t; c.mu.Unlock() }

// local is a time of 25 November 2026 (26th past 24:00) in Shanghai.
func local(hhmm string) time.Time {
	var h, m int
	fmt.Sscanf(hhmm, "%d:%d", &h, &m)
	return time.Date(2026, 11, 25, h, m, 0, 0, shanghai)
}

type dutyDesk struct {
	*testDesk
	t *testing.T
}

func newDutyDesk(t *testing.T) *dutyDesk { return newDutyDeskOn(t, "") }

// newDutyDeskOn is the desk on SQLite, or on PostgreSQL at pgURL.
func newDutyDeskOn(t *testing.T, pgURL string) *dutyDesk {
	d := &dutyDesk{testDesk: newDesk(t, dutyConfig), t: t}
	if pgURL != "" {
		cfg := d.srv.cfg
		policy := StorePolicy(&config.Config{Site: config.Site{ID: "site-a", Timezone: "Asia/Shanghai"}, Desk: cfg})
		st, err := store.Open(context.Background(), store.PostgresDialect, pgURL, policy)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		srv := New(cfg, st, slog.New(slog.NewTextHandler(io.Discard, nil)), WithClock(d.clock.Now), WithLocation(policy.Location))
		d.testDesk = &testDesk{srv: srv, h: srv.Handler(), st: st, clock: d.clock}
	}
	if d.srv.Duty() == nil {
		t.Fatal("the desk on its SQL store has no shift service")
	}
	// The desk starts on 24 November at 23:50, in the evening shift.
	d.clock.Set(local("00:00").Add(-10 * time.Minute))
	d.srv.newDuty()
	return d
}

func (d *dutyDesk) at(hhmm string) {
	d.t.Helper()
	d.atTime(local(hhmm))
}

func (d *dutyDesk) atTime(t time.Time) {
	d.t.Helper()
	d.clock.Set(t)
	d.srv.escalate(context.Background())
	if err := d.srv.Duty().Tick(context.Background()); err != nil {
		d.t.Fatalf("tick at %s: %v", t, err)
	}
}

func (d *dutyDesk) must(want int, method, path, token, body string) string {
	d.t.Helper()
	code, out := d.call(d.t, method, path, token, body)
	if code != want {
		d.t.Fatalf("%s %s: %d, want %d: %s", method, path, code, want, out)
	}
	return out
}

// notices counts the shift notices in the outbox by event and level.
func (d *dutyDesk) notices() map[string]int {
	d.t.Helper()
	rows, err := d.st.DB().Query(`SELECT event, level, channel FROM notifications WHERE ticket_id = 0`)
	if err != nil {
		d.t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var ev, level, ch string
		if err := rows.Scan(&ev, &level, &ch); err != nil {
			d.t.Fatal(err)
		}
		out[ev+"/"+level+"/"+ch]++
	}
	return out
}

func (d *dutyDesk) duty(token string) shift.Duty {
	d.t.Helper()
	return decodeInto[struct{ Duty shift.Duty }](d.t, d.must(200, "GET", "/api/v1/duty", token, "")).Duty
}

func (d *dutyDesk) onDuty(dep string) []string {
	d.t.Helper()
	return decodeInto[struct{ People []string }](d.t, d.must(200, "GET", "/api/v1/duty/on-duty?site=site-a&department="+dep, adminToken, "")).People
}

func ids(items []shift.TicketItem) []int64 {
	out := []int64{}
	for _, it := range items {
		out = append(out, it.ID)
	}
	return out
}

func labels(loans []shift.Loan) []string {
	out := []string{}
	for _, l := range loans {
		out = append(out, l.Label)
	}
	return out
}

func entryBodies(es []shift.Entry) []string {
	out := []string{}
	for _, e := range es {
		out = append(out, e.Body)
	}
	return out
}

// TestDutyDay runs a full day of three shifts on a fake clock, with alarms,
// tickets and keys, and checks each handover sheet, the people on duty, the
// reminders and the duty log.
func TestDutyDay(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { dutyDay(t, newDutyDesk(t)) })
	t.Run("postgres", func(t *testing.T) {
		if os.Getenv("ESTATE_TEST_POSTGRES_URL") == "" && os.Getenv("CI") != "true" {
			t.Skip("ESTATE_TEST_POSTGRES_URL not set")
		}
		dutyDay(t, newDutyDeskOn(t, testenv.PostgreSQL(t)))
	})
}

func dutyDay(t *testing.T, d *dutyDesk) {
	nina, dora, evan := dutyTokens["nina"], dutyTokens["dora"], dutyTokens["evan"]
	const site = "?site=site-a"

	// 24 November, 23:50: the evening shift, before the day under test. The
	// desk started earlier that day, so the evening's sheet is built at its end.
	d.atTime(local("00:00").Add(-10 * time.Minute))
	// Keys of the register.
	k1 := decodeInto[shift.Key](t, d.must(201, "POST", "/api/v1/keys", adminToken, `{"site":"site-a","label":"K-01","name":"B3 配电室"}`))
	k2 := decodeInto[shift.Key](t, d.must(201, "POST", "/api/v1/keys", adminToken, `{"site":"site-a","label":"K-02","name":"屋顶水箱间"}`))
	d.must(409, "POST", "/api/v1/keys", adminToken, `{"site":"site-a","label":"K-02","name":"again"}`)

	// --- Night shift (00:00–08:00), nina.
	d.at("00:00")
	// The evening shift of the 24th ended: its sheet is built; evan signs and nina accepts.
	du := d.duty(nina)
	if du.Shift.Name != "night" || len(du.Pending) != 1 || du.Pending[0].Shift.Name != "evening" || !du.Holdover {
		t.Fatalf("at 00:00: %+v", du)
	}
	if got := d.onDuty("control_room"); !slices.Equal(got, []string{"evan", "nina"}) {
		t.Errorf("on duty at 00:00 (evening not handed over): %v", got)
	}
	ev24 := du.Pending[0].ID
	d.must(200, "POST", fmt.Sprintf("/api/v1/duty/sheets/%d/sign", ev24), evan, `{}`)
	d.must(200, "POST", fmt.Sprintf("/api/v1/duty/sheets/%d/accept", ev24), nina, `{"keys_counted":2}`)
	if got := d.onDuty("control_room"); !slices.Equal(got, []string{"nina"}) {
		t.Errorf("on duty after the handover: %v", got)
	}

	d.at("00:10")
	// A forced door (ticket: none) fires and nobody acknowledges it.
	d.must(204, "POST", "/api/v1/gateways/heartbeat", gatewayToken, `{"gateway":"gw-a-1","site":"site-a","interval":10000000000,
		"devices":[{"id":"door-1","family":"access","state":"online"}],
		"alarms":[{"key":"site-a/door_forced/door-1","rule":"door_forced","device":"door-1","state":"firing","severity":"critical","since":"2026-11-24T16:10:00Z"}]}`)
	d.at("01:00")
	repair := decodeInto[struct{ ID int64 }](t, d.must(201, "POST", "/api/v1/tickets", adminToken,
		`{"kind":"repair","title":"2栋 走廊灯不亮","site":"site-a","building":"2"}`)).ID
	d.at("02:00")
	fire := decodeInto[struct{ ID int64 }](t, d.must(201, "POST", "/api/v1/tickets", gatewayToken,
		`{"kind":"emergency","title":"3栋 火警","site":"site-a","building":"3","device":"panel-1","alarm_key":"site-a/fire_alarm/panel-1"}`)).ID
	d.at("03:00")
	d.must(201, "POST", "/api/v1/duty/entries", nina, `{"kind":"instruction","body":"管理处: B3 配电室 明早 9 点停电检修"}`)
	d.at("04:00")
	d.must(201, "POST", fmt.Sprintf("/api/v1/keys/%d/lend", k1.ID), nina, `{"borrower":"eng 王师傅","note":"配电室巡检"}`)
	// Lent twice: refused, the loan unchanged.
	d.must(409, "POST", fmt.Sprintf("/api/v1/keys/%d/lend", k1.ID), nina, `{"borrower":"someone else"}`)

	// 08:00: the night ends; the desk builds its sheet.
	d.at("08:00")
	du = d.duty(dora)
	if du.Shift.Name != "day" || len(du.Pending) != 1 {
		t.Fatalf("at 08:00: %+v", du)
	}
	night := du.Pending[0]
	if night.Shift.Name != "night" || night.State != shift.StateBuilt || night.BuiltBy != "desk" {
		t.Fatalf("night sheet: %+v", night)
	}
	if len(night.Alarms) != 1 || night.Alarms[0].Key != "site-a/door_forced/door-1" {
		t.Errorf("night sheet alarms: %+v", night.Alarms)
	}
	if !slices.Equal(ids(night.Emergencies), []int64{fire}) {
		t.Errorf("night sheet emergencies: %+v", night.Emergencies)
	}
	if !slices.Equal(ids(night.Tickets), []int64{repair}) || !night.Tickets[0].Overdue || night.Tickets[0].Step != "dispatch" {
		t.Errorf("night sheet tickets: %+v", night.Tickets)
	}
	if got := entryBodies(night.Entries); len(got) != 1 || !strings.Contains(got[0], "停电检修") {
		t.Errorf("night sheet entries: %v", got)
	}
	if !slices.Equal(labels(night.KeysOut), []string{"K-01"}) || night.KeysTotal != 2 || night.KeysOut[0].Overdue {
		t.Errorf("night sheet keys: %+v of %d", night.KeysOut, night.KeysTotal)
	}
	if !night.Next.Start.Equal(local("08:00")) || night.Next.Name != "day" {
		t.Errorf("night sheet's next shift: %+v", night.Next)
	}
	// Until the day accepts, the night stays on duty.
	if got := d.onDuty("control_room"); !slices.Equal(got, []string{"nina", "dora"}) {
		t.Errorf("on duty at 08:00: %v", got)
	}
	if got := d.onDuty("engineering"); !slices.Equal(got, []string{"eng"}) {
		t.Errorf("engineers on duty by day: %v", got)
	}
	signPath, acceptPath := fmt.Sprintf("/api/v1/duty/sheets/%d/sign", night.ID), fmt.Sprintf("/api/v1/duty/sheets/%d/accept", night.ID)
	// Bad input: nothing changes.
	d.must(409, "POST", acceptPath, dora, `{"keys_counted":1}`) // not signed yet
	d.must(403, "POST", signPath, dora, `{}`)                   // dora is not the outgoing shift
	d.must(200, "POST", signPath, nina, `{"note":"火警已报 119"}`)  // nina signs
	d.must(409, "POST", signPath, nina, `{}`)                   // once
	if _, body := d.call(t, "POST", acceptPath, evan, `{"keys_counted":1}`); !strings.Contains(body, "evan is not on the next shift") {
		t.Errorf("accepted by the evening's operator: %s", body)
	}
	d.must(403, "POST", acceptPath, nina, `{"keys_counted":1}`) // the signer
	d.must(422, "POST", acceptPath, dora, `{}`)                 // no count
	// 08:15: not accepted yet, the supervisors are reminded; once.
	d.at("08:14")
	if n := d.notices(); len(n) != 0 {
		t.Errorf("reminded before the delay: %v", n)
	}
	d.at("08:15")
	d.at("08:20")
	if n := d.notices(); n["handover_overdue/supervisor/supervisors"] != 1 || len(n) != 1 {
		t.Errorf("notices at 08:20: %v", n)
	}
	sh := decodeInto[shift.Sheet](t, d.must(200, "POST", acceptPath, dora, `{"keys_counted":1,"note":"已核对"}`))
	if sh.State != shift.StateAccepted || sh.AcceptedBy != "dora" || !sh.AcceptedAt.Equal(local("08:20")) || !sh.SignedAt.Equal(local("08:00")) || *sh.KeysCounted != 1 {
		t.Errorf("accepted night sheet: %+v", sh)
	}
	if got := d.onDuty("control_room"); !slices.Equal(got, []string{"dora"}) {
		t.Errorf("on duty after 08:20: %v", got)
	}

	// --- Day shift (08:00–16:00), dora.
	d.at("09:00")
	d.must(200, "POST", "/api/v1/alarms/ack", dora, `{"key":"site-a/door_forced/door-1"}`)
	d.must(200, "POST", fmt.Sprintf("/api/v1/tickets/%d/actions", repair), dora, `{"action":"dispatch","assignee":"eng","team":"engineering"}`)
	d.at("10:00")
	d.must(200, "POST", fmt.Sprintf("/api/v1/keys/%d/return", k1.ID), dora, "")
	d.must(409, "POST", fmt.Sprintf("/api/v1/keys/%d/return", k1.ID), dora, "") // not out
	d.must(201, "POST", fmt.Sprintf("/api/v1/keys/%d/lend", k2.ID), dora,
		fmt.Sprintf(`{"borrower":"外包 水箱清洗","due_at":%q}`, local("12:00").Format(time.RFC3339)))
	d.must(201, "POST", "/api/v1/duty/entries", dora, `{"kind":"repair","body":"1栋 大堂玻璃门 合页松动, 已报工程部"}`)
	d.at("12:00")
	if n := d.notices(); n["key_overdue/supervisor/supervisors"] != 1 {
		t.Errorf("overdue key not told: %v", n)
	}
	d.at("12:30")
	if n := d.notices(); n["key_overdue/supervisor/supervisors"] != 1 {
		t.Errorf("overdue key told twice: %v", n)
	}

	d.at("16:00")
	day := d.duty(evan).Pending[0]
	if day.Shift.Name != "day" || len(day.Alarms) != 0 {
		t.Errorf("day sheet: %s, alarms %+v (the door was acknowledged)", day.Shift.Name, day.Alarms)
	}
	if !slices.Equal(ids(day.Emergencies), []int64{fire}) {
		t.Errorf("day sheet emergencies: %+v", day.Emergencies)
	}
	// The repair was dispatched: its on-site deadline was missed, still open.
	if !slices.Contains(ids(day.Tickets), repair) {
		t.Errorf("day sheet tickets: %+v", day.Tickets)
	}
	if got := entryBodies(day.Entries); len(got) != 1 || !strings.Contains(got[0], "大堂玻璃门") {
		t.Errorf("day sheet entries (the day's only): %v", got)
	}
	if !slices.Equal(labels(day.KeysOut), []string{"K-02"}) || !day.KeysOut[0].Overdue {
		t.Errorf("day sheet keys: %+v", day.KeysOut)
	}
	d.at("16:05")
	d.must(200, "POST", fmt.Sprintf("/api/v1/duty/sheets/%d/sign", day.ID), dora, `{}`)
	// evan counts no key in the box where the register says one: accepted, and the difference is logged.
	d.must(200, "POST", fmt.Sprintf("/api/v1/duty/sheets/%d/accept", day.ID), evan, `{"keys_counted":0}`)

	// --- Evening shift (16:00–24:00), evan: the handover at midnight is late.
	d.at("18:00")
	d.must(200, "POST", fmt.Sprintf("/api/v1/keys/%d/return", k2.ID), evan, "")
	d.must(201, "POST", "/api/v1/duty/entries", evan, `{"kind":"note","body":"夜间巡逻 3栋 正常"}`)
	d.must(200, "POST", fmt.Sprintf("/api/v1/tickets/%d/actions", fire), evan, `{"action":"acknowledge"}`)
	d.at("24:00")
	evening := d.duty(nina).Pending[0]
	if evening.Shift.Name != "evening" || len(evening.KeysOut) != 0 || evening.KeysTotal != 2 || !slices.Equal(ids(evening.Emergencies), []int64{fire}) {
		t.Errorf("evening sheet: %+v", evening)
	}
	if got := entryBodies(evening.Entries); len(got) != 1 || got[0] != "夜间巡逻 3栋 正常" {
		t.Errorf("evening sheet entries: %v", got)
	}
	d.at("24:15")
	d.at("24:45")
	if n := d.notices(); n["handover_overdue/supervisor/supervisors"] != 2 || n["handover_overdue/manager/managers"] != 1 {
		t.Errorf("notices after a late midnight handover: %v", n)
	}
	d.at("24:50")
	d.must(200, "POST", fmt.Sprintf("/api/v1/duty/sheets/%d/sign", evening.ID), evan, `{}`)
	d.must(200, "POST", fmt.Sprintf("/api/v1/duty/sheets/%d/accept", evening.ID), nina, `{"keys_counted":2}`)

	// The duty log of the 25th (to the late handover after its midnight):
	// the sheets of its three shifts, every entry and event, searchable.
	log := decodeInto[struct{ Log shift.Log }](t, d.must(200, "GET", "/api/v1/duty/log"+site+"&from=2026-11-25&to=2026-11-26T02:00:00%2B08:00", adminToken, "")).Log
	var shifts []string
	for _, s := range log.Sheets {
		shifts = append(shifts, s.Shift.Name+":"+s.State)
	}
	if !slices.Equal(shifts, []string{"night:accepted", "day:accepted", "evening:accepted"}) {
		t.Errorf("log sheets: %v", shifts)
	}
	// The desk's own entries say each in both languages (body, body_en).
	var events, eventsEN string
	for _, e := range log.Entries {
		if e.Kind == shift.EntryEvent {
			events += e.Body + "\n"
			eventsEN += e.BodyEN + "\n"
		}
	}
	for _, want := range []string{"交班签字: 夜班", "接班确认", "钥匙借出: K-01", "钥匙归还: K-02", "逾期", "钥匙清点不符: 钥匙箱内清点 0 把",
		"交接班提醒", "已通知经理", "钥匙未还: K-02"} {
		if !strings.Contains(events, want) {
			t.Errorf("the log has no %q:\n%s", want, events)
		}
	}
	for _, want := range []string{"handover of night shift", "accepted by", "key K-01", "returned by", "late (due", "key count differs: 0 counted",
		"reminded the manager", "key K-02", "not back from"} {
		if !strings.Contains(eventsEN, want) {
			t.Errorf("the log in English has no %q:\n%s", want, eventsEN)
		}
	}
	if strings.ContainsAny(eventsEN, "钥匙交班接班逾期") || strings.Contains(events, "returned by") {
		t.Errorf("an event mixes its languages:\n%s\n%s", events, eventsEN)
	}
	// The handover's metrics on the desk's registry.
	counts := map[string]float64{}
	families, err := d.srv.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			name := f.GetName()
			for _, l := range m.GetLabel() {
				name += "/" + l.GetValue()
			}
			counts[name] = m.GetCounter().GetValue()
		}
	}
	for name, want := range map[string]float64{
		"estate_desk_handover_steps_total/built": 4, "estate_desk_handover_steps_total/signed": 4, "estate_desk_handover_steps_total/accepted": 4,
		"estate_desk_handover_steps_total/reminded_supervisor": 2, "estate_desk_handover_steps_total/reminded_manager": 1,
		"estate_desk_key_overdue_notices_total": 1,
	} {
		if counts[name] != want {
			t.Errorf("%s = %v, want %v", name, counts[name], want)
		}
	}
	found := decodeInto[struct{ Log shift.Log }](t, d.must(200, "GET", "/api/v1/duty/log"+site+"&from=2026-11-25&q=配电室", adminToken, "")).Log
	if len(found.Sheets) != 1 || found.Sheets[0].Shift.Name != "night" || len(found.Loans) != 1 || found.Loans[0].Label != "K-01" {
		t.Errorf("search 配电室: sheets %d, loans %+v", len(found.Sheets), found.Loans)
	}
	for _, e := range found.Entries {
		if !strings.Contains(e.Body, "配电室") {
			t.Errorf("search 配电室 found %q", e.Body)
		}
	}
	if len(found.Entries) < 2 {
		t.Errorf("search 配电室: entries %v", entryBodies(found.Entries))
	}
}

// TestDutyBadInput: refusals with a sentence and a field, and nothing changed.
func TestDutyBadInput(t *testing.T) {
	d := newDutyDesk(t)
	d.at("10:00")
	nina := dutyTokens["nina"]
	before := d.must(200, "GET", "/api/v1/duty/log?site=site-a", adminToken, "")
	cases := []struct {
		method, path, body string
		want               int
		says               string
	}{
		{"POST", "/api/v1/duty/entries", `{"kind":"gossip","body":"x"}`, 422, "is not an entry kind; use one of note, instruction, repair"},
		{"POST", "/api/v1/duty/entries", `{"kind":"note","body":"  "}`, 422, "body: required"},
		{"POST", "/api/v1/duty/entries", `{"kind":"note","body":"` + strings.Repeat("长", 2001) + `"}`, 422, "body: longer than 2000"},
		{"POST", "/api/v1/duty/entries", `{"kind":"note","body":"x","extra":1}`, 400, "extra"},
		{"POST", "/api/v1/duty/entries", `{"site":"site-b","kind":"note","body":"x"}`, 403, "site site-a only"},
		{"POST", "/api/v1/duty/sheets", `{"shift_start":"2026-11-25T09:00:00+08:00"}`, 422, "shift_start: 2026-11-25T09:00:00+08:00 is not the start of a shift"},
		{"POST", "/api/v1/duty/sheets", `{"shift_start":"2026-11-25T16:00:00+08:00"}`, 422, "has not begun"},
		{"POST", "/api/v1/duty/sheets/99/sign", `{}`, 404, "no handover sheet 99"},
		{"POST", "/api/v1/duty/sheets/x/accept", `{}`, 400, "sheet id"},
		{"GET", "/api/v1/duty/on-duty?department=kitchen", "", 422, "is not a department; use one of control_room"},
		{"GET", "/api/v1/duty/on-duty?department=engineering&at=tomorrow", "", 400, "at: use RFC 3339"},
		{"GET", "/api/v1/duty/log?from=2026-13-01", "", 400, "from:"},
		{"GET", "/api/v1/duty/log?from=2026-01-01&to=2026-11-01", "", 422, "longer than 92 days"},
		{"POST", "/api/v1/keys", `{"label":"","name":"x"}`, 422, "label: required"},
		{"POST", "/api/v1/keys/1/lend", `{"borrower":"x"}`, 404, "no key 1"},
	}
	for _, c := range cases {
		code, body := d.call(t, c.method, c.path, nina, c.body)
		if code != c.want || !strings.Contains(body, c.says) {
			t.Errorf("%s %s %s: %d %s, want %d saying %q", c.method, c.path, c.body, code, body, c.want, c.says)
		}
	}
	k := decodeInto[shift.Key](t, d.must(201, "POST", "/api/v1/keys", nina, `{"label":"K-09","name":"消防控制室"}`))
	for _, c := range []struct{ body, says string }{
		{`{"borrower":"a","due_at":"2026-11-25T09:00:00+08:00"}`, "due_at: 2026-11-25 09:00 is not in the future"},
		{`{"borrower":"a","due_at":"2027-11-25T09:00:00+08:00"}`, "due_at: more than 31 days ahead"},
		{`{"borrower":""}`, "borrower: required"},
	} {
		if code, body := d.call(t, "POST", fmt.Sprintf("/api/v1/keys/%d/lend", k.ID), nina, c.body); code != 422 || !strings.Contains(body, c.says) {
			t.Errorf("lend %s: %d %s", c.body, code, body)
		}
	}
	d.must(201, "POST", fmt.Sprintf("/api/v1/keys/%d/lend", k.ID), nina, `{"borrower":"王师傅"}`)
	if code, body := d.call(t, "POST", fmt.Sprintf("/api/v1/keys/%d/lend", k.ID), nina, `{"borrower":"李师傅"}`); code != 409 ||
		!strings.Contains(body, "K-09 (消防控制室) is out already: lent to 王师傅") {
		t.Errorf("lent twice: %d %s", code, body)
	}
	keys := decodeInto[struct{ Keys []shift.Key }](t, d.must(200, "GET", "/api/v1/keys", nina, "")).Keys
	if len(keys) != 1 || keys[0].Loan == nil || keys[0].Loan.Borrower != "王师傅" || !keys[0].Loan.DueAt.Equal(local("24:00")) {
		t.Errorf("after the refused second loan: %+v", keys)
	}
	// The refusals wrote nothing into the log (only the key and its one loan).
	after := decodeInto[struct{ Log shift.Log }](t, d.must(200, "GET", "/api/v1/duty/log?site=site-a", adminToken, "")).Log
	if len(after.Entries) != len(decodeInto[struct{ Log shift.Log }](t, before).Log.Entries)+2 {
		t.Errorf("entries after the refusals: %v", entryBodies(after.Entries))
	}
	// An all-sites caller names the site.
	if code, body := d.call(t, "GET", "/api/v1/duty", adminToken, ""); code != 400 || !strings.Contains(body, "site: required") {
		t.Errorf("no site: %d %s", code, body)
	}
}

// A desk restarted after a shift ended builds that shift's sheet (the site
// hands over already); a desk newly installed starts with the next shift.
func TestDutyRestart(t *testing.T) {
	d := newDutyDesk(t)
	d.clock.Set(local("08:02"))
	d.srv.newDuty() // installed at 08:02
	d.at("08:02")
	if du := d.duty(dutyTokens["dora"]); len(du.Pending) != 0 || du.Holdover {
		t.Fatalf("a new desk at 08:02 hands over a night it did not see: %+v", du.Pending)
	}
	d.at("16:00")
	if du := d.duty(dutyTokens["evan"]); len(du.Pending) != 1 || du.Pending[0].Shift.Name != "day" {
		t.Fatalf("day sheet at 16:00: %+v", du.Pending)
	}
	// Down from 23:59 to 00:03: the evening ended while no desk ran.
	d.clock.Set(local("24:03"))
	d.srv.newDuty()
	d.at("24:03")
	du := d.duty(dutyTokens["nina"])
	if len(du.Pending) != 2 || du.Pending[1].Shift.Name != "evening" || !du.Holdover {
		t.Fatalf("after the restart: %+v", du.Pending)
	}
	// Two desks (or two ticks) build it once.
	if err := d.srv.Duty().Tick(context.Background()); err != nil {
		t.Fatal(err)
	}
	log := decodeInto[struct{ Log shift.Log }](t, d.must(200, "GET", "/api/v1/duty/log?site=site-a&from=2026-11-25T23:00:00%2B08:00&to=2026-11-26T01:00:00%2B08:00", adminToken, "")).Log
	built := 0
	for _, e := range log.Entries {
		if strings.Contains(e.Body, "交接班记录已生成: 中班") && strings.Contains(e.BodyEN, "handover sheet of evening shift") {
			built++
		}
	}
	if built != 1 {
		t.Errorf("evening sheet built %d times: %v", built, entryBodies(log.Entries))
	}
}
