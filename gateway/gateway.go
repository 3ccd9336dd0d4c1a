// Package gateway is the edge half of Estate: it polls every configured device
// on its schedule and fans each reading out to telemetry (InfluxDB), device
// health, and the alarm engine, whose firing alarms become ticket requests in
// the outbox that delivers them to the desk. The engine's state and the outbox
// share one state file (gateway/statedb), so that a transition and its ticket
// request commit together; the transitions each engine call returns are
// dispatched in one place (dispatch): metrics, telemetry, logs, and waking the
// outbox.
package gateway

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/estatehq/estate/devices"
	"github.com/estatehq/estate/gateway/alarm"
	"github.com/estatehq/estate/gateway/deskclient"
	"github.com/estatehq/estate/gateway/health"
	"github.com/estatehq/estate/gateway/heartbeat"
	"github.com/estatehq/estate/gateway/orders"
	"github.com/estatehq/estate/gateway/outbox"
	"github.com/estatehq/estate/gateway/statedb"
	"github.com/estatehq/estate/gateway/telemetry"
	"github.com/estatehq/estate/internal/config"
	"github.com/estatehq/estate/internal/promreg"
	"github.com/estatehq/estate/internal/wire"
)

// metrics are the gateway's own Prometheus metrics (docs/metrics.md); the
// engine and the outbox have theirs, on the same registry.
type metrics struct {
	polls            *prometheus.CounterVec
	devicesOnline    *prometheus.GaugeVec
	alarmTransitions *prometheus.CounterVec

	// perDevice holds each device's series (*deviceSeries by id), looked up
	// once: a poll counts itself without hashing its label values.
	perDevice sync.Map
}

// deviceSeries is one device's poll counters and online gauge.
type deviceSeries struct {
	ok, partial, failed prometheus.Counter
	online              prometheus.Gauge
}

func (m *metrics) device(id string) *deviceSeries {
	if ds, ok := m.perDevice.Load(id); ok {
		return ds.(*deviceSeries)
	}
	ds := &deviceSeries{
		ok:      m.polls.WithLabelValues(id, "ok"),
		partial: m.polls.WithLabelValues(id, "partial"),
		failed:  m.polls.WithLabelValues(id, "error"),
		online:  m.devicesOnline.WithLabelValues(id),
	}
	actual, _ := m.perDevice.LoadOrStore(id, ds)
	return actual.(*deviceSeries)
}

func newMetrics(reg prometheus.Registerer) *metrics {
	return &metrics{
		polls: promreg.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "estate_gateway_polls_total", Help: "Device polls, by device and result."}, []string{"device", "result"})),
		devicesOnline: promreg.Register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "estate_gateway_device_online", Help: "1 while the device answers, 0 once it is offline."}, []string{"device"})),
		alarmTransitions: promreg.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "estate_gateway_alarm_transitions_total", Help: "Alarm state changes, by rule and state."}, []string{"rule", "state"})),
	}
}

// Gateway runs the pipeline for one configuration.
type Gateway struct {
	cfg       *config.Config
	log       *slog.Logger
	devices   *devices.Opened
	telemetry *telemetry.Writer
	health    *health.Tracker
	alarms    *alarm.Engine
	state     *sql.DB // the state file: alarm state and outbox
	outbox    *outbox.Outbox
	orders    *orders.Runner
	desk      *deskclient.Client
	loc       *time.Location
	// reg is where the gateway's parts register their metrics.
	reg prometheus.Registerer
	m   *metrics

	// OnTicket, when set before Run, is told of the ticket of every open
	// action the desk applied (a new ticket, or the open one of the alarm).
	OnTicket func(wire.Ticket)
	// OnAction, when set before Run, is told of every alarm action the desk applied.
	OnAction outbox.Delivered
}

// Option configures a Gateway at New.
type Option func(*Gateway)

// WithRegisterer registers the gateway's metrics (and its parts') on reg
// instead of a private registry that nobody serves.
func WithRegisterer(reg prometheus.Registerer) Option {
	return func(g *Gateway) { g.reg = reg }
}

// New opens every device's driver and the outbox; nothing is polled until Run.
func New(cfg *config.Config, log *slog.Logger, opts ...Option) (*Gateway, error) {
	g := &Gateway{
		cfg: cfg,
		log: log.With("part", "gateway"),
		loc: time.UTC,
	}
	for _, o := range opts {
		o(g)
	}
	if g.reg == nil {
		g.reg = prometheus.NewRegistry()
	}
	g.m = newMetrics(g.reg)
	g.health = health.NewTracker(cfg.Gateway.OfflineAfter, g.reg)
	if loc, err := time.LoadLocation(cfg.Site.Timezone); err == nil && cfg.Site.Timezone != "" {
		g.loc = loc
	}
	opened, err := devices.OpenAll(devices.Env{Config: cfg, Log: log, Metrics: g.reg})
	if err != nil {
		return nil, err
	}
	g.devices = opened
	desk := deskclient.New(cfg.Gateway.DeskURL, cfg.Gateway.DeskToken)
	g.desk = desk
	if err := g.openAlarms(desk, log); err != nil {
		opened.Close()
		return nil, err
	}
	// Opened last: it locks the spool folder, and only Run releases it.
	tw, err := telemetry.New(cfg.InfluxDB, log.With("part", "telemetry"), telemetry.WithRegisterer(g.reg))
	if err != nil {
		opened.Close()
		g.closeAlarms()
		return nil, err
	}
	g.telemetry = tw
	return g, nil
}

// openAlarms opens the state file (migrating the two files of earlier
// versions into it), the outbox on it and the engine, which commits its
// transitions and their desk actions to it in one transaction.
func (g *Gateway) openAlarms(desk *deskclient.Client, log *slog.Logger) error {
	db, err := statedb.OpenGateway(context.Background(), g.cfg.Gateway.StateDir, g.cfg.Gateway.ID, log.With("part", "state"))
	if err != nil {
		return err
	}
	ob := outbox.New(db, outbox.Options{Sender: desk, Log: log.With("part", "outbox"), Metrics: outbox.NewMetrics(g.reg),
		MaxAttempts: g.cfg.Gateway.OutboxMaxAttempts})
	eng, err := alarm.NewEngine(alarm.Options{Config: g.cfg, Store: alarm.NewSQLiteStore(db), Log: log.With("part", "alarm"),
		Location: g.loc, Metrics: alarm.NewMetrics(g.reg), Links: g.links()})
	if err != nil {
		db.Close()
		return err
	}
	// What the desk orders (windows to the engine, commands to the
	// drivers) shares the state file: a command runs once, even across restarts.
	cmdrs := map[string]devices.Commander{}
	for _, d := range g.devices.Polled {
		if c, ok := d.Driver.(devices.Commander); ok {
			cmdrs[d.Config.ID] = c
		}
	}
	or, err := orders.New(context.Background(), orders.Options{DB: db, Devices: cmdrs, Windows: eng, Log: log.With("part", "orders"), Registry: g.reg})
	if err != nil {
		db.Close()
		return err
	}
	g.outbox, g.state, g.alarms, g.orders = ob, db, eng, or
	return nil
}

// links says where each polled device is reached, for the engine's groups:
// the line it shares with others (a serial bus, a TCP endpoint such as a
// serial gateway with many unit ids), or its own when its driver shares none.
func (g *Gateway) links() map[string]alarm.Link {
	links := make(map[string]alarm.Link, len(g.devices.Polled))
	for _, d := range g.devices.Polled {
		l := alarm.Link{Key: "device:" + d.Config.ID} // as the scheduler keys it
		if b, ok := d.Driver.(busDriver); ok {
			l.Key, l.Serial = b.Bus()
		}
		links[d.Config.ID] = l
	}
	return links
}

func (g *Gateway) closeAlarms() { _ = g.state.Close() }

// Alarms is the alarm engine (for /api/v1/alarms).
func (g *Gateway) Alarms() *alarm.Engine { return g.alarms }

// AlarmsHandler serves GET /api/v1/alarms: firing and pending alarms, the
// suppressed ones with why, and the feeders' inferred state.
func (g *Gateway) AlarmsHandler() http.Handler { return g.alarms.Handler(g.loc) }

// Health is the live health of every device.
func (g *Gateway) Health() *health.Tracker { return g.health }

// Run polls until ctx ends, then stops the pollers, flushes telemetry and
// closes the drivers. It returns the telemetry flush error, if any.
func (g *Gateway) Run(ctx context.Context) error {
	defer g.devices.Close()
	defer g.closeAlarms()
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
	sinks.Go(func() {
		heartbeat.Run(ctx, g.cfg.Gateway.HeartbeatInterval, g.Status, g.desk, g.log.With("part", "heartbeat"), heartbeat.NewMetrics(g.reg),
			heartbeat.WithStatusFile(heartbeat.StatusFileName(g.cfg.Gateway.StateDir, g.cfg.Gateway.ID)),
			heartbeat.WithAnswer(g.answered))
	})
	sinks.Go(func() { g.orders.Run(ctx) })
	sinks.Go(func() { g.tickAlarms(ctx) })

	var pollers sync.WaitGroup
	pollers.Go(func() { g.runPollers(ctx) })
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

// Status is the gateway's heartbeat: its devices with their health.
func (g *Gateway) Status() wire.GatewayStatus {
	s := wire.GatewayStatus{
		Gateway: g.cfg.Gateway.ID, Site: g.cfg.Site.ID, At: time.Now(),
		Interval:         g.cfg.Gateway.HeartbeatInterval,
		TelemetryBacklog: g.telemetry.Backlog(),
		OutboxPending:    g.outbox.Pending(),
	}
	controls := map[string][]string{}
	for _, p := range g.devices.Polled {
		if c, ok := p.Driver.(devices.Commander); ok {
			controls[p.Config.ID] = c.Controls()
		}
	}
	s.Feeders = g.alarms.Feeders()
	s.Results = g.orders.Results(context.Background())
	s.Windows = g.orders.Windows()
	add := func(info *devices.Info) {
		d := wire.Device{ID: info.ID, Family: info.Family, Model: info.Model, Building: info.Building,
			Floor: info.Floor, Unit: info.Unit, State: string(health.Unknown), Controls: controls[info.ID],
			Units: info.Units, Names: info.Names} // filled when the driver was built, read-only since
		if h, ok := g.health.Get(info.ID); ok {
			d.State, d.LastSeen, d.ConsecutiveFailures = string(h.State), h.LastSeen, h.ConsecutiveFailures
			d.Polls, d.Errors, d.LastError = h.Polls, h.Errors, h.LastError
		}
		s.Devices = append(s.Devices, d)
	}
	for _, p := range g.devices.Polled {
		add(p.Info)
	}
	for _, info := range g.devices.Streamed {
		add(info)
	}
	views, _ := g.alarms.Snapshot(s.At, g.loc)
	for _, v := range views {
		since := v.FiredAt
		if since.IsZero() {
			since = v.PendingSince
		}
		s.Alarms = append(s.Alarms, wire.Alarm{Key: v.Key, Rule: v.Rule, Device: v.Device, Building: v.Building,
			Unit: v.Unit, Source: v.Source, Point: v.Point, Value: v.Value, State: string(v.Phase), Severity: v.Severity,
			Since: since, Suppressed: v.Suppressed, Ticketed: v.Ticketed, MessageZH: v.MessageZH, MessageEN: v.MessageEN})
	}
	return s
}

// answered takes what the desk handed back with a heartbeat: windows for
// the engine, commands for the drivers, results it recorded.
func (g *Gateway) answered(ctx context.Context, a wire.HeartbeatAnswer) {
	if err := g.orders.Answer(ctx, a); err != nil && ctx.Err() == nil {
		g.log.Error("desk answer not taken; the next heartbeat brings it again", "err", err)
	}
}

func (g *Gateway) delivered(a wire.AlarmAction, res wire.AlarmActionResult) {
	g.log.Info("alarm action delivered to desk", "action", a.Action, "ticket", res.Ticket.ID, "alarm", a.AlarmKey,
		"created", res.Created, "status", res.Ticket.Status)
	if g.OnAction != nil {
		g.OnAction(a, res)
	}
	if a.Action == wire.ActionOpen && g.OnTicket != nil {
		g.OnTicket(res.Ticket)
	}
}

// tickAlarms advances what time alone changes in the alarm engine (for
// clocks of offline and no-data rules, outages, ended suppressions) every second.
func (g *Gateway) tickAlarms(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			g.dispatch(g.alarms.Tick(now))
		}
	}
}

// observeHealth records what a stream driver says of a device: heard from (nil)
// or silent (an error).
func (g *Gateway) observeHealth(device string, err error) { g.observePoll(device, err, nil) }

func (g *Gateway) handleReading(r devices.Reading) {
	g.telemetry.AddReading(r)
	g.dispatch(g.alarms.Evaluate(r))
}

func (g *Gateway) handleEvent(e devices.Event) {
	g.telemetry.AddEvent(e)
	g.log.Info("device event", "device", e.Device.ID, "type", e.Type, "source", e.Source, "active", e.Active)
	if e.Type == wire.EventCheckpointVisit {
		g.forwardVisit(e)
		return
	}
	g.dispatch(g.alarms.ObserveEvent(e))
}

// forwardVisit hands a patrol reader's checkpoint visit (devices/guardtour)
// to the outbox, which delivers it to the desk's rounds as durably as an
// alarm: kept across desk outages and restarts, applied once (its key is
// the scan itself).
func (g *Gateway) forwardVisit(e devices.Event) {
	v := wire.CheckpointVisit{Site: g.cfg.Site.ID, Checkpoint: e.Attrs["checkpoint"], Reader: e.Attrs["reader"], At: e.Time.UTC(),
		Gateway: g.cfg.Gateway.ID}
	a := wire.AlarmAction{Action: wire.ActionVisit, Visit: &v, At: e.Time.UTC(),
		AlarmKey:       fmt.Sprintf("%s/guardtour/%s", g.cfg.Site.ID, e.Device.ID),
		IdempotencyKey: fmt.Sprintf("visit/%s/%s/%s/%d", g.cfg.Site.ID, v.Reader, v.Checkpoint, v.At.UnixNano())}
	if err := g.outbox.Add(a); err != nil {
		g.log.Error("checkpoint visit not queued for the desk", "device", e.Device.ID, "checkpoint", v.Checkpoint, "err", err)
	}
}

// sink is how stream drivers hand their data to the pipeline.
type sink struct{ g *Gateway }

func (s sink) Reading(r devices.Reading)       { s.g.handleReading(r) }
func (s sink) Event(e devices.Event)           { s.g.handleEvent(e) }
func (s sink) Health(device string, err error) { s.g.observeHealth(device, err) }

// dispatch is where the alarm engine's results go, all of them: the
// transitions of one engine call, already committed with their desk actions
// to the state file. It counts and logs them, writes them to telemetry and
// wakes the outbox to deliver the actions.
func (g *Gateway) dispatch(trs []alarm.Transition) {
	if len(trs) == 0 {
		return
	}
	ticketed := false
	for _, tr := range trs {
		g.m.alarmTransitions.WithLabelValues(tr.Rule.Name, string(tr.State)).Inc()
		zh, en := tr.Summary(g.loc)
		g.telemetry.AddAlarm(tr.Device, tr.Rule.Name, string(tr.State), tr.Rule.Severity, zh, en, tr.Value, tr.At)
		if tr.Suppressed.Muted() {
			g.log.Info("alarm "+string(tr.State)+" (suppressed)", "alarm", tr.Key, "why", tr.Suppressed.String())
		} else {
			g.log.Info("alarm "+string(tr.State), "alarm", tr.Key, "point", tr.Point, "value", tr.Value, "late", tr.Late)
		}
		ticketed = ticketed || tr.Ticket
	}
	if ticketed {
		g.outbox.Wake()
	}
}
