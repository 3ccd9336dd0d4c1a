package desk

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestHeartbeatAndDevices(t *testing.T) {
	h := newTestDesk(t)
	beat := `{"gateway":"gw-1","site":"site-a","at":"` + time.Now().UTC().Format(time.RFC3339) + `","interval":10000000000,
		"telemetry_backlog":7,"outbox_pending":1,"devices":[
		{"id":"m1","family":"meter","building":"1","unit":"1-101","state":"online","polls":10,"errors":0},
		{"id":"m2","family":"meter","building":"2","unit":"2-201","state":"offline","polls":10,"errors":4,"last_error":"i/o timeout"}],
		"alarms":[{"key":"site-a/device_offline/m2","rule":"device_offline","device":"m2","state":"firing","severity":"warning",
			"suppressed":"power outage on feeder b2","message_zh":"m2 无应答","message_en":"m2 does not answer"},
		{"key":"site-a/low/m1","rule":"low","device":"m1","state":"firing","severity":"warning","ticketed":true,
			"message_zh":"余额不足","message_en":"low balance"}]}`
	cases := []struct {
		name, method, path, token, body string
		want                            int
	}{
		{"gateway reports its site", "POST", "/api/v1/gateways/heartbeat", gatewayToken, beat, 204},
		{"gateway may not report another site", "POST", "/api/v1/gateways/heartbeat", gatewayToken, strings.Replace(beat, "site-a", "site-b", 1), 403},
		{"staff may not post heartbeats", "POST", "/api/v1/gateways/heartbeat", adminToken, beat, 403},
		{"bad heartbeat", "POST", "/api/v1/gateways/heartbeat", gatewayToken, `{"gateway":`, 400},
		{"no token", "GET", "/api/v1/devices", "", "", 401},
		{"gateway may not read the fleet", "GET", "/api/v1/devices", gatewayToken, "", 403},
		{"unknown device", "GET", "/api/v1/devices/nope/latest", adminToken, "", 404},
	}
	for _, tc := range cases {
		code, body := call(t, h, tc.method, tc.path, tc.token, tc.body)
		if code != tc.want {
			t.Errorf("%s: status %d, want %d (%s)", tc.name, code, tc.want, body)
		}
	}

	code, body := call(t, h, "GET", "/api/v1/devices?building=2", assistantToken, "")
	var devs struct{ Devices []DeviceView }
	if err := json.Unmarshal([]byte(body), &devs); err != nil || code != 200 {
		t.Fatalf("devices: %d %s", code, body)
	}
	if len(devs.Devices) != 1 || devs.Devices[0].ID != "m2" || devs.Devices[0].State != "offline" ||
		devs.Devices[0].Gateway != "gw-1" || devs.Devices[0].Stale || devs.Devices[0].LastError != "i/o timeout" {
		t.Errorf("devices of building 2: %+v", devs.Devices)
	}
	code, body = call(t, h, "GET", "/api/v1/gateways", adminToken, "")
	if code != 200 || !strings.Contains(body, `"offline":1`) || !strings.Contains(body, `"telemetry_backlog":7`) {
		t.Errorf("gateways: %d %s", code, body)
	}
	code, body = call(t, h, "GET", "/api/v1/alarms?suppressed=true", assistantToken, "")
	var alarms struct{ Alarms []AlarmView }
	if err := json.Unmarshal([]byte(body), &alarms); err != nil || code != 200 {
		t.Fatalf("alarms: %d %s", code, body)
	}
	if len(alarms.Alarms) != 1 || alarms.Alarms[0].Device != "m2" || alarms.Alarms[0].Suppressed != "power outage on feeder b2" ||
		alarms.Alarms[0].Gateway != "gw-1" {
		t.Errorf("suppressed alarms: %+v", alarms.Alarms)
	}
	if code, body = call(t, h, "GET", "/api/v1/alarms", assistantToken, ""); code != 200 || strings.Count(body, `"key"`) != 2 {
		t.Errorf("all alarms: %d %s", code, body)
	}
	if code, _ = call(t, h, "GET", "/api/v1/alarms?suppressed=maybe", assistantToken, ""); code != 400 {
		t.Errorf("bad filter: %d", code)
	}
	code, body = call(t, h, "GET", "/api/v1/me", gatewayToken, "")
	if code != 200 || !strings.Contains(body, `"role":"gateway"`) || !strings.Contains(body, `"site":"site-a"`) {
		t.Errorf("me: %d %s", code, body)
	}
}
