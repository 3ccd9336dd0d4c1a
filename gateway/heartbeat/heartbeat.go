// Package heartbeat sends the gateway's status to the desk at a steady
// interval, so that the desk's consoles show every device's health even though
// the desk can never call a gateway (gateways sit behind NAT).
package heartbeat

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
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
	Heartbeat(ctx context.Context, s wire.GatewayStatus) (wire.HeartbeatAnswer, error)
}

// Run sends status() every interval until ctx ends. A failed heartbeat is not
// retried: the next one carries fresher news. Failures are logged when they
// start and when they end, not on every beat. m counts them (nil: metrics of
// its own that nobody serves).
func Run(ctx context.Context, interval time.Duration, status func() wire.GatewayStatus, to Sender, log *slog.Logger, m *Metrics, opts ...Option) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
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
		st := status()
		answer, err := to.Heartbeat(callCtx, st)
		cancel()
		if err == nil && o.answer != nil {
			// What the desk wants of the gateway (windows, commands) comes
			// back in the answer; it is taken before the next beat.
			o.answer(ctx, answer)
		}
		if o.statusFile != "" && ctx.Err() == nil {
			if werr := o.publish(st, err); werr != nil && !o.warned {
				log.Warn("cannot write the status file that estate status reads", "file", o.statusFile, "err", werr)
				o.warned = true
			}
		}
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

// Option changes how Run works.
type Option func(*options)

type options struct {
	answer     func(context.Context, wire.HeartbeatAnswer)
	statusFile string
	lastOK     time.Time
	warned     bool
}

// WithAnswer hands every answer the desk accepted a heartbeat with to f
// (gateway/orders): its maintenance windows and approved commands.
func WithAnswer(f func(context.Context, wire.HeartbeatAnswer)) Option {
	return func(o *options) { o.answer = f }
}

// WithStatusFile makes Run write every heartbeat, with how the desk took it,
// to a file (atomically, by rename), which `estate status` reads while the
// gateway runs: the devices' health, the outbox and whether the desk answers.
func WithStatusFile(path string) Option { return func(o *options) { o.statusFile = path } }

// StatusFileName is the status file of a gateway in its state folder.
func StatusFileName(stateDir, gatewayID string) string {
	return filepath.Join(stateDir, "status-"+gatewayID+".json")
}

// Published is what the status file holds: the last heartbeat and the desk's
// answer to it.
type Published struct {
	wire.GatewayStatus
	// PID is the gateway process, to tell a running gateway from a stale file.
	PID int `json:"pid"`
	// DeskOK says whether the desk accepted the heartbeat; DeskError is why
	// not; DeskLastOK is the last heartbeat it accepted.
	DeskOK     bool      `json:"desk_ok"`
	DeskError  string    `json:"desk_error,omitempty"`
	DeskLastOK time.Time `json:"desk_last_ok,omitzero"`
}

func (o *options) publish(st wire.GatewayStatus, deskErr error) error {
	p := Published{GatewayStatus: st, PID: os.Getpid(), DeskOK: deskErr == nil}
	if deskErr == nil {
		o.lastOK = st.At
	} else {
		p.DeskError = deskErr.Error()
	}
	p.DeskLastOK = o.lastOK
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	tmp := o.statusFile + ".tmp"
	if err := os.WriteFile(tmp, b, 0o640); err != nil {
		return err
	}
	if err := os.Rename(tmp, o.statusFile); err != nil {
		return fmt.Errorf("status file: %w", err)
	}
	return nil
}

// ReadPublished reads a gateway's status file.
func ReadPublished(path string) (Published, error) {
	var p Published
	b, err := os.ReadFile(path)
	if err != nil {
		return p, err
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return p, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}
