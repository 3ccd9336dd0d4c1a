package desk

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"

	"github.com/estatehq/estate/desk/deskconfig"
	"github.com/estatehq/estate/desk/history"
	"github.com/estatehq/estate/internal/config"
	"github.com/estatehq/estate/internal/testenv"
)

// The red-meter list shows the balance and the relay (valve) now, from the
// newest readings in InfluxDB, not the balance that opened the ticket; the
// households without supply come first, and a reminder's outcome is kept.
func TestRedMeterListNow(t *testing.T) {
	influxURL, bucket := testenv.InfluxDB(t)
	now := time.Now()
	// The readings as the gateway writes them (measurement = family, tags
	// device and site): 2-202 tripped at 0.00, 1-101 still on at 5.50, the
	// water meter of 1-102 with its valve shut, older ones before them.
	lines := []string{
		fmt.Sprintf("meter,device=meter-1-101,site=site-a balance=9.99,relay=1i %d", now.Add(-10*time.Minute).UnixNano()),
		fmt.Sprintf("meter,device=meter-1-101,site=site-a balance=5.5,relay=1i %d", now.Add(-time.Minute).UnixNano()),
		fmt.Sprintf("meter,device=meter-2-202,site=site-a balance=9.5,relay=1i %d", now.Add(-10*time.Minute).UnixNano()),
		fmt.Sprintf("meter,device=meter-2-202,site=site-a balance=0,relay=0i %d", now.Add(-30*time.Second).UnixNano()),
		fmt.Sprintf("water,device=water-1-102,site=site-a balance=0,valve=1i %d", now.Add(-20*time.Second).UnixNano()),
		// Another site's meter of the same id: never mixed in.
		fmt.Sprintf("meter,device=meter-1-101,site=site-b balance=99,relay=0i %d", now.Add(-5*time.Second).UnixNano()),
	}
	// Written as the gateway writes them: the v2 write API the client uses.
	client := influxdb2.NewClient(influxURL, "")
	defer client.Close()
	if err := client.WriteAPIBlocking("", bucket).WriteRecord(context.Background(), lines...); err != nil {
		t.Fatalf("write readings: %v", err)
	}
	reader := history.New(config.InfluxDB{URL: influxURL, Bucket: bucket})
	defer reader.Close()

	d := newDesk(t, nil)
	d.srv.SetHistory(reader)
	open := func(unit, device, family string, balance float64) int64 {
		t.Helper()
		key := "site-a/low/" + device
		body := fmt.Sprintf(`{"idempotency_key":%q,"alarm_key":%q,"action":"open","at":%q,
			"ticket":{"kind":"top_up","title":"%s 余额不足","site":"site-a","building":"1","unit":%q,"device":%q,"category":%q,"alarm_key":%q,
			"source":"device_alarm","reading":{"point":"balance","value":%g,"at":%q}}}`,
			key+"/open", key, d.clock.Now().Format(time.RFC3339Nano), unit, unit, device, family, key, balance, d.clock.Now().Format(time.RFC3339Nano))
		code, out := d.call(t, "POST", "/api/v1/alarm-actions", gatewayToken, body)
		if code != 201 {
			t.Fatalf("open %s: %d %s", unit, code, out)
		}
		return decodeInto[struct{ Ticket struct{ ID int64 } }](t, out).Ticket.ID
	}
	oldest := open("1-101", "meter-1-101", "meter", 9.99)
	d.clock.Advance(26 * time.Hour)
	tripped := open("2-202", "meter-2-202", "meter", 9.5)
	d.clock.Advance(time.Hour)
	water := open("1-102", "water-1-102", "water", 9.8)
	silent := open("3-303", "meter-3-303", "meter", 8) // no reading in InfluxDB

	code, body := d.call(t, "POST", fmt.Sprintf("/api/v1/tickets/%d/reminders", tripped), assistantToken, `{"channel":"phone","outcome":"promised","answer":"今晚去前台充值"}`)
	if code != 201 {
		t.Fatalf("reminder: %d %s", code, body)
	}
	if code, body := d.call(t, "POST", fmt.Sprintf("/api/v1/tickets/%d/reminders", tripped), assistantToken, `{"channel":"phone","outcome":"maybe"}`); code != 422 || !strings.Contains(body, "reached, no_answer, promised, refused") {
		t.Errorf("an unknown outcome: %d %s", code, body)
	}

	code, body = d.call(t, "GET", "/api/v1/topups", assistantToken, "")
	if code != 200 {
		t.Fatalf("topups: %d %s", code, body)
	}
	list := decodeInto[struct{ Topups []TopUpView }](t, body).Topups
	var order []int64
	for _, tp := range list {
		order = append(order, tp.TicketID)
	}
	// Without supply first (each the longest red first), then the others.
	if want := []int64{tripped, water, oldest, silent}; fmt.Sprint(order) != fmt.Sprint(want) {
		t.Fatalf("order %v, want %v", order, want)
	}
	byID := map[int64]TopUpView{}
	for _, tp := range list {
		byID[tp.TicketID] = tp
	}
	check := func(id int64, balance float64, supply string) {
		t.Helper()
		tp := byID[id]
		if tp.BalanceNow == nil || *tp.BalanceNow != balance || tp.Supply != supply || tp.ReadingAt == nil {
			t.Errorf("%s: balance now %v, supply %q, at %v; want %.2f %q", tp.Unit, tp.BalanceNow, tp.Supply, tp.ReadingAt, balance, supply)
		}
	}
	check(tripped, 0, "off")
	check(water, 0, "off")
	check(oldest, 5.5, "on")
	if tp := byID[silent]; tp.BalanceNow != nil || tp.Supply != "" || tp.Balance == nil || *tp.Balance != 8 {
		t.Errorf("a meter without readings: %+v", tp)
	}
	if tp := byID[oldest]; tp.DaysRed != 1 {
		t.Errorf("1-101 red for %d days, want 1", tp.DaysRed)
	}
	if last := byID[tripped].LastReminder; last == nil || last.Outcome != "promised" || last.Answer != "今晚去前台充值" || last.By != "front" {
		t.Errorf("last reminder: %+v", last)
	}

	// Without InfluxDB the list is still there, with the tickets' balances.
	d.srv.SetHistory(nil)
	code, body = d.call(t, "GET", "/api/v1/topups", assistantToken, "")
	if list := decodeInto[struct{ Topups []TopUpView }](t, body).Topups; code != 200 || len(list) != 4 || list[0].TicketID != oldest || list[0].BalanceNow != nil {
		t.Errorf("without InfluxDB: %d %s", code, body)
	}
}

// The order is a chain of comparisons: one put in front wins, the rest
// still decide ties (how "my area first" joins it).
func TestTopUpOrderExtends(t *testing.T) {
	base := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	mk := func(id int64, supply, building string, red time.Duration) TopUpView {
		v := TopUpView{Supply: supply}
		v.TicketID, v.Building, v.RedSince = id, building, base.Add(red)
		return v
	}
	list := []TopUpView{mk(1, "on", "2", 0), mk(2, "off", "1", time.Hour), mk(3, "", "1", 2*time.Hour), mk(4, "off", "2", 3*time.Hour)}
	sortTopUps(list, topUpOrder)
	if got := []int64{list[0].TicketID, list[1].TicketID, list[2].TicketID, list[3].TicketID}; fmt.Sprint(got) != "[2 4 1 3]" {
		t.Errorf("default order %v", got)
	}
	mine := func(a, b TopUpView) int { return boolFirst(a.Building == "2", b.Building == "2") }
	sortTopUps(list, append([]func(a, b TopUpView) int{mine}, topUpOrder...))
	if got := []int64{list[0].TicketID, list[1].TicketID, list[2].TicketID, list[3].TicketID}; fmt.Sprint(got) != "[4 1 2 3]" {
		t.Errorf("building 2 first %v", got)
	}
}

// GET /sites names each site with its time zone: the consoles show 演示花园,
// not demo-estate, and a site's own accounts see their site only.
func TestSitesByName(t *testing.T) {
	d := newDesk(t, func(c *deskconfig.Config) {
		c.Sites = []deskconfig.Site{{ID: "site-a", Name: "演示花园", Timezone: "Asia/Shanghai"}, {ID: "site-b", Timezone: "Europe/Berlin"}}
	})
	code, body := d.call(t, "GET", "/api/v1/sites", roleTokens[RoleManager], "")
	sites := decodeInto[struct{ Sites []SiteView }](t, body).Sites
	if code != 200 || fmt.Sprint(sites) != "[{site-a 演示花园 Asia/Shanghai} {site-b site-b Europe/Berlin}]" {
		t.Errorf("sites: %d %v", code, sites)
	}
	if code, body := d.call(t, "GET", "/api/v1/sites", gatewayToken, ""); code != 403 {
		t.Errorf("a gateway lists sites: %d %s", code, body)
	}
}
