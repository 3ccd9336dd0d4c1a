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
func startEmbeddedBroker(cfg *config.Config, log *slog.Logger) (stop func(), err error) {
	m, err := mqtt.SettingsOf(cfg)
	if err != nil {
		return nil, err
	}
	if m.Embedded == nil {
		return func() {}, nil
	}
	filters, err := mqtt.DeviceFilters(cfg)
	if err != nil {
		return nil, err
	}
	filters = append(filters, guardtour.Filters(cfg)...) // patrol readers publish their scans too
	b, err := broker.Start(*m.Embedded, filters, log.With("part", "broker"))
	if err != nil {
		return nil, err
	}
	return func() { _ = b.Close() }, nil
}
