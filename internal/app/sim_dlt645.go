package app

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/estatehq/estate/devices/dlt645"
	"github.com/estatehq/estate/devices/serial"
	"github.com/estatehq/estate/internal/config"
)

// A bus of DL/T 645 prepaid meters on a pseudo-terminal: the simulator makes
// its device's serial.port a link to the line, and puts on it every dlt645
// device of the configuration that names that port, each with the configured
// balance and drain.
func init() {
	registerSimulator("dlt645_bus", simulatorKind{validate: validateDLT645Sim, start: startDLT645Sim})
}

func validateDLT645Sim(cfg *config.Config, s config.Simulator, path string) []config.Problem {
	var ps []config.Problem
	if d, ok := cfg.DeviceByID(s.Device); ok && (d.Protocol != dlt645.Protocol || d.Serial == nil) {
		ps = append(ps, cfg.Problemf(path+".device", "a dlt645_bus simulator serves a DL/T 645 line; device %s uses %s", d.ID, d.Protocol))
	}
	if s.DrainPerSecond < 0 {
		ps = append(ps, cfg.Problemf(path+".drain_per_second", "must not be negative"))
	}
	return ps
}

func startDLT645Sim(ctx context.Context, cfg *config.Config, sc config.Simulator, log *slog.Logger) (func(), error) {
	dev, _ := cfg.DeviceByID(sc.Device)
	port := dev.Serial.Port
	if err := os.MkdirAll(filepath.Dir(port), 0o755); err != nil {
		return nil, err
	}
	bus, err := dlt645.NewSimBus(port)
	if err != nil {
		return nil, err
	}
	// Replies are paced at the line's baud rate, so that a sweep takes as long
	// as on a real bus.
	bus.Settings = serial.Resolve(dev.Serial, dlt645.DefaultBaud, dlt645.DefaultParity)
	n := 0
	for _, d := range cfg.Devices {
		if d.Protocol != dlt645.Protocol || d.Serial == nil || d.Serial.Port != port {
			continue
		}
		addr, err := dlt645.ParseAddress(d.Address)
		if err != nil {
			return nil, fmt.Errorf("device %s: %w", d.ID, err)
		}
		bus.Add(&dlt645.SimMeter{Addr: addr, Balance: sc.InitialBalance, DrainPerSecond: sc.DrainPerSecond,
			Alarm1: 10, Alarm2: 5, OverdraftLimit: 5, EnergyKWh: 1200})
		n++
	}
	log.Info("simulated DL/T 645 bus serving", "port", port, "line", bus.Path(), "meters", n,
		"balance", sc.InitialBalance, "drain_per_second", sc.DrainPerSecond)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := bus.Run(ctx); err != nil {
			log.Error("simulated DL/T 645 bus stopped", "err", err)
		}
	}()
	return func() { <-done }, nil
}
