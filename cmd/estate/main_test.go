package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"check", "../../configs/demo.yaml"}, &out, &errOut); code != 0 {
		t.Fatalf("check demo.yaml: exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "ok: site demo-estate, 8 devices") {
		t.Errorf("summary: %q", out.String())
	}

	bad := filepath.Join(t.TempDir(), "bad.yaml")
	text := "site:\n  id: x\ndevices:\n  - id: m\n    family: meter\n    protocol: modbus_tcp\n    address: nowhere\n    profile: demo-prepaid-meter\n    colour: red\n"
	if err := os.WriteFile(bad, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	errOut.Reset()
	if code := run([]string{"check", bad}, &out, &errOut); code != 1 {
		t.Fatalf("check bad.yaml: exit %d, want 1", code)
	}
	for _, want := range []string{
		bad + ":9: devices[0].colour: unknown key",
		bad + ":7: devices[0].address: \"nowhere\" is not host:port",
		bad + ": gateway.id: required", // no gateway section: no line to point at
	} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("missing %q in:\n%s", want, errOut.String())
		}
	}

	// The long-running commands refuse the same file with the same messages.
	errOut.Reset()
	if code := run([]string{"demo", "--config", bad}, &out, &errOut); code != 1 ||
		!strings.Contains(errOut.String(), "nothing was started") || !strings.Contains(errOut.String(), "devices[0].colour: unknown key") {
		t.Errorf("demo with a bad config: exit %d: %s", code, errOut.String())
	}
}

func TestUsage(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(nil, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "estate demo --config FILE") {
		t.Errorf("no args: exit %d: %s", code, errOut.String())
	}
	if code := run([]string{"frobnicate"}, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), `unknown command "frobnicate"`) {
		t.Errorf("unknown command: exit %d", code)
	}
}

func TestVersion(t *testing.T) {
	var out, errb strings.Builder
	if rc := run([]string{"version"}, &out, &errb); rc != 0 {
		t.Fatalf("estate version: rc %d, stderr %q", rc, errb.String())
	}
	for _, want := range []string{"estate ", "commit ", "built ", "go "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("estate version does not print %q:\n%s", want, out.String())
		}
	}
}
