package modbus

import (
	"context"
	"net"
	"testing"
	"time"

	gm "github.com/goburrow/modbus"

	"github.com/estatehq/estate/devices"
)

func TestPowerValues(t *testing.T) {
	script := []devices.ScriptStep{{At: 10 * time.Second, Do: "generator_run", For: time.Minute}, {At: 2 * time.Minute, Do: "mains_fail", For: 30 * time.Second}}
	cases := []struct {
		at                     time.Duration
		running, fail, onMains float64
	}{
		{0, 0, 0, 1}, {10 * time.Second, 1, 0, 1}, {69 * time.Second, 1, 0, 1}, {70 * time.Second, 0, 0, 1},
		{2*time.Minute + time.Second, 1, 1, 0}, {5*time.Minute + 15*time.Second, 1, 0, 1}, // repeated every 5 minutes
	}
	for _, c := range cases {
		v := PowerValues(script, 5*time.Minute, c.at)
		if v["generator_running"] != c.running || v["mains_fail"] != c.fail || v["ats_on_mains"] != c.onMains || v["ats_on_generator"] != 1-c.onMains {
			t.Errorf("at %s: %v", c.at, v)
		}
	}
}

// The simulator serves the generator's running contact on discrete input 2
// of generic-di8, as a real DI module does.
func TestPowerContactsServe(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	wait, err := startPower(ctx, devices.SimEnv{}, &PowerSimOptions{Profile: "../../configs/profiles/generic-di8.yaml", Listen: addr,
		Script: []devices.ScriptStep{{At: 0, Do: "generator_run", For: time.Hour}}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = wait() }()
	h := gm.NewTCPClientHandler(addr)
	h.Timeout = 2 * time.Second
	if err := h.Connect(); err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	b, err := gm.NewClient(h).ReadDiscreteInputs(0, 8)
	if err != nil {
		t.Fatal(err)
	}
	// DI1 ats_on_mains, DI3 generator_running: bits 0 and 2.
	if b[0]&0b111 != 0b101 {
		t.Errorf("inputs %08b, want ATS on mains and the generator running", b[0])
	}
}
