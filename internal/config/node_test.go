package config

import (
	"slices"
	"strings"
	"testing"
)

// The keys UnmarshalYAML decodes are exactly Device's.
func TestDeviceKeysMatchDevice(t *testing.T) {
	got, want := DeviceKeys(), Keys(Device{})
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("DeviceKeys %v, Device's keys %v", got, want)
	}
}

type testOptions struct {
	Address string `yaml:"address"`
	Line    *struct {
		Port string `yaml:"port"`
	} `yaml:"line"`
	Groups map[string]struct {
		Every string `yaml:"every"`
	} `yaml:"groups"`
	Secret string `yaml:"secret" secret:"env"`
}

// DecodeStrict reports what Parse reports for built-in parts, located alike.
func TestDecodeStrictLocatesProblems(t *testing.T) {
	text := strings.Replace(validConfig, "    address: 127.0.0.1:502\n", `    address: [1]
    line: {port: a, baud: 9600}
    groups: {fast: {every: 1s, colour: red}}
    secret: ${TEST_DECODE_STRICT_SECRET}
    speed: 3
`, 1)
	cfg, err := Parse("site.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	var o testOptions
	var got []string
	for _, p := range cfg.DecodeStrict(cfg.Devices[0].Node, "devices[0]", &o, DeviceKeys()...) {
		got = append(got, p.String())
	}
	all := strings.Join(got, "\n")
	for _, want := range []string{
		"site.yaml:19: devices[0].address: expected a single value (text), got a list",
		"site.yaml:20: devices[0].line.baud: unknown key",
		"site.yaml:21: devices[0].groups.fast.colour: unknown key",
		"site.yaml:22: devices[0].secret: environment variable TEST_DECODE_STRICT_SECRET is not set",
		"site.yaml:23: devices[0].speed: unknown key",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("missing %q in:\n%s", want, all)
		}
	}
	if len(got) != 5 || o.Line == nil || o.Line.Port != "a" || o.Groups["fast"].Every != "1s" {
		t.Errorf("%d problems, options %+v:\n%s", len(got), o, all)
	}
	t.Setenv("TEST_DECODE_STRICT_SECRET", "s3cret")
	o = testOptions{}
	_ = cfg.DecodeStrict(cfg.Devices[0].Node, "devices[0]", &o, DeviceKeys()...)
	if o.Secret != "s3cret" {
		t.Errorf("secret not expanded: %q", o.Secret)
	}
}

// A section another package owns is unknown until it is claimed.
func TestSectionsAreClaimed(t *testing.T) {
	text := validConfig + "broker: {url: x}\n"
	if _, err := Parse("site.yaml", []byte(text)); err == nil || !strings.Contains(err.Error(), "broker: unknown key") {
		t.Fatalf("unclaimed section: %v", err)
	}
	cfg, err := ParseWith("site.yaml", []byte(text), func(c *Config) []Problem {
		if n := c.Section("broker"); n == nil || !HasKey(n, "url") {
			t.Error("section not given as written")
		}
		return nil
	})
	if err != nil {
		t.Fatalf("claimed section: %v", err)
	}
	if err := cfg.SetSection("other", "{a: 1}"); err != nil || !HasKey(cfg.Section("other"), "a") {
		t.Errorf("section set in code: %v", err)
	}
}
