package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/estatehq/estate/desk"
	"github.com/estatehq/estate/desk/store"
	_ "github.com/estatehq/estate/devices/all" // registers modbus_tcp
	"github.com/estatehq/estate/devices/modbus"
	"github.com/estatehq/estate/gateway"
	"github.com/estatehq/estate/internal/config"
	"github.com/estatehq/estate/internal/testenv"
	"github.com/estatehq/estate/internal/wire"
)

// ordersSite is a real desk and a real gateway polling Modbus TCP
// simulators: 15 meters on feeder b1 (building 1), 5 on feeder b2
// (building 2), m00 with writes on; an engineer's and a manager's token.
type ordersSite struct {
	t        *testing.T
	st       *store.Store
	g        *gateway.Gateway
	base     string
	sims     map[string]*modbus.Simulator
	stop     func()
	dir, cfg string
}

const (
	engineerToken = "engineer-token-for-orders-tests"
	managerToken  = "manager-token-for-orders-tests"
)

func newOrdersSite(t *testing.T) *ordersSite {
	dir := t.TempDir()
	profile, err := modbus.LoadProfile(filepath.Join("..", "configs", "profiles", "demo-prepaid-meter.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// The relay register is writable in this copy of the demo's meter.
	raw, err := os.ReadFile(filepath.Join("..", "configs", "profiles", "demo-prepaid-meter.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	writable := strings.Replace(string(raw), "name: demo-prepaid-meter", "name: writable-meter", 1)
	writable = strings.Replace(writable, "type: uint16}", "type: uint16, writable: true}", 1)
	profiles := filepath.Join(dir, "profiles")
	if err := os.MkdirAll(profiles, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(profiles, "writable-meter.yaml"), []byte(writable), 0o640); err != nil {
		t.Fatal(err)
	}
	deskAddr := testenv.FreeAddr(t)
	var b strings.Builder
	fmt.Fprintf(&b, `site: {id: s1, timezone: Asia/Shanghai}
gateway: {id: gw, profiles_dir: %s, offline_after: 2, heartbeat_interval: 1s, desk_url: "http://%s", desk_token: gateway-token-for-tests, state_dir: %s}
influxdb: {url: "http://127.0.0.1:1", bucket: "b/autogen", flush_interval: 1s}
desk:
  listen: "%s"
  database: %s/desk.db
  tokens:
    - {name: gw, token: gateway-token-for-tests, role: gateway, site: s1}
    - {name: eng-wang, token: %s, role: engineer, site: s1}
    - {name: mgr-li, token: %s, role: manager, site: s1}
topology:
  outage_grace: 3s
  feeders:
    - {id: b1, building: "1", buildings: ["1"], silent_within: 4s}
    - {id: b2, building: "2", buildings: ["2"], silent_within: 4s}
rules:
  - {name: meter_offline, type: offline, ticket: repair}
devices:
`, profiles, deskAddr, dir, deskAddr, dir, engineerToken, managerToken)
	sims := map[string]*modbus.Simulator{}
	for i := range 20 {
		building, extra := "1", ""
		if i >= 15 {
			building = "2"
		}
		if i == 0 {
			extra = ", writes: true"
		}
		id, addr := fmt.Sprintf("m%02d", i), testenv.FreeAddr(t)
		fmt.Fprintf(&b, "  - {id: %s, family: meter, protocol: modbus_tcp, profile: writable-meter, address: \"%s\", building: \"%s\", unit: \"%s-%02d\", poll_interval: 200ms, timeout: 150ms%s}\n",
			id, addr, building, building, i, extra)
		sim := modbus.NewSimulator(profile, addr)
		_ = sim.Set("balance", 100)
		_ = sim.Set("voltage", 220)
		_ = sim.Set("relay", 1)
		if err := sim.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = sim.Stop() })
		sims[id] = sim
	}
	path := filepath.Join(dir, "site.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o640); err != nil {
		t.Fatal(err)
	}
	s := &ordersSite{t: t, sims: sims, base: "http://" + deskAddr, dir: dir, cfg: path}
	cfg := s.config()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := store.OpenSQLite(context.Background(), cfg.Desk.Database)
	if err != nil {
		t.Fatal(err)
	}
	s.st = st
	// The household register: every meter's unit, one resident by phone.
	for i := range 20 {
		building := "1"
		if i >= 15 {
			building = "2"
		}
		u := store.Unit{Site: "s1", Unit: fmt.Sprintf("%s-%02d", building, i), Building: building, Meters: []string{fmt.Sprintf("m%02d", i)},
			Residents: []store.Resident{{Name: "住户", Phone: "13800000000", Contact: "sms"}}}
		if err := st.PutUnit(context.Background(), u); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready, deskDone := make(chan error, 1), make(chan error, 1)
	go func() { deskDone <- desk.New(cfg.Desk, st, log).Run(ctx, ready) }()
	if err := <-ready; err != nil {
		t.Fatal(err)
	}
	stopGW := s.startGateway(ctx, log)
	s.stop = func() { stopGW(); cancel(); <-deskDone; st.Close() }
	t.Cleanup(func() { s.stop() })
	return s
}

func (s *ordersSite) config() *config.Config {
	s.t.Helper()
	cfg, err := config.Load(s.cfg)
	if err != nil {
		s.t.Fatal(err)
	}
	return cfg
}

func (s *ordersSite) startGateway(ctx context.Context, log *slog.Logger) (stop func()) {
	g, err := gateway.New(s.config(), log)
	if err != nil {
		s.t.Fatal(err)
	}
	s.g = g
	gwCtx, stopGW := context.WithCancel(ctx)
	gwDone := make(chan error, 1)
	go func() { gwDone <- g.Run(gwCtx) }()
	var once sync.Once
	return func() { once.Do(func() { stopGW(); <-gwDone }) }
}

func (s *ordersSite) call(method, path, token string, body any, out any) int {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, s.base+path, rd)
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			s.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, data)
		}
	}
	return resp.StatusCode
}

func (s *ordersSite) tickets(kind wire.Kind) []wire.Ticket {
	ts, err := s.st.ListTickets(context.Background(), store.Filter{Kind: kind})
	if err != nil {
		s.t.Fatal(err)
	}
	return ts
}

func waitUntil(t *testing.T, what string, limit time.Duration, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(limit); !ok(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %s", what, limit)
		}
	}
}

func (s *ordersSite) waitOnline(n int) {
	waitUntil(s.t, fmt.Sprintf("%d online meters", n), 30*time.Second, func() bool {
		on := 0
		for _, d := range s.g.Health().Snapshot() {
			if d.State == "online" {
				on++
			}
		}
		return on >= n
	})
}

// A planned outage of feeder b1, end to end: requested by an engineer,
// approved by a manager, the 15 households of building 1 told (their
// notices recorded), the window handed to the gateway with the heartbeat's
// answer. The feeder's meters go silent inside the window: zero tickets,
// every alarm suppressed as "planned outage #N". The window ends with the
// feeder still dead: the outage's emergency is raised then, as usual.
func TestPlannedOutageEndToEnd(t *testing.T) {
	s := newOrdersSite(t)
	s.waitOnline(20)
	waitUntil(t, "the feeders reported to the desk", 20*time.Second, func() bool {
		gs, _ := s.st.GatewayStatuses(context.Background(), "s1")
		return len(gs) == 1 && len(gs[0].Feeders) == 2
	})

	// Bad input first: nothing is recorded.
	now := time.Now()
	var apiErr struct{ Error, Field string }
	for _, bad := range []map[string]any{
		{"feeder": "b1", "start": now.Add(-time.Hour), "end": now.Add(-time.Minute), "reason": "检修"},
		{"buildings": []string{"9"}, "start": now.Add(time.Minute), "end": now.Add(time.Hour), "reason": "检修"},
		{"feeder": "nope", "start": now.Add(time.Minute), "end": now.Add(time.Hour), "reason": "检修"},
	} {
		if code := s.call("POST", "/api/v1/outages", engineerToken, bad, &apiErr); code != 422 || apiErr.Field == "" {
			t.Fatalf("bad outage %v: %d %+v", bad, code, apiErr)
		}
	}

	start, end := time.Now().Add(2*time.Second), time.Now().Add(25*time.Second)
	var o desk.OutageView
	if code := s.call("POST", "/api/v1/outages", engineerToken, map[string]any{"feeder": "b1", "start": start, "end": end, "reason": "低压柜年度检修"}, &o); code != 201 {
		t.Fatalf("request: %d %+v", code, o)
	}
	if o.Status != store.OutageRequested || len(o.Affected) != 15 {
		t.Fatalf("requested outage: %+v", o)
	}
	if code := s.call("POST", fmt.Sprintf("/api/v1/outages/%d/approve", o.ID), engineerToken, nil, &apiErr); code != 403 {
		t.Fatalf("an engineer approved: %d %+v", code, apiErr)
	}
	if code := s.call("POST", fmt.Sprintf("/api/v1/outages/%d/approve", o.ID), managerToken, nil, &o); code != 200 {
		t.Fatalf("approve: %d %+v", code, o)
	}
	if o.Status != store.OutageApproved || len(o.Notices) != 15 || o.Notices[0].Channel != "sms" ||
		!strings.Contains(o.Notices[0].TextZH, "低压柜年度检修") || !strings.Contains(o.Notices[0].TextZH, fmt.Sprintf("#%d", o.ID)) {
		t.Fatalf("approved outage: %+v", o)
	}
	cause := fmt.Sprintf("planned outage #%d", o.ID)
	waitUntil(t, "the window held by the gateway", 20*time.Second, func() bool {
		ws := s.g.Alarms().Windows()
		return len(ws) == 1 && ws[0].Cause == cause
	})
	for time.Now().Before(start) {
		time.Sleep(20 * time.Millisecond) // the window's own start: the simulators are stopped inside it
	}
	var wg sync.WaitGroup
	for i := range 15 {
		wg.Go(func() { _ = s.sims[fmt.Sprintf("m%02d", i)].Stop() })
	}
	wg.Wait()
	suppressed := func() (n int) {
		for _, a := range s.g.Status().Alarms {
			if strings.HasPrefix(a.Suppressed, cause) {
				n++
			}
		}
		return n
	}
	waitUntil(t, "16 alarms suppressed by the planned outage", 20*time.Second, func() bool { return suppressed() == 16 })
	if time.Now().After(end) {
		t.Fatal("the machine was too slow: the window ended before its alarms fired")
	}
	if em, rep := s.tickets(wire.Emergency), s.tickets(wire.Repair); len(em)+len(rep) != 0 {
		t.Fatalf("inside the window: %d emergencies, %d repairs; want none", len(em), len(rep))
	}
	waitUntil(t, "the outage's emergency after the window", 40*time.Second, func() bool { return len(s.tickets(wire.Emergency)) == 1 })
	em := s.tickets(wire.Emergency)[0]
	if em.CreatedAt.Before(end) || !strings.Contains(em.Title+em.Description, "b1") {
		t.Fatalf("emergency %+v, want b1's after %s", em, end)
	}
	if rep := s.tickets(wire.Repair); len(rep) != 0 {
		t.Fatalf("%d repairs after the window (the feeder's outage explains its silence)", len(rep))
	}
}

// A command, end to end: requested by an engineer, refused at once for a
// device without writes, approved by a manager, delivered in the
// heartbeat's answer, run by the gateway on the simulator, and its result
// reported back with every step in the audit. A second command to a silent
// device times out.
func TestCommandEndToEnd(t *testing.T) {
	s := newOrdersSite(t)
	s.waitOnline(20)
	waitUntil(t, "m00's controls and units reported", 20*time.Second, func() bool {
		gs, _ := s.st.GatewayStatuses(context.Background(), "s1")
		for _, g := range gs {
			for _, d := range g.Devices {
				// Its profile's units travel with it, for the console's device page.
				if d.ID == "m00" && len(d.Controls) == 1 && d.Controls[0] == "write:relay" && d.Units["balance"] == "CNY" && d.Units["power"] == "kW" {
					return true
				}
			}
		}
		return false
	})
	var apiErr struct{ Error, Field, Hint string }
	if code := s.call("POST", "/api/v1/commands", engineerToken, map[string]any{"device": "m01", "action": "modbus_write", "point": "relay", "value": 0, "reason": "欠费拉闸"}, &apiErr); code != 422 ||
		!strings.Contains(apiErr.Error, "does not allow") {
		t.Fatalf("a command for a device without writes: %d %+v", code, apiErr)
	}
	var list struct{ Commands []store.DeviceCommand }
	if s.call("GET", "/api/v1/commands", managerToken, nil, &list); len(list.Commands) != 0 {
		t.Fatalf("a refused request was kept: %+v", list)
	}
	var c desk.CommandView
	if code := s.call("POST", "/api/v1/commands", engineerToken, map[string]any{"device": "m00", "action": "modbus_write", "point": "relay", "value": 0, "reason": "欠费拉闸"}, &c); code != 201 || c.Status != store.CommandRequested {
		t.Fatalf("request: %d %+v", code, c)
	}
	if code := s.call("POST", fmt.Sprintf("/api/v1/commands/%d/approve", c.ID), engineerToken, nil, &apiErr); code != 403 {
		t.Fatalf("an engineer approved: %d", code)
	}
	if v, _ := s.sims["m00"].Get("relay"); v != 1 {
		t.Fatalf("relay %v before approval", v)
	}
	if code := s.call("POST", fmt.Sprintf("/api/v1/commands/%d/approve", c.ID), managerToken, map[string]any{"note": "同意"}, &c); code != 200 || c.Status != store.CommandApproved {
		t.Fatalf("approve: %d %+v", code, c)
	}
	waitUntil(t, "the command's result", 30*time.Second, func() bool {
		id := c.ID
		c = desk.CommandView{}
		s.call("GET", fmt.Sprintf("/api/v1/commands/%d", id), managerToken, nil, &c)
		return c.Outcome != ""
	})
	if v, _ := s.sims["m00"].Get("relay"); c.Outcome != wire.OutcomeDone || v != 0 {
		t.Fatalf("outcome %q %q, relay %v", c.Outcome, c.Detail, v)
	}
	var steps []string
	for _, a := range c.Audit {
		steps = append(steps, a.Step+" by "+a.Actor)
	}
	if got := strings.Join(steps, ", "); got != "requested by eng-wang, approved by mgr-li, delivered by gateway:gw, done by gateway:gw" {
		t.Fatalf("audit: %s", got)
	}
	waitUntil(t, "the result acknowledged", 20*time.Second, func() bool { return len(s.g.Status().Results) == 0 })

	// The meter falls silent: the next command times out.
	_ = s.sims["m00"].Stop()
	c = desk.CommandView{}
	s.call("POST", "/api/v1/commands", engineerToken, map[string]any{"device": "m00", "action": "modbus_write", "point": "relay", "value": 1, "reason": "已充值合闸"}, &c)
	s.call("POST", fmt.Sprintf("/api/v1/commands/%d/approve", c.ID), managerToken, nil, &c)
	if c.ID == 0 || c.Status != store.CommandApproved {
		t.Fatalf("second command: %+v", c)
	}
	waitUntil(t, "the second command's result", 60*time.Second, func() bool {
		id := c.ID
		c = desk.CommandView{}
		s.call("GET", fmt.Sprintf("/api/v1/commands/%d", id), managerToken, nil, &c)
		return c.Outcome != ""
	})
	if c.Outcome != wire.OutcomeTimedOut {
		t.Fatalf("a command to a silent meter: %q %q", c.Outcome, c.Detail)
	}
}
