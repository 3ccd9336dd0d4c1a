package config

import (
	"strings"
	"testing"
)

const validConfig = `site:
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

func TestValidConfigLoadsWithDefaults(t *testing.T) {
	cfg, err := Parse("site.yaml", []byte(validConfig))
	if err != nil {
		t.Fatalf("valid config refused: %v", err)
	}
	d := cfg.Devices[0]
	if d.PollInterval.String() != "1s" || d.Timeout.String() != "1s" || d.Node == nil {
		t.Errorf("device defaults: %+v", d)
	}
	if cfg.InfluxDB.BatchSize != 1000 || cfg.Gateway.OfflineAfter != 3 || cfg.Rules[0].Severity != "warning" {
		t.Errorf("defaults not applied: %+v %+v", cfg.InfluxDB, cfg.Gateway)
	}
	if got := cfg.Line("devices[0].address"); got != 19 {
		t.Errorf("line of devices[0].address = %d, want 19", got)
	}
}

// Each case edits the valid config and expects one problem at a line and field.
func TestProblemsNameFileLineAndField(t *testing.T) {
	cases := []struct {
		name, old, new string
		want           string
	}{
		{"unknown key", "  id: gw-1\n", "  id: gw-1\n  colour: red\n", "site.yaml:5: gateway.colour: unknown key"},
		{"bad url", "url: http://127.0.0.1:8086", "url: 127.0.0.1:8086", "site.yaml:8: influxdb.url:"},
		{"wrong type", "below: 10", "below: ten", `site.yaml:24: rules[0].below: expected a number, got "ten"`},
		{"bad duration", "    address: 127.0.0.1:502\n", "    address: 127.0.0.1:502\n    poll_interval: soon\n", `site.yaml:20: devices[0].poll_interval: expected a duration with its unit, such as 500ms, 30s, 5m or 1h, got "soon"`},
		{"duration without unit", "    address: 127.0.0.1:502\n", "    address: 127.0.0.1:502\n    timeout: 5\n", "site.yaml:20: devices[0].timeout: expected a duration with its unit, such as 500ms, 30s, 5m or 1h, got 5"},
		{"misspelt key", "  id: gw-1\n", "  id: gw-1\n  ofline_after: 3\n", `site.yaml:5: gateway.ofline_after: unknown key (did you mean "offline_after"?)`},
		{"misspelt section", "rules:\n", "devics: []\nrules:\n", `site.yaml:20: devics: unknown key (did you mean "devices"?)`},
		{"clear below firing level", "below: 10\n", "below: 10\n    clear: 5\n", "site.yaml:25: rules[0].clear: must be at or above below"},
		{"bad ticket kind", "ticket: top_up", "ticket: topup", `rules[0].ticket: "topup" is not a ticket kind`},
		{"duplicate device", "    address: 127.0.0.1:502\n", "    address: 127.0.0.1:502\n  - id: m1\n    family: meter\n    protocol: modbus_tcp\n", `site.yaml:20: devices[1].id: "m1" is used by another device`},
		{"missing site id", "  id: sunrise\n", "  name: x\n", "site.id: required"},
		{"bad common key of a device", "    address: 127.0.0.1:502\n", "    address: 127.0.0.1:502\n    tags: soon\n", `site.yaml:20: devices[0].tags: expected a list, such as [a, b] or one "- item" per line, got "soon"`},
		{"unknown section", "rules:\n", "colour: red\nrules:\n", "site.yaml:20: colour: unknown key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			text := strings.Replace(validConfig, tc.old, tc.new, 1)
			if text == validConfig {
				t.Fatalf("case does not change the config: %q", tc.old)
			}
			_, err := Parse("site.yaml", []byte(text))
			if err == nil {
				t.Fatal("config accepted")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("problems:\n%v\nwant one containing %q", err, tc.want)
			}
		})
	}
}

func TestExtraValidatorsRunAfterTypeErrors(t *testing.T) {
	text := strings.Replace(validConfig, "below: 10", "below: ten", 1)
	called := false
	path := t.TempDir() + "/site.yaml"
	writeFile(t, path, text)
	_, err := Load(path, func(c *Config) []Problem {
		called = true
		return []Problem{c.Problemf("devices[0].protocol", "extra")}
	})
	if !called || !strings.Contains(err.Error(), "devices[0].protocol: extra") {
		t.Errorf("extra validator not reported: called=%v err=%v", called, err)
	}
}

func TestSyntaxErrorAndMissingFile(t *testing.T) {
	if _, err := Parse("x.yaml", []byte("site: [\n")); err == nil || !strings.Contains(err.Error(), "x.yaml:") {
		t.Errorf("syntax error: %v", err)
	}
	if _, err := Parse("x.yaml", nil); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("empty file: %v", err)
	}
	if _, err := Load(t.TempDir() + "/none.yaml"); err == nil || !strings.Contains(err.Error(), "cannot read") {
		t.Errorf("missing file: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(validConfig))
	f.Add([]byte("site: {id: x}\ndevices: [{id: a, family: meter}]\n"))
	f.Add([]byte("rules:\n  - below: 1\n    above: 2\n"))
	f.Add([]byte("desk:\n  tokens: [{}]\n"))
	f.Add([]byte("\t: :"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse("fuzz.yaml", data)
		if err == nil && cfg.Site.ID == "" {
			t.Fatal("config without site.id accepted")
		}
		if err != nil && err.Error() == "" {
			t.Fatal("empty error")
		}
	})
}
