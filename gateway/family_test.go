package gateway_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/estatehq/estate/devices"
	_ "github.com/estatehq/estate/devices/all" // modbus_tcp and the elevator family
	"github.com/estatehq/estate/devices/modbus"
	"github.com/estatehq/estate/gateway"
	"github.com/estatehq/estate/internal/config"
	"github.com/estatehq/estate/internal/testenv"
)

// An elevator controller read over Modbus: the register map names the
// elevator's points, and the gateway runs the elevator family's logic over
// the polled readings as devices/mqtt does over published ones.
const modbusElevatorProfile = `
name: modbus-elevator
family: elevator
points:
  - {name: floor,      table: holding, address: 0, type: int16}
  - {name: running,    table: holding, address: 1}
  - {name: door_open,  table: holding, address: 2}
  - {name: door_zone,  table: holding, address: 3}
  - {name: passenger,  table: holding, address: 4}
`

// syncBuffer is a log sink the test reads while the gateway writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A Modbus-polled device of family elevator raises an inferred entrapment: a
// passenger in a car stopped outside the door zone with its doors shut, for
// the device's entrapment_after (the family's key, on a Modbus device).
func TestModbusElevatorRaisesEntrapment(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "modbus-elevator.yaml"), []byte(modbusElevatorProfile), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := modbus.LoadProfile(filepath.Join(dir, "modbus-elevator.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	addr := testenv.FreeAddr(t)
	sim := modbus.NewSimulator(p, addr)
	for point, v := range map[string]float64{"floor": 7, "running": 0, "door_open": 0, "door_zone": 0, "passenger": 0} {
		if err := sim.Set(point, v); err != nil {
			t.Fatal(err)
		}
	}
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	defer sim.Stop()

	text := fmt.Sprintf(`site: {id: s1}
gateway: {id: gw, profiles_dir: %s, desk_url: "http://127.0.0.1:1", desk_token: gateway-token-for-tests, state_dir: %s}
influxdb: {url: "http://127.0.0.1:1", bucket: "b/autogen", flush_interval: 1s}
devices:
  - {id: lift-1, family: elevator, protocol: modbus_tcp, profile: modbus-elevator, address: "%s", poll_interval: 100ms, timeout: 500ms, entrapment_after: 400ms}
`, dir, dir, addr)
	cfg, err := config.ParseWith(filepath.Join(dir, "site.yaml"), []byte(text), devices.Validate)
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	g, err := gateway.New(cfg, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	defer func() { cancel(); <-done }()

	waitFor := func(what string, limit time.Duration, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(limit); !ok(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("no %s within %s; log:\n%s", what, limit, logs.String())
			}
		}
	}
	entrapment := func(active bool) func() bool {
		return func() bool {
			for _, l := range strings.Split(logs.String(), "\n") {
				if strings.Contains(l, `msg="device event"`) && strings.Contains(l, "device=lift-1") &&
					strings.Contains(l, "type=entrapment") && strings.Contains(l, fmt.Sprintf("active=%v", active)) {
					return true
				}
			}
			return false
		}
	}
	waitFor("polls of the elevator", 10*time.Second, func() bool {
		for _, d := range g.Health().Snapshot() {
			if d.ID == "lift-1" && d.State == "online" {
				return true
			}
		}
		return false
	})
	if entrapment(true)() {
		t.Fatal("entrapment raised with nobody in the car")
	}
	started := time.Now()
	_ = sim.Set("passenger", 1)
	waitFor("entrapment", 10*time.Second, entrapment(true))
	if took := time.Since(started); took < 400*time.Millisecond {
		t.Errorf("entrapment raised after %s, before entrapment_after (400ms)", took)
	}
	_ = sim.Set("door_open", 1) // the doors open: the passenger walks out
	waitFor("entrapment cleared", 10*time.Second, entrapment(false))
}
