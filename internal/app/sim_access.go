package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/estatehq/estate/devices/access"
	"github.com/estatehq/estate/devices/mqtt"
	"github.com/estatehq/estate/internal/config"
)

// A door controller publishing over MQTT: normal card traffic, and a scripted
// forced door, held door, tamper and invalid-card burst.
func init() {
	registerSimulator("door_controller", simulatorKind{
		validate: func(cfg *config.Config, s config.Simulator, path string) []config.Problem {
			return validateMQTTSim(cfg, s, path, "access", access.ScriptActions)
		},
		start: startAccessSim,
	})
}

func startAccessSim(ctx context.Context, cfg *config.Config, sc config.Simulator, log *slog.Logger) (func(), error) {
	pub, dev, err := dialSimDevice(ctx, cfg, sc)
	if err != nil {
		return nil, err
	}
	sim := &access.Simulator{Script: sc.Script}
	log = log.With("device", dev.ID)
	log.Info("simulated door controller publishing", "broker", brokerSettings(cfg).Broker, "script", scriptSummary(sc.Script))
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := mqtt.RunAccessSim(ctx, pub, sim, time.Second, log); err != nil {
			log.Error("simulated door controller stopped", "err", err)
		}
	}()
	return func() { <-done; pub.Close() }, nil
}
