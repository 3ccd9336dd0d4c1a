package app

import (
	"context"
	"log/slog"

	"github.com/estatehq/estate/devices/modbus"
	"github.com/estatehq/estate/internal/config"
)

// The household prepaid meter of the demo, served over Modbus TCP on its
// device's address with its device's profile.
func init() {
	registerSimulator("prepaid_meter", simulatorKind{validate: validatePrepaidSim, start: startPrepaidSim})
}

func validatePrepaidSim(cfg *config.Config, s config.Simulator, path string) []config.Problem {
	var ps []config.Problem
	if d, ok := cfg.DeviceByID(s.Device); ok && d.Protocol != modbus.ProtocolTCP {
		ps = append(ps, cfg.Problemf(path+".device", "a prepaid_meter simulator serves Modbus TCP; device %s uses %s", d.ID, d.Protocol))
	}
	if s.DrainPerSecond < 0 {
		ps = append(ps, cfg.Problemf(path+".drain_per_second", "must not be negative"))
	}
	return ps
}

func startPrepaidSim(ctx context.Context, cfg *config.Config, sc config.Simulator, log *slog.Logger) (func(), error) {
	cdev, _ := cfg.DeviceByID(sc.Device)
	dev := modbus.DeviceOf(cdev)
	p, err := modbus.LoadProfile(modbus.ProfilePath(cfg.Resolve(cfg.Gateway.ProfilesDir), dev.Profile))
	if err != nil {
		return nil, err
	}
	sim := modbus.NewSimulator(p, dev.Address)
	meter := &modbus.PrepaidMeter{Sim: sim, InitialBalance: sc.InitialBalance, DrainPerSecond: sc.DrainPerSecond}
	if err := sim.Start(); err != nil {
		return nil, err
	}
	log.Info("simulated prepaid meter serving", "device", dev.ID, "addr", dev.Address,
		"balance", sc.InitialBalance, "drain_per_second", sc.DrainPerSecond)
	done := make(chan struct{})
	go func() { defer close(done); meter.Run(ctx) }()
	return func() { <-done; _ = sim.Stop() }, nil
}
