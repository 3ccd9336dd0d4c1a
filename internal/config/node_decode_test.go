package config

import (
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

type nodeStep struct {
	At time.Duration `yaml:"at"`
	Do string        `yaml:"do"`
}

type nodeBase struct {
	Name string `yaml:"name"`
}

type nodeOptions struct {
	nodeBase `yaml:",inline"`
	Balance  float64             `yaml:"balance"`
	Steps    []nodeStep          `yaml:"steps"`
	Groups   map[string]nodeStep `yaml:"groups"`
	Secret   string              `yaml:"secret" secret:"env"`
	Plain    string              `yaml:"plain"`
	Hidden   string              `yaml:"-"`
	Untagged int
	Self     selfDecoding `yaml:"self"`
}

// selfDecoding reads its own YAML: its keys are not DecodeStrict's to check.
type selfDecoding struct{ keys int }

func (s *selfDecoding) UnmarshalYAML(n *yaml.Node) error { s.keys = len(n.Content) / 2; return nil }

// nodeOf parses text as the file f.yaml and returns the node at items[0].
func nodeOf(t *testing.T, text string) (*Config, *yaml.Node) {
	t.Helper()
	cfg := &Config{File: "f.yaml", positions: map[string]int{}, values: map[string]string{}}
	var root yaml.Node
	if err := yaml.Unmarshal([]byte(text), &root); err != nil {
		t.Fatal(err)
	}
	recordPositions(root.Content[0], "", cfg.positions, cfg.values)
	m := root.Content[0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == "items" {
			return cfg, m.Content[i+1].Content[0]
		}
	}
	t.Fatal("no items")
	return nil, nil
}

func TestDecodeStrict(t *testing.T) {
	t.Setenv("NODE_TEST_SECRET", "s3cret")
	t.Setenv("NODE_TEST_EMPTY", "")
	for _, tc := range []struct {
		name, text string
		want       []string // the problems, as printed
		check      func(*testing.T, nodeOptions)
	}{
		{"decodes", "items:\n  - kind: x\n    name: a\n    balance: 2.5\n    steps:\n      - {at: 2s, do: fault}\n    groups: {g: {do: y}}\n    untagged: 7\n    self: {a: 1, b: 2}\n", nil,
			func(t *testing.T, o nodeOptions) {
				if o.Name != "a" || o.Balance != 2.5 || len(o.Steps) != 1 || o.Steps[0].At != 2*time.Second ||
					o.Groups["g"].Do != "y" || o.Untagged != 7 || o.Self.keys != 2 {
					t.Errorf("decoded %+v", o)
				}
			}},
		{"unknown keys, nested too", "items:\n  - kind: x\n    colour: red\n    steps:\n      - {at: 2s, doo: fault}\n    groups: {g: {when: now}}\n    hidden: h\n", []string{
			"f.yaml:3: items[0].colour: unknown key (check its spelling and the documented options in configs/)",
			`f.yaml:5: items[0].steps[0].doo: unknown key (did you mean "do"?)`,
			"f.yaml:6: items[0].groups.g.when: unknown key (check its spelling and the documented options in configs/)",
			"f.yaml:7: items[0].hidden: unknown key (check its spelling and the documented options in configs/)",
		}, nil},
		{"type errors", "items:\n  - kind: x\n    balance: lots\n    steps:\n      - {at: soon}\n", []string{
			`f.yaml:3: items[0].balance: expected a number, got "lots"`,
			`f.yaml:5: items[0].steps[0].at: expected a duration with its unit, such as 500ms, 30s, 5m or 1h, got "soon"`,
		}, nil},
		{"merge keys", "base: &base {balance: 4}\nitems:\n  - <<: *base\n    name: m\n", nil,
			func(t *testing.T, o nodeOptions) {
				if o.Balance != 4 || o.Name != "m" {
					t.Errorf("merged %+v", o)
				}
			}},
		{"not a mapping", "items:\n  - 5\n", []string{"f.yaml:2: items[0]: expected a mapping of its options, got 5"}, nil},
		{"secrets from the environment", "items:\n  - secret: ${NODE_TEST_SECRET}\n    plain: ${NODE_TEST_SECRET}\n", nil,
			func(t *testing.T, o nodeOptions) {
				if o.Secret != "s3cret" || o.Plain != "${NODE_TEST_SECRET}" {
					t.Errorf("secret %q, plain %q", o.Secret, o.Plain)
				}
			}},
		{"unset secret", "items:\n  - kind: x\n    secret: ${NODE_TEST_EMPTY}\n", []string{
			"f.yaml:3: items[0].secret: environment variable NODE_TEST_EMPTY is not set (export it, give it in --env-file, write ${NODE_TEST_EMPTY:-default}, or write the secret here)",
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, n := nodeOf(t, tc.text)
			before := n.Content
			var o nodeOptions
			ps := cfg.DecodeStrict(n, "items[0]", &o, "kind")
			var got []string
			for _, p := range ps {
				got = append(got, p.String())
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if tc.check != nil {
				tc.check(t, o)
			}
			if len(n.Content) != len(before) {
				t.Error("the caller's node was changed")
			}
		})
	}
}

func TestDecodeStrictNilNode(t *testing.T) {
	var o nodeOptions
	if ps := (&Config{}).DecodeStrict(nil, "x", &o); ps != nil {
		t.Errorf("nil node: %v", ps)
	}
}
