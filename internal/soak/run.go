package soak

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"
)

// run plays the soak: devices, incidents and faults until Duration, then
// takes every fault off, waits for the gateway to catch up, and stops.
func (s *soak) run(ctx context.Context) error {
	o := s.o
	// The plan's times count from here, after the processes started.
	s.start = time.Now()
	fctx, stopFleet := s.fctx, s.stopFleet

	// MQTT devices publish once the gateway's persistent session exists
	// (before it, the broker keeps nothing for the gateway).
	client := &http.Client{Timeout: 3 * time.Second}
	if o.MQTTDevices > 0 {
		if err := waitFor(ctx, 60*time.Second, "the gateway to connect to the broker", func() bool {
			m, err := scrape(client, s.gateway.metrics)
			return err == nil && sumSeries(m, "estate_mqtt_connected") == 1
		}); err != nil {
			return err
		}
		if err := s.fleet.runMQTT(fctx, "tcp://"+s.broker.addr); err != nil {
			return err
		}
	}

	var wg sync.WaitGroup
	// Samples of the gateway's and the desks' memory and goroutines.
	sctx, stopSampling := context.WithCancel(ctx)
	defer stopSampling()
	every := min(10*time.Second, max(2*time.Second, o.Duration/120))
	wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			s.gateway.Sample(client)
			for _, d := range s.desks {
				d.Sample(client)
			}
			select {
			case <-sctx.Done():
				return
			case <-t.C:
			}
		}
	})

	// Incidents: meters that raise a fault, fire panels that raise an alarm.
	ictx, stopIncidents := context.WithCancel(ctx)
	defer stopIncidents()
	s.planIncidents(ictx, &wg)

	// Faults.
	s.faults = plan(o, s.childRand())
	s.progress("%d faults planned over %v (seed %d)", len(s.faults), o.Duration, o.Seed)
	var fwg sync.WaitGroup
	locks := map[string]*sync.Mutex{faultKillGW: {}, faultKillDesk: {}, faultKillInflux: {}}
	for _, f := range s.faults {
		rnd := s.childRand()
		fwg.Go(func() {
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Until(s.start.Add(f.At))):
			}
			if l := locks[f.Kind]; l != nil {
				l.Lock()
				defer l.Unlock()
			}
			s.log.Info("fault begins", "fault", f.String(), "for", f.For)
			err := s.apply(ctx, f, rnd)
			s.log.Info("fault ends", "fault", f.String(), "err", err)
			if err != nil {
				f.Err = err.Error()
				s.progress("fault %s: %v", f, err)
			}
		})
	}

	// Progress every minute.
	tick := time.NewTicker(time.Minute)
	end := time.NewTimer(time.Until(s.start.Add(o.Duration)))
	defer end.Stop()
loop:
	for {
		select {
		case <-ctx.Done():
			tick.Stop()
			fwg.Wait()
			stopIncidents()
			stopSampling()
			wg.Wait()
			return ctx.Err()
		case <-end.C:
			break loop
		case <-tick.C:
			m, _ := scrape(client, s.gateway.metrics)
			s.progress("gateway backlog %.0f points, outbox %.0f; faults begun %d/%d",
				sumSeries(m, "estate_telemetry_backlog_points"), sumSeries(m, "estate_outbox_pending"), s.begun(), len(s.faults))
		}
	}
	tick.Stop()
	s.progress("duration reached; faults off, waiting for the processes to come back")
	fwg.Wait()
	s.tox.clear()
	stopIncidents()

	// Settle: every process up, the gateway's backlogs empty, every incident ticketed.
	if err := s.settle(ctx, client); err != nil {
		s.progress("settling: %v", err)
	}
	stopSampling()
	wg.Wait()
	s.stopAt = time.Now()
	tickets, err := s.tickets(ctx)
	if err != nil {
		return err
	}
	s.ticketList = tickets

	s.gateway.Sample(client) // its failed polls up to now
	// The devices stop; the gateway spools its last readings and stops
	// (SIGTERM flushes telemetry), then InfluxDB holds all it will hold.
	s.fleet.stopModbus()
	stopFleet()
	s.fleet.wait()
	_ = waitFor(ctx, 2*o.PollInterval+30*time.Second, "the gateway's last readings to reach InfluxDB", func() bool {
		m, err := scrape(client, s.gateway.metrics)
		return err == nil && sumSeries(m, "estate_telemetry_backlog_points") == 0 && sumSeries(m, "estate_mqtt_queue_length") == 0
	})
	if err := s.gateway.Stop(2 * time.Minute); err != nil {
		s.progress("gateway stop: %v", err)
		s.stopErr = err.Error()
	}
	return nil
}

// begun is how many planned faults have started.
func (s *soak) begun() int {
	n := 0
	for _, f := range s.faults {
		if time.Since(s.start) >= f.At {
			n++
		}
	}
	return n
}

// apply carries out one fault.
func (s *soak) apply(ctx context.Context, f *fault, rnd *rand.Rand) error {
	switch f.Kind {
	case faultKillGW:
		f.Began = time.Now()
		s.gateway.Kill()
		sleep(ctx, f.For)
		err := s.gateway.Start()
		f.Ended = time.Now()
		s.mu.Lock()
		s.gwDown = append(s.gwDown, window{From: f.Began, To: f.Ended, Kind: f.Kind})
		s.mu.Unlock()
		return err
	case faultKillDesk:
		victim := len(s.desks) - 1
		f.Began = time.Now()
		if len(s.desks) > 1 {
			// A load balancer in front of the desks sends to the other one.
			if err := s.tox.setUpstream(proxyDesk, s.deskURL[0]); err != nil {
				return err
			}
		}
		s.desks[victim].Kill()
		sleep(ctx, f.For)
		if err := s.desks[victim].Start(); err != nil {
			return err
		}
		err := waitHTTP(ctx, "http://"+s.deskURL[victim]+"/healthz", 60*time.Second)
		if err == nil && len(s.desks) > 1 {
			err = s.tox.setUpstream(proxyDesk, s.deskURL[victim])
		}
		f.Ended = time.Now()
		return err
	case faultKillInflux:
		f.Began = time.Now()
		if err := s.influx.Kill(); err != nil {
			return err
		}
		sleep(ctx, f.For)
		err := s.influx.Start(context.WithoutCancel(ctx))
		f.Ended = time.Now()
		return err
	default:
		return s.tox.inject(ctx, f, rnd)
	}
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

func waitFor(ctx context.Context, within time.Duration, what string, ok func() bool) error {
	deadline := time.Now().Add(within)
	for !ok() {
		if time.Now().After(deadline) {
			return fmt.Errorf("waited %v for %s", within, what)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	return nil
}

// planIncidents raises the meters' faults and the fire alarms at random
// times of the active part of the soak, each device once: its ticket must
// then be exactly one.
func (s *soak) planIncidents(ctx context.Context, wg *sync.WaitGroup) {
	o := s.o
	hold := 4*o.PollInterval + 10*time.Second
	active := o.Duration - o.Warmup - o.Cooldown - hold
	var meters []*device
	for _, d := range s.fleet.devices {
		if d.slave != nil && !d.Proxied {
			meters = append(meters, d)
		}
	}
	rnd := s.childRand()
	rnd.Shuffle(len(meters), func(i, j int) { meters[i], meters[j] = meters[j], meters[i] })
	for _, d := range meters[:o.Incidents] {
		at := o.Warmup + time.Duration(rnd.Int64N(int64(active)))
		wg.Go(func() {
			sleep(ctx, time.Until(s.start.Add(at)))
			if ctx.Err() != nil {
				return
			}
			inc := &incident{Device: d.ID, Rule: "soak_fault", RaisedAt: time.Now(), Key: siteID + "/soak_fault/" + d.ID}
			s.fleet.setFault(d, true)
			s.addIncident(inc)
			sleep(ctx, hold)
			s.fleet.setFault(d, false)
			inc.Cleared = time.Now()
		})
	}
	for _, d := range s.fleet.fire {
		at := o.Warmup + time.Duration(rnd.Int64N(int64(active)))
		wg.Go(func() {
			sleep(ctx, time.Until(s.start.Add(at)))
			if ctx.Err() != nil {
				return
			}
			if err := s.fleet.fireAlarm(ctx, d, false); err != nil {
				return // the soak ended before the gateway confirmed it: not raised
			}
			inc := &incident{Device: d.ID, Rule: "fire_alarm", RaisedAt: time.Now(), Key: siteID + "/fire_alarm/" + d.ID}
			s.addIncident(inc)
			sleep(ctx, hold)
			if s.fleet.fireAlarm(ctx, d, true) == nil {
				inc.Cleared = time.Now()
			}
		})
	}
}

func (s *soak) addIncident(i *incident) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.incidents = append(s.incidents, i)
}

// settle waits until every process answers, the gateway has sent all it
// spooled and queued, and every incident has its ticket, or SettleMax.
func (s *soak) settle(ctx context.Context, client *http.Client) error {
	within := 3*time.Minute + s.o.OfflineFor
	var why string
	err := waitFor(ctx, within, "the gateway to catch up and every incident's ticket", func() bool {
		m, err := scrape(client, s.gateway.metrics)
		// Live points wait for their batch (flush_interval): caught up is
		// no point older than a few seconds, not an empty spool.
		if err != nil {
			why = "gateway metrics: " + err.Error()
			return false
		}
		if age, pending := sumSeries(m, "estate_telemetry_oldest_unsent_age_seconds"), sumSeries(m, "estate_outbox_pending"); age > 5 || pending > 0 {
			why = fmt.Sprintf("oldest unsent point %.0f s old, %.0f alarm actions pending", age, pending)
			return false
		}
		ts, err := s.tickets(ctx)
		if err != nil {
			return false
		}
		have := map[string]bool{}
		for _, t := range ts {
			have[incidentKey(t.AlarmKey)] = true
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, i := range s.incidents {
			if !have[i.Key] {
				why = i.Key + " has no ticket yet"
				return false
			}
		}
		return true
	})
	if err != nil {
		return fmt.Errorf("%w (%s)", err, why)
	}
	return nil
}
