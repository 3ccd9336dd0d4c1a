package app

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/estatehq/estate/devices/firepanel"
	"github.com/estatehq/estate/internal/config"
)

// Simulated fire panels: a GB/T 26875.3 transmission device that connects to
// its device's address (where the gateway listens), and a CRT text panel on
// a pseudo-terminal linked at its device's serial.port. Both play the demo
// script (fire alarm, fault, fault cleared, reset) every few seconds.
func init() {
	registerSimulator("firepanel_gbt26875", simulatorKind{validate: validateFireSim(firepanel.ProtocolGBT26875), start: startUITDSim})
	registerSimulator("firepanel_crt", simulatorKind{validate: validateFireSim(firepanel.ProtocolCRT), start: startCRTSim})
}

// fireScriptGap is the time between the demo script's events.
const fireScriptGap = 5 * time.Second

func validateFireSim(protocol string) func(*config.Config, config.Simulator, string) []config.Problem {
	return func(cfg *config.Config, s config.Simulator, path string) []config.Problem {
		d, ok := cfg.DeviceByID(s.Device)
		switch {
		case !ok:
			return nil // reported by the built-in checks
		case d.Protocol != protocol:
			return []config.Problem{cfg.Problemf(path+".device", "this simulator serves a %s device; device %s uses %s", protocol, d.ID, d.Protocol)}
		case protocol == firepanel.ProtocolGBT26875 && firepanel.DeviceOf(d).Address == "":
			return []config.Problem{cfg.Problemf(path+".device", "the simulated transmission device connects over TCP: device %s needs an address", d.ID)}
		}
		return nil
	}
}

func startUITDSim(ctx context.Context, cfg *config.Config, sc config.Simulator, log *slog.Logger) (func(), error) {
	cdev, _ := cfg.DeviceByID(sc.Device)
	dev := firepanel.DeviceOf(cdev)
	u := &firepanel.UITD{Source: [6]byte{0x01}, Script: firepanel.DemoScript(fireScriptGap), Repeat: true, Loc: siteClock(cfg)}
	log.Info("simulated fire transmission device sending", "device", dev.ID, "to", dev.Address)
	done := make(chan struct{})
	go func() { defer close(done); _ = u.DialAndServe(ctx, dev.Address) }()
	return func() { <-done }, nil
}

func startCRTSim(ctx context.Context, cfg *config.Config, sc config.Simulator, log *slog.Logger) (func(), error) {
	cdev, _ := cfg.DeviceByID(sc.Device)
	dev := firepanel.DeviceOf(cdev)
	if err := os.MkdirAll(filepath.Dir(dev.Serial.Port), 0o755); err != nil {
		return nil, err
	}
	p, err := firepanel.NewCRTPanel(dev.Serial.Port)
	if err != nil {
		return nil, err
	}
	p.Script, p.Repeat, p.Loc = firepanel.DemoScript(fireScriptGap), true, siteClock(cfg)
	log.Info("simulated CRT fire panel printing", "device", dev.ID, "port", dev.Serial.Port, "line", p.Path())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := p.Run(ctx); err != nil {
			log.Error("simulated CRT panel stopped", "err", err)
		}
	}()
	return func() { <-done }, nil
}

// siteClock is the time zone the simulated panels' clocks keep: the site's,
// as a real panel's is set, so that the receiver reads their times right.
func siteClock(cfg *config.Config) *time.Location {
	if loc, err := time.LoadLocation(cfg.Site.Timezone); err == nil && cfg.Site.Timezone != "" {
		return loc
	}
	return time.Local
}
