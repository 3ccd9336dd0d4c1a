// Package gateway is the edge half of Estate: it polls every configured device
// on its schedule and fans each reading out to telemetry (InfluxDB), device
// health, and the alarm engine, whose firing alarms become ticket requests in
// the outbox that delivers them to the desk.
package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/estatehq/estate/devices"
	"github.com/estatehq/estate/gateway/alarm"
	"github.com/estatehq/estate/gateway/deskclient"
	"github.com/estatehq/estate/gateway/health"
	"github.com/estatehq/estate/gateway/outbox"
	"github.com/estatehq/estate/gateway/telemetry"
	"github.com/estatehq/estate/internal/config"
	"github.com/estatehq/estate/internal/ticket"
)

var (
	polls = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "estate_gateway_polls_total", Help: "Device polls, by device and result."}, []string{"device", "result"})
	devicesOnline = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Name: "estate_gateway_device_online", Help: "1 while the device answers, 0 once it is offline."}, []string{"device"})
	alarmTransitions = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "estate_gateway_alarm_transitions_total", Help: "Alarm state changes, by rule and state."}, []string{"rule", "state"})
)

// Gateway runs the pipeline for one configuration.
type Gateway struct {
	cfg       *config.Config
	log       *slog.Logger
	devices   *devices.Opened
	telemetry *telemetry.Writer
	health    *health.Tracker
	alarms    *alarm.Engine
	outbox    *outbox.Outbox

	// OnTicket, when set before Run, is told of every ticket the desk accepted.
	OnTicket outbox.Delivered
}

// New opens every device's driver and the outbox; nothing is polled until Run.
func New(cfg *config.Config, log *slog.Logger) (*Gateway, error) {
	g := &Gateway{
		cfg:    cfg,
		log:    log.With("part", "gateway"),
		health: health.NewTracker(cfg.Gateway.OfflineAfter),
		alarms: alarm.NewEngine(cfg.Rules),
	}
	opened, err := devices.OpenAll(devices.Env{Config: cfg})
	if err != nil {
		return nil, err
	}
	g.devices = opened
	desk := deskclient.New(cfg.Gateway.DeskURL, cfg.Gateway.DeskToken)
	ob, err := outbox.Open(filepath.Join(cfg.Gateway.StateDir, "outbox-"+cfg.Gateway.ID+".json"), desk, log.With("part", "outbox"))
	if err != nil {
		opened.Close()
		return nil, err
	}
	g.outbox = ob
	// Opened last: it locks the spool folder, and only Run releases it.
	tw, err := telemetry.New(cfg.InfluxDB, log.With("part", "telemetry"))
	if err != nil {
		opened.Close()
		return nil, err
	}
	g.telemetry = tw
	return g, nil
}

// Health is the live health of every device.
func (g *Gateway) Health() *health.Tracker { return g.health }

// Run polls until ctx ends, then stops the pollers, flushes telemetry and
// closes the drivers. It returns the telemetry flush error, if any.
func (g *Gateway) Run(ctx context.Context) error {
	defer g.devices.Close()
	g.log.Info("gateway started", "gateway", g.cfg.Gateway.ID, "site", g.cfg.Site.ID,
		"polled", len(g.devices.Polled), "streamed", len(g.devices.Streamed))

	// The writer and the outbox outlive the pollers so that the last readings
	// and alarms of a shutdown are still written and queued.
	sinkCtx, stopSinks := context.WithCancel(context.Background())
	defer stopSinks()
	var sinks sync.WaitGroup
	var flushErr error
	sinks.Go(func() { flushErr = g.telemetry.Run(sinkCtx) })
	sinks.Go(func() { g.outbox.Run(sinkCtx, g.delivered) })

	var pollers sync.WaitGroup
	for i := range g.devices.Polled {
		pollers.Go(func() { g.pollLoop(ctx, &g.devices.Polled[i]) })
	}
	for _, s := range g.devices.Streamers {
		pollers.Go(func() {
			if err := s.Run(ctx, sink{g}); err != nil && ctx.Err() == nil {
				g.log.Error("stream driver stopped", "err", err)
			}
		})
	}
	pollers.Wait()
	stopSinks()
	sinks.Wait()
	g.log.Info("gateway stopped", "outbox_pending", g.outbox.Pending())
	return flushErr
}

func (g *Gateway) delivered(t ticket.Ticket) {
	g.log.Info("ticket delivered to desk", "ticket", t.ID, "alarm", t.AlarmKey, "status", t.Status)
	if g.OnTicket != nil {
		g.OnTicket(t)
	}
}

func (g *Gateway) pollLoop(ctx context.Context, d *devices.Polled) {
	tick := time.NewTicker(d.Config.PollInterval)
	defer tick.Stop()
	for {
		g.pollOnce(ctx, d)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (g *Gateway) pollOnce(ctx context.Context, d *devices.Polled) {
	pollCtx, cancel := context.WithTimeout(ctx, d.Config.Timeout*time.Duration(4))
	r, err := d.Driver.Poll(pollCtx)
	cancel()
	if ctx.Err() != nil {
		return // shutting down: an interrupted poll says nothing about the device
	}
	result := "ok"
	if err != nil {
		result = "error"
	}
	polls.WithLabelValues(d.Config.ID, result).Inc()
	g.observeHealth(d.Config.ID, err)
	if err == nil {
		g.handleReading(r)
	}
}

// observeHealth records whether a device was heard from and logs only changes.
func (g *Gateway) observeHealth(device string, err error) {
	state, changed := g.health.Observe(device, err, time.Now())
	switch {
	case state == health.Offline:
		devicesOnline.WithLabelValues(device).Set(0)
		if changed {
			g.log.Warn("device offline", "device", device, "after_failures", g.cfg.Gateway.OfflineAfter, "err", err)
		}
	case state == health.Online:
		devicesOnline.WithLabelValues(device).Set(1)
		if changed {
			g.log.Info("device back online", "device", device)
		}
	}
}

func (g *Gateway) handleReading(r devices.Reading) {
	g.telemetry.AddReading(r)
	for _, tr := range g.alarms.Evaluate(r) {
		g.handleTransition(tr)
	}
}

func (g *Gateway) handleEvent(e devices.Event) {
	g.telemetry.AddEvent(e)
	g.log.Info("device event", "device", e.Device.ID, "type", e.Type, "source", e.Source, "active", e.Active)
}

// sink is how stream drivers hand their data to the pipeline.
type sink struct{ g *Gateway }

func (s sink) Reading(r devices.Reading)       { s.g.handleReading(r) }
func (s sink) Event(e devices.Event)           { s.g.handleEvent(e) }
func (s sink) Health(device string, err error) { s.g.observeHealth(device, err) }

func (g *Gateway) handleTransition(tr alarm.Transition) {
	alarmTransitions.WithLabelValues(tr.Rule.Name, string(tr.State)).Inc()
	g.telemetry.AddAlarm(tr.Device, tr.Rule.Name, string(tr.State), tr.Rule.Severity, tr.Value, tr.At)
	g.log.Info("alarm "+string(tr.State), "alarm", tr.Key, "point", tr.Point, "value", tr.Value)
	if tr.State != alarm.Firing || tr.Rule.Ticket == "none" {
		return
	}
	d := tr.Device
	n := ticket.NewTicket{
		Kind:  ticket.Kind(tr.Rule.Ticket),
		Title: tr.Title(),
		Description: fmt.Sprintf("Alarm %s on device %s: %s = %g %s at %s.",
			tr.Rule.Name, d.ID, tr.Point, tr.Value, d.Units[tr.Point], tr.At.Format(time.RFC3339)),
		Site:     d.Site,
		Building: d.Building,
		Floor:    d.Floor,
		Unit:     d.Unit,
		Device:   d.ID,
		AlarmKey: tr.Key,
		Source:   ticket.SourceDeviceAlarm,
		Reading:  &ticket.Reading{Point: tr.Point, Value: tr.Value, Unit: d.Units[tr.Point], At: tr.At},
	}
	if err := g.outbox.Add(n); err != nil {
		g.log.Error("cannot queue ticket request", "alarm", tr.Key, "err", err)
	}
}
