// Package heartbeat sends the gateway's status to the desk at a steady
// interval, so that the desk's consoles show every device's health even though
// the desk can never call a gateway (gateways sit behind NAT).
package heartbeat

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/estatehq/estate/internal/wire"
)

var sent = promauto.NewCounterVec(prometheus.CounterOpts{
	Name: "estate_gateway_heartbeats_total", Help: "Heartbeats sent to the desk, by result."}, []string{"result"})

// DefaultInterval is the heartbeat interval when none is configured.
const DefaultInterval = 10 * time.Second

// Sender delivers a heartbeat to the desk.
type Sender interface {
	Heartbeat(ctx context.Context, s wire.GatewayStatus) error
}

// Run sends status() every interval until ctx ends. A failed heartbeat is not
// retried: the next one carries fresher news. Failures are logged when they
// start and when they end, not on every beat.
func Run(ctx context.Context, interval time.Duration, status func() wire.GatewayStatus, to Sender, log *slog.Logger) {
	if interval <= 0 {
		interval = DefaultInterval // a configuration built in code rather than loaded
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	failing := false
	for {
		callCtx, cancel := context.WithTimeout(ctx, interval)
		err := to.Heartbeat(callCtx, status())
		cancel()
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			sent.WithLabelValues("error").Inc()
			if !failing {
				log.Warn("heartbeat to desk failed; the desk shows this gateway's devices as stale until it succeeds", "err", err)
				failing = true
			}
		default:
			sent.WithLabelValues("ok").Inc()
			if failing {
				log.Info("heartbeat to desk delivered again")
				failing = false
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
