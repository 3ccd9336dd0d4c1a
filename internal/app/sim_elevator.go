package app

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"time"

	"github.com/estatehq/estate/devices/elevator"
	"github.com/estatehq/estate/devices/mqtt"
	"github.com/estatehq/estate/internal/config"
)

// An elevator monitoring box publishing over MQTT: a car moving between floors
// and a scripted entrapment and fault.
func init() {
	registerSimulator("elevator_monitor", simulatorKind{
		validate: func(cfg *config.Config, s config.Simulator, path string) []config.Problem {
			return validateMQTTSim(cfg, s, path, "elevator", elevator.ScriptActions)
		},
		start: startElevatorSim,
	})
}

func startElevatorSim(ctx context.Context, cfg *config.Config, sc config.Simulator, log *slog.Logger) (func(), error) {
	pub, dev, err := dialSimDevice(ctx, cfg, sc)
	if err != nil {
		return nil, err
	}
	sim := &elevator.Simulator{Lowest: 1, Highest: 10, Script: sc.Script}
	log = log.With("device", dev.ID)
	log.Info("simulated elevator monitor publishing", "broker", brokerSettings(cfg).Broker, "script", scriptSummary(sc.Script))
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := mqtt.RunElevatorSim(ctx, pub, sim, time.Second, log); err != nil {
			log.Error("simulated elevator stopped", "err", err)
		}
	}()
	return func() { <-done; pub.Close() }, nil
}

// validateMQTTSim checks a simulator of an MQTT device of a family and its script.
func validateMQTTSim(cfg *config.Config, s config.Simulator, path, family string, actions map[string]time.Duration) []config.Problem {
	var ps []config.Problem
	if d, ok := cfg.DeviceByID(s.Device); ok && (d.Protocol != mqtt.Protocol || d.Family != family) {
		ps = append(ps, cfg.Problemf(path+".device", "this simulator publishes an %s over MQTT; device %s is %s over %s",
			family, d.ID, d.Family, d.Protocol))
	}
	names := make([]string, 0, len(actions))
	for n := range actions {
		names = append(names, n)
	}
	sort.Strings(names)
	for i, st := range s.Script {
		p := fmt.Sprintf("%s.script[%d]", path, i)
		if !slices.Contains(names, st.Do) {
			ps = append(ps, cfg.Problemf(p+".do", "%q is not something this simulator does; use one of %v", st.Do, names))
		}
		if st.At < 0 || st.For < 0 {
			ps = append(ps, cfg.Problemf(p, "at and for must not be negative"))
		}
	}
	if brokerSettings(cfg).Broker == "" {
		ps = append(ps, cfg.Problemf(path, "an MQTT simulator needs the mqtt section's broker"))
	}
	return ps
}

// dialSimDevice connects a simulated device to the configured broker, as one
// of the embedded broker's device users when there is one.
func dialSimDevice(ctx context.Context, cfg *config.Config, sc config.Simulator) (*mqtt.Publisher, config.Device, error) {
	dev, _ := cfg.DeviceByID(sc.Device)
	p, err := mqtt.LoadProfile(mqtt.ProfilePath(cfg.Resolve(cfg.Gateway.ProfilesDir), dev.Profile))
	if err != nil {
		return nil, dev, err
	}
	m := brokerSettings(cfg)
	user, password := m.Username, m.Password
	if e := m.Embedded; e != nil {
		for _, u := range e.Users {
			if u.Role == "device" {
				user, password = u.Username, u.Password
				break
			}
		}
	}
	topicID := mqtt.TopicID(dev)
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	pub, err := mqtt.Dial(dctx, p, mqtt.PublisherOptions{Broker: m.Broker, ClientID: "sim-" + cfg.Site.ID + "-" + dev.ID,
		Username: user, Password: password, Site: cfg.Site.ID, TopicID: topicID, QoS: 1})
	return pub, dev, err
}

// brokerSettings is the configuration's mqtt section (devices/mqtt's), empty
// when it does not decode (Load has said why).
func brokerSettings(cfg *config.Config) *mqtt.Settings {
	m, err := mqtt.SettingsOf(cfg)
	if err != nil {
		return &mqtt.Settings{}
	}
	return m
}

func scriptSummary(steps []config.ScriptStep) string {
	s := ""
	for i, st := range steps {
		if i > 0 {
			s += ", "
		}
		s += st.Do + " at " + st.At.String()
	}
	return s
}
