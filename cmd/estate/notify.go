package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/estatehq/estate/desk"
	"github.com/estatehq/estate/internal/app"
	"github.com/estatehq/estate/internal/config"
)

// `estate notify test --channel NAME`: a sample message to one of the desk's
// notification channels, in its language and format, and what the channel
// answered, so that a robot's key, a signature secret or a proxy can be
// checked before the first real emergency depends on it.
var notifyCommands = map[string]command{}

func init() {
	notifyCommands["test"] = command{"test --config FILE --channel NAME [--timeout D]",
		"send a channel a sample message and print the channel's answer", notifyTest}
	registerGroup("notify", "notify test --config FILE --channel NAME", "send a notification channel a sample message", notifyCommands)
}

func notifyTest(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("notify test", stderr)
	path := fs.String("config", "", "the desk's configuration (YAML) with desk.channels")
	channel := fs.String("channel", "", "the channel's name (desk.channels[].name)")
	envFile := envFileFlag(fs)
	timeout := fs.Duration("timeout", 10*time.Second, "how long the channel may take to answer")
	if code, ok := parseFlags(fs, args, stdout); !ok {
		return code
	}
	if *path == "" || *channel == "" || fs.NArg() > 0 {
		fmt.Fprint(stderr, "usage: estate notify test --config FILE --channel NAME\n")
		return 2
	}
	if *envFile != "" {
		if err := config.LoadEnvFile(*envFile); err != nil {
			fmt.Fprintf(stderr, "estate notify test: %v\n", err)
			return 1
		}
	}
	cfg, err := app.LoadConfig(*path)
	if err != nil {
		fmt.Fprintf(stderr, "estate notify test: the configuration has problems:\n")
		printProblems(stderr, err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	answer, err := desk.SendTestNotification(ctx, cfg, *channel, &http.Client{Timeout: *timeout})
	if answer.Status != 0 {
		fmt.Fprintf(stdout, "channel %s answered HTTP %d: %s\n", *channel, answer.Status, answer.Body)
	}
	if err != nil {
		fmt.Fprintf(stderr, "estate notify test: %s: %v\n", *channel, err)
		return 1
	}
	fmt.Fprintf(stdout, "channel %s: the sample message was delivered\n", *channel)
	return 0
}
