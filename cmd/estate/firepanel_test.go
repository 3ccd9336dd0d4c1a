package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/estatehq/estate/devices/firepanel"
	"github.com/estatehq/estate/internal/app"
	"github.com/estatehq/estate/internal/testenv"
)

// `estate firepanel time-sync` reaches a running gateway (on its
// metrics_listen, with its token) and, through it, the transmission device
// connected to it: the device's clock, never set, is set to the site's time.
func TestFirepanelTimeSyncThroughTheGateway(t *testing.T) {
	listen, panel := testenv.FreeAddr(t), testenv.FreeAddr(t)
	dir := t.TempDir()
	profiles, _ := filepath.Abs("../../configs/profiles")
	path := filepath.Join(dir, "site.yaml")
	text := fmt.Sprintf(`site: {id: s1, timezone: Asia/Shanghai}
gateway: {id: gw, profiles_dir: %q, desk_url: "http://127.0.0.1:1", desk_token: gateway-token-0123456789, state_dir: %q,
  metrics_listen: %q, metrics_token: metrics-token-0123456789}
influxdb: {url: "http://127.0.0.1:1", bucket: estate/autogen}
devices:
  - {id: fp-1, family: fire, protocol: gbt26875, address: %q}
  - {id: fp-2, family: fire, protocol: gbt26875, address: %q}
  - {id: m1, family: meter, protocol: modbus_tcp, profile: eastron-sdm630, address: "127.0.0.1:1"}
`, profiles, dir, listen, panel, testenv.FreeAddr(t))
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := app.LoadConfig(path)
	if err != nil {
		t.Fatalf("%v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.RunGateway(ctx, cfg, slog.New(slog.DiscardHandler), nil, nil) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("gateway: %v", err)
		}
	})
	timeSync := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := run(append([]string{"firepanel", "time-sync", "--config", path}, args...), &out, &errOut)
		return code, out.String(), errOut.String()
	}
	// Before the device connects (and while the gateway starts): not connected.
	deadline := time.Now().Add(15 * time.Second)
	for {
		code, _, e := timeSync("--device", "fp-1")
		if code == 1 && strings.Contains(e, "not connected") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("before the device connects: exit %d: %s", code, e)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code, _, e := timeSync("--device", "m1"); code != 1 || !strings.Contains(e, "not a GB/T 26875.3 transmission device") {
		t.Fatalf("a meter: exit %d: %s", code, e)
	}
	if code, _, e := timeSync("--device", "nope"); code != 1 || !strings.Contains(e, `no device "nope"`) {
		t.Fatalf("unknown: exit %d: %s", code, e)
	}

	u := &firepanel.UITD{Source: [6]byte{1}, Script: firepanel.DemoScript(100 * time.Millisecond), Repeat: true, UnsetClock: true}
	shanghai, _ := time.LoadLocation("Asia/Shanghai")
	u.Loc = shanghai
	go func() { _ = u.DialAndServe(ctx, panel) }()
	var out string
	waitForCond(t, "the device connected and its clock set", func() bool {
		code, o, _ := timeSync("--device", "fp-1")
		out = o
		return code == 0
	})
	set, n := u.ClockSet()
	if n == 0 || time.Since(set).Abs() > 10*time.Second || set.Location() != shanghai {
		t.Fatalf("the device's clock was set to %v (%d times)", set, n)
	}
	if !strings.Contains(out, "fp-1: clock set to "+set.In(shanghai).Format("2006-01-02")) || !strings.Contains(out, "confirmed") {
		t.Fatalf("output %q", out)
	}
	// Every device of the configuration: fp-2 never connected, so the exit is 1.
	code, o, e := timeSync()
	if code != 1 || !strings.Contains(o, "fp-1: clock set") || !strings.Contains(e, "fp-2") || !strings.Contains(e, "not connected") {
		t.Fatalf("all devices: exit %d\n%s\n%s", code, o, e)
	}
}

func waitForCond(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
