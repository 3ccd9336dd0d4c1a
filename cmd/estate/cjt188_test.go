package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/estatehq/estate/devices/cjt188"
)

func serveWater(t *testing.T, meters ...*cjt188.SimMeter) *cjt188.SimBus {
	t.Helper()
	sim, err := cjt188.NewSimBus("")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range meters {
		sim.Add(m)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = sim.Run(ctx) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
	return sim
}

func TestCJT188Valve(t *testing.T) {
	addr, _ := cjt188.ParseAddress("7")
	sim := serveWater(t, &cjt188.SimMeter{Addr: addr, Balance: 30, Password: []byte{0x12, 0x34}})
	profiles, _ := filepath.Abs("../../configs/profiles")
	write := func(control string) string {
		path := filepath.Join(t.TempDir(), "site.yaml")
		text := fmt.Sprintf(`site: {id: s1}
gateway: {id: gw, profiles_dir: %s, desk_url: "http://127.0.0.1:1", desk_token: gateway-token-0123456789}
influxdb: {url: "http://127.0.0.1:1", bucket: estate/autogen}
devices:
  - id: w7
    family: water
    protocol: cjt188
    profile: cjt188-prepaid-water
    address: "7"
    serial: {port: %s, baud: 9600}
%s`, profiles, sim.Path(), control)
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	closed := func() (c bool) {
		sim.With(addr, func(m *cjt188.SimMeter) { c = m.ValveClosed() })
		return c
	}
	var out, errOut bytes.Buffer
	if code := run([]string{"cjt188", "valve", "--config", write(""), "--device", "w7", "--close"}, &out, &errOut); code != 1 ||
		!strings.Contains(errOut.String(), "does not allow valve control") || closed() {
		t.Fatalf("valve control without the switch: exit %d: %s", code, errOut.String())
	}
	t.Setenv("VALVE_PASSWORD", "1234")
	allowed := write("    cjt188: {valve_control: true, password: \"${VALVE_PASSWORD}\"}\n")
	errOut.Reset()
	if code := run([]string{"cjt188", "valve", "--config", allowed, "--device", "w7", "--close"}, &out, &errOut); code != 0 {
		t.Fatalf("close: exit %d: %s", code, errOut.String())
	}
	if !closed() || !strings.Contains(out.String(), "valve closed") {
		t.Fatalf("closed %v; output %q", closed(), out.String())
	}
}

func TestCJT188DiscoverAndSetAddress(t *testing.T) {
	a, _ := cjt188.ParseAddress("78330011223344")
	sim := serveWater(t, &cjt188.SimMeter{Addr: a})
	var out, errOut bytes.Buffer
	if code := run([]string{"cjt188", "discover", "--port", sim.Path(), "--baud", "9600", "--timeout", "200ms"}, &out, &errOut); code != 0 {
		t.Fatalf("discover: exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "78330011223344  type 10") || !strings.Contains(out.String(), "1 meter(s)") {
		t.Fatalf("discover printed %q", out.String())
	}
	out.Reset()
	if code := run([]string{"cjt188", "set-address", "--port", sim.Path(), "--baud", "9600", "--to", "78330011223345"}, &out, &errOut); code != 0 {
		t.Fatalf("set-address: exit %d: %s", code, errOut.String())
	}
	b, _ := cjt188.ParseAddress("78330011223345")
	if !sim.With(b, func(*cjt188.SimMeter) {}) {
		t.Fatalf("no meter at the new address; printed %q", out.String())
	}
}
