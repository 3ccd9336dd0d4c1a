package gateway

import (
	"context"
	"errors"
	"sort"
	"strings"
	"time"

	"github.com/estatehq/estate/devices"
	"github.com/estatehq/estate/gateway/health"
	"github.com/estatehq/estate/gateway/scheduler"
)

// MaxConcurrentPolls bounds the polls of TCP devices in flight at once (and
// so the Modbus TCP connections in use); serial buses poll one device at a
// time each, apart from this bound.
var MaxConcurrentPolls = 64

// groupPoller is a driver whose points are polled in groups with their own
// intervals (devices/modbus: fast, normal, slow).
type groupPoller interface {
	PollGroups() map[string]time.Duration
	PollGroup(ctx context.Context, group string) (devices.Reading, error)
}

// busDriver is a driver on a line shared with other devices (an RS-485 bus,
// a TCP address): its polls take turns with theirs.
type busDriver interface {
	Bus() (key string, serialLine bool)
}

// pollTimer is a driver that bounds each of its transactions itself and says
// how long a whole poll may take (devices/dlt645: one request per identifier,
// more than a fixed multiple of one timeout at 2400 baud).
type pollTimer interface {
	PollTimeout() time.Duration
}

// eventSource is a polled driver whose polls also find events (devices/dlt645:
// a meter back with its power-failure count up, an outage); the gateway takes
// them after each poll.
type eventSource interface {
	TakeEvents() []devices.Event
}

// runPollers polls every device on its schedule until ctx ends.
func (g *Gateway) runPollers(ctx context.Context) { g.newScheduler().Run(ctx) }

// newScheduler makes one job per device and poll group, on the device's bus.
func (g *Gateway) newScheduler() *scheduler.Scheduler {
	s := scheduler.New(scheduler.Options{MaxConcurrent: MaxConcurrentPolls, Metrics: g.reg})
	for i := range g.devices.Polled {
		d := &g.devices.Polled[i]
		bus, serial := "device:"+d.Config.ID, false
		if b, ok := d.Driver.(busDriver); ok {
			bus, serial = b.Bus()
		}
		if gp, ok := d.Driver.(groupPoller); ok {
			groups := gp.PollGroups()
			names := make([]string, 0, len(groups))
			for name := range groups {
				names = append(names, name)
			}
			sort.Strings(names)
			for _, name := range names {
				s.Add(scheduler.Job{Device: d.Config.ID, Name: d.Config.ID + "/" + name, Bus: bus, Serial: serial,
					Interval: groups[name],
					Run: func(ctx context.Context) error {
						return g.pollOnce(ctx, d, func(ctx context.Context) (devices.Reading, error) { return gp.PollGroup(ctx, name) })
					}})
			}
			continue
		}
		budget := d.Config.Timeout * time.Duration(4)
		if pt, ok := d.Driver.(pollTimer); ok {
			budget = pt.PollTimeout()
		}
		s.Add(scheduler.Job{Device: d.Config.ID, Name: d.Config.ID, Bus: bus, Serial: serial, Interval: d.Config.PollInterval,
			Run: func(ctx context.Context) error {
				return g.pollOnce(ctx, d, func(ctx context.Context) (devices.Reading, error) {
					pollCtx, cancel := context.WithTimeout(ctx, budget)
					defer cancel()
					return d.Driver.Poll(pollCtx)
				})
			}})
	}
	return s
}

// pointFailures is an error of a poll that the device answered with some
// points failing (devices/modbus.PointErrors): the reading is still used.
type pointFailures interface {
	FailedPoints() map[string]error
}

// pollOnce runs one poll and hands its reading to the pipeline. It returns
// the poll's error when the device did not answer (for the scheduler's backoff).
func (g *Gateway) pollOnce(ctx context.Context, d *devices.Polled, poll func(context.Context) (devices.Reading, error)) error {
	r, err := poll(ctx)
	if ctx.Err() != nil {
		return nil // shutting down: an interrupted poll says nothing about the device
	}
	var partial pointFailures
	series := g.m.device(d.Config.ID)
	result := "ok"
	switch {
	case err == nil:
		series.ok.Inc()
	case errors.As(err, &partial):
		result = "partial"
		series.partial.Inc()
	default:
		result = "error"
		series.failed.Inc()
	}
	good := make([]string, 0, len(r.Values))
	for _, v := range r.Values {
		if v.Quality == devices.Good {
			good = append(good, v.Point)
		}
	}
	g.observePoll(d.Config.ID, err, good)
	if es, ok := d.Driver.(eventSource); ok {
		for _, e := range es.TakeEvents() {
			g.handleEvent(e)
		}
	}
	if result == "error" {
		return err
	}
	g.handleReading(r)
	g.observeFamily(d, r)
	return nil
}

// observeFamily runs the device's family logic over a reading: an elevator
// polled over Modbus raises entrapments like one that publishes over MQTT.
// Polls come at the device's interval, which is the logic's clock too.
func (g *Gateway) observeFamily(d *devices.Polled, r devices.Reading) {
	if d.Behaviour == nil {
		return
	}
	now := r.Time
	if now.IsZero() {
		now = time.Now()
	}
	for _, e := range d.Behaviour.Observe(now, r.Values, nil) {
		if e.Device == nil {
			e.Device = d.Info
		}
		g.handleEvent(e)
	}
}

// observePoll records a poll in the device's health, logging what changed:
// the device's state, and each point that starts failing or recovers.
func (g *Gateway) observePoll(device string, err error, good []string) {
	now := time.Now()
	c := g.health.ObservePoll(device, err, now, good)
	if c.State != health.Unknown {
		// The alarm engine's offline rules and outage inference need every
		// answer and every silence, not only the changes. A silent device's
		// error goes with it: its ticket says why it is silent.
		offline, lastErr := c.State == health.Offline, ""
		if offline && err != nil {
			lastErr = err.Error() // what the health tracker keeps as LastError
		}
		g.dispatch(g.alarms.ObserveHealth(device, offline, lastErr, now))
	}
	switch c.State {
	case health.Offline:
		g.m.device(device).online.Set(0)
		if c.StateChanged {
			g.log.Warn("device offline", "device", device, "after_failures", g.cfg.Gateway.OfflineAfter, "err", err)
		}
	case health.Online, health.Degraded:
		g.m.device(device).online.Set(1)
		if c.StateChanged {
			g.log.Info("device "+string(c.State), "device", device)
		}
	}
	for _, f := range c.NewlyFailing {
		g.log.Warn("point failing", "device", device, "point", f.Point, "kind", f.Kind, "err", f.Err)
	}
	if len(c.Recovered) > 0 {
		g.log.Info("points read again", "device", device, "points", strings.Join(c.Recovered, ","))
	}
}
