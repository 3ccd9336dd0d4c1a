package desk

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/estatehq/estate/desk/deskconfig"
	"github.com/estatehq/estate/desk/store"
	"github.com/estatehq/estate/internal/config"
	"github.com/estatehq/estate/internal/wire"
)

func withChina(d *deskconfig.Config) {
	d.Calendar = []string{"../configs/calendars/cn-2026.yaml"}
	d.Sites = []deskconfig.Site{{ID: "site-b", Timezone: "Asia/Shanghai", ComplaintCategories: []string{"parking", "noise"}}}
}

type apiTicket struct {
	ID        int64
	Kind      string
	SubKind   string `json:"sub_kind"`
	Category  string
	Cause     string
	Priority  string
	ParentID  int64 `json:"parent_id"`
	Deadlines []struct {
		Step  string
		State string
		DueAt time.Time `json:"due_at"`
	}
}

func (tk apiTicket) due(t *testing.T, step string) time.Time {
	t.Helper()
	for _, d := range tk.Deadlines {
		if d.Step == step {
			return d.DueAt
		}
	}
	t.Fatalf("ticket %d has no %s deadline: %+v", tk.ID, step, tk.Deadlines)
	return time.Time{}
}

// Kinds, sub-kinds and categories over HTTP: accepted, read back, and every
// unknown value refused with a sentence naming the field, nothing written.
func TestKindsOverHTTP(t *testing.T) {
	d := newDesk(t, withChina)
	code, body := d.call(t, "POST", "/api/v1/tickets", assistantToken,
		`{"kind":"complaint","sub_kind":"important","category":"equipment","cause":"电梯老化","title":"电梯一周停三次","site":"site-a","unit":"3-1201"}`)
	if code != 201 {
		t.Fatalf("important complaint: %d %s", code, body)
	}
	tk := decodeInto[apiTicket](t, body)
	if tk.SubKind != "important" || tk.Priority != "P2" || tk.Category != "equipment" || tk.Cause != "电梯老化" {
		t.Errorf("read back: %+v", tk)
	}
	for _, k := range wire.Kinds {
		code, body := d.call(t, "POST", "/api/v1/tickets", assistantToken, fmt.Sprintf(`{"kind":%q,"title":"t","site":"site-a"}`, k))
		if code != 201 {
			t.Errorf("%s: %d %s", k, code, body)
		}
	}
	var before int
	if ts, err := d.st.ListTickets(t.Context(), storeFilterAll()); err == nil {
		before = len(ts)
	}
	for _, tc := range []struct{ body, want string }{
		{`{"kind":"complaint","sub_kind":"angry","title":"t","site":"site-a"}`, `sub_kind \"angry\" is not a sub-kind of complaint; use one of general, written, important, staff_attitude`},
		{`{"kind":"repair","sub_kind":"written","title":"t","site":"site-a"}`, `sub_kind \"written\": a repair has no sub-kinds`},
		{`{"kind":"chores","title":"t","site":"site-a"}`, `kind \"chores\" is not one of emergency, urgent_repair, repair, top_up, complaint, request, enquiry, suggestion, cleaning, paid_service`},
		{`{"kind":"complaint","category":"parking","title":"t","site":"site-a"}`, `\"parking\" is not a complaint category of site site-a; use one of house_quality, amenities, equipment, service, fees, emergency, neighbours`},
		{`{"kind":"complaint","category":"equipment","title":"t","site":"site-b"}`, `\"equipment\" is not a complaint category of site site-b; use one of parking, noise`},
		{`{"kind":"repair","parent_id":1,"title":"t","site":"site-a"}`, `parent_id links complaints of one matter; a repair is not linked`},
	} {
		code, body := d.call(t, "POST", "/api/v1/tickets", adminToken, tc.body)
		if code != 422 || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %d %s\nwant 422 with %s", tc.body, code, body, tc.want)
		}
	}
	if ts, _ := d.st.ListTickets(t.Context(), storeFilterAll()); len(ts) != before {
		t.Errorf("refused requests wrote tickets: %d → %d", before, len(ts))
	}
	// Site B's own categories.
	if code, body := d.call(t, "POST", "/api/v1/tickets", adminToken, `{"kind":"complaint","category":"parking","title":"t","site":"site-b"}`); code != 201 {
		t.Errorf("site B's category: %d %s", code, body)
	}
	// GET /kinds tells the form what to offer.
	code, body = d.call(t, "GET", "/api/v1/kinds?site=site-b", assistantToken, "")
	if code != 200 || !strings.Contains(body, `"complaint_categories":["parking","noise"]`) || !strings.Contains(body, `"respond":"1wd"`) ||
		!strings.Contains(body, `"important":{"respond":"2wd"}`) || !strings.Contains(body, `"urgent_repair"`) {
		t.Errorf("kinds of site B: %d %s", code, body)
	}
}

func storeFilterAll() store.Filter { return store.Filter{Limit: 500} }

// PATCH changes what a ticket is and its deadlines follow; an emergency's
// on-site deadline moves to an appointment only by a manager with a reason.
func TestUpdateTicketOverHTTP(t *testing.T) {
	d := newDesk(t, withChina)
	// Friday 9 October 2026, 18:30 in Shanghai: the next day is a make-up working day.
	d.clock.now = time.Date(2026, 10, 9, 10, 30, 0, 0, time.UTC)
	code, body := d.call(t, "POST", "/api/v1/tickets", assistantToken, `{"kind":"request","title":"物业费收多了","site":"site-a","unit":"2-301"}`)
	if code != 201 {
		t.Fatalf("open: %d %s", code, body)
	}
	id := decodeInto[apiTicket](t, body).ID
	path := fmt.Sprintf("/api/v1/tickets/%d", id)
	code, body = d.call(t, "PATCH", path, assistantToken, `{"kind":"complaint","sub_kind":"general","category":"fees"}`)
	if code != 200 {
		t.Fatalf("to a complaint: %d %s", code, body)
	}
	tk := decodeInto[apiTicket](t, body)
	shanghai, _ := time.LoadLocation("Asia/Shanghai")
	if want := time.Date(2026, 10, 10, 18, 30, 0, 0, shanghai); tk.Kind != "complaint" || !tk.due(t, "respond").Equal(want) {
		t.Errorf("complaint opened on Friday evening: reply due %s, want the make-up Saturday %s", tk.due(t, "respond").In(shanghai), want)
	}
	for _, tc := range []struct {
		token, body string
		code        int
		want        string
	}{
		{assistantToken, `{"sub_kind":"loud"}`, 422, `sub_kind`},
		{assistantToken, `{"kind":"boiler"}`, 422, `\"boiler\" is not a kind`},
		{assistantToken, `{"category":"parking"}`, 422, `not a complaint category of site site-a`},
		{assistantToken, `{"parent_id":-1}`, 422, `parent_id`},
		{assistantToken, `{"colour":"red"}`, 400, `colour`},
		{roleTokens[RoleEngineer], `{"cause":"x"}`, 403, ``},
	} {
		code, body := d.call(t, "PATCH", path, tc.token, tc.body)
		if code != tc.code || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %d %s, want %d with %s", tc.body, code, body, tc.code, tc.want)
		}
	}

	code, body = d.call(t, "POST", "/api/v1/tickets", assistantToken, `{"kind":"emergency","title":"B2 水浸","site":"site-a"}`)
	if code != 201 {
		t.Fatalf("emergency: %d %s", code, body)
	}
	em := decodeInto[apiTicket](t, body)
	_, body = d.call(t, "GET", fmt.Sprintf("/api/v1/tickets/%d", em.ID), adminToken, "")
	onSite := decodeInto[apiTicket](t, body).due(t, "on_site")
	later := d.clock.Now().Add(2 * time.Hour).UTC().Format(time.RFC3339)
	epath := fmt.Sprintf("/api/v1/tickets/%d", em.ID)
	for _, tc := range []struct {
		token, body string
		code        int
		want        string
	}{
		{assistantToken, `{"appointment_at":"` + later + `"}`, 403, "an appointment does not move an emergency's on-site deadline"},
		{roleTokens[RoleControlRoom], `{"appointment_at":"` + later + `","reason":"busy"}`, 403, "only a manager can move it"},
		{roleTokens[RoleManager], `{"appointment_at":"` + later + `"}`, 422, "reason: required"},
	} {
		code, body := d.call(t, "PATCH", epath, tc.token, tc.body)
		if code != tc.code || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %d %s, want %d with %q", tc.body, code, body, tc.code, tc.want)
		}
	}
	_, body = d.call(t, "GET", epath, adminToken, "")
	if got := decodeInto[apiTicket](t, body).due(t, "on_site"); !got.Equal(onSite) {
		t.Fatalf("a refused change moved the on-site deadline: %s → %s", onSite, got)
	}
	code, body = d.call(t, "PATCH", epath, roleTokens[RoleManager], `{"appointment_at":"`+later+`","reason":"泵房断电,供电局两小时后到"}`)
	if code != 200 {
		t.Fatalf("manager with a reason: %d %s", code, body)
	}
	if got := decodeInto[apiTicket](t, body).due(t, "on_site"); got.UTC().Format(time.RFC3339) != later {
		t.Errorf("on site due %s, want the appointment %s", got, later)
	}
	_, body = d.call(t, "GET", epath+"/audit", adminToken, "")
	if !strings.Contains(body, `"actor":"boss"`) || !strings.Contains(body, "reason: 泵房断电,供电局两小时后到") {
		t.Errorf("the move is not in the audit trail: %s", body)
	}
}

// estate check locates every calendar problem in its file, and a rule in
// working days without a calendar in the configuration.
func TestCalendarChecks(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("bad-2026.yaml", "year: 2026\nholidays:\n  - {date: 2026-10-01, to: 2026-10-07, name: 国庆节}\n  - {date: 2026-10-06, name: 重叠}\n  - {date: 2026-13-01, name: 坏}\n")
	write("a-2027.csv", "date,to,type,name\n2027-01-01,,holiday,元旦\n")
	write("b-2027.yaml", "year: 2027\n")
	write("cn-2026.yaml", "year: 2026\nholidays:\n  - {date: 2026-10-01, to: 2026-10-07, name: 国庆节}\n")
	base := strings.Replace(deskConfig, "  deadlines:\n", "  deadlines:\n    - {site: north, kind: complaint, sub_kind: written, steps: {respond: 2h}}\n", 1)
	cfgFile := filepath.Join(dir, "desk.yaml")
	for _, tc := range []struct {
		name, edit string
		want       []string
	}{
		{"a calendar with overlapping and malformed days", "  calendar: [bad-2026.yaml]\n",
			[]string{"bad-2026.yaml:4: holidays[1]: 2026-10-06 is already given at line 3 (holidays[0])", `bad-2026.yaml:5: holidays[2].date: "2026-13-01" is not a date`}},
		{"two files for a year", "  calendar: [a-2027.csv, b-2027.yaml]\n", []string{"desk.calendar: ", "year 2027 is already given by"}},
		{"a missing file", "  calendar: [cn-2025.yaml]\n", []string{"desk.calendar[0]: cannot read the calendar file"}},
		{"working days with no calendar", "  deadlines:\n    - {kind: complaint, steps: {respond: 2wd}}\n",
			[]string{"desk.deadlines[0].steps.respond: 2wd counts working days, but the rule is for every site and desk.calendar is empty"}},
		{"a sub-kind of another kind", "  deadlines:\n    - {kind: repair, sub_kind: written, steps: {resolve: 1h}}\n",
			[]string{`desk.deadlines[0].sub_kind: "written": a repair has no sub-kinds`}},
		{"categories given twice", "  complaint_categories: [fees, fees, \"bad id\"]\n",
			[]string{`desk.complaint_categories[1]: "fees" is given twice`, `desk.complaint_categories[2]: "bad id": a category is an id`}},
		{"a bad working-day limit", "  deadlines:\n    - {kind: complaint, steps: {respond: 0wd}}\n",
			[]string{`working days must be a whole number from 1 to 366`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := strings.Replace(deskConfig, "  deadlines:\n", tc.edit+"  deadlines:\n", 1)
			if strings.HasPrefix(tc.edit, "  deadlines:") {
				text = strings.Replace(deskConfig, "  deadlines:\n", tc.edit, 1)
			}
			_, err := parseDesk(cfgFile, text)
			for _, w := range tc.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("got %v\nwant %s", err, w)
				}
			}
		})
	}
	// A good calendar, a rule in working days for a site that has it, a sub-kind rule: valid.
	good := strings.Replace(base, "  deadlines:\n", "  calendar: [cn-2026.yaml]\n  deadlines:\n    - {site: north, kind: complaint, steps: {respond: 2wd}}\n", 1)
	cfg, err := parseDesk(cfgFile, good)
	if err != nil {
		t.Fatalf("valid: %v", err)
	}
	if got := subKindTable(cfg.Desk, "north", wire.Complaint, wire.SubKindWritten)[wire.StepRespond]; got.After != 2*time.Hour {
		t.Errorf("north's written complaints: %v", got)
	}
	if got := deadlineTable(cfg.Desk, "north", wire.Complaint)[wire.StepRespond]; got.WorkingDays != 2 {
		t.Errorf("north's complaints: %v", got)
	}
	// The example configuration's calendar is the shipped one, and checks.
	if _, err := os.Stat(filepath.Join("..", "configs", "calendars", "cn-2026.yaml")); err != nil {
		t.Fatal(err)
	}
}

// A calendar the configuration's folder lacks is found among those that ship
// with Estate (an installed /etc/estate/desk.yaml names calendars/cn-2026.yaml).
func TestCalendarFromSharedDir(t *testing.T) {
	share := t.TempDir()
	if err := os.MkdirAll(filepath.Join(share, "calendars"), 0o755); err != nil {
		t.Fatal(err)
	}
	body, err := os.ReadFile(filepath.Join("..", "configs", "calendars", "cn-2026.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(share, "calendars", "cn-2026.yaml"), body, 0o600); err != nil {
		t.Fatal(err)
	}
	old := config.SharedDir
	config.SharedDir = share
	t.Cleanup(func() { config.SharedDir = old })
	text := strings.Replace(deskConfig, "  deadlines:\n", "  calendar: [calendars/cn-2026.yaml]\n  deadlines:\n", 1)
	cfg, err := parseDesk(filepath.Join(t.TempDir(), "desk.yaml"), text)
	if err != nil {
		t.Fatalf("calendar from the shared folder: %v", err)
	}
	if loadCalendars(cfg)("north") == nil {
		t.Error("north has no calendar")
	}
}

// The maintenance plans count working days on the sites' holiday calendars:
// the 2026 National Day week is off, its make-up Saturday (10 October) on.
func TestWorkingDaysOfCalendar(t *testing.T) {
	cfg := &config.Config{File: "../configs/desk.example.yaml"}
	cfg.Desk.Calendar = []string{"calendars/cn-2026.yaml"}
	wd := WorkingDaysOf(cfg)("any-site")
	if wd == nil {
		t.Fatal("no calendar for a site under desk.calendar")
	}
	loc, _ := time.LoadLocation("Asia/Shanghai")
	for day, want := range map[string]bool{"2026-10-02": false, "2026-10-10": true, "2026-10-12": true, "2026-10-11": false} {
		d, _ := time.ParseInLocation("2006-01-02", day, loc)
		if got := wd.IsWorkingDay(d); got != want {
			t.Errorf("%s: working %v, want %v", day, got, want)
		}
	}
	if WorkingDaysOf(&config.Config{File: "x.yaml"})("s") != nil {
		t.Error("without a calendar the plans keep their weekends")
	}
}
