package outbox_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/estatehq/estate/desk"
	"github.com/estatehq/estate/desk/deskconfig"
	"github.com/estatehq/estate/desk/store"
	"github.com/estatehq/estate/devices"
	"github.com/estatehq/estate/gateway/alarm"
	"github.com/estatehq/estate/gateway/deskclient"
	"github.com/estatehq/estate/gateway/outbox"
	"github.com/estatehq/estate/gateway/statedb"
	"github.com/estatehq/estate/internal/config"
	"github.com/estatehq/estate/internal/testenv"
	"github.com/estatehq/estate/internal/wire"
)

const gatewayToken = "outbox-test-gateway-token"

var quiet = slog.New(slog.DiscardHandler)

// TestMain doubles as the gateway process of the SIGKILL test: re-executed
// with ESTATE_OUTBOX_HELPER_DIR set, the test binary runs runGateway instead.
func TestMain(m *testing.M) {
	if dir := os.Getenv("ESTATE_OUTBOX_HELPER_DIR"); dir != "" {
		os.Exit(runGateway(dir, os.Getenv("ESTATE_OUTBOX_HELPER_DESK")))
	}
	os.Exit(m.Run())
}

// startDesk serves a real desk (Echo API on SQLite) on addr until the returned stop.
func startDesk(t testing.TB, addr, db string) (st *store.SQLite, stop func()) {
	t.Helper()
	st, err := store.OpenSQLite(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	cfg := deskconfig.Config{Listen: addr, Database: db, Tokens: []deskconfig.Token{
		{Name: "gw", Token: gatewayToken, Role: "gateway", Site: "s1"}}}
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan error, 1), make(chan error, 1)
	go func() { done <- desk.New(cfg, st, quiet).Run(ctx, ready) }()
	if err := <-ready; err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			<-done
			st.Close()
		})
	}
	t.Cleanup(stop)
	return st, stop
}

func openAction(key string, n int) wire.AlarmAction {
	return wire.AlarmAction{IdempotencyKey: key + "@1/open", AlarmKey: key, Action: wire.ActionOpen, At: time.Now(),
		Ticket: &wire.NewTicket{Kind: wire.Repair, Title: fmt.Sprintf("device %d", n), Site: "s1", AlarmKey: key,
			Source: wire.SourceDeviceAlarm}}
}

func TestOutboxDeliversOnceInOrder(t *testing.T) {
	dir := t.TempDir()
	addr := testenv.FreeAddr(t)
	st, _ := startDesk(t, addr, filepath.Join(dir, "desk.db"))
	ob, err := outbox.Open(filepath.Join(dir, "outbox.db"), deskclient.New("http://"+addr, gatewayToken), quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()

	open := openAction("s1/r/d1", 1)
	clear := wire.AlarmAction{IdempotencyKey: "s1/r/d1@1/clear", AlarmKey: "s1/r/d1", Action: wire.ActionClear, Note: "cleared"}
	// A note on an alarm that has no ticket: the desk refuses it (404) for good; it is dropped.
	orphan := wire.AlarmAction{IdempotencyKey: "s1/r/none@1/note", AlarmKey: "s1/r/none", Action: wire.ActionNote, Note: "x"}
	for _, a := range []wire.AlarmAction{open, open, orphan, clear, clear} {
		if err := ob.Add(a); err != nil {
			t.Fatal(err)
		}
	}
	if n := ob.Pending(); n != 3 {
		t.Fatalf("pending %d, want 3 (the same key twice is one action)", n)
	}
	if err := ob.Add(wire.AlarmAction{Action: "open"}); err == nil {
		t.Fatal("an invalid action was accepted")
	}

	ctx, cancel := context.WithCancel(context.Background())
	var got []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		ob.Run(ctx, func(a wire.AlarmAction, _ wire.AlarmActionResult) {
			got = append(got, a.Action)
			if len(got) == 2 {
				cancel()
			}
		})
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		cancel()
		<-done
		t.Fatal("not delivered")
	}
	if strings.Join(got, ",") != "open,clear" || ob.Pending() != 0 {
		t.Fatalf("delivered %v, pending %d", got, ob.Pending())
	}
	// Delivered keys are remembered: re-adding one is a no-op.
	if err := ob.Add(open); err != nil || ob.Pending() != 0 {
		t.Fatalf("re-adding a delivered action: err %v pending %d", err, ob.Pending())
	}
	ts, _ := st.ListTickets(context.Background(), store.Filter{})
	if len(ts) != 1 {
		t.Fatalf("%d tickets, want 1", len(ts))
	}
	notes, _ := st.ListNotes(context.Background(), ts[0].ID)
	if len(notes) != 1 || notes[0].Body != "cleared" {
		t.Fatalf("notes %+v", notes)
	}
}

// waitFor polls cond until it holds, failing the test after limit.
func waitFor(t testing.TB, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(limit); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %s", what, limit)
		}
	}
}

// 50 alarms fire while the desk is down, until the gateway's breaker has
// opened; the gateway is killed with SIGKILL, restarted, killed again in the
// middle of delivering, restarted: exactly 50 tickets, no duplicate.
// ESTATE_TEST_DESK_DOWNTIME keeps the desk down at least that long (30s for
// the soak this test once was).
func TestFiftyAlarmsDeskDownSIGKILL(t *testing.T) {
	var downtime time.Duration
	if v := os.Getenv("ESTATE_TEST_DESK_DOWNTIME"); v != "" {
		var err error
		if downtime, err = time.ParseDuration(v); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	addr := testenv.FreeAddr(t)
	// The test reads the helper's state file beside it (SQLite WAL: readers
	// do not block the writer of another process).
	state, err := statedb.Open(filepath.Join(dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer state.Close()
	outboxRows := func() (pending, maxAttempts int) {
		if err := state.QueryRow(`SELECT count(*) FILTER (WHERE done IS NULL), coalesce(max(attempts), 0) FROM actions`).
			Scan(&pending, &maxAttempts); err != nil {
			t.Fatal(err)
		}
		return pending, maxAttempts
	}

	start := func() (*exec.Cmd, *bufio.Scanner) {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "ESTATE_OUTBOX_HELPER_DIR="+dir, "ESTATE_OUTBOX_HELPER_DESK=http://"+addr)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		sc := bufio.NewScanner(out)
		if !sc.Scan() || !strings.HasPrefix(sc.Text(), "ready") {
			t.Fatalf("gateway helper did not start: %q %v", sc.Text(), sc.Err())
		}
		go func() { _, _ = io.Copy(io.Discard, out) }()
		return cmd, sc
	}
	kill := func(cmd *exec.Cmd) {
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
	}

	began := time.Now()
	gw, _ := start() // the desk is not there: 50 alarms fire into the outbox
	// The breaker opens after 3 failed sends of the oldest action.
	waitFor(t, "50 pending actions and an open breaker", 60*time.Second, func() bool {
		pending, attempts := outboxRows()
		return pending == 50 && attempts >= 3 && time.Since(began) >= downtime
	})
	kill(gw)

	st, _ := startDesk(t, addr, filepath.Join(dir, "desk.db"))
	count := func() int {
		ts, err := st.ListTickets(context.Background(), store.Filter{Limit: 500})
		if err != nil {
			t.Fatal(err)
		}
		return len(ts)
	}
	gw, _ = start()
	deadline := time.Now().Add(60 * time.Second)
	for count() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	kill(gw) // in the middle of delivering
	midway := count()

	gw, _ = start()
	// Once nothing is pending nothing more is sent: a duplicate would be there by then.
	waitFor(t, "every action delivered", 60*time.Second, func() bool {
		pending, _ := outboxRows()
		return pending == 0
	})
	kill(gw)

	ts, _ := st.ListTickets(context.Background(), store.Filter{Limit: 500})
	keys := map[string]bool{}
	for _, tk := range ts {
		if keys[tk.AlarmKey] {
			t.Errorf("duplicate ticket for %s", tk.AlarmKey)
		}
		keys[tk.AlarmKey] = true
	}
	if len(ts) != 50 {
		t.Fatalf("%d tickets, want exactly 50 (%d when killed midway)", len(ts), midway)
	}
	t.Logf("tickets when killed midway: %d; after restart: %d", midway, len(ts))
	if n, _ := outboxRows(); n != 0 {
		t.Errorf("%d actions still pending", n)
	}
}

// runGateway is the gateway half of the SIGKILL test: 50 meters whose balance
// is low, an engine with its state and outbox in one state file.
func runGateway(dir, deskURL string) int {
	var b strings.Builder
	b.WriteString(`site: {id: s1}
gateway: {id: gw, desk_url: "` + deskURL + `", desk_token: "` + gatewayToken + `"}
influxdb: {url: "http://127.0.0.1:1", bucket: "b/autogen"}
rules: [{name: low_balance, family: meter, point: balance, below: 10, ticket: repair}]
devices:
`)
	for i := range 50 {
		fmt.Fprintf(&b, "  - {id: m%02d, family: meter, protocol: modbus_tcp}\n", i)
	}
	cfg, err := config.Parse("helper.yaml", []byte(b.String()))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	db, err := statedb.Open(filepath.Join(dir, "state.db"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ob := outbox.New(db, outbox.Options{Sender: deskclient.New(deskURL, gatewayToken), Log: quiet})
	eng, err := alarm.NewEngine(alarm.Options{Config: cfg, Store: alarm.NewSQLiteStore(db)})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	for _, d := range cfg.Devices {
		eng.Evaluate(devices.Reading{Device: devices.NewInfo("s1", d), Time: time.Now(),
			Values: []devices.Value{{Point: "balance", Value: 3}}})
	}
	fmt.Println("ready")
	ob.Run(context.Background(), nil) // until SIGKILL
	return 0
}
