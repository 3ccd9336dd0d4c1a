package app

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/estatehq/estate/devices/mqtt"
	"github.com/estatehq/estate/gateway"
	"github.com/estatehq/estate/internal/testenv"
	"github.com/estatehq/estate/internal/wire"
)

// The demo's pump room with one of its two sensors on MQTT instead of
// Modbus: a Zigbee water-leak sensor (the shipped Zigbee2MQTT profile)
// publishing through the embedded, authenticated broker. The Modbus module
// floods first and opens the room's one emergency; the Zigbee sensor's water
// joins it with a note; when both are dry, the incident clears with a note
// and the ticket stays for people to close.
func TestDemoFloodingAcrossTransports(t *testing.T) {
	influxURL, bucket := testenv.InfluxDB(t)
	cfg := demoConfig(t, influxURL, bucket,
		"  - id: leak-1-b1-pump-b\n    family: leak\n    protocol: modbus_tcp\n    profile: generic-leak-di8\n    address: 127.0.0.1:15031\n",
		"  - id: leak-1-b1-pump-b\n    family: leak\n    protocol: mqtt\n    profile: mqtt-leak-zigbee2mqtt\n",
		"  - kind: leak_module\n    device: leak-1-b1-pump-b\n    script:\n      - {at: 105s, do: flood, for: 3m}\n", "",
		"{at: 100s, do: flood, for: 3m}", "{at: 1s, do: flood, for: 8s}",
		"keep_for: 2m\n    severity: critical\n    ticket: emergency", "keep_for: 2s\n    severity: critical\n    ticket: emergency",
	)
	if d, _ := cfg.DeviceByID("leak-1-b1-pump-b"); d.Protocol != "mqtt" {
		t.Fatalf("the second leak device is %s, want mqtt", d.Protocol)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	started := make(chan struct{})
	go func() {
		done <- RunDemo(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard,
			func(*gateway.Gateway) { close(started) }) // the desk answers by then
	}()
	defer func() { cancel(); <-done }()
	select {
	case <-started:
	case err := <-done:
		t.Fatalf("demo stopped: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("the demo did not start within 60 s")
	}

	const key = "demo-estate/flooding/1/B1 水泵房"
	room := func() []wire.Ticket {
		var out []wire.Ticket
		for _, tk := range queryTickets(t, cfg, "kind=emergency") {
			if tk.AlarmKey == key {
				out = append(out, tk)
			}
		}
		return out
	}
	waitFor(t, 60*time.Second, "the Modbus module's flooding emergency", func() bool { return len(room()) > 0 })

	settings, err := mqtt.SettingsOf(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := paho.NewClient(paho.NewClientOptions().AddBroker(settings.Broker).SetClientID("zigbee2mqtt-test").
		SetUsername("demo-devices").SetPassword("demo-mqtt-devices-not-for-production"))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("zigbee2mqtt bridge: %v", tok.Error())
	}
	defer c.Disconnect(100)
	publish := func(wet bool) {
		t.Helper()
		payload := `{"water_leak":false,"battery_low":false,"battery":91,"tamper":false,"linkquality":102}`
		if wet {
			payload = strings.Replace(payload, `"water_leak":false`, `"water_leak":true`, 1)
		}
		if tok := c.Publish("zigbee2mqtt/leak-1-b1-pump-b", 1, false, payload); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("publish: %v", tok.Error())
		}
	}
	publish(true)
	var notes string
	waitFor(t, 60*time.Second, "the Zigbee sensor joining the room's incident", func() bool {
		ts := room()
		if len(ts) != 1 {
			return len(ts) > 1
		}
		notes = ticketNotes(t, cfg, ts[0].ID)
		return strings.Contains(notes, "传感器 leak-1-b1-pump-b 也检测到水")
	})
	if ts := room(); len(ts) != 1 || ts[0].Priority != "P1" || ts[0].Device != "leak-1-b1-pump-a" {
		t.Fatalf("room tickets %+v, want the Modbus module's one P1 ticket", ts)
	}
	// The Modbus module dries after 8 s of its script; the sensor now.
	publish(false)
	waitFor(t, 60*time.Second, "the incident clearing", func() bool {
		ts := room()
		return len(ts) == 1 && strings.Contains(ticketNotes(t, cfg, ts[0].ID), "告警已恢复")
	})
	if ts := room(); len(ts) != 1 || ts[0].Status == wire.Closed {
		t.Fatalf("after the water: %+v", ts)
	}
}
