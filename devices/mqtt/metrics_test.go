package mqtt

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/estatehq/estate/devices"
)

// The driver registers on the registry the gateway gives it (devices.Env.Metrics),
// and a second gateway on the same registry (two in one test process) shares
// the series instead of panicking.
func TestMetricsOnTheEnvRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	cfg := testConfig(t, testMQTTSection, threeDevices("r-"))
	for range 2 {
		opened, err := devices.OpenAll(devices.Env{Config: cfg, Metrics: reg})
		if err != nil {
			t.Fatal(err)
		}
		if len(opened.Streamers) != 1 {
			t.Fatalf("%d streamers, want the one MQTT streamer", len(opened.Streamers))
		}
		s := opened.Streamers[0].(*Streamer)
		s.receive(time.Now(), "estate/s1/elevator/r-lift-99/state", []byte(`{"floor":1}`)) // no such device
		opened.Close()
	}
	if got := testutil.ToFloat64(NewMetrics(reg).bad.WithLabelValues(unknownDevice, reasonUnknownTopic)); got != 2 {
		t.Fatalf("unknown-topic messages on the shared registry %v, want 2", got)
	}
	for _, name := range []string{"estate_mqtt_bad_messages_total", "estate_mqtt_device_online"} {
		if n, err := testutil.GatherAndCount(reg, name); err != nil || n == 0 {
			t.Errorf("%s not on the injected registry: %d series, %v", name, n, err)
		}
	}
}
