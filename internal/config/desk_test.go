package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/estatehq/estate/internal/wire"
)

const deskConfig = `site:
  id: centre
  timezone: Asia/Shanghai
desk:
  listen: 127.0.0.1:8080
  database: var/desk.db
  tokens:
    - {name: admin, token: admin-token-0123456789, role: manager}
  staff:
    - {name: li, role: engineer, team: engineering, password_hash: $2a$10$mCV1Otkwjm.Sddlyw.6tA.MrEaMgYlhrmTmTq47CDeDUnnyqfvCoi}
  sites:
    - {id: north, timezone: Asia/Urumqi}
  deadlines:
    - {site: "*", kind: repair, steps: {on_site: 20m}}
    - {site: north, kind: repair, steps: {on_site: 30m, resolve: none}}
  channels:
    - {name: hook, type: webhook, url: "http://127.0.0.1:9/x", levels: [manager]}
`

func TestDeskConfig(t *testing.T) {
	cfg, err := Parse("desk.yaml", []byte(deskConfig))
	if err != nil {
		t.Fatalf("valid desk config refused: %v", err)
	}
	d := cfg.Desk
	if d.Driver != "sqlite" || d.EscalationInterval != 15*time.Second || d.SessionTTL != 12*time.Hour || d.LoginAttempts != 5 {
		t.Errorf("defaults: %+v", d)
	}
	south := d.DeadlineTable("south", wire.Repair)
	north := d.DeadlineTable("north", wire.Repair)
	if south[wire.StepOnSite].After != 20*time.Minute || south[wire.StepDispatch].After != 10*time.Minute || !south[wire.StepResolve].SameDay {
		t.Errorf("every site's repair deadlines: %v", south)
	}
	if _, has := north[wire.StepResolve]; has || north[wire.StepOnSite].After != 30*time.Minute {
		t.Errorf("north's repair deadlines: %v", north)
	}
	if got := d.DeadlineTable("south", wire.Emergency)[wire.StepAcknowledge].After; got != time.Minute {
		t.Errorf("default emergency acknowledge: %s", got)
	}
	if d.Location("north", time.UTC).String() != "Asia/Urumqi" || d.Location("south", time.UTC) != time.UTC {
		t.Error("site time zones")
	}
}

func TestDeskProblems(t *testing.T) {
	cases := []struct{ old, new, want string }{
		{"database: var/desk.db", "database: var/desk.db\n  driver: mysql", `desk.driver: "mysql" is not a store`},
		{"database: var/desk.db", "database: var/desk.db\n  driver: postgres", "desk.database: with driver postgres, a URL"},
		{"role: manager", "role: boss", `desk.tokens[0].role: "boss" is not a role`},
		{"role: engineer", "role: gateway", `desk.staff[0].role: "gateway" is not a staff role`},
		{"team: engineering", "team: plumbing", `desk.staff[0].team: "plumbing" is not a team`},
		{"password_hash: $2a", "password_hash: x$2a", "desk.staff[0].password_hash: must be a bcrypt hash"},
		{"name: li,", "name: admin,", `desk.staff[0].name: "admin" is used by another token`},
		{"Asia/Urumqi", "Mars/Olympus", `desk.sites[0].timezone: unknown time zone "Mars/Olympus"`},
		{"kind: repair, steps: {on_site: 20m}", "kind: fix, steps: {on_site: 20m}", `desk.deadlines[0].kind: "fix" is not a ticket kind`},
		{"on_site: 20m", "on_site: soon", `desk.deadlines[0].steps.on_site: "soon" is not same_day`},
		{"on_site: 20m", "arrive: 20m", `desk.deadlines[0].steps.arrive: "arrive" is not a step`},
		{"type: webhook", "type: sms", `desk.channels[0].type: "sms" is not a channel type`},
		{`url: "http://127.0.0.1:9/x"`, `url: "ftp://x"`, "desk.channels[0].url:"},
		{"levels: [manager]", "levels: [boss]", `desk.channels[0].levels[0]: "boss" is not an escalation level`},
		{"levels: [manager]", "levels: [manager], secret: s", "desk.channels[0].secret: only dingtalk robots sign"},
		{"tokens:", "escalation_interval: 10ms\n  tokens:", "desk.escalation_interval: must be at least 1s"},
	}
	for _, tc := range cases {
		text := strings.Replace(deskConfig, tc.old, tc.new, 1)
		if text == deskConfig {
			t.Fatalf("case %q does not apply", tc.old)
		}
		_, err := Parse("desk.yaml", []byte(text))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s → %s: got %v, want %q", tc.old, tc.new, err, tc.want)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "desk.yaml:") {
			t.Errorf("problem without a line: %v", err)
		}
	}
}

// The commented example parses with its secrets set.
func TestDeskExampleConfig(t *testing.T) {
	for _, name := range []string{"ESTATE_ADMIN_TOKEN", "ESTATE_GATEWAY_TOKEN"} {
		t.Setenv(name, "an-example-secret-"+name)
	}
	t.Setenv("ESTATE_WECOM_ROBOT_URL", "https://127.0.0.1/cgi-bin/webhook/send?key=x")
	t.Setenv("ESTATE_DINGTALK_ROBOT_URL", "https://127.0.0.1/robot/send?access_token=x")
	t.Setenv("ESTATE_DINGTALK_SECRET", "SECx")
	path := filepath.Join("..", "..", "configs", "desk.example.yaml")
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err != nil {
		t.Fatalf("configs/desk.example.yaml: %v", err)
	}
}
