package mqtt

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/estatehq/estate/internal/promreg"
)

// Metrics are the MQTT driver's counters and gauges, on the registry the
// gateway hands its drivers (devices.Env.Metrics) rather than the global
// default, so that each streamer of a test counts on its own.
type Metrics struct {
	messages  *prometheus.CounterVec
	queue     prometheus.Gauge
	connected prometheus.Gauge
	connects  prometheus.Counter
	online    *prometheus.GaugeVec
	bad       *prometheus.CounterVec
}

// NewMetrics registers the driver's metrics on reg; nil means a private
// registry that nobody serves (commissioning commands, DeviceFilters). A
// second call on the same registry shares the first one's collectors.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	reg = promreg.OrPrivate(reg)
	return &Metrics{
		messages: promreg.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "estate_mqtt_messages_total", Help: "MQTT messages decoded, by device."}, []string{"device"})),
		queue: promreg.Register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "estate_mqtt_queue_length", Help: "MQTT messages received and waiting to be decoded."})),
		connected: promreg.Register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "estate_mqtt_connected", Help: "1 while the gateway is connected to its MQTT broker."})),
		connects: promreg.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "estate_mqtt_connects_total", Help: "Successful connections (first and reconnections) to the MQTT broker."})),
		online: promreg.Register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "estate_mqtt_device_online", Help: "1 while an MQTT device is present, 0 once it is offline."}, []string{"device"})),
		bad: promreg.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "estate_mqtt_bad_messages_total",
			Help: "MQTT messages that were malformed, of the wrong type, oversized, on unknown topics, over a device's rate or dropped on a full queue, by device and reason.",
		}, []string{"device", "reason"})),
	}
}
