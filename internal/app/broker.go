package app

import (
	"log/slog"

	"github.com/estatehq/estate/devices/guardtour"

	"github.com/estatehq/estate/devices/mqtt"
	"github.com/estatehq/estate/internal/broker"
	"github.com/estatehq/estate/internal/config"
)

// startEmbeddedBroker runs the demo's MQTT broker when the configuration asks
// for one (mqtt.embedded); the returned function stops it.
func startEmbeddedBroker(cfg *config.Config, log *slog.Logger) (subscribed func(string) bool, stop func(), err error) {
	m, err := mqtt.SettingsOf(cfg)
	if err != nil {
		return nil, nil, err
	}
	if m.Embedded == nil {
		return nil, func() {}, nil
	}
	filters, err := mqtt.DeviceFilters(cfg)
	if err != nil {
		return nil, nil, err
	}
	filters = append(filters, guardtour.Filters(cfg)...) // patrol readers publish their scans too
	b, err := broker.Start(*m.Embedded, filters, log.With("part", "broker"))
	if err != nil {
		return nil, nil, err
	}
	return b.Subscribed, func() { _ = b.Close() }, nil
}
