package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestSuggest(t *testing.T) {
	keys := []string{"poll_interval", "timeout", "offline_after", "id", "profile", "modbus_tcp", "modbus_rtu", "dlt645", "meter"}
	for _, tc := range []struct{ word, want string }{
		{"poll_intervall", "poll_interval"},
		{"timout", "timeout"},
		{"Timeout", "timeout"}, // case alone is a typo too
		{"modbus-tcp", "modbus_tcp"},
		{"modbus_rut", "modbus_rtu"},
		{"dlt654", "dlt645"},
		{"ib", "id"},
		{"metre", "meter"}, // a swap is one edit
		{"colour", ""},     // nothing near
		{"zz", ""},         // short words allow one edit only
		{"timeout", ""},    // the word itself is no suggestion
		{"prof", ""},       // three edits from profile, over a third of the word
		{"", ""},
	} {
		if got := Suggest(tc.word, keys); got != tc.want {
			t.Errorf("Suggest(%q) = %q, want %q", tc.word, got, tc.want)
		}
	}
	if got := DidYouMean("timout", keys); got != ` (did you mean "timeout"?)` {
		t.Errorf("DidYouMean: %q", got)
	}
}

func TestTypeMessages(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"cannot unmarshal !!str `soon` into time.Duration", `expected a duration with its unit, such as 500ms, 30s, 5m or 1h, got "soon"`},
		{"cannot unmarshal !!int `5` into time.Duration", "expected a duration with its unit, such as 500ms, 30s, 5m or 1h, got 5"},
		{"cannot unmarshal !!str `yes please` into bool", `expected true or false, got "yes please"`},
		{"cannot unmarshal !!str `one` into int", `expected a whole number, got "one"`},
		{"cannot unmarshal !!float `1.5` into int", "expected a whole number, got 1.5"},
		{"cannot unmarshal !!str `ten` into float64", `expected a number, got "ten"`},
		{"cannot unmarshal !!seq into string", "expected a single value (text), got a list"},
		{"cannot unmarshal !!map into []string", `expected a list, such as [a, b] or one "- item" per line, got a mapping`},
		{"cannot unmarshal !!str `x` into map[string]time.Duration", `expected a mapping of keys to values, got "x"`},
		{"cannot unmarshal !!int `5` into config.Simulator", "expected a mapping of its options, got 5"},
		{"did not find expected key", "did not find expected key"},
	} {
		if got, _ := typeMessage(tc.in); got != tc.want {
			t.Errorf("typeMessage(%q) =\n  %q\nwant\n  %q", tc.in, got, tc.want)
		}
	}
}

func TestSecretDefaults(t *testing.T) {
	t.Setenv("ESTATE_TEST_SET_TOKEN", "from-the-environment-0123")
	os.Unsetenv("ESTATE_TEST_UNSET_TOKEN") //nolint:errcheck // absent either way
	for _, tc := range []struct {
		name, token, want, warning, problem string
	}{
		{"set variable wins over the default", "${ESTATE_TEST_SET_TOKEN:-default-token-0123456789}", "from-the-environment-0123", "", ""},
		{"unset variable takes the default", "${ESTATE_TEST_UNSET_TOKEN:-default-token-0123456789}", "default-token-0123456789",
			"site.yaml:6: gateway.desk_token: environment variable ESTATE_TEST_UNSET_TOKEN is not set: using the default written in the file", ""},
		{"unset without a default", "${ESTATE_TEST_UNSET_TOKEN}", "", "",
			"site.yaml:6: gateway.desk_token: environment variable ESTATE_TEST_UNSET_TOKEN is not set (export it, give it in --env-file"},
		{"an empty default is still checked", "${ESTATE_TEST_UNSET_TOKEN:-}", "", "",
			"gateway.desk_token: required: the desk token"},
		{"not a reference", "$ESTATE_TEST_SET_TOKEN-0123456789", "$ESTATE_TEST_SET_TOKEN-0123456789", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := strings.Replace(validConfig, "desk_token: 0123456789abcdef0123", "desk_token: "+tc.token, 1)
			cfg, err := Parse("site.yaml", []byte(text))
			if tc.problem != "" {
				if err == nil || !strings.Contains(err.Error(), tc.problem) {
					t.Fatalf("problems %v, want %q", err, tc.problem)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Gateway.DeskToken != tc.want {
				t.Errorf("token %q, want %q", cfg.Gateway.DeskToken, tc.want)
			}
			ws := cfg.Warnings()
			if tc.warning == "" && len(ws) > 0 || tc.warning != "" && (len(ws) != 1 || !strings.Contains(ws[0].String(), tc.warning)) {
				t.Errorf("warnings %v, want %q", ws, tc.warning)
			}
		})
	}
}

func TestParseEnvFile(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		want       map[string]string
		err        string
	}{
		{"plain", "A=1\nB = two words \n", map[string]string{"A": "1", "B": "two words"}, ""},
		{"comments and blanks", "# secrets\n\n  # indented\nA=1\n", map[string]string{"A": "1"}, ""},
		{"export", "export TOKEN=abc\n", map[string]string{"TOKEN": "abc"}, ""},
		{"single quotes", "A='a \"b\" $c'\n", map[string]string{"A": `a "b" $c`}, ""},
		{"double quotes", `A="line\nnext \"q\" \\ \$x \t"` + "\n", map[string]string{"A": "line\nnext \"q\" \\ $x \\t"}, ""},
		{"empty", "A=\n", map[string]string{"A": ""}, ""},
		{"value with =", "URL=https://h/x?key=k\n", map[string]string{"URL": "https://h/x?key=k"}, ""},
		{"no equals", "A=1\nJUST_A_NAME\n", nil, "env:2: expected NAME=value"},
		{"bad name", "1A=1\n", nil, `env:1: "1A" is not a variable name`},
		{"open quote", "A=\"abc\n", nil, "env:1: A: the quote \" is not closed"},
		{"stray quote", `A="a"b"` + "\n", nil, `env:1: A: an unescaped " inside`},
		{"single in single", "A='a'b'\n", nil, "env:1: A: a single-quoted value cannot hold a single quote"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseEnvFile("env", []byte(tc.text))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestLoadEnvFileKeepsTheEnvironment(t *testing.T) {
	path := filepath.Join(t.TempDir(), "estate.env")
	if err := os.WriteFile(path, []byte("ESTATE_TEST_ENVFILE_A=from-file\nESTATE_TEST_ENVFILE_B=from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("ESTATE_TEST_ENVFILE_A", "exported")
	t.Setenv("ESTATE_TEST_ENVFILE_B", "")
	os.Unsetenv("ESTATE_TEST_ENVFILE_B") //nolint:errcheck // t.Setenv restores it
	if err := LoadEnvFile(path); err != nil {
		t.Fatal(err)
	}
	if a, b := os.Getenv("ESTATE_TEST_ENVFILE_A"), os.Getenv("ESTATE_TEST_ENVFILE_B"); a != "exported" || b != "from-file" {
		t.Errorf("A=%q (the exported value must win), B=%q", a, b)
	}
	if err := LoadEnvFile(filepath.Join(t.TempDir(), "missing.env")); err == nil || !strings.Contains(err.Error(), "--env-file") {
		t.Errorf("missing file: %v", err)
	}
}

func FuzzParseEnvFile(f *testing.F) {
	for _, s := range []string{"A=1\n", "export B='x y'\n", "C=\"a\\nb\"\n", "# c\n\nD=\n", "=x\n", "E=\"open\n", "1=2"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		vars, err := ParseEnvFile("fuzz", data)
		if err != nil {
			return
		}
		for k := range vars {
			if !envNameRe.MatchString(k) {
				t.Fatalf("accepted the name %q", k)
			}
		}
	})
}

func TestRuleFiles(t *testing.T) {
	shared := t.TempDir()
	if err := os.MkdirAll(filepath.Join(shared, "rules"), 0o755); err != nil {
		t.Fatal(err)
	}
	old := SharedDir
	SharedDir = shared
	defer func() { SharedDir = old }()
	write := func(path, text string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	const rules = "site: {id: shipped}\nrules:\n  - {name: shipped_low, family: meter, point: balance, below: 5}\n  - {name: shipped_high, family: meter, point: balance, above: 500}\n"
	write(filepath.Join(shared, "rules", "default.yaml"), rules)
	site := t.TempDir()
	write(filepath.Join(site, "rules", "local.yaml"), "site: {id: local}\nrules:\n  - {name: local_rule, devices: [m1], point: voltage, above: 260}\n")
	write(filepath.Join(site, "rules", "broken.yaml"), "site: {id: local}\nrules:\n  - {name: broken, family: meter, point: balance, below: 5, ticket: topup}\n")
	write(filepath.Join(site, "rules", "dup.yaml"), "site: {id: local}\nrules:\n  - {name: low, family: meter, point: balance, below: 5}\n")
	write(filepath.Join(site, "rules", "self.yaml"), "site: {id: local}\nrule_files: [self]\nrules:\n  - {name: selfish, family: meter, point: balance, below: 5}\n")

	for _, tc := range []struct {
		name, files string
		rules       []string
		problem     string
	}{
		{"shared by name", "[default]", []string{"low", "shipped_low", "shipped_high"}, ""},
		{"beside the config first", "[local, default]", []string{"low", "local_rule", "shipped_low", "shipped_high"}, ""},
		{"a path", "[rules/local.yaml]", []string{"low", "local_rule"}, ""},
		{"a path not there, found by name in the shared folder", "[/etc/nowhere/default.yaml]", []string{"low", "shipped_low", "shipped_high"}, ""},
		{"missing", "[defualt]", nil, `site.yaml:26: rule_files[0]: no rule file "defualt": not ` + site + `/rules/defualt.yaml nor ` + shared + `/rules/defualt.yaml (did you mean "default"?)`},
		{"a problem in the rule file is located there", "[broken]", nil, site + `/rules/broken.yaml:3: rules[0].ticket: "topup" is not a ticket kind`},
		{"a rule file naming rule files", "[self]", nil, site + `/rules/self.yaml:2: rule_files: a rule file cannot name rule files of its own`},
		{"a clash with the site's rules is located in the rule file", "[dup]", nil, site + `/rules/dup.yaml:3: rules[0].name: "low" is used by another rule`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(site, "site.yaml")
			write(path, validConfig+"rule_files: "+tc.files+"\n")
			cfg, err := Load(path)
			if tc.problem != "" {
				if err == nil || !strings.Contains(err.Error(), tc.problem) {
					t.Fatalf("problems:\n%v\nwant %q", err, tc.problem)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, r := range cfg.Rules {
				names = append(names, r.Name)
			}
			if !reflect.DeepEqual(names, tc.rules) {
				t.Errorf("rules %v, want %v", names, tc.rules)
			}
		})
	}
}
