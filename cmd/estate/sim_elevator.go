package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/estatehq/estate/devices/elevator"
	"github.com/estatehq/estate/devices/mqtt"
	"github.com/estatehq/estate/internal/config"
)

func init() {
	registerSim("elevator", command{"elevator --broker URL [--device ID] [--entrapment-at D] [--fault-at D]",
		"an elevator monitoring box publishing over MQTT: a moving car, a scripted entrapment and fault", simElevator})
}

// mqttSimFlags are the flags every MQTT device simulator takes.
type mqttSimFlags struct {
	broker, username, password, site, device, profile string
	every                                             time.Duration
}

func (f *mqttSimFlags) register(fs *flag.FlagSet, device, profile string) {
	fs.StringVar(&f.broker, "broker", "tcp://127.0.0.1:1883", "MQTT broker URL")
	fs.StringVar(&f.username, "username", "", "MQTT user name")
	fs.StringVar(&f.password, "password", os.Getenv("ESTATE_SIM_MQTT_PASSWORD"), "MQTT password (default $ESTATE_SIM_MQTT_PASSWORD)")
	fs.StringVar(&f.site, "site", "demo-estate", "site id ({site} in the profile's topics)")
	fs.StringVar(&f.device, "device", device, "the device's name in its topics ({device})")
	fs.StringVar(&f.profile, "profile", profile, "the MQTT profile whose topics and payloads to publish")
	fs.DurationVar(&f.every, "every", time.Second, "how often the device publishes")
}

func (f *mqttSimFlags) dial(ctx context.Context) (*mqtt.Publisher, error) {
	p, err := mqtt.LoadProfile(f.profile)
	if err != nil {
		return nil, err
	}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return mqtt.Dial(dctx, p, mqtt.PublisherOptions{Broker: f.broker, ClientID: "estate-sim-" + f.device,
		Username: f.username, Password: f.password, Site: f.site, TopicID: f.device, QoS: 1})
}

// scriptAt adds a script step when its time flag was given (negative: never).
func scriptAt(steps []config.ScriptStep, at time.Duration, do string) []config.ScriptStep {
	if at < 0 {
		return steps
	}
	return append(steps, config.ScriptStep{At: at, Do: do})
}

func simElevator(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sim elevator", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f mqttSimFlags
	f.register(fs, "lift-1", "configs/profiles/mqtt-elevator-gbt24476.yaml")
	entrapAt := fs.Duration("entrapment-at", 60*time.Second, "when the car sticks between floors with a passenger (negative: never)")
	flagAt := fs.Duration("entrapment-flag-at", -1, "when the box itself reports people trapped (negative: never)")
	faultAt := fs.Duration("fault-at", 150*time.Second, "when the controller reports fault "+elevator.FaultCode+" (negative: never)")
	floors := fs.Int("floors", 10, "floors served (1..N)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	pub, err := f.dial(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "estate sim elevator: %v\n", err)
		return 1
	}
	defer pub.Close()
	var script []config.ScriptStep
	script = scriptAt(script, *entrapAt, "entrapment")
	script = scriptAt(script, *flagAt, "entrapment_flag")
	script = scriptAt(script, *faultAt, "fault")
	fmt.Fprintf(stdout, "elevator %s publishing to %s (site %s, profile %s); Ctrl-C stops\n", f.device, f.broker, f.site, f.profile)
	log := slog.New(slog.NewTextHandler(stderr, nil)).With("device", f.device)
	if err := mqtt.RunElevatorSim(ctx, pub, &elevator.Simulator{Lowest: 1, Highest: *floors, Script: script}, f.every, log); err != nil {
		fmt.Fprintf(stderr, "estate sim elevator: %v\n", err)
		return 1
	}
	return 0
}
