// Package heartbeat sends the gateway's status to the desk at a steady
// interval, so that the desk's consoles show every device's health even though
// the desk can never call a gateway (gateways sit behind NAT).
package heartbeat

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/estatehq/estate/internal/promreg"
	"github.com/estatehq/estate/internal/wire"
)

// Metrics count the heartbeats, on a registry the caller injects (the
// gateway's one registry) rather than the global default.
type Metrics struct {
	sent *prometheus.CounterVec
}

// NewMetrics registers the heartbeat's metrics on reg; nil means a private
// registry that nobody serves. A second call on the same registry shares the
// first one's collectors.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	return &Metrics{sent: promreg.Register(promreg.OrPrivate(reg), prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "estate_gateway_heartbeats_total", Help: "Heartbeats sent to the desk, by result."}, []string{"result"}))}
}

// DefaultInterval is the heartbeat interval when none is configured.
const DefaultInterval = 10 * time.Second

// Sender delivers a heartbeat to the desk.
type Sender interface {
	Heartbeat(ctx context.Context, s wire.GatewayStatus) error
}

// Run sends status() every interval until ctx ends. A failed heartbeat is not
// retried: the next one carries fresher news. Failures are logged when they
// start and when they end, not on every beat. m counts them (nil: metrics of
// its own that nobody serves).
func Run(ctx context.Context, interval time.Duration, status func() wire.GatewayStatus, to Sender, log *slog.Logger, m *Metrics) {
	if m == nil {
		m = NewMetrics(nil)
	}
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
			m.sent.WithLabelValues("error").Inc()
			if !failing {
				log.Warn("heartbeat to desk failed; the desk shows this gateway's devices as stale until it succeeds", "err", err)
				failing = true
			}
		default:
			m.sent.WithLabelValues("ok").Inc()
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
