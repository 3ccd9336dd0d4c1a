package desk

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/estatehq/estate/desk/deskconfig"
	"github.com/estatehq/estate/desk/store"
	"github.com/estatehq/estate/internal/wire"
)

func TestAlarmActions(t *testing.T) {
	st, err := store.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "desk.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	srv := httptest.NewServer(New(deskconfig.Config{Tokens: []deskconfig.Token{
		{Name: "gw1", Token: "gateway-one-token-123", Role: RoleGateway, Site: "s1"},
		{Name: "amy", Token: "assistant-token-12345", Role: RoleAssistant},
	}}, st, slog.New(slog.DiscardHandler)).Handler())
	defer srv.Close()

	call := func(token, method, path string, body any) (int, map[string]any) {
		t.Helper()
		data, _ := json.Marshal(body)
		req, _ := http.NewRequest(method, srv.URL+path, bytes.NewReader(data))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	gw := "gateway-one-token-123"
	open := wire.AlarmAction{IdempotencyKey: "s1/low/m1@1/open", AlarmKey: "s1/low/m1", Action: wire.ActionOpen,
		Note: "raised again", At: time.Now(),
		Ticket: &wire.NewTicket{Kind: wire.TopUp, Title: "1-101 余额不足", AlarmKey: "s1/low/m1", Priority: "P2"}}

	code, out := call(gw, http.MethodPost, "/api/v1/alarm-actions", open)
	tk, _ := out["ticket"].(map[string]any)
	if code != http.StatusCreated || out["created"] != true || tk["site"] != "s1" || tk["priority"] != "P2" {
		t.Fatalf("open: %d %v", code, out)
	}
	id := int(tk["id"].(float64))
	if code, out = call(gw, http.MethodPost, "/api/v1/alarm-actions", open); code != http.StatusOK || out["replayed"] != true {
		t.Fatalf("replay: %d %v", code, out)
	}
	// A second episode of the same alarm while the ticket is open: same ticket, a note.
	again := open
	again.IdempotencyKey = "s1/low/m1@2/open"
	if code, out = call(gw, http.MethodPost, "/api/v1/alarm-actions", again); code != http.StatusOK || out["created"] != false {
		t.Fatalf("second episode: %d %v", code, out)
	}

	foreign := open
	foreign.IdempotencyKey, foreign.AlarmKey = "s2/low/m1@1/open", "s2/low/m1"
	foreign.Ticket = &wire.NewTicket{Kind: wire.TopUp, Title: "x", AlarmKey: "s2/low/m1", Site: "s2"}
	if code, _ = call(gw, http.MethodPost, "/api/v1/alarm-actions", foreign); code != http.StatusForbidden {
		t.Fatalf("another site's alarm: %d", code)
	}
	if code, _ = call("assistant-token-12345", http.MethodPost, "/api/v1/alarm-actions", open); code != http.StatusForbidden {
		t.Fatalf("assistant posting an alarm action: %d", code)
	}
	orphan := wire.AlarmAction{IdempotencyKey: "k", AlarmKey: "s1/none/x", Action: wire.ActionNote, Note: "n"}
	if code, _ = call(gw, http.MethodPost, "/api/v1/alarm-actions", orphan); code != http.StatusNotFound {
		t.Fatalf("note without ticket: %d", code)
	}
	if code, _ = call(gw, http.MethodPost, "/api/v1/alarm-actions", wire.AlarmAction{Action: "delete"}); code != http.StatusUnprocessableEntity {
		t.Fatalf("invalid action: %d", code)
	}

	clear := wire.AlarmAction{IdempotencyKey: "s1/low/m1@1/clear", AlarmKey: "s1/low/m1", Action: wire.ActionClear,
		Note: "balance back", Close: true}
	code, out = call(gw, http.MethodPost, "/api/v1/alarm-actions", clear)
	if tk, _ = out["ticket"].(map[string]any); code != http.StatusOK || tk["status"] != "closed" {
		t.Fatalf("clear: %d %v", code, out)
	}
	code, out = call("assistant-token-12345", http.MethodGet, "/api/v1/tickets/"+itoa(id)+"/notes", nil)
	notes, _ := out["notes"].([]any)
	if code != http.StatusOK || len(notes) != 2 {
		t.Fatalf("notes: %d %v", code, out)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }
