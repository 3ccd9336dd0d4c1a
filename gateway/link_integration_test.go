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

// The whole path with real parts: two serial gateways (Modbus TCP endpoints)
// with 8 meters each behind them (unit ids 1-8), polled by the gateway. The
// first one's RS-485 side dies (exception 11 for every meter): one incident
// for that endpoint naming the exception, no repair per meter. The meters
// answer again but one: after the grace, exactly one repair, for that one,
// with its last error. Then both endpoints go away: one site-wide emergency,
// not a repair per meter.
func TestGatewayEndpointSilence(t *testing.T) {
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
  outage_grace: 3s
rules:
  - {name: meter_offline, type: offline, for: 4s, ticket: repair}
devices:
`, profiles, deskAddr, dir, deskAddr, dir)
	const perEndpoint = 8
	type endpoint struct {
		srv    *modbus.Server
		ln     *modbus.Listener
		slaves map[byte]*modbus.Slave
	}
	var eps []*endpoint
	for e := range 2 {
		ep := &endpoint{slaves: map[byte]*modbus.Slave{}}
		for u := range perEndpoint {
			s := modbus.NewSlave(profile)
			_ = s.Set("balance", 100)
			_ = s.Set("voltage", 220)
			_ = s.Set("relay", 1)
			ep.slaves[byte(u+1)] = s
		}
		ep.srv = &modbus.Server{Slaves: ep.slaves}
		if ep.ln, err = ep.srv.Listen("127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = ep.ln.Close() })
		for u := range perEndpoint {
			fmt.Fprintf(&b, "  - {id: e%d-m%d, family: meter, protocol: modbus_tcp, profile: demo-prepaid-meter, address: \"%s\", slave_id: %d, building: \"%d\", poll_interval: 200ms, timeout: 150ms}\n",
				e, u+1, ep.ln.Addr(), u+1, e+1)
		}
		eps = append(eps, ep)
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

	tickets := func() []wire.Ticket {
		ts, err := st.ListTickets(context.Background(), store.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		return ts
	}
	deviceTickets := func() (out []wire.Ticket) {
		for _, tk := range tickets() {
			if tk.Device != "" {
				out = append(out, tk)
			}
		}
		return out
	}
	waitFor := func(what string, limit time.Duration, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(limit); !ok(); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("no %s within %s; tickets %+v", what, limit, tickets())
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
	states := func(want string) int {
		n := 0
		for _, d := range g.Health().Snapshot() {
			if string(d.State) == want {
				n++
			}
		}
		return n
	}
	waitFor("16 online meters", 20*time.Second, func() bool { return states("online") == 2*perEndpoint })

	// The first serial gateway's RS-485 side dies: it answers exception 11
	// for every meter behind it.
	dead := map[uint16]byte{}
	for a := range uint16(64) {
		dead[a] = modbus.ExceptionGatewayTargetNoResponse
	}
	for _, s := range eps[0].slaves {
		s.SetFaults(modbus.Faults{Exceptions: dead})
	}
	waitFor("the endpoint's incident", 20*time.Second, func() bool { return len(tickets()) > 0 })
	waitFor("8 suppressed offline alarms", 20*time.Second, func() bool { return len(listAlarms("suppressed")) == perEndpoint })
	all := tickets()
	if len(all) != 1 || all[0].Device != "" || !strings.HasPrefix(all[0].AlarmKey, "s1/link_silent/tcp:") {
		t.Fatalf("during the endpoint's silence: tickets %+v, want one incident for the endpoint", all)
	}
	if !strings.Contains(all[0].Description, "8 devices silent since") || !strings.Contains(all[0].Description, "exception") {
		t.Errorf("the incident's evidence: %q", all[0].Description)
	}

	// The line is back but unit 3 stays dead.
	for u, s := range eps[0].slaves {
		if u != 3 {
			s.SetFaults(modbus.Faults{})
		}
	}
	waitFor("a repair for e0-m3", 30*time.Second, func() bool { return len(deviceTickets()) > 0 })
	waitFor("the silence's offline alarms settled", 30*time.Second, func() bool {
		return len(listAlarms("suppressed")) == 0 && len(listAlarms("firing")) == 1 && g.Status().OutboxPending == 0
	})
	rep := deviceTickets()
	if len(rep) != 1 || rep[0].Device != "e0-m3" || !strings.Contains(rep[0].Description, "最后的错误: exception") ||
		!strings.Contains(rep[0].DescriptionEN, "last error: exception") {
		t.Fatalf("after the line came back: device tickets %+v", rep)
	}

	// Both serial gateways go away: every device of the gateway is silent.
	for _, ep := range eps {
		_ = ep.ln.Close()
	}
	waitFor("the gateway's emergency", 30*time.Second, func() bool {
		for _, tk := range tickets() {
			if tk.Kind == wire.Emergency {
				return true
			}
		}
		return false
	})
	waitFor("15 more suppressed offline alarms", 30*time.Second, func() bool {
		return len(listAlarms("suppressed")) == 2*perEndpoint-1 && g.Status().OutboxPending == 0
	})
	if rep := deviceTickets(); len(rep) != 1 {
		t.Fatalf("once the whole gateway is silent: %d device tickets, want still the one: %+v", len(rep), rep)
	}
	em := 0
	for _, tk := range tickets() {
		if tk.Kind == wire.Emergency {
			em++
			if tk.AlarmKey != "s1/gateway_silent/gw" {
				t.Errorf("emergency %+v", tk)
			}
		}
	}
	if em != 1 || len(tickets()) != 3 {
		t.Fatalf("tickets %+v, want the endpoint's incident, e0-m3's repair and the gateway's emergency", tickets())
	}
}
