package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/estatehq/estate/desk/store"
	"github.com/estatehq/estate/internal/testenv"
	"github.com/estatehq/estate/internal/wire"
)

// The monthly report (客户月投诉统计表) against its targets, from the demo:
// its two households registered as the assistant would, its simulators'
// tickets (the prepaid meters' reminders, the flooded pump room's
// emergency), and a day's work on them through the API — the emergency
// handled and closed with its approved incident report, a resident's
// complaint followed up, a household repair followed up unhappily (it
// reopens), redone and followed up again. The report's figures are checked
// against the tickets, and its targets table is printed (go test -v).
func TestDemoMonthlyReportAgainstTargets(t *testing.T) {
	influxURL, bucket := testenv.InfluxDB(t)
	cfg := demoConfig(t, influxURL, bucket,
		"initial_balance: 22", "initial_balance: 12",
		"drain_per_second: 0.5", "drain_per_second: 1",
		"{at: 100s, do: flood, for: 3m}", "{at: 4s, do: flood, for: 3m}",
		"{at: 105s, do: flood, for: 3m}", "{at: 7s, do: flood, for: 3m}")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The households, registered before the desk starts (households page).
	st, err := store.Open(ctx, store.SQLiteDialect, cfg.Desk.Database, store.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []store.Unit{
		{Site: "demo-estate", Unit: "1-101", Building: "1", Floor: "1", Residents: []store.Resident{{Name: "张伟", Phone: "13800001101", Contact: "phone"}}, Meters: []string{"meter-1-1-101"}},
		{Site: "demo-estate", Unit: "1-102", Building: "1", Floor: "1", Residents: []store.Resident{{Name: "李娜", Phone: "13800001102", Contact: "sms"}}, Meters: []string{"water-1-1-102"}},
	} {
		if err := st.PutUnit(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	done := make(chan error, 1)
	go func() { done <- RunDemo(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard, nil) }()
	defer func() { cancel(); <-done }()
	base := "http://" + cfg.Desk.Listen
	awaitDesk(t, base)
	waitFor(t, 60*time.Second, "the meter's reminder and the pump room's emergency", func() bool {
		return len(queryTickets(t, cfg, "kind=top_up")) > 0 && len(queryTickets(t, cfg, "kind=emergency")) > 0
	})

	call := func(method, path, body string, want int) []byte {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+adminToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %d, want %d: %s", method, path, resp.StatusCode, want, out)
		}
		return out
	}
	act := func(id int64, body string) { call("POST", fmt.Sprintf("/api/v1/tickets/%d/actions", id), body, 200) }
	em := queryTickets(t, cfg, "kind=emergency")[0].ID
	act(em, `{"action":"dispatch","assignee":"engineer","team":"engineering"}`)
	act(em, `{"action":"arrive"}`)
	act(em, `{"action":"resolve","resolution":"关闭进水阀，排水泵抽水","cause":"wear"}`)
	call("POST", fmt.Sprintf("/api/v1/tickets/%d/actions", em), `{"action":"close"}`, 409)
	call("PUT", fmt.Sprintf("/api/v1/tickets/%d/incident", em), `{"what_happened":"泵房地面积水","cause":"进水管接头老化渗漏","measures":"关阀、抽水、更换接头",`+
		`"result":"无设备损坏","people":"中控值班、李工","submit":true}`, 200)
	call("POST", fmt.Sprintf("/api/v1/tickets/%d/incident/decision", em), `{"approve":true}`, 200)
	act(em, `{"action":"close"}`)

	var complaint, repair wire.Ticket
	json.Unmarshal(call("POST", "/api/v1/tickets", `{"kind":"complaint","title":"楼道灯不亮","site":"demo-estate","unit":"1-102","source":"phone"}`, 201), &complaint)
	call("POST", fmt.Sprintf("/api/v1/tickets/%d/reply", complaint.ID), `{"note":"已派电工今天更换"}`, 200)
	act(complaint.ID, `{"action":"dispatch","assignee":"engineer","team":"engineering"}`)
	act(complaint.ID, `{"action":"resolve","resolution":"更换灯管","cause":"amenities"}`)
	act(complaint.ID, `{"action":"follow_up","satisfaction":5,"follow_up_note":"很快就修好了"}`)
	act(complaint.ID, `{"action":"close"}`)
	json.Unmarshal(call("POST", "/api/v1/tickets", `{"kind":"repair","title":"厨房水龙头漏水","site":"demo-estate","unit":"1-101","source":"phone"}`, 201), &repair)
	act(repair.ID, `{"action":"dispatch","assignee":"engineer","team":"engineering"}`)
	act(repair.ID, `{"action":"resolve","resolution":"更换垫圈"}`)
	act(repair.ID, `{"action":"follow_up","satisfaction":2,"follow_up_note":"还在滴水"}`) // reopens to engineering
	act(repair.ID, `{"action":"arrive"}`)
	act(repair.ID, `{"action":"resolve","resolution":"更换阀芯"}`)
	act(repair.ID, `{"action":"follow_up","satisfaction":4,"follow_up_note":"好了"}`)

	month := time.Now().In(shanghai(t)).Format("2006-01")
	var r store.Report
	if err := json.Unmarshal(call("GET", "/api/v1/reports/monthly?site=demo-estate&month="+month, "", 200), &r); err != nil {
		t.Fatal(err)
	}
	all := queryTickets(t, cfg, "site=demo-estate&limit=500")
	if r.Tickets != len(all) || r.Households != 2 || r.HouseholdsFollowedUp != 2 || r.Reopened != 1 || r.Complaints != 1 ||
		r.SatisfactionCount != 2 || r.Satisfied != 2 {
		t.Fatalf("figures: tickets %d (listed %d), households %d, followed up %d, reopened %d, complaints %d, satisfied %d/%d",
			r.Tickets, len(all), r.Households, r.HouseholdsFollowedUp, r.Reopened, r.Complaints, r.Satisfied, r.SatisfactionCount)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "monthly report of demo-estate, %s (site time): %d tickets %v\n", month, r.Tickets, r.ByKind)
	fmt.Fprintf(&b, "%-28s %-16s %-10s %s\n", "figure", "this month", "target", "met")
	for _, g := range r.Targets {
		name := g.Name
		if g.Step != "" {
			name += " · " + string(g.Step)
		}
		value, met := "—", "—"
		if g.Value != nil {
			value = fmt.Sprintf("%.1f%% (%d/%d)", *g.Value*100, g.Num, g.Den)
			if g.Name == "households_followed_up" {
				value = fmt.Sprint(g.Num)
			}
		}
		if g.Met != nil {
			met = fmt.Sprint(*g.Met)
		}
		goal := fmt.Sprintf("%s %.0f%%", g.Op, g.Target*100)
		if g.Name == "households_followed_up" {
			goal = fmt.Sprintf("%s %.0f", g.Op, g.Target)
		}
		fmt.Fprintf(&b, "%-28s %-16s %-10s %s\n", name, value, goal, met)
	}
	t.Log("\n" + b.String())
	csv := string(call("GET", "/api/v1/reports/monthly?site=demo-estate&month="+month+"&format=csv", "", 200))
	for _, want := range []string{"target,follow_up_rate,>= 1.000", "target_value,households_followed_up,2.000", "rework,reopened,1", "target_met,reopen_rate,false"} {
		if !strings.Contains(csv, want) {
			t.Errorf("CSV lacks %q:\n%s", want, csv)
		}
	}
}
