package soak

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/estatehq/estate/internal/app"
)

// RunChild runs `estate ROLE --config FILE` (gateway or desk) in this
// process until SIGTERM or SIGINT, as cmd/estate does: a test binary that
// re-executes itself as the soak's gateway and desks calls it.
func RunChild(role, config string, stderr io.Writer) int {
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	cfg, err := app.LoadConfig(config)
	if err != nil {
		fmt.Fprintf(stderr, "soak %s: %v\n", role, err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch role {
	case "gateway":
		err = app.RunGateway(ctx, cfg, log, nil, nil)
	case "desk":
		err = app.RunDesk(ctx, cfg, log, nil, nil)
	default:
		err = fmt.Errorf("unknown role %q", role)
	}
	if err != nil {
		log.Error("soak "+role+" stopped with an error", "err", err)
		return 1
	}
	return 0
}
