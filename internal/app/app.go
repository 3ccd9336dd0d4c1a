// Package app wires the parts into the programs that `estate` runs: the desk,
// the gateway, and the demo that runs both with simulated devices.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/estatehq/estate/desk"
	"github.com/estatehq/estate/desk/history"
	"github.com/estatehq/estate/desk/store"
	"github.com/estatehq/estate/devices"
	_ "github.com/estatehq/estate/devices/all" // every protocol registers itself
	"github.com/estatehq/estate/gateway"
	"github.com/estatehq/estate/internal/config"
)

// LoadConfig loads a configuration with every check: built-in, device
// protocols and profiles, the desk, and simulators. Both `estate check` and start-up use it.
func LoadConfig(path string) (*config.Config, error) {
	return config.Load(path, devices.Validate, desk.Validate, devices.ValidateSimulators)
}

// CheckConfig validates configuration text with every check LoadConfig
// runs on a file (estate config add-devices checks its result with it).
func CheckConfig(path string, data []byte) (*config.Config, error) {
	return config.ParseWith(path, data, devices.Validate, desk.Validate, devices.ValidateSimulators)
}

// NewRegistry is the one metrics registry of a process: every part registers
// on it and /metrics serves it, with Go's and the process's own collectors.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// RunDesk serves the desk until ctx ends. ready, if not nil, receives nil once
// the desk listens (or the error that stopped it). reg may be nil (a registry of its own).
func RunDesk(ctx context.Context, cfg *config.Config, log *slog.Logger, reg *prometheus.Registry, ready chan<- error) error {
	if reg == nil {
		reg = NewRegistry()
	}
	policy := desk.StorePolicy(cfg)
	st, err := store.Open(ctx, cfg.Desk.Driver, cfg.Desk.Database, policy)
	if err != nil {
		if ready != nil {
			ready <- err
		}
		return err
	}
	defer st.Close()
	srv := desk.New(cfg.Desk, st, log.With("part", "desk"), desk.WithLocation(policy.Location), desk.WithRegistry(reg),
		desk.WithSiteNames(map[string]string{cfg.Site.ID: cfg.Site.Name}),
		desk.WithWorkingDays(desk.WorkingDaysOf(cfg))) // maintenance plans on the sites' holiday calendars
	if cfg.InfluxDB.URL != "" {
		// Live values and charts in the consoles are read back from InfluxDB.
		h := history.New(cfg.InfluxDB)
		defer h.Close()
		srv.SetHistory(h)
	}
	return srv.Run(ctx, ready)
}

// RunGateway polls the configured devices until ctx ends. When metrics_listen
// is set, /metrics, /api/v1/alarms and POST /api/v1/devices/{id}/time-sync are served there: on loopback unless
// metrics_listen names another host, and then only to requests that carry
// gateway.metrics_token (config validation requires one).
func RunGateway(ctx context.Context, cfg *config.Config, log *slog.Logger, reg *prometheus.Registry, configure func(*gateway.Gateway)) error {
	if reg == nil {
		reg = NewRegistry()
	}
	g, err := gateway.New(cfg, log, gateway.WithRegisterer(reg))
	if err != nil {
		return err
	}
	if configure != nil {
		configure(g)
	}
	var wg sync.WaitGroup
	if cfg.Gateway.MetricsListen != "" {
		addr := cfg.Gateway.MetricsAddr()
		mux := http.NewServeMux()
		mux.Handle("/metrics", desk.MetricsHandler(reg))
		mux.Handle("/api/v1/alarms", g.AlarmsHandler())
		// `estate firepanel time-sync` reaches the transmission devices connected to this gateway here.
		mux.Handle("POST /api/v1/devices/{id}/time-sync", g.TimeSyncHandler())
		if cfg.Gateway.Pprof {
			mux.HandleFunc("/debug/pprof/", pprof.Index)
			mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
			mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		}
		var h http.Handler = mux
		if cfg.Gateway.MetricsToken != "" {
			h = RequireBearer(cfg.Gateway.MetricsToken, mux)
		} else if !cfg.Gateway.MetricsLoopback() {
			// Validation refuses this; a configuration built in code must not open it either.
			return fmt.Errorf("gateway metrics: %s is not loopback and gateway.metrics_token is not set", addr)
		}
		srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("gateway metrics: listen on %s: %w", addr, err)
		}
		wg.Go(func() { _ = srv.Serve(ln) })
		defer func() { _ = srv.Close(); wg.Wait() }()
	}
	return g.Run(ctx)
}

// RunDemo runs simulators, desk and gateway in one process until ctx ends. The
// banner (how to see the tickets) goes to out.
func RunDemo(ctx context.Context, cfg *config.Config, log *slog.Logger, out io.Writer, configure func(*gateway.Gateway)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	subscribed, stopBroker, err := startEmbeddedBroker(cfg, log)
	if err != nil {
		return err
	}
	defer stopBroker() // last: the gateway and the simulators say goodbye through it
	// The MQTT simulators start their scripts once the gateway has subscribed
	// (devices.SimEnv.Subscribed): the desk starts first, which took over
	// 20 s on a loaded machine, and a fault said once before that was lost.
	waitSims, err := startSimulators(ctx, cfg, devices.SimEnv{Log: log.With("part", "simulator"), Subscribed: subscribed})
	if err != nil {
		return err
	}
	defer waitSims()

	// One process, one registry: the desk's /metrics shows the gateway's too.
	reg := NewRegistry()
	ready := make(chan error, 1)
	deskDone := make(chan error, 1)
	go func() { deskDone <- RunDesk(ctx, cfg, log, reg, ready) }()
	if err := <-ready; err != nil {
		return err
	}
	printBanner(out, cfg)
	// The demo's equipment register and maintenance plans (demo_plant.go).
	var seeding sync.WaitGroup
	seeding.Go(func() { seedDemoPlant(ctx, cfg, log.With("part", "demo")) })
	defer seeding.Wait()

	gwErr := RunGateway(ctx, cfg, log, reg, configure)
	cancel()
	deskErr := <-deskDone
	return errors.Join(gwErr, deskErr)
}

func printBanner(out io.Writer, cfg *config.Config) {
	if out == nil {
		return
	}
	token := ""
	for _, t := range cfg.Desk.Tokens {
		if t.Role == desk.RoleAdmin {
			token = t.Token
			break
		}
	}
	fmt.Fprintf(out, `
Estate demo is running (Ctrl-C stops it).
  console    http://%[1]s/   (sign in with the demo-only admin token: %[2]s)
  desk API   http://%[1]s/api/v1/tickets
  see the tickets:
    curl -H 'Authorization: Bearer %[2]s' http://%[1]s/api/v1/tickets
  metrics    http://%[1]s/metrics
  telemetry  InfluxDB %[3]s, bucket %[4]s
  The simulated meter's balance runs down; a top-up reminder appears within about 30 s.

`, cfg.Desk.Listen, token, cfg.InfluxDB.URL, cfg.InfluxDB.Bucket)
}
