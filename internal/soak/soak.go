// Package soak runs a whole estate for a while under faults and counts what
// was lost: simulated devices (Modbus TCP and RTU over TCP endpoints, a DL/T
// 645 bus, MQTT devices, fire panels) served from this process, a real
// `estate gateway` and one or two real `estate desk` processes, InfluxDB and
// mosquitto of its own, and toxiproxy (in process) between the gateway and
// InfluxDB, the desk, the broker and one Modbus endpoint. Faults (latency,
// bandwidth, resets, black holes, an outage storm) and SIGKILLs of the
// gateway, a desk and InfluxDB come at random times; at the end the devices'
// own records are compared with InfluxDB and the desk's tickets, and a
// one-page report says what was produced, stored, lost and duplicated, and
// how the processes' memory and goroutines went.
//
// `estate soak` (make soak) runs it for 30 minutes by default; the package's
// test runs a short version of a few minutes with every kind of fault.
package soak

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/estatehq/estate/internal/wire"
)

const (
	siteID       = "soak"
	gatewayID    = "gw-soak"
	adminToken   = "soak-admin-token-not-for-production"
	gatewayToken = "soak-gateway-token-not-for-production"
)

// Options are a soak's.
type Options struct {
	// Duration is how long faults are injected and devices run (the
	// settling and counting after it come on top).
	Duration time.Duration
	// Warmup and Cooldown are the quiet times at the start and the end of
	// Duration (no fault starts in them).
	Warmup, Cooldown time.Duration

	// The fleet: TCPEndpoints Modbus TCP endpoints and RTUEndpoints RTU over
	// TCP ones (serial device servers), UnitsPerEndpoint slaves on each; the
	// first TCP endpoint is reached through the Modbus proxy.
	TCPEndpoints, RTUEndpoints, UnitsPerEndpoint int
	DLT645Meters, MQTTDevices, FirePanels        int
	PollInterval                                 time.Duration
	// OfflineFor is the device_offline rule's `for` (and so the window of an
	// endpoint's incident).
	OfflineFor time.Duration
	// Incidents is how many meters raise a fault (a repair ticket each),
	// at random times; FirePanels each raise one fire alarm.
	Incidents int
	// FaultEvery is the mean time between two faults' starts; FaultMin and
	// FaultMax bound a toxic's duration; DowntimeMax a killed process's.
	FaultEvery, FaultMin, FaultMax, DowntimeMax time.Duration

	// Desks is 1 or 2; two share PostgresURL's database (a fresh one is
	// made on that server and dropped afterwards). Without PostgresURL one
	// desk runs on SQLite.
	Desks       int
	PostgresURL string

	// Dir is the soak's working folder (configs, logs, state, InfluxDB's data).
	Dir string
	// Root is the repository (deploy/influxdb/influxdb.sh).
	Root string
	// Command makes the command that runs `estate ROLE --config FILE`.
	Command func(role, config string) *exec.Cmd
	Seed    uint64
	Log     *slog.Logger
	// Progress, if not nil, gets a line now and then.
	Progress io.Writer
}

// Defaults are those of `make soak`: 1,000 devices for 30 minutes.
func Defaults() Options {
	return Options{
		Duration: 30 * time.Minute, Warmup: time.Minute, Cooldown: time.Minute,
		TCPEndpoints: 36, RTUEndpoints: 2, UnitsPerEndpoint: 25,
		DLT645Meters: 10, MQTTDevices: 35, FirePanels: 5,
		PollInterval: 10 * time.Second, OfflineFor: time.Minute,
		Incidents:  40,
		FaultEvery: 30 * time.Second, FaultMin: 5 * time.Second, FaultMax: 45 * time.Second,
		DowntimeMax: 15 * time.Second,
		Desks:       2,
	}
}

// Devices is the size of the fleet.
func (o Options) Devices() int {
	return (o.TCPEndpoints+o.RTUEndpoints)*o.UnitsPerEndpoint + o.DLT645Meters + o.MQTTDevices + o.FirePanels
}

// Downtime draws how long a killed process stays down.
func (o Options) Downtime(rnd *rand.Rand) time.Duration {
	return time.Second + time.Duration(rnd.Int64N(int64(max(time.Second, o.DowntimeMax-time.Second))))
}

// proxiedTimeout is the poll timeout of the proxied endpoint's meters, whose
// polls take turns on one connection: in a black hole each waits this long.
const proxiedTimeout = time.Second

// StormFor is how long the outage storm's black hole lasts: every device of
// the endpoint must miss offline_after (3) polls, one after another on the
// endpoint's connection, and then the endpoint's incident waits its window.
func (o Options) StormFor() time.Duration {
	round := time.Duration(o.UnitsPerEndpoint)*proxiedTimeout + o.PollInterval
	return o.OfflineFor + 4*round + 30*time.Second
}

func (o Options) check() error {
	switch {
	case o.Duration <= o.Warmup+o.Cooldown+o.StormFor()+30*time.Second:
		return fmt.Errorf("soak: duration %v is too short for warm-up %v, cool-down %v and the outage storm (%v)", o.Duration, o.Warmup, o.Cooldown, o.StormFor())
	case o.TCPEndpoints < 2 || o.UnitsPerEndpoint < 1 || o.UnitsPerEndpoint > 247:
		return errors.New("soak: at least 2 TCP endpoints (the first is proxied) with 1..247 units each")
	case o.Incidents > (o.TCPEndpoints-1+o.RTUEndpoints)*o.UnitsPerEndpoint:
		return errors.New("soak: more incidents than meters outside the proxied endpoint")
	case o.Desks < 1 || o.Desks > 2:
		return errors.New("soak: 1 or 2 desks")
	case o.Desks == 2 && o.PostgresURL == "":
		return errors.New("soak: two desks need PostgreSQL (--postgres URL)")
	case o.Command == nil:
		return errors.New("soak: no command to start estate with")
	case o.FaultMax < o.FaultMin || o.FaultEvery <= 0:
		return errors.New("soak: fault timings")
	}
	return nil
}

// soak is one run.
type soak struct {
	o     Options
	log   *slog.Logger
	rnd   *rand.Rand
	rndMu sync.Mutex
	start time.Time
	ports *portPool

	fleet   *fleet
	tox     *toxics
	influx  *influx
	broker  *mosquitto
	gateway *child
	desks   []*child
	deskURL []string // the desks' own addresses
	faults  []*fault
	pgDB    string

	fctx      context.Context // the simulators'
	stopFleet context.CancelFunc

	stopAt     time.Time     // when counting began
	ticketList []wire.Ticket // the desk's tickets then
	stopErr    string

	mu        sync.Mutex
	gwDown    []window // gateway killed → back
	deskOn    int      // the desk the proxy sends to
	incidents []*incident
}

// incident is an alarm a device raised.
type incident struct {
	Device   string
	Rule     string
	RaisedAt time.Time
	Cleared  time.Time
	Key      string
}

// Run runs a soak and returns its report (also when it found losses: the
// report's Failures say so); an error means it could not run.
func Run(ctx context.Context, o Options) (*Report, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Seed == 0 {
		o.Seed = uint64(time.Now().UnixNano())
	}
	s := &soak{o: o, log: o.Log, rnd: rand.New(rand.NewPCG(o.Seed, o.Seed>>7|1)), ports: newPortPool(o.Seed ^ 0x5eed)}
	defer s.cleanup()
	if err := s.setup(ctx); err != nil {
		return nil, err
	}
	if err := s.run(ctx); err != nil {
		return nil, err
	}
	return s.count(ctx)
}

func (s *soak) progress(format string, args ...any) {
	if s.o.Progress != nil {
		fmt.Fprintf(s.o.Progress, "soak %6s  %s\n", time.Since(s.start).Truncate(time.Second), fmt.Sprintf(format, args...))
	}
	s.log.Info(fmt.Sprintf(format, args...))
}

func (s *soak) randInt(n int) int {
	s.rndMu.Lock()
	defer s.rndMu.Unlock()
	return s.rnd.IntN(n)
}

func (s *soak) childRand() *rand.Rand {
	s.rndMu.Lock()
	defer s.rndMu.Unlock()
	return rand.New(rand.NewPCG(s.rnd.Uint64(), s.rnd.Uint64()))
}

func (s *soak) setup(ctx context.Context) error {
	s.start = time.Now()
	o := s.o
	s.fctx, s.stopFleet = context.WithCancel(context.Background())
	for _, d := range []string{"profiles", "gateway"} {
		if err := os.MkdirAll(filepath.Join(o.Dir, d), 0o755); err != nil {
			return err
		}
	}
	// InfluxDB and mosquitto of the soak's own.
	iaddr := s.ports.nextWithGap(1000)
	_, iport, _ := strings.Cut(iaddr, ":")
	s.influx = &influx{script: filepath.Join(o.Root, "deploy", "influxdb", "influxdb.sh"), dir: filepath.Join(o.Dir, "influxdb"),
		URL: "http://" + iaddr}
	fmt.Sscan(iport, &s.influx.port)
	if err := s.influx.Start(ctx); err != nil {
		s.influx = nil
		return err
	}
	baddr := s.ports.next()
	br, err := startMosquitto(o.Dir, baddr)
	if err != nil {
		return err
	}
	s.broker = br

	// The desks' database.
	deskDB, driver := filepath.Join(o.Dir, "desk.db"), "sqlite"
	if o.PostgresURL != "" {
		u, err := s.createPostgres(ctx)
		if err != nil {
			return err
		}
		deskDB, driver = u, "postgres"
	}
	for range o.Desks {
		s.deskURL = append(s.deskURL, s.ports.next())
	}

	// The proxies.
	s.tox = newToxics()
	px := map[string]string{}
	for _, n := range proxyNames {
		px[n] = s.ports.next()
	}
	if err := s.tox.add(proxyInflux, px[proxyInflux], iaddr); err != nil {
		return err
	}
	s.deskOn = o.Desks - 1
	if err := s.tox.add(proxyDesk, px[proxyDesk], s.deskURL[s.deskOn]); err != nil {
		return err
	}
	if err := s.tox.add(proxyBroker, px[proxyBroker], baddr); err != nil {
		return err
	}

	// The fleet; the first Modbus endpoint's proxy needs its address.
	f, err := newFleet(o, o.Dir, s.ports, px[proxyModbus], s.log)
	if err != nil {
		return err
	}
	s.fleet = f
	if err := s.tox.add(proxyModbus, px[proxyModbus], f.devices[0].Serves); err != nil {
		return err
	}
	if err := f.startModbus(); err != nil {
		return err
	}

	// Configurations.
	gwMetrics := s.ports.next()
	write := func(name, deskListen string) (string, error) {
		p := filepath.Join(o.Dir, name)
		return p, os.WriteFile(p, []byte(s.config(deskListen, driver, deskDB, px, gwMetrics)), 0o644)
	}
	for i, addr := range s.deskURL {
		path, err := write(fmt.Sprintf("desk-%d.yaml", i), addr)
		if err != nil {
			return err
		}
		s.desks = append(s.desks, &child{name: fmt.Sprintf("desk-%d", i), dir: o.Dir, metrics: "http://" + addr + "/metrics",
			start: s.starter("desk", path)})
	}
	gwPath, err := write("gateway.yaml", s.deskURL[0])
	if err != nil {
		return err
	}
	s.gateway = &child{name: "gateway", dir: o.Dir, metrics: "http://" + gwMetrics + "/metrics", start: s.starter("gateway", gwPath)}

	for _, d := range s.desks {
		if err := d.Start(); err != nil {
			return err
		}
	}
	for i, d := range s.desks {
		if err := waitChild(ctx, d, "http://"+s.deskURL[i]+"/healthz", 60*time.Second); err != nil {
			return fmt.Errorf("%s: %w (see %s)", d.name, err, filepath.Join(o.Dir, d.name+"-1.log"))
		}
	}
	// The DL/T 645 line must exist before the gateway opens it.
	if err := f.startDLT645(s.fctx); err != nil {
		return err
	}
	if err := s.gateway.Start(); err != nil {
		return err
	}
	if err := waitChild(ctx, s.gateway, s.gateway.metrics, 60*time.Second); err != nil {
		return fmt.Errorf("gateway: %w (see %s)", err, filepath.Join(o.Dir, "gateway-1.log"))
	}
	s.progress("estate up: %d devices, %d desk(s) on %s, InfluxDB %s, broker %s; work in %s",
		o.Devices(), o.Desks, driver, s.influx.URL, baddr, o.Dir)
	return nil
}

func (s *soak) starter(role, path string) func(io.Writer) (*exec.Cmd, error) {
	return func(log io.Writer) (*exec.Cmd, error) {
		cmd := s.o.Command(role, path)
		cmd.Dir = s.o.Dir
		cmd.Stdout, cmd.Stderr = log, log
		return cmd, nil
	}
}

// waitChild waits until a child's URL answers, failing at once if it exits.
func waitChild(ctx context.Context, c *child, u string, within time.Duration) error {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		for wctx.Err() == nil {
			if c.exitedEarly() {
				cancel()
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	err := waitHTTP(wctx, u, within)
	if err != nil && c.exitedEarly() {
		return fmt.Errorf("%s exited at start", c.name)
	}
	return err
}

func waitHTTP(ctx context.Context, u string, within time.Duration) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(within)
	for {
		resp, err := client.Get(u)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode < 500 {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not answer within %v: %v", u, within, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (s *soak) createPostgres(ctx context.Context) (string, error) {
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	conn, err := pgx.Connect(cctx, s.o.PostgresURL)
	if err != nil {
		return "", fmt.Errorf("soak: PostgreSQL: %w", err)
	}
	defer conn.Close(context.Background())
	b := make([]byte, 5)
	_, _ = crand.Read(b)
	name := "estate_soak_" + hex.EncodeToString(b)
	if _, err := conn.Exec(cctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("soak: create database %s: %w", name, err)
	}
	s.pgDB = name
	u, err := url.Parse(s.o.PostgresURL)
	if err != nil {
		return "", err
	}
	u.Path = "/" + name
	return u.String(), nil
}

func (s *soak) dropPostgres() {
	if s.pgDB == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.o.PostgresURL)
	if err != nil {
		s.log.Warn("drop soak database", "db", s.pgDB, "err", err)
		return
	}
	defer conn.Close(context.Background())
	for attempt := 1; attempt <= 5; attempt++ {
		if _, err = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+s.pgDB+" WITH (FORCE)"); err == nil {
			return
		}
		time.Sleep(time.Second)
	}
	s.log.Warn("drop soak database", "db", s.pgDB, "err", err)
}

// cleanup stops whatever is still running; it touches only what this soak started.
func (s *soak) cleanup() {
	if s.gateway != nil {
		s.gateway.Kill()
	}
	for _, d := range s.desks {
		d.Kill()
	}
	if s.fleet != nil {
		s.fleet.stopModbus()
		s.stopFleet()
		s.fleet.wait()
	}
	if s.tox != nil {
		s.tox.stop()
	}
	if s.broker != nil {
		s.broker.Stop()
	}
	if s.influx != nil {
		if err := s.influx.Stop(); err != nil {
			s.log.Warn("stop InfluxDB", "err", err)
		}
	}
	s.dropPostgres()
}
