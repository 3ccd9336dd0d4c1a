package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/estatehq/estate/devices/dlt645"
)

func TestDLT645Relay(t *testing.T) {
	sim, err := dlt645.NewSimBus("")
	if err != nil {
		t.Fatal(err)
	}
	addr, _ := dlt645.ParseAddress("7")
	// "02123456" as DL/T 645-2007 sends it: PA 02, then P0 P1 P2 = 56 34 12.
	meter := &dlt645.SimMeter{Addr: addr, Balance: 30, Password: [4]byte{0x02, 0x56, 0x34, 0x12}}
	sim.Add(meter)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = sim.Run(ctx) }()

	profiles, _ := filepath.Abs("../../configs/profiles")
	write := func(control string) string {
		path := filepath.Join(t.TempDir(), "site.yaml")
		text := fmt.Sprintf(`site: {id: s1}
gateway: {id: gw, profiles_dir: %s, desk_url: "http://127.0.0.1:1", desk_token: gateway-token-0123456789}
influxdb: {url: "http://127.0.0.1:1", bucket: estate/autogen}
devices:
  - id: m7
    family: meter
    protocol: dlt645
    profile: dlt645-prepaid-single-phase
    address: "7"
    serial: {port: %s, baud: 9600}
%s`, profiles, sim.Path(), control)
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	var out, errOut bytes.Buffer
	locked := write("")
	if code := run([]string{"dlt645", "relay", "--config", locked, "--device", "m7", "--trip"}, &out, &errOut); code != 1 ||
		!strings.Contains(errOut.String(), "does not allow relay control") {
		t.Fatalf("relay control without the switch: exit %d: %s", code, errOut.String())
	}
	if meter.RelayOpen() {
		t.Fatal("the relay tripped without the switch")
	}
	t.Setenv("METER_PASSWORD", "02123456")
	allowed := write("    dlt645: {relay_control: true, password: \"${METER_PASSWORD}\", operator: \"00000001\"}\n")
	errOut.Reset()
	if code := run([]string{"dlt645", "relay", "--config", allowed, "--device", "m7", "--trip"}, &out, &errOut); code != 0 {
		t.Fatalf("trip: exit %d: %s", code, errOut.String())
	}
	if !meter.RelayOpen() || !strings.Contains(out.String(), "relay tripped") {
		t.Fatalf("relay open %v; output %q", meter.RelayOpen(), out.String())
	}
	// Direct close is refused before anything is sent: the shipped profile does not allow it.
	errOut.Reset()
	if code := run([]string{"dlt645", "relay", "--config", allowed, "--device", "m7", "--direct-close"}, &out, &errOut); code != 1 ||
		!strings.Contains(errOut.String(), "allow_direct_close") {
		t.Fatalf("direct close: exit %d: %s", code, errOut.String())
	}
	if !meter.RelayOpen() {
		t.Fatal("the relay closed")
	}
	errOut.Reset()
	if code := run([]string{"dlt645", "relay", "--config", allowed, "--device", "m7", "--close"}, &out, &errOut); code != 0 || meter.RelayOpen() {
		t.Fatalf("allow close: exit %d: %s", code, errOut.String())
	}
}
