package guardtour

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/estatehq/estate/devices"
	"github.com/estatehq/estate/devices/mqtt"
	"github.com/estatehq/estate/internal/config"
)

// The family's simulator: a patrol reader that publishes a scan of the next
// checkpoint of its walk every few seconds.
func init() {
	devices.RegisterSimulator("guard_tour_reader", devices.SimulatorKind[SimOptions]{
		Summary:   "a patrol reader (guard tour) publishing checkpoint scans over MQTT as a guard walks a route",
		Usage:     "--broker URL [--reader ID] [--checkpoints A,B,C] [--every D]",
		Aliases:   []string{"guardtour"},
		Flags:     simFlags,
		Configure: configureSim,
		Validate:  validateSim,
		Start:     startSim,
	})
}

// SimOptions are a simulated reader's.
type SimOptions struct {
	Device             string `yaml:"-"`
	Broker, Topic      string `yaml:"-"`
	Username, Password string `yaml:"-"`
	Reader             string `yaml:"-"`
	// Checkpoints are the codes the guard scans, in walking order.
	Checkpoints []string `yaml:"checkpoints"`
	// Every is the time between two scans (default 20s).
	Every time.Duration `yaml:"every"`
	// Start is how long after start-up the guard sets off (default 30s).
	Start time.Duration `yaml:"start"`
}

func simFlags(fs *flag.FlagSet, o *SimOptions) func() error {
	var cps string
	fs.StringVar(&o.Broker, "broker", "tcp://127.0.0.1:1883", "MQTT broker URL")
	fs.StringVar(&o.Username, "username", "", "MQTT user name")
	fs.StringVar(&o.Password, "password", os.Getenv("ESTATE_SIM_MQTT_PASSWORD"), "MQTT password (default $ESTATE_SIM_MQTT_PASSWORD)")
	fs.StringVar(&o.Reader, "reader", "patrol-1", "the reader's id in its scans")
	site := fs.String("site", "demo-estate", "site id ({site} in the topic)")
	fs.StringVar(&o.Topic, "topic", DefaultTopic, "topic to publish on ({site}, {reader} replaced)")
	fs.StringVar(&cps, "checkpoints", "B1-DOORS,B1-CORRIDOR,B1-METERS,B1-FIRE", "checkpoint codes, in walking order")
	fs.DurationVar(&o.Every, "every", 20*time.Second, "time between two scans")
	return func() error {
		o.Checkpoints = strings.Split(cps, ",")
		o.Topic = strings.NewReplacer("{site}", *site, "{reader}", o.Reader).Replace(o.Topic)
		o.Device = o.Reader
		if o.Every <= 0 {
			return errors.New("--every must be positive")
		}
		return nil
	}
}

// configureSim plays a configured reader: its id, topic and the broker.
func configureSim(cfg *config.Config, dev config.Device, o *SimOptions) {
	o.Device, o.Reader = dev.ID, ReaderOf(dev)
	if p, err := profileOf(cfg, dev); err == nil {
		o.Topic = TopicOf(cfg, dev, p)
	}
	if m, err := mqtt.SettingsOf(cfg); err == nil {
		o.Broker, o.Username, o.Password = m.Broker, m.Username, m.Password
		if e := m.Embedded; e != nil {
			for _, u := range e.Users {
				if u.Role == "device" {
					o.Username, o.Password = u.Username, u.Password
					break
				}
			}
		}
	}
}

func validateSim(cfg *config.Config, dev *config.Device, o *SimOptions, path string) []config.Problem {
	var ps []config.Problem
	if dev != nil && dev.Protocol != Protocol {
		ps = append(ps, cfg.Problemf(path+".device", "a guard_tour_reader plays a device of protocol guardtour; %s is %s", dev.ID, dev.Protocol))
	}
	if len(o.Checkpoints) == 0 {
		ps = append(ps, cfg.Problemf(path+".checkpoints", "required: the checkpoint codes the guard scans, in order"))
	}
	for i, c := range o.Checkpoints {
		if !idPattern.MatchString(c) {
			ps = append(ps, cfg.Problemf(fmt.Sprintf("%s.checkpoints[%d]", path, i), "%q is not a checkpoint code", c))
		}
	}
	if o.Every < 0 || o.Start < 0 {
		ps = append(ps, cfg.Problemf(path, "every and start must not be negative"))
	}
	return ps
}

func startSim(ctx context.Context, env devices.SimEnv, o *SimOptions) (func() error, error) {
	if o.Every == 0 {
		o.Every = 20 * time.Second
	}
	if o.Start == 0 {
		o.Start = 30 * time.Second
	}
	opts := paho.NewClientOptions().AddBroker(o.Broker).SetClientID("estate-sim-guardtour-" + o.Reader).
		SetAutoReconnect(true).SetConnectRetry(true).SetConnectRetryInterval(time.Second)
	if o.Username != "" {
		opts.SetUsername(o.Username).SetPassword(o.Password)
	}
	c := paho.NewClient(opts)
	tok := c.Connect()
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		c.Disconnect(0)
		return nil, fmt.Errorf("patrol reader %s: connect to %s: %v", o.Reader, o.Broker, tok.Error())
	}
	sim := &Simulator{Reader: o.Reader, Checkpoints: o.Checkpoints, Every: o.Every}
	log := env.Logger().With("device", o.Device)
	env.Announce(fmt.Sprintf("patrol reader %s publishing to %s on %s, walking %v every %s from %s; Ctrl-C stops",
		o.Reader, o.Broker, o.Topic, o.Checkpoints, o.Every, o.Start),
		"simulated patrol reader publishing", "topic", o.Topic, "checkpoints", o.Checkpoints)
	done := make(chan error, 1)
	go func() {
		defer close(done)
		wait := time.NewTimer(o.Start)
		defer wait.Stop()
		for {
			select {
			case <-ctx.Done():
				c.Disconnect(250)
				return
			case now := <-wait.C:
				t := c.Publish(o.Topic, 1, false, sim.Next(now))
				if t.WaitTimeout(5*time.Second) && t.Error() != nil {
					log.Warn("scan not published", "err", t.Error())
				}
				wait.Reset(o.Every)
			}
		}
	}()
	return func() error { <-done; return nil }, nil
}
