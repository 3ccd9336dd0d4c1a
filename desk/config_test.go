package desk

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/estatehq/estate/internal/config"
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

// parseDesk parses configuration text with the desk's checks, as config.Load
// runs them on a file.
func parseDesk(name, text string) (*config.Config, error) {
	cfg, err := config.Parse(name, []byte(text))
	var problems config.Problems
	if err != nil && !errors.As(err, &problems) {
		return cfg, err
	}
	problems = append(problems, Validate(cfg)...)
	if len(problems) > 0 {
		return cfg, problems
	}
	return cfg, nil
}

func TestDeskConfig(t *testing.T) {
	cfg, err := parseDesk("desk.yaml", deskConfig)
	if err != nil {
		t.Fatalf("valid desk config refused: %v", err)
	}
	d := cfg.Desk
	if d.Driver != "sqlite" || d.EscalationInterval != 15*time.Second || d.SessionTTL != 12*time.Hour || d.LoginAttempts != 5 {
		t.Errorf("defaults: %+v", d)
	}
	south := deadlineTable(d, "south", wire.Repair)
	north := deadlineTable(d, "north", wire.Repair)
	if south[wire.StepOnSite].After != 20*time.Minute || south[wire.StepDispatch].After != 10*time.Minute || !south[wire.StepResolve].SameDay {
		t.Errorf("every site's repair deadlines: %v", south)
	}
	if _, has := north[wire.StepResolve]; has || north[wire.StepOnSite].After != 30*time.Minute {
		t.Errorf("north's repair deadlines: %v", north)
	}
	if got := deadlineTable(d, "south", wire.Emergency)[wire.StepAcknowledge].After; got != 2*time.Minute {
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
		{"levels: [manager]", "levels: [manager], language: fr", `desk.channels[0].language: "fr" is not a channel language; use one of zh-CN, en`},
		{"levels: [manager]", "levels: [manager], mention_users: [a]", "desk.channels[0].mention_users: a webhook has no mentions"},
		{"levels: [manager]", "levels: [manager], mention_on_duty: true", "desk.channels[0].mention_on_duty: a webhook has no mentions"},
		{"team: engineering,", "team: engineering, wecom_user: \"li wei\",", `desk.staff[0].wecom_user: "li wei" is not a robot user id`},
		{"team: engineering,", "team: engineering, dingtalk_user: \"<@all>\",", `desk.staff[0].dingtalk_user: "<@all>" is not a robot user id`},
		{"tokens:", "escalation_interval: 10ms\n  tokens:", "desk.escalation_interval: must be at least 1s"},
		{"password_hash: $2a$10$", "password_hash: $2a$04$", "desk.staff[0].password_hash: bcrypt cost 4 is too low: at least 10 is required"},
		{"password_hash: $2a$10$", "password_hash: $2a$09$", "desk.staff[0].password_hash: bcrypt cost 9 is too low"},
		{"tokens:", "trusted_proxies: [127.0.0.1/32, 10.0.0.1]\n  tokens:", `desk.trusted_proxies[1]: "10.0.0.1" is not a CIDR`},
		{"tokens:", "read_timeout: 10ms\n  tokens:", "desk.read_timeout: must be at least 1s"},
		{"tokens:", "write_timeout: 10ms\n  tokens:", "desk.write_timeout: must be at least 1s"},
		{"tokens:", "idle_timeout: 10ms\n  tokens:", "desk.idle_timeout: must be at least 1s"},
		{"timezone: Asia/Urumqi}", "timezone: Asia/Urumqi, command_rules: [{action: relay_trip, after_top_up: 24h}]}", "desk.sites[0].command_rules[0].action: \"relay_trip\": a rule may approve relay_close or valve_open only"},
		{"timezone: Asia/Urumqi}", "timezone: Asia/Urumqi, command_rules: [{action: relay_close}]}", "desk.sites[0].command_rules[0].after_top_up: required"},
	}
	for _, tc := range cases {
		text := strings.Replace(deskConfig, tc.old, tc.new, 1)
		if text == deskConfig {
			t.Fatalf("case %q does not apply", tc.old)
		}
		_, err := parseDesk("desk.yaml", text)
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
	path := filepath.Join("..", "configs", "desk.example.yaml")
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
	if _, err := config.Load(path, Validate); err != nil {
		t.Fatalf("configs/desk.example.yaml: %v", err)
	}
	// Its channels are commented out (an example must not post to robots
	// that do not exist); uncommented, as an operator would, they check too.
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	head, block, ok := strings.Cut(string(text), "  channels: []\n  # channels:\n")
	if !ok {
		t.Fatal("the example's commented channels block moved; update this test")
	}
	var lines []string
	for _, l := range strings.SplitAfter(block, "\n") {
		if !strings.HasPrefix(l, "  #") {
			break
		}
		lines = append(lines, "  "+strings.TrimPrefix(l, "  # "))
	}
	dir := t.TempDir()
	uncommented := filepath.Join(dir, "desk.yaml")
	// The calendar it names, beside it as in configs/.
	cal, err := os.ReadFile(filepath.Join("..", "configs", "calendars", "cn-2026.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "calendars"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "calendars", "cn-2026.yaml"), cal, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(uncommented, []byte(head+"  channels:\n"+strings.Join(lines, "")), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(uncommented, Validate)
	if err != nil {
		t.Fatalf("the example's channels, uncommented: %v", err)
	}
	if len(cfg.Desk.Channels) != 3 {
		t.Errorf("%d channels uncommented, want 3", len(cfg.Desk.Channels))
	}
}

// The desk's section of a whole site's configuration (the one of
// internal/config's tests): its problems are located in the file like every
// other part's, because config.Load runs Validate.
const siteConfig = `site:
  id: sunrise
gateway:
  id: gw-1
  desk_url: http://127.0.0.1:8080
  desk_token: 0123456789abcdef0123
influxdb:
  url: http://127.0.0.1:8086
  bucket: estate/autogen
desk:
  listen: 127.0.0.1:8080
  database: var/desk.db
  tokens:
    - {name: admin, token: admin-token-0123456789, role: admin}
devices:
  - id: m1
    family: meter
    protocol: modbus_tcp
    address: 127.0.0.1:502
rules:
  - name: low
    family: meter
    point: balance
    below: 10
    ticket: top_up
`

func TestDeskProblemsInASiteConfig(t *testing.T) {
	cases := []struct {
		name, old, new string
		want           string
	}{
		{"short token", "token: admin-token-0123456789", "token: short", "site.yaml:14: desk.tokens[0].token: must be at least 16 characters"},
		{"bad role", "role: admin}", "role: root}", `desk.tokens[0].role: "root" is not a role`},
		{"gateway token without site", "role: admin}", "role: gateway}", "desk.tokens[0].site: required for a gateway token"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			text := strings.Replace(siteConfig, tc.old, tc.new, 1)
			if text == siteConfig {
				t.Fatalf("case does not change the config: %q", tc.old)
			}
			path := filepath.Join(t.TempDir(), "site.yaml")
			if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := config.Load(path, Validate)
			if err == nil {
				t.Fatal("config accepted")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("problems:\n%v\nwant one containing %q", err, tc.want)
			}
		})
	}
}

// A secret that is not set is reported once, not again as a bad value.
func TestDeskUnsetSecretReportedOnce(t *testing.T) {
	// "${ESTATE_UNSET}" is shorter than a token may be: checked as a value, it would be reported again.
	t.Setenv("ESTATE_UNSET", "") // empty counts as not set
	text := strings.Replace(siteConfig, "token: admin-token-0123456789", "token: \"${ESTATE_UNSET}\"", 1)
	path := filepath.Join(t.TempDir(), "site.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := config.Load(path, Validate)
	var ps config.Problems
	if !errors.As(err, &ps) || len(ps) != 1 || !strings.Contains(ps[0].String(), "desk.tokens[0].token: environment variable ESTATE_UNSET is not set") {
		t.Errorf("want the one unset secret, got %v", err)
	}
}
