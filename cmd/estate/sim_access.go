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

	"github.com/estatehq/estate/devices/access"
	"github.com/estatehq/estate/devices/mqtt"
	"github.com/estatehq/estate/internal/config"
)

func init() {
	registerSim("access", command{"access --broker URL [--device ID] [--forced-at D] [--held-at D] [--tamper-at D]",
		"a door controller publishing over MQTT: card traffic, a forced door, a held door, tamper", simAccess})
}

func simAccess(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sim access", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f mqttSimFlags
	f.register(fs, "405419896", "configs/profiles/mqtt-access-uhppote.yaml")
	forcedAt := fs.Duration("forced-at", 40*time.Second, "when the door is forced open (negative: never)")
	heldAt := fs.Duration("held-at", 70*time.Second, "when the door is opened and left open (negative: never)")
	burstAt := fs.Duration("invalid-burst-at", 120*time.Second, "when a run of refused cards begins (negative: never)")
	tamperAt := fs.Duration("tamper-at", 150*time.Second, "when the controller's cover is opened (negative: never)")
	swipeEvery := fs.Duration("swipe-every", 8*time.Second, "how often someone swipes a card")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	pub, err := f.dial(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "estate sim access: %v\n", err)
		return 1
	}
	defer pub.Close()
	var script []config.ScriptStep
	script = scriptAt(script, *forcedAt, "forced")
	script = scriptAt(script, *heldAt, "held")
	script = scriptAt(script, *burstAt, "invalid_burst")
	script = scriptAt(script, *tamperAt, "tamper")
	fmt.Fprintf(stdout, "door controller %s publishing to %s (site %s, profile %s); Ctrl-C stops\n", f.device, f.broker, f.site, f.profile)
	log := slog.New(slog.NewTextHandler(stderr, nil)).With("device", f.device)
	if err := mqtt.RunAccessSim(ctx, pub, &access.Simulator{Every: *swipeEvery, Script: script}, f.every, log); err != nil {
		fmt.Fprintf(stderr, "estate sim access: %v\n", err)
		return 1
	}
	return 0
}
