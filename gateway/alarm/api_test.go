package alarm

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestAlarmsAPIListsFiringAndSuppressedWithWhy(t *testing.T) {
	h := newHarness(t, `
devices:
  - {id: m1, family: meter, protocol: modbus_tcp, building: "5", unit: "5-101"}
  - {id: m2, family: meter, protocol: modbus_tcp, building: "6"}
rules:
  - {name: low, family: meter, point: balance, below: 10, ticket: top_up, message: {zh: "{unit} 余额 {value}", en: "{unit} balance {value}"}}
  - {name: gone, family: meter, type: offline, ticket: repair}
  - {name: hot, family: meter, point: temp, above: 60, for: 5m}
maintenance:
  - {devices: [m2], reason: "meter swap", end: 2099-01-01T00:00:00Z}
`)
	h.read("m1", t0, "balance", 3, "temp", 70)
	h.health("m2", true, t0)
	srv := httptest.NewServer(h.eng.Handler(time.UTC))
	defer srv.Close()
	get := func(q string) []View {
		resp, err := http.Get(srv.URL + "/api/v1/alarms" + q)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct{ Alarms []View }
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatal(err)
		}
		return body.Alarms
	}
	all := get("")
	if len(all) != 3 {
		t.Fatalf("alarms %+v", all)
	}
	byRule := map[string]View{}
	for _, v := range all {
		byRule[v.Rule] = v
	}
	if v := byRule["low"]; v.Phase != Firing || !v.Ticketed || v.MessageZH != "5-101 余额 3.00" || v.Suppressed != "" {
		t.Errorf("low: %+v", v)
	}
	if v := byRule["hot"]; v.Phase != Pending || v.PendingSince != t0 {
		t.Errorf("hot: %+v", v)
	}
	if v := byRule["gone"]; v.Ticketed || !strings.Contains(v.Suppressed, "meter swap") {
		t.Errorf("gone: %+v", v)
	}
	if s := get("?state=suppressed"); len(s) != 1 || s[0].Rule != "gone" {
		t.Errorf("suppressed: %+v", s)
	}
	if p := get("?state=pending"); len(p) != 1 || p[0].Rule != "hot" {
		t.Errorf("pending: %+v", p)
	}
}
