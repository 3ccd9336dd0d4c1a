package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// `estate notify test` sends each kind of channel its sample, in the
// channel's language, and prints what the channel answered; a refusing robot
// and an unknown channel end with 1 and say why. Loopback robots only.
func TestNotifyTestCommand(t *testing.T) {
	var mu sync.Mutex
	got := map[string]map[string]any{}
	robot := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		_ = json.NewDecoder(r.Body).Decode(&m)
		mu.Lock()
		got[r.URL.Path] = m
		mu.Unlock()
		switch r.URL.Path {
		case "/refuse":
			fmt.Fprint(w, `{"errcode":93000,"errmsg":"invalid webhook url"}`)
		case "/ding":
			if r.URL.Query().Get("sign") == "" {
				http.Error(w, "unsigned", 400)
				return
			}
			fmt.Fprint(w, `{"errcode":0,"errmsg":"ok"}`)
		default:
			fmt.Fprint(w, `{"errcode":0,"errmsg":"ok"}`)
		}
	}))
	defer robot.Close()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "desk.yaml")
	yaml := fmt.Sprintf(`site:
  id: demo-estate
  name: 演示花园
  timezone: Asia/Shanghai
desk:
  listen: 127.0.0.1:0
  driver: sqlite
  database: %s
  public_url: https://desk.example.com
  tokens:
    - {name: admin, token: admin-token-0123456789abcdef0123, role: admin}
  channels:
    - {name: duty-wecom, type: wecom, url: "%s/wecom?key=k", mention_users: [zhangsan]}
    - {name: duty-ding, type: dingtalk, url: "%s/ding?access_token=t", secret: SEC1, language: en, mention_mobiles: ["13800000000"], show_resident: true}
    - {name: broken, type: wecom, url: "%s/refuse?key=k"}
`, filepath.Join(dir, "desk.db"), robot.URL, robot.URL, robot.URL)
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, "notify", "test", "--config", cfgPath, "--channel", "duty-wecom")
	if code != 0 || !strings.Contains(out, `channel duty-wecom answered HTTP 200: {"errcode":0,"errmsg":"ok"}`) || !strings.Contains(out, "delivered") {
		t.Fatalf("wecom: %d %q %q", code, out, errOut)
	}
	mu.Lock()
	content := got["/wecom"]["markdown"].(map[string]any)["content"].(string)
	mu.Unlock()
	for _, want := range []string{"### [P3 报修] 测试消息", "演示花园 1栋 1层 1-101", "（Asia/Shanghai）", "[#0](https://desk.example.com/#/tickets/0)", "<@zhangsan>"} {
		if !strings.Contains(content, want) {
			t.Errorf("wecom sample lacks %q:\n%s", want, content)
		}
	}
	if strings.Contains(content, "10000") {
		t.Errorf("the wecom channel does not show residents, yet the sample has the phone:\n%s", content)
	}

	code, out, errOut = runCLI(t, "notify", "test", "--config", cfgPath, "--channel", "duty-ding")
	if code != 0 || !strings.Contains(out, "answered HTTP 200") {
		t.Fatalf("dingtalk: %d %q %q", code, out, errOut)
	}
	mu.Lock()
	ding := got["/ding"]
	mu.Unlock()
	text := ding["markdown"].(map[string]any)["text"].(string)
	for _, want := range []string{"### [P3 Repair] Test message", "演示花园, building 1, floor 1, 1-101", "Reporter: Estate 10000", "@13800000000"} {
		if !strings.Contains(text, want) {
			t.Errorf("dingtalk sample lacks %q:\n%s", want, text)
		}
	}
	if at, _ := ding["at"].(map[string]any); at == nil || fmt.Sprint(at["atMobiles"]) != "[13800000000]" {
		t.Errorf("dingtalk at: %v", ding["at"])
	}

	code, out, errOut = runCLI(t, "notify", "test", "--config", cfgPath, "--channel", "broken")
	if code != 1 || !strings.Contains(out, `answered HTTP 200: {"errcode":93000`) || !strings.Contains(errOut, "robot errcode 93000: invalid webhook url") {
		t.Errorf("a refusing robot: %d %q %q", code, out, errOut)
	}
	code, _, errOut = runCLI(t, "notify", "test", "--config", cfgPath, "--channel", "nope")
	if code != 1 || !strings.Contains(errOut, `no channel "nope"`) || !strings.Contains(errOut, "duty-wecom") {
		t.Errorf("an unknown channel: %d %q", code, errOut)
	}
	if code, _, _ := runCLI(t, "notify", "test", "--config", cfgPath); code != 2 {
		t.Errorf("without --channel: %d", code)
	}
}
