package leak_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/estatehq/estate/devices"
	_ "github.com/estatehq/estate/devices/all"
	"github.com/estatehq/estate/devices/leak"
	"github.com/estatehq/estate/devices/modbus"
	"github.com/estatehq/estate/internal/config"
	"github.com/estatehq/estate/internal/testenv"
)

func siteConfig(t *testing.T, extra string) (*config.Config, error) {
	t.Helper()
	profiles, _ := filepath.Abs("../../configs/profiles")
	id := randomID() // a site and gateway (MQTT client id) of its own on the shared broker
	text := fmt.Sprintf(`site: {id: s-%s}
gateway: {id: gw-%[1]s, profiles_dir: %s, desk_url: "http://127.0.0.1:1", desk_token: gateway-token-for-tests}
influxdb: {url: "http://127.0.0.1:1", bucket: "b/autogen"}
%s`, id, profiles, extra)
	// As estate check: the devices, then the simulators.
	return config.ParseWith(filepath.Join(t.TempDir(), "site.yaml"), []byte(text), func(c *config.Config) []config.Problem {
		return append(devices.Validate(c), devices.ValidateSimulators(c)...)
	})
}

func randomID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// What estate check says about leak devices and their simulator.
func TestLeakConfigChecks(t *testing.T) {
	const ok = `mqtt: {broker: "tcp://127.0.0.1:1"}
devices:
  - {id: leak-1, family: leak, protocol: modbus_tcp, profile: generic-leak-di8, address: "127.0.0.1:1502", building: "1", room: "B1 水泵房", location: pump_room}
  - {id: leak-2, family: leak, protocol: mqtt, profile: mqtt-leak-zigbee2mqtt, building: "1", room: "B1 水泵房", location: pump_room}
  - {id: m1, family: meter, protocol: modbus_tcp, profile: eastron-sdm630, address: "127.0.0.1:1503"}
`
	if _, err := siteConfig(t, ok+"simulators:\n  - {kind: leak_module, device: leak-1, script: [{at: 30s, do: flood}, {at: 5m, do: probe_2, for: 1m}]}\n"); err != nil {
		t.Fatalf("valid site: %v", err)
	}
	for _, tc := range []struct{ name, text, want string }{
		{"no room", strings.Replace(ok, `room: "B1 水泵房", location: pump_room}`, "location: basement}", 1), "devices[0].room: required"},
		{"bad location", strings.Replace(ok, "location: pump_room}", "location: kitchen}", 1), `devices[0].location: "kitchen" is not a location; use one of pump_room, plant_room, basement, lift_pit, other`},
		{"room on a meter", strings.Replace(ok, `address: "127.0.0.1:1503"}`, `address: "127.0.0.1:1503", room: x}`, 1), "devices[2].room: applies to leak sensors only"},
		{"simulator of an mqtt device", ok + "simulators:\n  - {kind: leak_module, device: leak-2}\n", "a leak_module simulator plays a leak device on Modbus TCP"},
		{"simulator step", ok + "simulators:\n  - {kind: leak_module, device: leak-1, script: [{at: 1s, do: rain}]}\n", `simulators[0].script[0].do: "rain" is not a step`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := siteConfig(t, tc.text)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want a problem containing %q, got %v", tc.want, err)
			}
		})
	}
}

// A leak module polled over Modbus TCP on loopback (the simulator kind's
// server, the shipped DI profile, the modbus driver): the family's logic
// turns its probes into flooding events of its room, on demand.
func TestModbusLeakModuleFloods(t *testing.T) {
	p, err := modbus.LoadProfile("../../configs/profiles/generic-leak-di8.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m := &leak.Module{Probes: []string{"water_leak_1", "water_leak_2"}}
	addr := testenv.FreeAddr(t)
	sim := leak.NewModuleSim(p, addr, m)
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	defer sim.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go sim.Run(ctx, 20*time.Millisecond)

	cfg, err := siteConfig(t, fmt.Sprintf(`devices:
  - {id: leak-1, family: leak, protocol: modbus_tcp, profile: generic-leak-di8, address: "%s", building: "1", room: "B1 水泵房", location: pump_room, timeout: 2s}
`, addr))
	if err != nil {
		t.Fatal(err)
	}
	o, err := devices.OpenAll(devices.Env{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	d := o.Polled[0]
	poll := func() ([]devices.Value, []devices.Event) {
		t.Helper()
		pctx, pcancel := context.WithTimeout(ctx, 5*time.Second)
		defer pcancel()
		r, err := d.Driver.Poll(pctx)
		if err != nil {
			t.Fatalf("poll: %v", err)
		}
		return r.Values, d.Behaviour.Observe(r.Time, r.Values, nil)
	}
	_, evs := poll()
	if len(evs) != 2 || evs[0].Active || evs[1].Active || evs[0].Type != leak.EventFlooding {
		t.Fatalf("first poll: %+v, want both probes dry", evs)
	}
	m.Force("flood_pump_failed", true)
	var got []devices.Event
	var values []devices.Value
	for deadline := time.Now().Add(10 * time.Second); len(got) < 2; {
		if time.Now().After(deadline) {
			t.Fatalf("no flooding within 10 s: %+v", got)
		}
		var evs []devices.Event
		values, evs = poll()
		got = append(got, evs...)
	}
	for _, e := range got {
		if e.Type != leak.EventFlooding || !e.Active || e.Source != "B1 水泵房" || !strings.HasPrefix(e.Attrs["probe"], "water_leak_") {
			t.Errorf("event %+v", e)
		}
	}
	want := map[string]float64{"high_level": 1, "pump_running": 0, "sensor_fault": 0}
	for _, v := range values {
		if w, ok := want[v.Point]; ok && v.Value != w {
			t.Errorf("%s = %v, want %v", v.Point, v.Value, w)
		}
	}
}

type sink struct {
	mu       sync.Mutex
	events   []devices.Event
	readings []devices.Reading
}

func (s *sink) Reading(r devices.Reading) {
	s.mu.Lock()
	s.readings = append(s.readings, r)
	s.mu.Unlock()
}
func (s *sink) Event(e devices.Event) { s.mu.Lock(); s.events = append(s.events, e); s.mu.Unlock() }
func (s *sink) Health(string, error)  {}

func (s *sink) flooding() *devices.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.events {
		if s.events[i].Type == leak.EventFlooding {
			return &s.events[i]
		}
	}
	return nil
}

// A Zigbee water-leak sensor bridged by Zigbee2MQTT, on the tests' broker:
// the shipped profile reads its JSON and the family raises flooding for its
// room; battery_low and tamper are points for the repair rules.
func TestZigbeeLeakSensorOverMQTT(t *testing.T) {
	broker := testenv.MQTT(t)
	id := "leak-z-" + randomID()
	cfg, err := siteConfig(t, fmt.Sprintf(`mqtt: {broker: "%s"}
devices:
  - {id: %s, family: leak, protocol: mqtt, profile: mqtt-leak-zigbee2mqtt, building: "1", room: "1号梯底坑", location: lift_pit}
`, broker, id))
	if err != nil {
		t.Fatal(err)
	}
	o, err := devices.OpenAll(devices.Env{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &sink{}
	done := make(chan error, 1)
	go func() { done <- o.Streamers[0].Run(ctx, s) }()
	defer func() { cancel(); <-done }()

	c := paho.NewClient(paho.NewClientOptions().AddBroker(broker).SetClientID("leak-pub-" + randomID()))
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("publisher: %v", tok.Error())
	}
	defer c.Disconnect(100)
	// The streamer subscribes after it connects: publish until it hears.
	payload := `{"water_leak":true,"battery_low":true,"battery":12,"tamper":false,"linkquality":87}`
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if s.flooding() != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no event within 15 s of publishing")
		}
		c.Publish("zigbee2mqtt/"+id, 1, false, payload).WaitTimeout(2 * time.Second)
	}
	e := *s.flooding()
	s.mu.Lock()
	defer s.mu.Unlock()
	if e.Type != leak.EventFlooding || !e.Active || e.Source != "1号梯底坑" || e.Device == nil || e.Device.ID != id || e.Attrs["probe"] != "" {
		t.Fatalf("event %+v", e)
	}
	r := s.readings[len(s.readings)-1]
	for p, want := range map[string]float64{"water_leak": 1, "battery_low": 1, "battery": 12, "tamper": 0} {
		if v, ok := r.Get(p); !ok || v != want {
			t.Errorf("%s = %v (%v), want %v", p, v, ok, want)
		}
	}
}
