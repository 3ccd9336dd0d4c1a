package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/estatehq/estate/gateway/deskclient"
	"github.com/estatehq/estate/gateway/outbox"
	"github.com/estatehq/estate/gateway/statedb"
	"github.com/estatehq/estate/internal/wire"
)

func waitUntil(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(limit); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %s", what, limit)
		}
	}
}

// The operator's commands on a running gateway's state file: a desk that
// refuses one alarm's ticket with 500 and accepts the others; the others are
// delivered, the refused one is listed in the dead letter after the attempt
// limit, `estate outbox retry` brings it back, and once the desk accepts it
// it is delivered, once.
func TestOutboxListAndRetry(t *testing.T) {
	var mu sync.Mutex
	refuse := map[string]bool{"s1/r/poison@1/open": true}
	applied := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var a wire.AlarmAction
		_ = json.NewDecoder(r.Body).Decode(&a)
		mu.Lock()
		defer mu.Unlock()
		if refuse[a.IdempotencyKey] {
			http.Error(w, `{"error":"ticket store failed"}`, http.StatusInternalServerError)
			return
		}
		applied[a.IdempotencyKey]++
		_ = json.NewEncoder(w).Encode(wire.AlarmActionResult{Created: true})
	}))
	defer srv.Close()

	dir := t.TempDir()
	t.Setenv("ESTATE_TEST_OUTBOX_UNSET", "") // empty counts as unset: the commands need no secret
	cfgPath := filepath.Join(dir, "gw.yaml")
	if err := os.WriteFile(cfgPath, []byte(fmt.Sprintf(`site: {id: s1}
gateway: {id: gw1, desk_url: %q, desk_token: "${ESTATE_TEST_OUTBOX_UNSET}", state_dir: %q}
influxdb: {url: "http://127.0.0.1:1", bucket: "b/autogen"}
`, srv.URL, dir)), 0o600); err != nil {
		t.Fatal(err)
	}
	estate := func(args ...string) (int, string) {
		var out, errOut bytes.Buffer
		code := run(args, &out, &errOut)
		return code, out.String() + errOut.String()
	}
	if code, out := estate("outbox", "list", "--config", cfgPath); code != 1 || !strings.Contains(out, "no state file") {
		t.Fatalf("list before the gateway ever ran: %d %s", code, out)
	}
	if _, err := os.Stat(statedb.Path(dir, "gw1")); !os.IsNotExist(err) {
		t.Fatalf("list created a state file: %v", err)
	}

	db, err := statedb.Open(statedb.Path(dir, "gw1"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ob := outbox.New(db, outbox.Options{Sender: deskclient.New(srv.URL, "token-0123456789abcdef"), Log: slog.New(slog.DiscardHandler),
		MaxAttempts: 2, RetryBase: 50 * time.Millisecond, RetryMax: 100 * time.Millisecond, Poll: 20 * time.Millisecond})
	keys := []string{"s1/r/poison", "s1/r/a", "s1/r/b"}
	for _, k := range keys {
		if err := ob.Add(wire.AlarmAction{IdempotencyKey: k + "@1/open", AlarmKey: k, Action: wire.ActionOpen, At: time.Now(),
			Ticket: &wire.NewTicket{Kind: wire.Repair, Title: k, Site: "s1", AlarmKey: k, Source: wire.SourceDeviceAlarm}}); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); ob.Run(ctx, nil) }()
	defer func() { cancel(); <-done }()
	waitUntil(t, "the refused action in the dead letter", 20*time.Second, func() bool { return ob.Dead() == 1 && ob.Pending() == 0 })

	code, out := estate("outbox", "list", "--config", cfgPath, "--dead")
	t.Log(out)
	if code != 0 || !strings.Contains(out, "1 alarm action(s) in the dead letter") || !strings.Contains(out, "s1/r/poison") ||
		!strings.Contains(out, "dead") || !strings.Contains(out, "desk answered 500: ticket store failed") {
		t.Fatalf("list --dead: %d\n%s", code, out)
	}
	if code, out := estate("outbox", "list", "--state", statedb.Path(dir, "gw1")); code != 0 || strings.Contains(out, "s1/r/a") {
		t.Fatalf("list shows delivered actions: %d\n%s", code, out)
	}
	for _, bad := range [][]string{{"retry", "--config", cfgPath}, {"retry", "--config", cfgPath, "1", "--all"},
		{"retry", "--config", cfgPath, "x"}, {"retry", "1"}} {
		if code, out := estate(append([]string{"outbox"}, bad...)...); code == 0 {
			t.Errorf("%v accepted: %s", bad, out)
		}
	}
	var id int64
	if err := db.QueryRow(`SELECT seq FROM actions WHERE idem = 's1/r/poison@1/open'`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	if code, out := estate("outbox", "retry", "--config", cfgPath, "999"); code != 1 || !strings.Contains(out, "no action 999 in the dead letter") {
		t.Errorf("retry of an unknown id: %d %s", code, out)
	}

	mu.Lock()
	delete(refuse, "s1/r/poison@1/open")
	mu.Unlock()
	// The id after the flags, as an operator copies it from the list.
	if code, out := estate("outbox", "retry", strconv.FormatInt(id, 10), "--config", cfgPath); code != 0 || !strings.Contains(out, "back in the outbox") {
		t.Fatalf("retry: %d %s", code, out)
	}
	waitUntil(t, "the retried action delivered", 20*time.Second, func() bool { return ob.Dead() == 0 && ob.Pending() == 0 })
	mu.Lock()
	for _, k := range keys {
		if applied[k+"@1/open"] != 1 {
			t.Errorf("%s applied %d times, want once", k, applied[k+"@1/open"])
		}
	}
	mu.Unlock()
	if code, out := estate("outbox", "retry", "--all", "--state", statedb.Path(dir, "gw1")); code != 0 || !strings.Contains(out, "0 alarm action(s)") {
		t.Errorf("retry --all with an empty dead letter: %d %s", code, out)
	}
	if code, out := estate("outbox", "list", "--config", cfgPath); code != 0 || !strings.Contains(out, ": 0 undelivered") {
		t.Errorf("list after delivery: %d %s", code, out)
	}
}
