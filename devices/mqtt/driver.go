package mqtt

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sort"

	"github.com/estatehq/estate/devices"
	"github.com/estatehq/estate/internal/config"
)

func init() {
	devices.Register(Protocol, devices.Protocol{
		OpenStream: func(env devices.Env, devs []config.Device, infos []*devices.Info) (devices.Streamer, error) {
			log := env.Log
			if log == nil {
				log = slog.Default()
			}
			return New(env.Config, devs, infos, log.With("part", "mqtt"), NewMetrics(env.Metrics))
		},
		Validate:       validateDevice,
		Points:         points,
		Options:        func() any { return new(Options) },
		Exclusive:      map[string]string{"mqtt": misplacedBlock},
		ValidateConfig: ValidateConfig,
	})
}

// points are the points of the device's MQTT profile: its subscriptions'
// points and the codes recorded as points (fault_code).
func points(cfg *config.Config, dev config.Device) ([]string, bool) {
	p, err := loader.Load(cfg.Resolve(cfg.Gateway.ProfilesDir), dev.Profile)
	if err != nil {
		return nil, false
	}
	var names []string
	for _, s := range p.Subscriptions {
		for _, pt := range s.Points {
			names = append(names, pt.Name)
		}
		for _, c := range s.Codes {
			if c.Point != "" {
				names = append(names, c.Point)
			}
		}
	}
	return names, true
}

// validateDevice checks an MQTT device's profile without connecting.
func validateDevice(cfg *config.Config, dev config.Device, path string) []config.Problem {
	ps := validateOptions(cfg, dev, path)
	if dev.Profile == "" {
		return append(ps, cfg.Problemf(path+".profile", "required: an MQTT profile under %s, such as mqtt-elevator-gbt24476",
			cfg.Resolve(cfg.Gateway.ProfilesDir)))
	}
	p, err := loader.Load(cfg.Resolve(cfg.Gateway.ProfilesDir), dev.Profile)
	if errors.Is(err, fs.ErrNotExist) {
		err = devices.NoProfile(cfg, "MQTT profile", dev.Profile)
	}
	if err != nil {
		return append(ps, cfg.Problemf(path+".profile", "%v", err))
	}
	if p.Family != "" && p.Family != dev.Family {
		return append(ps, cfg.Problemf(path+".family", "profile %s is for family %s, not %s", p.Name, p.Family, dev.Family))
	}
	// Devices are checked one by one; what is wrong between them (two devices
	// on one topic) is checked once, with the first MQTT device.
	for i, d := range cfg.Devices {
		if d.Protocol != Protocol {
			continue
		}
		if d.ID == dev.ID && fmt.Sprintf("devices[%d]", i) == path {
			if _, err := DeviceFilters(cfg); err != nil {
				return append(ps, cfg.Problemf("devices", "%v", err))
			}
		}
		break
	}
	return ps
}

// DeviceFilters returns the topic filters the configured MQTT devices publish
// on (data, status, birth and death), for a broker's access control.
func DeviceFilters(cfg *config.Config) ([]string, error) {
	var devs []config.Device
	var infos []*devices.Info
	for _, d := range cfg.Devices {
		if d.Protocol == Protocol {
			devs = append(devs, d)
			infos = append(infos, devices.NewInfo(cfg.Site.ID, d))
		}
	}
	s, err := New(cfg, devs, infos, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(s.filters))
	for f := range s.filters {
		out = append(out, f)
	}
	sort.Strings(out)
	return out, nil
}
