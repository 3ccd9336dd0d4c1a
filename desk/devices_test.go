package desk

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"

	"github.com/estatehq/estate/desk/history"
	"github.com/estatehq/estate/devices/points"
	"github.com/estatehq/estate/internal/config"
	"github.com/estatehq/estate/internal/testenv"
)

// A device's page gets its points as people call them, with the units its
// profile gives (the heartbeat carries them) and the words for states; the
// fleet's list does not carry the units of thousands of devices.
func TestDeviceLatestNamesItsPoints(t *testing.T) {
	influxURL, bucket := testenv.InfluxDB(t)
	now := time.Now()
	client := influxdb2.NewClient(influxURL, "")
	defer client.Close()
	if err := client.WriteAPIBlocking("", bucket).WriteRecord(context.Background(),
		fmt.Sprintf("meter,device=meter-1-101,site=site-a balance=12.5,relay=0i,power=1500,voltage_l1=229.6,odd_point=3 %d", now.Add(-time.Minute).UnixNano()),
		// An alarm transition as the gateway writes it (telemetry.AppendAlarm).
		fmt.Sprintf(`alarm,building=1,device=meter-1-101,rule=low,severity=warning,site=site-a state="firing",value=9.5,message_zh="1栋 1-101 余额不足",message_en="1-101: balance low" %d`, now.Add(-2*time.Minute).UnixNano())); err != nil {
		t.Fatalf("write readings: %v", err)
	}
	reader := history.New(config.InfluxDB{URL: influxURL, Bucket: bucket})
	defer reader.Close()
	d := newDesk(t, nil)
	d.srv.SetHistory(reader)
	beat := `{"gateway":"gw-1","site":"site-a","at":"` + d.clock.Now().UTC().Format(time.RFC3339) + `","interval":10000000000,"devices":[
		{"id":"meter-1-101","family":"meter","model":"demo-prepaid-meter","building":"1","unit":"1-101","state":"online",
		 "units":{"balance":"CNY","power":"W"},
		 "names":{"odd_point":{"label":"备用计数","label_en":"Spare counter"},"relay":{"states":{"0":{"zh":"断电","en":"Off"},"1":{"zh":"通电","en":"On"}}}}}]}`
	if code, out := d.call(t, "POST", "/api/v1/gateways/heartbeat", gatewayToken, beat); code != 204 {
		t.Fatalf("heartbeat: %d %s", code, out)
	}
	code, out := d.call(t, "GET", "/api/v1/devices/meter-1-101/latest", assistantToken, "")
	if code != 200 {
		t.Fatalf("latest: %d %s", code, out)
	}
	got := decodeInto[struct {
		Site, Model string
		Values      map[string]float64
		Points      map[string]points.Point
	}](t, out)
	if got.Site != "site-a" || got.Model != "demo-prepaid-meter" || got.Values["power"] != 1500 {
		t.Errorf("latest: %s", out)
	}
	for name, want := range map[string]struct{ zh, en, unit string }{
		"balance":    {"剩余金额", "Balance", "CNY"},
		"power":      {"有功功率", "Active power", "W"}, // the profile's unit
		"voltage_l1": {"A 相电压", "Voltage L1", "V"},  // the catalogue's unit
		"relay":      {"继电器", "Relay", ""},
		"odd_point":  {"备用计数", "Spare counter", ""}, // the profile's own names
	} {
		p := got.Points[name]
		if p.ZH != want.zh || p.EN != want.en || p.Unit != want.unit {
			t.Errorf("%s: %+v, want %+v", name, p, want)
		}
	}
	// The profile's state words over the catalogue's 跳闸/合闸.
	if s := got.Points["relay"].States; s["0"].ZH != "断电" || s["1"].EN != "On" {
		t.Errorf("relay states: %+v", s)
	}
	// The alarm history says the rule's messages.
	code, out = d.call(t, "GET", "/api/v1/devices/meter-1-101/alarms", assistantToken, "")
	alarms := decodeInto[struct{ Alarms []history.AlarmChange }](t, out).Alarms
	if code != 200 || len(alarms) != 1 || alarms[0].Rule != "low" || alarms[0].MessageZH != "1栋 1-101 余额不足" || alarms[0].MessageEN != "1-101: balance low" {
		t.Errorf("alarm history: %d %s", code, out)
	}
	// The ticket the reading raised names its point the same way.
	key := "site-a/low/meter-1-101"
	body := fmt.Sprintf(`{"idempotency_key":%q,"alarm_key":%q,"action":"open","at":%q,
		"ticket":{"kind":"top_up","title":"1-101 余额不足","title_en":"1-101: balance low","site":"site-a","building":"1","unit":"1-101","device":"meter-1-101","category":"meter","alarm_key":%q,
		"source":"device_alarm","reading":{"point":"balance","value":9.99,"unit":"CNY","at":%q}}}`,
		key+"/open", key, d.clock.Now().Format(time.RFC3339Nano), key, d.clock.Now().Format(time.RFC3339Nano))
	code, out = d.call(t, "POST", "/api/v1/alarm-actions", gatewayToken, body)
	if code != 201 {
		t.Fatalf("open: %d %s", code, out)
	}
	id := decodeInto[struct{ Ticket struct{ ID int64 } }](t, out).Ticket.ID
	_, out = d.call(t, "GET", fmt.Sprintf("/api/v1/tickets/%d", id), assistantToken, "")
	if got := decodeInto[TicketDetail](t, out); got.TitleEN != "1-101: balance low" || got.Title != "1-101 余额不足" {
		t.Errorf("the ticket's titles: %s", out)
	}
	if rp := decodeInto[TicketDetail](t, out).ReadingPoint; rp == nil || rp.ZH != "剩余金额" || rp.Unit != "CNY" {
		t.Errorf("the ticket's reading point: %s", out)
	}
	if code, out := d.call(t, "GET", "/api/v1/devices", assistantToken, ""); code != 200 || !strings.Contains(out, "meter-1-101") || strings.Contains(out, `"units"`) || strings.Contains(out, `"names"`) {
		t.Errorf("device list: %d %s", code, out)
	}
}
