package broker

import (
	"io"
	"log/slog"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/estatehq/estate/devices/mqtt"
	"github.com/estatehq/estate/internal/testenv"
)

func start(t *testing.T) *Broker {
	t.Helper()
	cfg := mqtt.EmbeddedBroker{Listen: testenv.FreeAddr(t), Users: []mqtt.BrokerUser{
		{Username: "gw", Password: "gateway-secret", Role: "gateway"},
		{Username: "lift", Password: "device-secret", Role: "device"},
	}}
	b, err := Start(cfg, []string{"estate/s1/elevator/+/state", "estate/s1/elevator/+/status"}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func connect(t *testing.T, b *Broker, user, password string) (paho.Client, error) {
	t.Helper()
	c := paho.NewClient(paho.NewClientOptions().AddBroker(b.URL()).SetClientID(user + "-" + password[:2]).
		SetUsername(user).SetPassword(password).SetConnectTimeout(3 * time.Second))
	tok := c.Connect()
	if !tok.WaitTimeout(5 * time.Second) {
		t.Fatal("connect timed out")
	}
	if tok.Error() == nil {
		t.Cleanup(func() { c.Disconnect(50) })
	}
	return c, tok.Error()
}

func TestAuthentication(t *testing.T) {
	b := start(t)
	if _, err := connect(t, b, "gw", "gateway-secret"); err != nil {
		t.Fatalf("gateway refused: %v", err)
	}
	if _, err := connect(t, b, "lift", "device-secret"); err != nil {
		t.Fatalf("device refused: %v", err)
	}
	for _, bad := range [][2]string{{"gw", "wrong-password"}, {"nobody", "gateway-secret"}, {"lift", "gateway-secret"}} {
		if _, err := connect(t, b, bad[0], bad[1]); err == nil {
			t.Errorf("%s with %s accepted", bad[0], bad[1])
		}
	}
	c := paho.NewClient(paho.NewClientOptions().AddBroker(b.URL()).SetClientID("anon").SetConnectTimeout(3 * time.Second))
	if tok := c.Connect(); tok.WaitTimeout(5*time.Second) && tok.Error() == nil {
		c.Disconnect(50)
		t.Error("anonymous client accepted")
	}
}

func TestDeviceACL(t *testing.T) {
	b := start(t)
	gw, err := connect(t, b, "gw", "gateway-secret")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 10)
	if tok := gw.Subscribe("#", 1, func(_ paho.Client, m paho.Message) { got <- m.Topic() }); !tok.WaitTimeout(3*time.Second) || tok.Error() != nil {
		t.Fatalf("gateway subscribe: %v", tok.Error())
	}
	lift, err := connect(t, b, "lift", "device-secret")
	if err != nil {
		t.Fatal(err)
	}
	// A device may not read everything, nor speak for the gateway.
	st := lift.Subscribe("#", 1, nil)
	st.WaitTimeout(3 * time.Second)
	if res := st.(*paho.SubscribeToken).Result()["#"]; res != 0x80 {
		t.Errorf("device subscription to # granted (%#x)", res)
	}
	// QoS 0: mochi drops a forbidden QoS 0 message silently (a forbidden QoS 1
	// publish from an MQTT 3.1.1 client ends its connection).
	lift.Publish("estate/s1/gateway/gw1/status", 0, true, "offline").WaitTimeout(3 * time.Second)
	lift.Publish("estate/s1/elevator/lift-1/state", 1, false, `{"floor":1}`).WaitTimeout(3 * time.Second)
	select {
	case topic := <-got:
		if topic != "estate/s1/elevator/lift-1/state" {
			t.Fatalf("gateway received %s, which the device may not publish", topic)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("the device's allowed message did not arrive")
	}
}
