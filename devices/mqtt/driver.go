package mqtt

import (
	"log/slog"

	"github.com/estatehq/estate/devices"
	"github.com/estatehq/estate/internal/config"
)

func init() {
	devices.Register(Protocol, devices.Protocol{
		OpenStream: func(env devices.Env, devs []config.Device, infos []*devices.Info) (devices.Streamer, error) {
			return New(env.Config, devs, infos, slog.Default().With("part", "mqtt"))
		},
		Validate: validateDevice,
	})
}

// validateDevice checks an MQTT device's profile without connecting.
func validateDevice(cfg *config.Config, dev config.Device, path string) []config.Problem {
	if dev.Profile == "" {
		return []config.Problem{cfg.Problemf(path+".profile", "required: an MQTT profile under %s, such as mqtt-elevator-gbt24476",
			cfg.Resolve(cfg.Gateway.ProfilesDir))}
	}
	p, err := LoadProfile(ProfilePath(cfg.Resolve(cfg.Gateway.ProfilesDir), dev.Profile))
	if err != nil {
		return []config.Problem{cfg.Problemf(path+".profile", "%v", err)}
	}
	if p.Family != "" && p.Family != dev.Family {
		return []config.Problem{cfg.Problemf(path+".family", "profile %s is for family %s, not %s", p.Name, p.Family, dev.Family)}
	}
	return nil
}
