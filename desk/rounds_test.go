package desk

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/estatehq/estate/desk/deskconfig"
	"github.com/estatehq/estate/desk/rounds"
	"github.com/estatehq/estate/internal/wire"
)

func ptr(f float64) *float64 { return &f }

// testRoutes: a daily distribution-room round of site-a from 08:30 (site
// time), and a building round of site-b on Mondays.
func testRoutes() []deskconfig.Route {
	return []deskconfig.Route{{
		ID: "dist", Site: "site-a", Name: "配电房日常巡检", Building: "1",
		Schedule: deskconfig.RouteSchedule{EveryDays: 1, Start: "08:30", StartWithin: time.Hour, FinishWithin: 3 * time.Hour},
		Checkpoints: []deskconfig.Checkpoint{
			{Code: "DR-1", Name: "1号配电房", Floor: "B1", Equipment: []string{"tx-1"}, Items: []deskconfig.CheckItem{
				{ID: "temp", Label: "变压器温度", Type: rounds.TypeReading, Unit: "°C", Min: ptr(0), Max: ptr(85)},
				{ID: "smell", Label: "无异味", Type: rounds.TypeCheck}}},
			{Code: "DR-2", Name: "2号配电房", Items: []deskconfig.CheckItem{
				{ID: "remarks", Label: "记录", Type: rounds.TypeNote}}},
		},
	}, {
		ID: "b1", Site: "site-b", Name: "1号楼巡检",
		Schedule:    deskconfig.RouteSchedule{Weekdays: []string{"mon", "tue"}, Start: "09:00"},
		Checkpoints: []deskconfig.Checkpoint{{Code: "B1-FIRE", Name: "消防", Items: []deskconfig.CheckItem{{ID: "hydrant", Label: "消火栓", Type: rounds.TypeCheck}}}},
	}}
}

func roundsDesk(t *testing.T) *testDesk {
	d := newDesk(t, func(c *deskconfig.Config) {
		c.Sites = []deskconfig.Site{{ID: "site-a", Timezone: "Asia/Shanghai"}, {ID: "site-b", Timezone: "Asia/Shanghai"}}
		c.Rounds = testRoutes()
		// The supervisors' group hears of missed rounds.
		c.Channels = []deskconfig.Channel{{Name: "supervisors", Type: "webhook", URL: "http://127.0.0.1:9/hook", Levels: []string{"supervisor"}}}
	})
	// 2026-11-24 08:40 in Shanghai, a Tuesday.
	d.clock.now = time.Date(2026, 11, 24, 0, 40, 0, 0, time.UTC)
	return d
}

func todaysRound(t *testing.T, d *testDesk, token, route string) rounds.Round {
	t.Helper()
	code, body := d.call(t, "GET", "/api/v1/rounds", token, "")
	if code != 200 {
		t.Fatalf("list: %d %s", code, body)
	}
	for _, r := range decodeInto[struct{ Rounds []rounds.Round }](t, body).Rounds {
		if r.Route == route {
			return r
		}
	}
	t.Fatalf("no round of %s today: %s", route, body)
	return rounds.Round{}
}

// A round walked through the API: the checkpoint confirmed before its
// items, answers judged by their type, a reading out of its limits opens a
// repair due within 24 hours with the note, a repeat scan within a minute is
// refused, and the round finishes only when complete.
func TestRoundWalkedWithAnomalyTicket(t *testing.T) {
	d := roundsDesk(t)
	eng := roleTokens[RoleEngineer]
	r := todaysRound(t, d, eng, "dist")
	if r.Day != "2026-11-24" || r.Status != rounds.StatusDue || r.Progress.Items != 3 || r.Progress.Checkpoints != 2 {
		t.Fatalf("today's round: %+v", r)
	}
	if want := time.Date(2026, 11, 24, 0, 30, 0, 0, time.UTC); !r.StartsAt.Equal(want) || !r.FinishBy.Equal(want.Add(3*time.Hour)) {
		t.Errorf("window %s–%s", r.StartsAt, r.FinishBy)
	}
	path := fmt.Sprintf("/api/v1/rounds/%d", r.ID)
	answer := func(body string) (int, string) { return d.call(t, "POST", path+"/results", eng, body) }
	if code, body := answer(`{"checkpoint":"DR-1","item":"smell","outcome":"pass"}`); code != 409 || !strings.Contains(body, "scan its QR code") {
		t.Errorf("answer before the checkpoint is confirmed: %d %s", code, body)
	}
	if code, body := d.call(t, "POST", path+"/visits", eng, `{"code":"DR-9","method":"qr"}`); code != 422 || !strings.Contains(body, "DR-1, DR-2") {
		t.Errorf("unknown checkpoint: %d %s", code, body)
	}
	if code, body := d.call(t, "POST", path+"/visits", eng, `{"code":"DR-1","method":"qr"}`); code != 200 || !strings.Contains(body, `"status":"in_progress"`) {
		t.Fatalf("confirm DR-1: %d %s", code, body)
	}
	d.clock.Advance(30 * time.Second)
	if code, body := d.call(t, "POST", path+"/visits", eng, `{"code":"DR-1","method":"manual"}`); code != 409 || !strings.Contains(body, "within 1m0s") {
		t.Errorf("second scan within a minute: %d %s", code, body)
	}
	// Readings outside their type: clear errors, nothing recorded.
	for _, tc := range []struct{ body, want string }{
		{`{"checkpoint":"DR-1","item":"temp","value":"hot"}`, "value: must be a number"},
		{`{"checkpoint":"DR-1","item":"temp","outcome":"pass"}`, "send its value"},
		{`{"checkpoint":"DR-1","item":"temp"}`, "a number is required"},
		{`{"checkpoint":"DR-1","item":"smell","value":3}`, "is a check"},
		{`{"checkpoint":"DR-1","item":"smell","outcome":"maybe"}`, "pass or fail"},
		{`{"checkpoint":"DR-1","item":"nope","outcome":"pass"}`, "temp, smell"},
	} {
		if code, body := answer(tc.body); (code != 422 && code != 400) || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %d %s, want %q", tc.body, code, body, tc.want)
		}
	}
	if code, body := answer(`{"checkpoint":"DR-1","item":"smell","outcome":"pass"}`); code != 200 {
		t.Fatalf("pass: %d %s", code, body)
	}
	code, body := answer(`{"checkpoint":"DR-1","item":"temp","value":92.5,"note":"A相温度高，风机未启动"}`)
	if code != 200 {
		t.Fatalf("reading: %d %s", code, body)
	}
	res := decodeInto[answerResponse](t, body)
	if res.Result.Outcome != rounds.Fail || res.Result.TicketID == 0 || res.Round.Progress.Failed != 1 {
		t.Fatalf("a reading above its max: %+v", res.Result)
	}
	code, body = d.call(t, "GET", fmt.Sprintf("/api/v1/tickets/%d", res.Result.TicketID), eng, "")
	tk := decodeInto[wire.Ticket](t, body)
	if code != 200 || tk.Kind != wire.Repair || tk.Category != "inspection" || tk.Source != wire.SourceRound ||
		!strings.Contains(tk.Description, "A相温度高") || !strings.Contains(tk.Description, "92.5 °C (0–85)") || tk.Floor != "B1" {
		t.Fatalf("anomaly ticket: %d %s", code, body)
	}
	var resolve *wire.Deadline
	for i, dl := range tk.Deadlines {
		if dl.Step == wire.StepResolve {
			resolve = &tk.Deadlines[i]
		}
		if dl.Step == wire.StepOnSite && dl.State != wire.DeadlineMet {
			t.Errorf("on site: %s, want met (the inspector is there)", dl.State)
		}
	}
	if resolve == nil || !resolve.DueAt.Equal(d.clock.Now().Add(24*time.Hour)) {
		t.Errorf("resolve deadline %+v, want 24 h from %s", resolve, d.clock.Now())
	}
	// The same failure answered again finds the same ticket.
	if _, body := answer(`{"checkpoint":"DR-1","item":"temp","value":95}`); decodeInto[answerResponse](t, body).Result.TicketID != res.Result.TicketID {
		t.Errorf("answered again: %s", body)
	}
	if code, body := d.call(t, "POST", path+"/finish", eng, ""); code != 409 || !strings.Contains(body, "DR-2 (not confirmed)") {
		t.Errorf("finish incomplete: %d %s", code, body)
	}
	d.call(t, "POST", path+"/visits", eng, `{"code":"DR-2","method":"manual"}`)
	if code, body := answer(`{"checkpoint":"DR-2","item":"remarks","note":"  "}`); code != 422 || !strings.Contains(body, "text is required") {
		t.Errorf("empty note: %d %s", code, body)
	}
	answer(`{"checkpoint":"DR-2","item":"remarks","note":"正常"}`)
	code, body = d.call(t, "POST", path+"/finish", eng, "")
	if code != 200 || !strings.Contains(body, `"status":"done"`) {
		t.Fatalf("finish: %d %s", code, body)
	}
	if code, body := answer(`{"checkpoint":"DR-2","item":"remarks","note":"改"}`); code != 409 {
		t.Errorf("answer after finishing: %d %s", code, body)
	}
	// The record: who confirmed what, how and when; every result kept.
	got := decodeInto[RoundDetail](t, body)
	if got.Checkpoints[0].Visited.Method != rounds.MethodQR || got.Checkpoints[1].Visited.Method != rounds.MethodManual ||
		got.Checkpoints[0].Items[0].Result.TicketID != res.Result.TicketID || got.SiteTimezone != "Asia/Shanghai" {
		t.Errorf("record: %s", body)
	}
	// The transformer checked at DR-1 has the visit in its history, with the
	// failed reading and its ticket; DR-2 checks nothing of the register.
	if code, out := d.call(t, "PUT", "/api/v1/equipment/site-a/tx-1", adminToken, `{"name":"1号变压器","serial":"TB-1"}`); code != 200 && code != 201 {
		t.Fatalf("register tx-1: %d %s", code, out)
	}
	_, out := d.call(t, "GET", "/api/v1/equipment/site-a/tx-1", eng, "")
	hist := decodeInto[struct{ Rounds []rounds.CheckpointRecord }](t, out).Rounds
	if len(hist) != 1 || hist[0].Checkpoint != "DR-1" || hist[0].Route != "dist" || hist[0].Failed != 1 || hist[0].By != "eng" ||
		len(hist[0].Results) != 2 || !slices.ContainsFunc(hist[0].Results, func(r rounds.Result) bool { return r.TicketID == res.Result.TicketID }) {
		t.Errorf("tx-1's rounds: %s", out)
	}
	// The assistant does not walk rounds.
	if code, _ := d.call(t, "GET", "/api/v1/rounds", assistantToken, ""); code != 403 {
		t.Errorf("assistant lists rounds: %d", code)
	}
}

// A round nobody starts is escalated at its start deadline with a ticket;
// one not finished by its finish deadline is missed, once.
func TestRoundNotStartedEscalates(t *testing.T) {
	d := roundsDesk(t)
	ctx := context.Background()
	d.srv.roundsTick(ctx)
	r := todaysRound(t, d, adminToken, "dist")
	d.clock.Advance(50 * time.Minute) // 09:30: start_by
	d.srv.roundsTick(ctx)
	code, body := d.call(t, "GET", fmt.Sprintf("/api/v1/rounds/%d", r.ID), adminToken, "")
	got := decodeInto[RoundDetail](t, body)
	if code != 200 || got.EscalatedAt == nil || got.MissedTicket == 0 || got.Status != rounds.StatusDue {
		t.Fatalf("after start_by: %s", body)
	}
	_, body = d.call(t, "GET", fmt.Sprintf("/api/v1/tickets/%d", got.MissedTicket), adminToken, "")
	if tk := decodeInto[wire.Ticket](t, body); !strings.HasPrefix(tk.Title, "巡检未开始") || tk.Category != "round_missed" {
		t.Errorf("missed ticket: %s", body)
	}
	// The supervisors' channel has the notice waiting in the outbox.
	notes, err := d.st.ClaimNotifications(ctx, d.clock.Now(), 10, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, n := range notes {
		found = found || n.Channel == "supervisors" && n.Event == "round_missed" && n.TicketID == got.MissedTicket
	}
	if !found {
		t.Errorf("no round_missed notice to the supervisors: %+v", notes)
	}
	d.clock.Advance(3 * time.Hour)
	d.srv.roundsTick(ctx)
	d.srv.roundsTick(ctx)
	_, body = d.call(t, "GET", fmt.Sprintf("/api/v1/rounds/%d", r.ID), adminToken, "")
	if again := decodeInto[RoundDetail](t, body); again.Status != rounds.StatusMissed || again.MissedTicket != got.MissedTicket {
		t.Errorf("after finish_by: %s", body)
	}
	_, body = d.call(t, "GET", "/api/v1/tickets?site=site-a", adminToken, "")
	if n := strings.Count(body, "巡检未"); n != 1 {
		t.Errorf("%d missed-round tickets, want 1: %s", n, body)
	}
	// Tomorrow's round falls due on its own.
	d.clock.Advance(20 * time.Hour)
	if r2 := todaysRound(t, d, adminToken, "dist"); r2.ID == r.ID || r2.Day != "2026-11-25" {
		t.Errorf("tomorrow: %+v", r2)
	}
}

// A patrol reader's visits from the gateway: counted for the open round
// (starting it), a retry replayed, a repeat within a minute answered but
// not recorded, an unknown checkpoint refused; another site's gateway is walled off.
func TestReaderVisits(t *testing.T) {
	d := roundsDesk(t)
	r := todaysRound(t, d, adminToken, "dist")
	at := d.clock.Now().Add(-10 * time.Second).UTC().Format(time.RFC3339Nano)
	visit := func(body string) (int, string) {
		return d.call(t, "POST", "/api/v1/rounds/reader-visits", gatewayToken, body)
	}
	code, body := visit(`{"checkpoint":"DR-1","reader":"patrol-1","at":"` + at + `"}`)
	if res := decodeInto[wire.CheckpointVisitResult](t, body); code != 200 || res.Round != r.ID || res.Replayed {
		t.Fatalf("reader visit: %d %s", code, body)
	}
	if _, body := visit(`{"checkpoint":"DR-1","reader":"patrol-1","at":"` + at + `"}`); !decodeInto[wire.CheckpointVisitResult](t, body).Replayed {
		t.Errorf("retry: %s", body)
	}
	later := d.clock.Now().UTC().Format(time.RFC3339Nano)
	if code, body := visit(`{"checkpoint":"DR-1","reader":"patrol-1","at":"` + later + `"}`); code != 200 || !decodeInto[wire.CheckpointVisitResult](t, body).Repeat {
		t.Errorf("repeat within a minute: %d %s", code, body)
	}
	if code, body := visit(`{"checkpoint":"NOPE","reader":"patrol-1","at":"` + later + `"}`); code != 422 || !strings.Contains(body, "not a checkpoint of any route of site site-a") {
		t.Errorf("unknown checkpoint: %d %s", code, body)
	}
	if code, body := visit(`{"checkpoint":"B1-FIRE","reader":"patrol-1","at":"` + later + `","site":"site-b"}`); code != 403 {
		t.Errorf("another site's visit: %d %s", code, body)
	}
	_, body = d.call(t, "GET", fmt.Sprintf("/api/v1/rounds/%d", r.ID), adminToken, "")
	got := decodeInto[RoundDetail](t, body)
	if got.Status != rounds.StatusInProgress || got.Checkpoints[0].Visited == nil || got.Checkpoints[0].Visited.Reader != "patrol-1" || got.Progress.Visited != 1 {
		t.Errorf("round after the reader: %s", body)
	}
}
