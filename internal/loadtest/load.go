package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/estatehq/estate/gateway/deskclient"
	"github.com/estatehq/estate/internal/wire"
)

// Load is one load run: simulated gateways, each a site of its own, against
// the replicas, with consoles following the event stream on each replica.
type Load struct {
	Gateways      int           // sites, one gateway each (100)
	Devices       int           // devices per site (200)
	Duration      time.Duration // how long the gateways run
	Heartbeat     time.Duration // each gateway's heartbeat interval (the gateways' default is 10s)
	AlarmsPerHour float64       // alarm episodes per site and hour; each opens a ticket and clears later
	StormSites    int           // sites whose every device goes offline at once, half-way through
	Consoles      int           // event-stream consoles per replica
	TokenOf       func(site int) string
	// ConsoleUser and ConsolePassword: each console logs in on its replica
	// (a console session, as the web console has).
	ConsoleUser, ConsolePassword string
	MaxActionTries               int // attempts per alarm action before it counts as failed (the outbox retries for ever)
}

// SiteName is the site id of gateway i.
func SiteName(i int) string { return fmt.Sprintf("site-%03d", i) }

// Report is what a run measured.
type Report struct {
	Gateways, Devices    int
	Duration             time.Duration
	Heartbeats           int64
	HeartbeatErrors      int64
	HeartbeatP99         time.Duration
	Actions              int // alarm actions answered (open and clear)
	ActionRetries        int64
	ActionFailures       int64
	ActionP50, ActionP99 time.Duration
	Tickets              int // tickets created by open actions
	TicketP50, TicketP99 time.Duration
	StormTickets         int
	StormTook            time.Duration // from the storm's start until its last ticket was created
	StreamEvents         int           // ticket.created events received by all consoles together
	StreamP50, StreamP99 time.Duration // from a ticket's creation (its created_at) to a console
	PGConnsMax           map[string]int
	PGConnsTotalMax      int
	CPU                  map[string]time.Duration // processor time per replica over the run
	Wall                 time.Duration
	// Created are the ids of the tickets the run created (for checks).
	Created []int64
	// Consoles are the consoles (for checks of what they received).
	Consoles []*Console
}

// HeartbeatsPerSecond is the rate of answered heartbeats while the gateways ran.
func (r Report) HeartbeatsPerSecond() float64 { return float64(r.Heartbeats) / r.Duration.Seconds() }

// CPUPercent is a replica's processor use over the run, in % of one core.
func (r Report) CPUPercent(name string) float64 {
	return 100 * r.CPU[name].Seconds() / r.Wall.Seconds()
}

func (r Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d gateways × %d devices for %s (wall %s) on %d replicas\n", r.Gateways, r.Devices, r.Duration, r.Wall.Round(time.Millisecond), len(r.CPU))
	fmt.Fprintf(&b, "heartbeats:        %d answered (%.1f/s), %d failed, p99 %s\n", r.Heartbeats, r.HeartbeatsPerSecond(), r.HeartbeatErrors, ms(r.HeartbeatP99))
	fmt.Fprintf(&b, "alarm actions:     %d answered, %d retries, %d failed; p50 %s, p99 %s\n", r.Actions, r.ActionRetries, r.ActionFailures, ms(r.ActionP50), ms(r.ActionP99))
	fmt.Fprintf(&b, "ticket creation:   %d tickets; p50 %s, p99 %s\n", r.Tickets, ms(r.TicketP50), ms(r.TicketP99))
	fmt.Fprintf(&b, "outage storm:      %d tickets in %s\n", r.StormTickets, r.StormTook.Round(time.Millisecond))
	fmt.Fprintf(&b, "event stream:      %d deliveries to %d consoles; delay p50 %s, p99 %s\n", r.StreamEvents, len(r.Consoles), ms(r.StreamP50), ms(r.StreamP99))
	names := make([]string, 0, len(r.PGConnsMax))
	for n := range r.PGConnsMax {
		names = append(names, n)
	}
	slices.Sort(names)
	fmt.Fprintf(&b, "PostgreSQL conns:  at most %d in all (pg_stat_activity);", r.PGConnsTotalMax)
	for _, n := range names {
		fmt.Fprintf(&b, " %s %d", n, r.PGConnsMax[n])
	}
	b.WriteString("\nCPU per replica:  ")
	cpus := make([]string, 0, len(r.CPU))
	for n := range r.CPU {
		cpus = append(cpus, n)
	}
	slices.Sort(cpus)
	for _, n := range cpus {
		fmt.Fprintf(&b, " %s %.1fs (%.0f%% of a core)", n, r.CPU[n].Seconds(), r.CPUPercent(n))
	}
	b.WriteString("\n")
	return b.String()
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

// latencies collects durations from many goroutines.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

func (l *latencies) percentile(p float64) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return percentile(l.d, p)
}

func (l *latencies) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.d)
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(p * float64(len(s)-1))
	return s[i]
}

// action is one alarm action in a gateway's outbox.
type action struct {
	a     wire.AlarmAction
	storm bool
}

// gateway is one simulated site's gateway: a heartbeat loop and an outbox
// that sends its alarm actions one at a time, retrying, as gateway/outbox does;
// requests alternate between the replicas, as behind a round-robin balancer.
type gateway struct {
	site    string
	clients []*deskclient.Client
	next    atomic.Uint64
	devices []wire.Device
	outbox  chan action
	// offline is set during the outage storm.
	mu      sync.Mutex
	offline bool
	alarms  map[string]wire.Alarm
}

func (g *gateway) client() *deskclient.Client {
	return g.clients[g.next.Add(1)%uint64(len(g.clients))]
}

func (g *gateway) status(now time.Time, every time.Duration) wire.GatewayStatus {
	g.mu.Lock()
	defer g.mu.Unlock()
	devs := slices.Clone(g.devices)
	for i := range devs {
		if g.offline {
			devs[i].State, devs[i].ConsecutiveFailures, devs[i].LastError = "offline", 3, "i/o timeout"
		} else {
			devs[i].State, devs[i].LastSeen = "online", now
		}
		devs[i].Polls = uint64(now.Unix())
	}
	var alarms []wire.Alarm
	for _, a := range g.alarms {
		alarms = append(alarms, a)
	}
	return wire.GatewayStatus{Gateway: "gw-" + g.site, Site: g.site, At: now, Interval: every, Devices: devs, Alarms: alarms}
}

// Run drives the replicas with l's gateways and consoles for l.Duration and
// returns the figures. db is a connection to the replicas' database (for
// pg_stat_activity); replicas are the desks, which the gateways alternate
// between.
func Run(ctx context.Context, l Load, db *pgx.Conn, replicas ...*Replica) (Report, error) {
	if l.MaxActionTries == 0 {
		l.MaxActionTries = 50
	}
	rep := Report{Gateways: l.Gateways, Devices: l.Devices, Duration: l.Duration, PGConnsMax: map[string]int{}, CPU: map[string]time.Duration{}}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()

	// Consoles first, from the current end of the stream.
	for _, r := range replicas {
		others := []*Replica{r}
		for _, o := range replicas {
			if o != r {
				others = append(others, o)
			}
		}
		for range l.Consoles {
			token, err := Login(r, l.ConsoleUser, l.ConsolePassword)
			if err != nil {
				return rep, err
			}
			rep.Consoles = append(rep.Consoles, OpenConsole(runCtx, token, -1, others...))
		}
	}
	for _, c := range rep.Consoles {
		select {
		case <-c.Opened():
		case <-c.Stopped():
			return rep, errors.New("a console was refused")
		case <-ctx.Done():
			return rep, ctx.Err()
		}
	}

	cpu0 := map[string]time.Duration{}
	for _, r := range replicas {
		c, err := r.CPU()
		if err != nil {
			return rep, err
		}
		cpu0[r.Name] = c
	}
	var connsMu sync.Mutex
	sampleConns := func() {
		connsMu.Lock() // one pgx.Conn: one query at a time
		defer connsMu.Unlock()
		rows, err := db.Query(ctx, `SELECT application_name, COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() GROUP BY application_name`)
		if err != nil {
			return
		}
		defer rows.Close()
		total := 0
		for rows.Next() {
			var name string
			var n int
			if rows.Scan(&name, &n) == nil {
				if name == "" {
					name = "(other)"
				}
				rep.PGConnsMax[name] = max(rep.PGConnsMax[name], n)
				total += n
			}
		}
		rep.PGConnsTotalMax = max(rep.PGConnsTotalMax, total)
	}

	var heartbeats, heartbeatErrors, retries, failures atomic.Int64
	var hbLat, actLat, ticketLat latencies
	var createdMu sync.Mutex
	var stormFirst, stormLast time.Time
	stormStart := make(chan struct{})
	gateways := make([]*gateway, l.Gateways)
	for i := range gateways {
		site := SiteName(i)
		g := &gateway{site: site, outbox: make(chan action, 4*l.Devices), alarms: map[string]wire.Alarm{}}
		for _, r := range replicas {
			g.clients = append(g.clients, deskclient.New(r.URL, l.TokenOf(i)))
		}
		for d := range l.Devices {
			g.devices = append(g.devices, wire.Device{ID: fmt.Sprintf("%s-m%03d", site, d), Family: "modbus", Model: "DDSU666",
				Building: fmt.Sprint(1 + d/40), Floor: fmt.Sprint(1 + d%40/4), Unit: fmt.Sprintf("%d-%d%02d", 1+d/40, 1+d%40/4, 1+d%4)})
		}
		g.next.Store(uint64(i))
		gateways[i] = g
	}

	start := time.Now()
	end := start.Add(l.Duration)
	var wg sync.WaitGroup
	// pg_stat_activity once a second.
	wg.Go(func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			sampleConns()
			select {
			case <-runCtx.Done():
				return
			case <-tick.C:
			}
		}
	})
	gwCtx, stopGateways := context.WithDeadline(runCtx, end)
	defer stopGateways()
	var senders sync.WaitGroup
	for i, g := range gateways {
		rnd := rand.New(rand.NewPCG(uint64(i), 42))
		// Heartbeats, the first at a random point of the interval (gateways do not start together).
		first := time.Duration(rnd.Int64N(int64(l.Heartbeat))) // rnd is the alarm goroutine's from here on
		wg.Go(func() {
			timer := time.NewTimer(first)
			defer timer.Stop()
			for {
				select {
				case <-gwCtx.Done():
					return
				case <-timer.C:
				}
				timer.Reset(l.Heartbeat)
				t0 := time.Now()
				_, err := g.client().Heartbeat(gwCtx, g.status(t0, l.Heartbeat))
				if gwCtx.Err() != nil {
					return
				}
				if err != nil {
					heartbeatErrors.Add(1)
					continue
				}
				heartbeats.Add(1)
				hbLat.add(time.Since(t0))
			}
		})
		// The outbox: one action at a time, each retried until answered.
		senders.Go(func() {
			for act := range g.outbox {
				for attempt := 1; ; attempt++ {
					t0 := time.Now()
					res, err := g.client().ApplyAlarmAction(runCtx, act.a)
					took := time.Since(t0)
					if err == nil {
						actLat.add(took)
						if res.Created {
							ticketLat.add(took)
							createdMu.Lock()
							rep.Created = append(rep.Created, res.Ticket.ID)
							if act.storm {
								rep.StormTickets++
								stormLast = time.Now()
							}
							createdMu.Unlock()
						}
						break
					}
					if runCtx.Err() != nil {
						return
					}
					var se *deskclient.StatusError
					if (errors.As(err, &se) && se.Permanent() && se.Code != 409) || attempt >= l.MaxActionTries {
						failures.Add(1)
						break
					}
					retries.Add(1)
					time.Sleep(time.Duration(min(attempt, 10)) * 50 * time.Millisecond)
				}
			}
		})
		// Alarm episodes: opened at random (a Poisson process of
		// AlarmsPerHour), each cleared 5–30% of the run later.
		wg.Go(func() {
			defer close(g.outbox)
			mean := time.Duration(float64(time.Hour) / l.AlarmsPerHour)
			var clears []action
			var clearAt []time.Time
			next := time.Now().Add(time.Duration(rnd.ExpFloat64() * float64(mean)))
			storm := stormStart
			tick := time.NewTicker(50 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-gwCtx.Done():
					return
				case <-storm:
					storm = nil
					if i < l.StormSites {
						g.storm(gwCtx, l.Duration/10)
					}
					continue
				case <-tick.C:
				}
				now := time.Now()
				for len(clearAt) > 0 && !now.Before(clearAt[0]) {
					if !g.send(gwCtx, clears[0]) {
						return
					}
					g.resolve(clears[0].a.AlarmKey)
					clears, clearAt = clears[1:], clearAt[1:]
				}
				if now.Before(next) {
					continue
				}
				next = now.Add(time.Duration(rnd.ExpFloat64() * float64(mean)))
				dev := g.devices[rnd.IntN(len(g.devices))]
				open, clear := g.episode(dev, "leak", wire.Emergency, now)
				if open.a.AlarmKey == "" {
					continue // that device is already alarming
				}
				if !g.send(gwCtx, open) {
					return
				}
				clears = append(clears, clear)
				clearAt = append(clearAt, now.Add(time.Duration(float64(l.Duration)*(0.05+0.25*rnd.Float64()))))
			}
		})
	}
	// The outage storm, half-way.
	stormTimer := time.AfterFunc(l.Duration/2, func() {
		createdMu.Lock()
		stormFirst = time.Now()
		createdMu.Unlock()
		close(stormStart)
	})
	defer stormTimer.Stop()
	<-gwCtx.Done()
	// The outboxes drain what was queued (bounded by the actions' tries).
	drained := make(chan struct{})
	go func() { senders.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(5 * time.Minute):
		stop()
		return rep, errors.New("the outboxes did not drain within 5 minutes")
	}
	rep.Wall = time.Since(start)
	for _, r := range replicas {
		c, err := r.CPU()
		if err != nil {
			return rep, err
		}
		rep.CPU[r.Name] = c - cpu0[r.Name]
	}
	sampleConns()

	// Every console catches up with every ticket created (bounded wait).
	want := map[int64]bool{}
	for _, id := range rep.Created {
		want[id] = true
	}
	deadline := time.Now().Add(2 * time.Minute)
	var delays []time.Duration
	for {
		delays, rep.StreamEvents = delays[:0], 0
		complete := true
		for _, c := range rep.Consoles {
			got := 0
			for _, e := range c.Events() {
				if e.Type != "ticket.created" || !want[e.TicketID] {
					continue
				}
				got++
				var tk struct {
					CreatedAt time.Time `json:"created_at"`
				}
				if json.Unmarshal([]byte(e.Data), &tk) == nil && !tk.CreatedAt.IsZero() {
					delays = append(delays, e.Received.Sub(tk.CreatedAt))
				}
			}
			rep.StreamEvents += got
			complete = complete && got >= len(want)
		}
		if complete || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	stop()
	wg.Wait()
	rep.Heartbeats, rep.HeartbeatErrors = heartbeats.Load(), heartbeatErrors.Load()
	rep.HeartbeatP99 = hbLat.percentile(0.99)
	rep.Actions, rep.ActionRetries, rep.ActionFailures = actLat.len(), retries.Load(), failures.Load()
	rep.ActionP50, rep.ActionP99 = actLat.percentile(0.5), actLat.percentile(0.99)
	rep.Tickets = ticketLat.len()
	rep.TicketP50, rep.TicketP99 = ticketLat.percentile(0.5), ticketLat.percentile(0.99)
	rep.StreamP50, rep.StreamP99 = percentile(delays, 0.5), percentile(delays, 0.99)
	if !stormFirst.IsZero() && stormLast.After(stormFirst) {
		rep.StormTook = stormLast.Sub(stormFirst)
	}
	return rep, nil
}

// send queues an action in the outbox; false when the run ended.
func (g *gateway) send(ctx context.Context, a action) bool {
	select {
	case g.outbox <- a:
		return true
	case <-ctx.Done():
		return false
	}
}

// episode is an alarm's open and clear actions (keyed as the gateway keys
// them: <alarm key>@<episode start>/<action>), and records it as firing; an
// empty open when the device already has this alarm.
func (g *gateway) episode(dev wire.Device, rule string, kind wire.Kind, now time.Time) (open, clear action) {
	key := g.site + "/" + rule + "/" + dev.ID
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, on := g.alarms[key]; on {
		return action{}, action{}
	}
	g.alarms[key] = wire.Alarm{Key: key, Rule: rule, Device: dev.ID, Building: dev.Building, Unit: dev.Unit, State: "firing",
		Severity: "critical", Since: now, Ticketed: true, MessageZH: "告警 " + rule, MessageEN: "alarm " + rule}
	episode := key + "@" + now.UTC().Format(time.RFC3339Nano)
	title := map[string]string{"leak": "漏水 water leak", "offline": "设备离线 device offline"}[rule]
	open = action{a: wire.AlarmAction{IdempotencyKey: episode + "/open", AlarmKey: key, Action: wire.ActionOpen, At: now,
		Ticket: &wire.NewTicket{Kind: kind, Title: title + ": " + dev.ID, Site: g.site, Building: dev.Building, Floor: dev.Floor,
			Unit: dev.Unit, Device: dev.ID, AlarmKey: key, Source: wire.SourceDeviceAlarm}}}
	clear = action{a: wire.AlarmAction{IdempotencyKey: episode + "/clear", AlarmKey: key, Action: wire.ActionClear, At: now,
		Note: "告警解除 alarm cleared"}}
	return open, clear
}

func (g *gateway) resolve(key string) {
	g.mu.Lock()
	delete(g.alarms, key)
	g.mu.Unlock()
}

// storm takes every device of the site offline at once: the next heartbeat
// shows them all offline with their alarms, and the outbox gets an open
// action for each device (no feeder mapping to infer one outage from, the
// worst case), sent one after the other; the power comes back after outage
// and each alarm clears.
func (g *gateway) storm(ctx context.Context, outage time.Duration) {
	g.mu.Lock()
	g.offline = true
	g.mu.Unlock()
	now := time.Now()
	var clears []action
	for _, dev := range g.devices {
		open, clear := g.episode(dev, "offline", wire.Repair, now)
		if open.a.AlarmKey == "" {
			continue
		}
		open.storm = true
		if !g.send(ctx, open) {
			return
		}
		clears = append(clears, clear)
	}
	select {
	case <-ctx.Done():
		return
	case <-time.After(outage):
	}
	g.mu.Lock()
	g.offline = false
	g.mu.Unlock()
	for _, c := range clears {
		if !g.send(ctx, c) {
			return
		}
		g.resolve(c.a.AlarmKey)
	}
}

// Login opens a console session on a replica and returns its token.
func Login(r *Replica, name, password string) (string, error) {
	body, _ := json.Marshal(map[string]string{"name": name, "password": password})
	resp, err := http.Post(r.URL+"/api/v1/login", "application/json", bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("login on %s: %w", r.Name, err)
	}
	defer resp.Body.Close()
	var out struct {
		Token string `json:"token"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&out) != nil || out.Token == "" {
		return "", fmt.Errorf("login on %s: %s", r.Name, resp.Status)
	}
	return out.Token, nil
}
