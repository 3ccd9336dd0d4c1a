package mqtt

import (
	"log/slog"
	"sync"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
)

// unknownDevice labels input that no configured device sent.
const unknownDevice = "unknown"

// maxLoggedKeys bounds the memory of what was logged already, so that a
// stream of ever-new unknown topics cannot grow it without end.
const maxLoggedKeys = 4096

// badInput counts bad input per device and reason and logs the first of each
// with a sample, so that a flood of garbage costs a counter, not a log line.
// Safe for concurrent use: the receiving and the decoding goroutines both report.
type badInput struct {
	log    *slog.Logger
	count  *prometheus.CounterVec // estate_mqtt_bad_messages_total
	mu     sync.Mutex
	logged map[string]bool
}

func newBadInput(log *slog.Logger, count *prometheus.CounterVec) *badInput {
	return &badInput{log: log, count: count, logged: map[string]bool{}}
}

func (b *badInput) report(device, reason, topic string, payload []byte, detail string) {
	b.count.WithLabelValues(device, reason).Inc()
	key := device + "\x00" + reason
	if device == unknownDevice {
		key += "\x00" + topic
	}
	b.mu.Lock()
	first := !b.logged[key] && len(b.logged) < maxLoggedKeys
	if first {
		b.logged[key] = true
	}
	b.mu.Unlock()
	if first {
		b.log.Warn("bad MQTT input; further ones like it are only counted (estate_mqtt_bad_messages_total)",
			"device", device, "reason", reason, "topic", topic, "detail", detail,
			"bytes", len(payload), "sample", sample(payload))
	}
}

// sample is the start of a payload, cut on a character boundary.
func sample(payload []byte) string {
	const max = 120
	if len(payload) <= max {
		return string(payload)
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(payload[cut]) {
		cut--
	}
	return string(payload[:cut]) + "…"
}
