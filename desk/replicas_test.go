package desk

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/estatehq/estate/desk/store"
	"github.com/estatehq/estate/internal/testenv"
)

// The isolation suite's event-stream expectations with two desks on one
// PostgreSQL: the two-site desk is seeded through replica 1 and read through
// replica 2, history and live, so a site-bound caller gets its site's events
// only, without residents' details for engineers and the control room,
// whichever desk wrote them; a session opened on replica 1 streams on
// replica 2 and ends there when replica 1 logs it out. (Real processes:
// internal/loadtest.TestReplicasOnPostgreSQL.)
func TestEventStreamIsolationAcrossReplicas(t *testing.T) {
	pgURL := testenv.PostgreSQL(t)
	d := newIsoDesk(t, openIsoStore(t, store.PostgresDialect, pgURL))
	st2 := openIsoStore(t, store.PostgresDialect, pgURL)
	srv2 := New(isoConfig(), st2, slog.New(slog.NewTextHandler(io.Discard, nil)), WithClock(d.clock.Now))
	ts2 := httptest.NewServer(srv2.Handler())
	defer ts2.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// Replica 2 hears replica 1's commits as in Server.Run.
	go func() { _ = st2.ListenEvents(ctx, func(int64) { srv2.hub.publish() }) }()

	stream := func(token, after string) (*http.Response, *bufio.Reader) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, "GET", ts2.URL+"/api/v1/events?after="+after, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 {
			t.Fatalf("stream on replica 2: %d", resp.StatusCode)
		}
		r := bufio.NewReader(resp.Body)
		if err := awaitStreamStart(r); err != nil {
			t.Fatal(err)
		}
		return resp, r
	}
	// until reads data lines until one contains want.
	until := func(r *bufio.Reader, want string) []string {
		t.Helper()
		var out []string
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("stream ended before %q after %d events: %v", want, len(out), err)
			}
			if data, ok := strings.CutPrefix(strings.TrimSpace(line), "data: "); ok {
				out = append(out, data)
				if strings.Contains(data, want) {
					return out
				}
			}
		}
	}
	all, err := d.st.Events(ctx, 0, "site-a", 1000)
	if err != nil || len(all) == 0 {
		t.Fatalf("site A's events: %v %v", all, err)
	}
	for _, role := range []string{RoleEngineer, RoleControlRoom, RoleAssistant, RoleManager} {
		resp, r := stream(isoTokens[role], "0")
		// History written by replica 1, then live: a site-B ticket and a
		// site-A one created on replica 1 while the stream runs on replica 2.
		var evs []string
		for len(evs) < len(all) {
			evs = append(evs, until(r, "")...)
		}
		bTitle, aTitle := secretTitle+" live "+role, "A live "+role
		d.call(t, "POST", "/api/v1/tickets", isoRoot, fmt.Sprintf(`{"kind":"repair","title":%q,"site":"site-b","reporter":%q,"phone":%q}`, bTitle, secretName, secretPhone))
		d.call(t, "POST", "/api/v1/tickets", isoRoot, fmt.Sprintf(`{"kind":"repair","title":%q,"site":"site-a","reporter":"Ann-of-A","phone":"13900000001"}`, aTitle))
		evs = append(evs, until(r, aTitle)...)
		resp.Body.Close()
		joined := strings.Join(evs, "\n")
		if l := leaks(joined); len(l) > 0 {
			t.Errorf("%s on replica 2: site B's %v in the stream", role, l)
		}
		seesPhone := strings.Contains(joined, "13900000001")
		if want := role == RoleAssistant || role == RoleManager; seesPhone != want {
			t.Errorf("%s on replica 2: resident's phone shown %v, want %v", role, seesPhone, want)
		}
	}
	session := d.login(t)
	resp, r := stream(session, "0")
	defer resp.Body.Close()
	if code, body := d.call(t, "POST", "/api/v1/logout", session, ""); code != 204 {
		t.Fatalf("logout on replica 1: %d %s", code, body)
	}
	done := make(chan error, 1)
	go func() { _, err := io.Copy(io.Discard, r); done <- err }()
	select {
	case <-done:
	case <-time.After(3 * eventPoll):
		t.Errorf("the stream on replica 2 still runs %s after the logout on replica 1", 3*eventPoll)
	}
}
