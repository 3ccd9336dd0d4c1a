package desk

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/estatehq/estate/desk/deskconfig"
	"github.com/estatehq/estate/internal/testenv"
)

// Run serves the API and runs the scheduler and the notification sender:
// a missed deadline reaches the webhook without anyone calling anything, and
// cancelling the context stops all of it.
func TestRunEscalatesAndStops(t *testing.T) {
	events := make(chan string, 16)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m struct{ Event string }
		_ = json.NewDecoder(r.Body).Decode(&m)
		events <- m.Event
	}))
	defer hook.Close()
	addr := testenv.FreeAddr(t)
	d := newDesk(t, func(c *deskconfig.Config) {
		c.Listen = addr
		c.EscalationInterval = 20 * time.Millisecond
		c.Channels = []deskconfig.Channel{{Name: "hook", Type: "webhook", URL: hook.URL}}
	})
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan error, 1)
	done := make(chan error, 1)
	go func() { done <- d.srv.Run(ctx, ready) }()
	if err := <-ready; err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", "http://"+addr+"/api/v1/tickets", strings.NewReader(`{"kind":"emergency","title":"flooding B2","site":"site-a"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+gatewayToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("create: %v %v", resp, err)
	}
	resp.Body.Close()
	d.clock.Advance(2 * time.Minute) // acknowledge (1 min) is missed
	want := map[string]bool{"created": true, "deadline_missed:acknowledge": true}
	timeout := time.After(10 * time.Second)
	for len(want) > 0 {
		select {
		case e := <-events:
			delete(want, e)
		case <-timeout:
			t.Fatalf("webhook never received %v", want)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not stop")
	}
}
