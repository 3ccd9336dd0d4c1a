package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
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
	"github.com/estatehq/estate/gateway/alarm"
	"github.com/estatehq/estate/internal/config"
	"github.com/estatehq/estate/internal/testenv"
	"github.com/estatehq/estate/internal/wire"
)

// The whole path with real parts: Modbus TCP simulators polled by the
// gateway, its health tracker, the alarm engine, the outbox and a desk. The 30
// meters of building 1 lose power together (their simulators stop): one
// emergency, no offline repairs. Power returns to all but one: after the
// grace, exactly one repair, for that meter.
func TestGatewayFeederOutage(t *testing.T) {
	dir := t.TempDir()
	profiles, _ := filepath.Abs("../configs/profiles")
	profile, err := modbus.LoadProfile(filepath.Join(profiles, "demo-prepaid-meter.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	deskAddr := testenv.FreeAddr(t)
	var b strings.Builder
	fmt.Fprintf(&b, `site: {id: s1}
gateway: {id: gw, profiles_dir: %s, offline_after: 2, desk_url: "http://%s", desk_token: gateway-token-for-tests, state_dir: %s}
influxdb: {url: "http://127.0.0.1:1", bucket: "b/autogen", flush_interval: 1s}
desk: {listen: "%s", database: %s/desk.db, tokens: [{name: gw, token: gateway-token-for-tests, role: gateway, site: s1}]}
topology:
  outage_grace: 5s
  feeders:
    - {id: b1, building: "1", buildings: ["1"], silent_within: 6s}
    - {id: b2, building: "2", buildings: ["2"], silent_within: 6s}
rules:
  - {name: meter_offline, type: offline, ticket: repair}
devices:
`, profiles, deskAddr, dir, deskAddr, dir)
	sims := map[string]*modbus.Simulator{}
	for i := range 40 {
		building := "1"
		if i >= 30 {
			building = "2"
		}
		id, addr := fmt.Sprintf("m%02d", i), testenv.FreeAddr(t)
		fmt.Fprintf(&b, "  - {id: %s, family: meter, protocol: modbus_tcp, profile: demo-prepaid-meter, address: \"%s\", building: \"%s\", poll_interval: 200ms, timeout: 150ms}\n", id, addr, building)
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
	cfg, err := config.Parse(filepath.Join(dir, "site.yaml"), []byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	st, err := store.OpenSQLite(context.Background(), cfg.Desk.Database)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready, deskDone := make(chan error, 1), make(chan error, 1)
	go func() { deskDone <- desk.New(cfg.Desk, st, log).Run(ctx, ready) }()
	if err := <-ready; err != nil {
		t.Fatal(err)
	}
	g, err := gateway.New(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	gwCtx, stopGW := context.WithCancel(ctx)
	gwDone := make(chan error, 1)
	go func() { gwDone <- g.Run(gwCtx) }()
	defer func() { stopGW(); <-gwDone; cancel(); <-deskDone }()

	tickets := func(kind wire.Kind) []wire.Ticket {
		ts, err := st.ListTickets(context.Background(), store.Filter{Kind: kind})
		if err != nil {
			t.Fatal(err)
		}
		return ts
	}
	waitFor := func(what string, limit time.Duration, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(limit); !ok(); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("no %s within %s", what, limit)
			}
		}
	}
	listAlarms := func(state string) []alarm.View {
		rec := httptest.NewRecorder()
		g.AlarmsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/alarms?state="+state, nil))
		var listed struct{ Alarms []alarm.View }
		if err := json.Unmarshal(rec.Body.Bytes(), &listed); err != nil {
			t.Fatal(err)
		}
		return listed.Alarms
	}
	waitFor("40 online meters", 20*time.Second, func() bool {
		n := 0
		for _, d := range g.Health().Snapshot() {
			if d.State == "online" {
				n++
			}
		}
		return n == 40
	})

	var wg sync.WaitGroup
	for i := range 30 { // building 1 loses power: all at once
		wg.Go(func() { _ = sims[fmt.Sprintf("m%02d", i)].Stop() })
	}
	wg.Wait()
	waitFor("an emergency", 20*time.Second, func() bool { return len(tickets(wire.Emergency)) > 0 })
	// The offline alarms fire (suppressed) after silent_within.
	waitFor("30 suppressed offline alarms", 20*time.Second, func() bool { return len(listAlarms("suppressed")) == 30 })
	if em, rep := tickets(wire.Emergency), tickets(wire.Repair); len(em) != 1 || len(rep) != 0 {
		t.Fatalf("during the outage: %d emergencies, %d repairs; want 1 and 0", len(em), len(rep))
	}
	listed := listAlarms("suppressed")
	if len(listed) != 30 || !strings.Contains(listed[0].Suppressed, "power outage on feeder b1") {
		t.Fatalf("suppressed alarms listed: %d %+v", len(listed), listed)
	}

	for i := range 30 { // power back, but m07 stays dead
		if i != 7 {
			if err := sims[fmt.Sprintf("m%02d", i)].Start(); err != nil {
				t.Fatal(err)
			}
		}
	}
	waitFor("a repair for m07", 30*time.Second, func() bool { return len(tickets(wire.Repair)) > 0 })
	// Every other meter's offline alarm has resolved (nothing suppressed is
	// left to be ticketed late) and m07's repair is delivered: no further
	// repair can come.
	waitFor("the outage's offline alarms settled", 30*time.Second, func() bool {
		offline := 0
		for _, v := range listAlarms("firing") {
			if v.Rule == "meter_offline" {
				offline++
			}
		}
		return offline == 1 && len(listAlarms("suppressed")) == 0 && g.Status().OutboxPending == 0
	})
	rep := tickets(wire.Repair)
	if len(rep) != 1 || rep[0].Device != "m07" || len(tickets(wire.Emergency)) != 1 {
		t.Fatalf("after the power came back: repairs %+v", rep)
	}
}
