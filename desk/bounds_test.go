package desk

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/estatehq/estate/desk/deskconfig"
	"github.com/estatehq/estate/internal/testenv"
)

// request sends one request to the desk with the given peer address and
// headers, and returns the recorder.
func request(h http.Handler, method, path, token string, body io.Reader, header map[string]string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, body)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		if k == "RemoteAddr" {
			req.RemoteAddr = v
			continue
		}
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// chunked hides a body's length, as a client sending Transfer-Encoding: chunked does.
type chunked struct{ io.Reader }

// heartbeatOf is a valid heartbeat of n devices of about 150 bytes each.
func heartbeatOf(n int) string {
	var b strings.Builder
	b.WriteString(`{"gateway":"gw-1","site":"site-a","at":"2026-11-24T02:00:00Z","interval":10000000000,"devices":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":"meter-%06d","family":"meter","building":"1","unit":"1-%04d","state":"online","polls":10,"errors":0,"last_error":""}`, i, i)
	}
	b.WriteString(`]}`)
	return b.String()
}

// Every route is bounded: a body over its route's limit is 413 whether its
// length is announced or not, and nothing of it is stored; a heartbeat may be
// larger than other bodies, as a gateway of thousands of devices needs.
func TestBodyLimits(t *testing.T) {
	d := newDesk(t, nil)
	huge := strings.Repeat(" ", 10<<20) // 10 MB of JSON whitespace, then a valid heartbeat
	cases := []struct {
		name, path, token, body string
		hide                    bool // no Content-Length
		want                    int
	}{
		{"10 MB heartbeat", "/api/v1/gateways/heartbeat", gatewayToken, huge + heartbeatOf(1), false, 413},
		{"10 MB heartbeat, chunked", "/api/v1/gateways/heartbeat", gatewayToken, huge + heartbeatOf(1), true, 413},
		{"2 MB alarm action", "/api/v1/alarm-actions", gatewayToken, `{"note":"` + strings.Repeat("x", 2<<20) + `"}`, false, 413},
		{"2 MB alarm action, chunked", "/api/v1/alarm-actions", gatewayToken, `{"note":"` + strings.Repeat("x", 2<<20) + `"}`, true, 413},
		{"2 MB ticket", "/api/v1/tickets", adminToken, `{"kind":"repair","site":"site-a","title":"` + strings.Repeat("x", 2<<20) + `"}`, true, 413},
		{"2 MB comment", "/api/v1/tickets/1/comments", adminToken, `{"body":"` + strings.Repeat("x", 2<<20) + `"}`, false, 413},
		{"10 kB login", "/api/v1/login", "", `{"name":"` + strings.Repeat("x", 10<<10) + `","password":"x"}`, true, 413},
		{"unauthenticated 2 MB body", "/api/v1/tickets", "", strings.Repeat(" ", 2<<20), false, 413},
		{"heartbeat of 5,000 devices (over 700 kB)", "/api/v1/gateways/heartbeat", gatewayToken, heartbeatOf(5000), false, 204},
		{"heartbeat over 1 MiB", "/api/v1/gateways/heartbeat", gatewayToken, heartbeatOf(9000), true, 204},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader = strings.NewReader(tc.body)
			if tc.hide {
				body = chunked{body}
			}
			rec := request(d.h, "POST", tc.path, tc.token, body, nil)
			if rec.Code != tc.want {
				t.Fatalf("status %d (%s), want %d", rec.Code, clip(rec.Body.String(), 300), tc.want)
			}
			if tc.want == 413 && !strings.Contains(rec.Body.String(), "the body is larger than") {
				t.Errorf("413 without saying why: %s", rec.Body.String())
			}
		})
	}
	// Only the accepted heartbeats were stored: the 10 MB one with one device never was.
	code, body := d.call(t, "GET", "/api/v1/gateways", adminToken, "")
	if code != 200 || !strings.Contains(body, `"devices":9000`) {
		t.Errorf("gateways after the heartbeats: %d %s", code, clip(body, 300))
	}
}

// Every string the desk stores or searches by is bounded, and a parameter
// that is not text is a 400, not a 500.
func TestLengthAndTextLimits(t *testing.T) {
	d := newDesk(t, nil)
	if code, body := d.call(t, "POST", "/api/v1/tickets", adminToken, `{"kind":"repair","title":"door","site":"site-a"}`); code != 201 {
		t.Fatalf("seed: %d %s", code, body)
	}
	long := func(n int) string { return strings.Repeat("x", n) }
	cases := []struct {
		name, method, path, token, body string
		want                            int
		says                            string
	}{
		{"login name over 64 bytes", "POST", "/api/v1/login", "", `{"name":"` + long(65) + `","password":"x"}`, 422, "name: longer than 64 bytes"},
		{"password over 1024 bytes", "POST", "/api/v1/login", "", `{"name":"xiao","password":"` + long(1025) + `"}`, 422, "password: longer than 1024 bytes"},
		{"assignee over 100 bytes", "POST", "/api/v1/tickets/1/actions", adminToken, `{"action":"dispatch","assignee":"` + long(101) + `"}`, 422, "assignee: longer than 100 bytes"},
		{"reporter over 100 bytes", "POST", "/api/v1/tickets", adminToken, `{"kind":"repair","title":"x","site":"site-a","reporter":"` + long(101) + `"}`, 422, "reporter is longer than 100 bytes"},
		{"phone over 32 bytes", "POST", "/api/v1/tickets", adminToken, `{"kind":"repair","title":"x","site":"site-a","phone":"` + long(33) + `"}`, 422, "phone is longer than 32 bytes"},
		{"resident name over 100 bytes", "PUT", "/api/v1/units/site-a/1-101", adminToken, `{"residents":[{"name":"` + long(101) + `"}]}`, 422, "residents[0].name"},
		{"comment over 4000 bytes", "POST", "/api/v1/tickets/1/comments", adminToken, `{"body":"` + long(4001) + `"}`, 422, "body: longer than 4000 bytes"},
		{"search over 200 bytes", "GET", "/api/v1/tickets?q=" + long(201), adminToken, "", 400, "q: longer than 200 bytes"},
		{"NUL in search", "GET", "/api/v1/tickets?q=do%00or", adminToken, "", 400, "q: not valid UTF-8 text, or holds a NUL"},
		{"invalid UTF-8 in search", "GET", "/api/v1/tickets?q=%ff%fe", adminToken, "", 400, `"field":"q"`},
		{"NUL in a filter", "GET", "/api/v1/tickets?device=m%001", adminToken, "", 400, `"field":"device"`},
		{"NUL in a path", "GET", "/api/v1/units/site-a/1%00101", adminToken, "", 400, `"field":"unit"`},
		{"NUL in a title", "POST", "/api/v1/tickets", adminToken, `{"kind":"repair","title":"do\u0000or","site":"site-a"}`, 400, "NUL character"},
		{"NUL in a heartbeat", "POST", "/api/v1/gateways/heartbeat", gatewayToken, `{"gateway":"gw\u0000","site":"site-a"}`, 400, "NUL character"},
		{"an escaped backslash before u0000 is text", "POST", "/api/v1/tickets", adminToken, `{"kind":"repair","title":"C:\\u0000","site":"site-a"}`, 201, `"title":"C:\\u0000"`},
		{"alarm key of a note over 256 bytes", "POST", "/api/v1/alarm-actions", gatewayToken,
			`{"idempotency_key":"k1","alarm_key":"site-a/` + long(260) + `","action":"note","note":"n"}`, 422, "alarm_key: longer than 256 bytes"},
		{"heartbeat gateway id over 64 bytes", "POST", "/api/v1/gateways/heartbeat", gatewayToken,
			`{"gateway":"` + long(65) + `","site":"site-a","devices":[]}`, 422, "gateway: longer than 64 bytes"},
		{"heartbeat device error over 1000 bytes", "POST", "/api/v1/gateways/heartbeat", gatewayToken,
			`{"gateway":"gw-1","site":"site-a","devices":[{"id":"m1","state":"offline","last_error":"` + long(1001) + `"}]}`, 422, "devices[0].last_error: longer than 1000 bytes"},
		{"heartbeat alarm message over 1000 bytes", "POST", "/api/v1/gateways/heartbeat", gatewayToken,
			`{"gateway":"gw-1","site":"site-a","alarms":[{"key":"site-a/x","message_en":"` + long(1001) + `"}]}`, 422, "alarms[0].message_en"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, body := d.call(t, tc.method, tc.path, tc.token, tc.body)
			if code != tc.want || !strings.Contains(body, tc.says) {
				t.Errorf("status %d body %s; want %d saying %q", code, clip(body, 300), tc.want, tc.says)
			}
		})
	}
}

// Times the desk cannot store are refused, and an appointment is within a
// year: an appointment in 9999 is not stored as 1816.
func TestTimesRangeChecked(t *testing.T) {
	d := newDesk(t, nil)
	now := d.clock.Now()
	if code, body := d.call(t, "POST", "/api/v1/tickets", adminToken, `{"kind":"top_up","title":"low","site":"site-a","unit":"1-101"}`); code != 201 {
		t.Fatalf("seed: %d %s", code, body)
	}
	at := func(t time.Time) string { return t.UTC().Format(time.RFC3339) }
	cases := []struct {
		name, method, path, body string
		want                     int
		says                     string
	}{
		{"appointment in 9999 at opening", "POST", "/api/v1/tickets", `{"kind":"repair","title":"x","site":"site-a","appointment_at":"9999-01-01T00:00:00Z"}`, 422, "appointment_at: 9999-01-01T00:00:00Z is out of range"},
		{"appointment in 2262 at dispatch", "POST", "/api/v1/tickets/1/actions", `{"action":"dispatch","assignee":"li","appointment_at":"2262-04-12T00:00:00Z"}`, 422, "out of range"},
		{"appointment in 1999", "POST", "/api/v1/tickets/1/actions", `{"action":"dispatch","assignee":"li","appointment_at":"1999-12-31T00:00:00Z"}`, 422, "out of range"},
		{"appointment two years ahead", "POST", "/api/v1/tickets/1/actions", `{"action":"dispatch","assignee":"li","appointment_at":"` + at(now.AddDate(2, 0, 0)) + `"}`, 422, "more than a year ahead"},
		{"reminder given in 1990", "POST", "/api/v1/tickets/1/reminders", `{"channel":"phone","at":"1990-01-01T00:00:00Z"}`, 422, "at: 1990-01-01T00:00:00Z is out of range"},
		{"alarm action in 9999", "POST", "/api/v1/alarm-actions", `{"idempotency_key":"k","alarm_key":"site-a/x","action":"note","note":"n","at":"9999-01-01T00:00:00Z"}`, 422, "at: 9999"},
		{"appointment next week", "POST", "/api/v1/tickets/1/actions", `{"action":"dispatch","assignee":"li","appointment_at":"` + at(now.AddDate(0, 0, 7)) + `"}`, 200, `"appointment_at":"` + now.AddDate(0, 0, 7).Format("2006-01-02")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, body := d.call(t, tc.method, tc.path, adminToken, tc.body)
			if code != tc.want || !strings.Contains(body, tc.says) {
				t.Errorf("status %d body %s; want %d saying %q", code, clip(body, 400), tc.want, tc.says)
			}
		})
	}
}

// No staff role can push an emergency's on-site deadline later by booking
// an appointment.
func TestAppointmentCannotDelayAnEmergency(t *testing.T) {
	d := newDesk(t, nil)
	code, body := d.call(t, "POST", "/api/v1/tickets", adminToken, `{"kind":"emergency","title":"flooding B2","site":"site-a"}`)
	if code != 201 {
		t.Fatalf("open: %d %s", code, body)
	}
	id := decodeInto[struct{ ID int64 }](t, body).ID
	onSite := func() time.Time {
		_, body := d.call(t, "GET", fmt.Sprintf("/api/v1/tickets/%d", id), adminToken, "")
		tk := decodeInto[struct {
			Deadlines []struct {
				Step  string
				DueAt time.Time `json:"due_at"`
			}
		}](t, body)
		for _, dl := range tk.Deadlines {
			if dl.Step == "on_site" {
				return dl.DueAt
			}
		}
		t.Fatalf("no on-site deadline: %s", body)
		return time.Time{}
	}
	before := onSite()
	later := d.clock.Now().AddDate(0, 6, 0).UTC().Format(time.RFC3339)
	for _, role := range []string{RoleAdmin, RoleManager, RoleEngineer, RoleControlRoom, RoleAssistant} {
		code, body := d.call(t, "POST", fmt.Sprintf("/api/v1/tickets/%d/actions", id), roleTokens[role],
			`{"action":"dispatch","assignee":"li","appointment_at":"`+later+`"}`)
		if code != 200 && code != 403 && code != 409 {
			t.Errorf("%s dispatches: %d %s", role, code, body)
		}
		if got := onSite(); !got.Equal(before) {
			t.Fatalf("%s moved the emergency's on-site deadline from %s to %s", role, before, got)
		}
	}
}

// Every answer carries the headers that keep the console out of frames and
// other origins; API answers (the login's, errors) are never cached.
func TestSecurityHeaders(t *testing.T) {
	d := newDesk(t, nil)
	cases := []struct {
		name, method, path, token, body string
		noStore                         bool
	}{
		{"console page", "GET", "/", "", "", false},
		{"console script", "GET", "/app.js", "", "", false},
		{"login answer", "POST", "/api/v1/login", "", `{"name":"xiao","password":"correct horse"}`, true},
		{"refused login", "POST", "/api/v1/login", "", `{"name":"xiao","password":"wrong"}`, true},
		{"ticket list", "GET", "/api/v1/tickets", adminToken, "", true},
		{"unauthenticated", "GET", "/api/v1/tickets", "", "", true},
		{"health", "GET", "/healthz", "", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := request(d.h, tc.method, tc.path, tc.token, strings.NewReader(tc.body), nil)
			h := rec.Header()
			csp := h.Get("Content-Security-Policy")
			for _, want := range []string{"default-src 'self'", "frame-ancestors 'none'", "object-src 'none'"} {
				if !strings.Contains(csp, want) {
					t.Errorf("CSP %q lacks %q", csp, want)
				}
			}
			if h.Get("X-Frame-Options") != "DENY" || h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "no-referrer" {
				t.Errorf("headers: %v", h)
			}
			if tc.noStore && h.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control %q, want no-store (status %d)", h.Get("Cache-Control"), rec.Code)
			}
		})
	}
}

// The login limits: one name from one address is stopped after
// login_attempts failures, but that does not lock the account for people at
// other addresses; an address spraying names is stopped; an account guessed
// from many addresses waits a delay that doubles; X-Forwarded-For counts only
// from a trusted proxy.
func TestLoginLimits(t *testing.T) {
	login := func(d *testDesk, name, password, addr, xff string) int {
		h := map[string]string{"RemoteAddr": addr}
		if xff != "" {
			h["X-Forwarded-For"] = xff
		}
		d.srv.auth.compare = fastCompare
		return request(d.h, "POST", "/api/v1/login", "", strings.NewReader(`{"name":"`+name+`","password":"`+password+`"}`), h).Code
	}
	const good = "correct horse"

	t.Run("one address cannot lock an account for everyone", func(t *testing.T) {
		d := newDesk(t, func(c *deskconfig.Config) { c.LoginAttempts = 2 })
		for i := range 2 {
			if code := login(d, "xiao", "wrong", "198.51.100.1:1000", ""); code != 401 {
				t.Fatalf("failure %d: %d", i, code)
			}
		}
		if code := login(d, "xiao", good, "198.51.100.1:1000", ""); code != 429 {
			t.Fatalf("the guesser after 2 failures: %d, want 429", code)
		}
		if code := login(d, "xiao", good, "203.0.113.7:2000", ""); code != 200 {
			t.Fatalf("the account's owner elsewhere: %d, want 200", code)
		}
	})

	t.Run("an address spraying names is stopped", func(t *testing.T) {
		d := newDesk(t, func(c *deskconfig.Config) { c.LoginAttempts = 1 }) // fewer slow bcrypt comparisons
		for i := range addressFactor {
			if code := login(d, fmt.Sprintf("user%d", i), "wrong", "198.51.100.2:1000", ""); code != 401 {
				t.Fatalf("failure %d: %d", i, code)
			}
		}
		if code := login(d, "someone-else", "wrong", "198.51.100.2:1000", ""); code != 429 {
			t.Fatalf("after %d failures from one address: %d, want 429", addressFactor, code)
		}
		if code := login(d, "xiao", good, "203.0.113.8:2000", ""); code != 200 {
			t.Fatalf("another address: %d", code)
		}
		d.clock.Advance(11 * time.Minute)
		if code := login(d, "xiao", good, "198.51.100.2:1000", ""); code != 200 {
			t.Fatalf("the address after the window: %d", code)
		}
	})

	t.Run("an account guessed from many addresses waits doubling delays", func(t *testing.T) {
		d := newDesk(t, func(c *deskconfig.Config) { c.LoginAttempts = 1 })
		addr := func(i int) string { return fmt.Sprintf("198.51.100.%d:1000", 10+i) }
		if code := login(d, "xiao", "wrong", addr(0), ""); code != 401 { // the one free failure
			t.Fatalf("first failure: %d", code)
		}
		next := 1
		for _, delay := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second} {
			if code := login(d, "xiao", "wrong", addr(next), ""); code != 401 {
				t.Fatalf("failure %d: %d", next, code)
			}
			next++
			if code := login(d, "xiao", good, addr(next), ""); code != 429 {
				t.Fatalf("at once after failure %d: %d, want 429 for %s", next, code, delay)
			}
			d.clock.Advance(delay - 10*time.Millisecond)
			if code := login(d, "xiao", good, addr(next), ""); code != 429 {
				t.Fatalf("just before %s: %d, want 429", delay, code)
			}
			d.clock.Advance(10 * time.Millisecond)
		}
		if code := login(d, "xiao", good, addr(next), ""); code != 200 {
			t.Fatalf("after the delay: %d", code)
		}
		if code := login(d, "xiao", "wrong", addr(next+1), ""); code != 401 {
			t.Fatalf("a success forgets the account's failures: %d", code)
		}
	})

	t.Run("X-Forwarded-For from a trusted proxy only", func(t *testing.T) {
		d := newDesk(t, func(c *deskconfig.Config) { c.TrustedProxies, c.LoginAttempts = []string{"192.0.2.1/32"}, 1 })
		login(d, "xiao", "wrong", "192.0.2.1:5000", "203.0.113.50")
		if code := login(d, "xiao", good, "192.0.2.1:5000", "203.0.113.50"); code != 429 {
			t.Fatalf("the guesser behind the proxy: %d, want 429", code)
		}
		if code := login(d, "xiao", good, "192.0.2.1:5000", "203.0.113.51"); code != 200 {
			t.Fatalf("someone else behind the proxy: %d, want 200", code)
		}
		// Not from the proxy: the header is the caller's own and changes nothing.
		login(d, "xiao", "wrong", "198.51.100.99:5000", "203.0.113.100")
		if code := login(d, "xiao", good, "198.51.100.99:5000", "203.0.113.200"); code != 429 {
			t.Fatalf("a forged X-Forwarded-For escaped the limit: %d", code)
		}
	})
}

// The limiter's tables stay bounded under a spray of names and addresses,
// and forget a key a window after its last failure.
func TestLoginLimiterBounded(t *testing.T) {
	l := newLoginLimiter(5, time.Minute)
	m := l.counts.(*memoryFailures)
	ctx := context.Background()
	now := time.Date(2026, 11, 24, 2, 0, 0, 0, time.UTC)
	for i := range 3 * maxLimiterKeys {
		_ = l.fail(ctx, fmt.Sprintf("name-%d", i), fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255), now.Add(time.Duration(i)*time.Microsecond))
	}
	for name, n := range map[string]int{"name+address": m.perPair.len(), "address": m.perAddr.len(), "account": m.perName.len()} {
		if n > maxLimiterKeys {
			t.Errorf("%s table holds %d keys, more than %d", name, n, maxLimiterKeys)
		}
	}
	later := now.Add(2 * time.Minute)
	if wait, _ := l.blocked(ctx, "name-1", "10.0.0.1", later); wait != 0 {
		t.Errorf("blocked %s a window later", wait)
	}
	_ = l.fail(ctx, "new", "10.9.9.9", later)
	if m.perPair.len() != 1 || m.perAddr.len() != 1 || m.perName.len() != 1 {
		t.Errorf("expired keys kept: %d %d %d", m.perPair.len(), m.perAddr.len(), m.perName.len())
	}
}

// A refused login logs a bounded name: long names are refused before they
// are logged (1,200 of them leave no trace of their size), the longest
// allowed are logged whole.
func TestRefusedLoginsLogLittle(t *testing.T) {
	var log lockedLog
	d := newDesk(t, nil)
	d.srv.log = slog.New(slog.NewTextHandler(&log, nil))
	d.srv.auth.compare = fastCompare
	for i := range 2 {
		name := fmt.Sprintf("%03d", i) + strings.Repeat("n", 61) // 64 bytes: the longest allowed
		request(d.h, "POST", "/api/v1/login", "", strings.NewReader(`{"name":"`+name+`","password":"x"}`),
			map[string]string{"RemoteAddr": fmt.Sprintf("198.51.100.%d:1", i)})
	}
	for range 1200 {
		request(d.h, "POST", "/api/v1/login", "", strings.NewReader(`{"name":"`+strings.Repeat("m", 3000)+`","password":"x"}`), nil)
	}
	if n := log.Len(); n > 2*400 {
		t.Errorf("1,205 refused logins wrote %d bytes of log", n)
	}
	if strings.Contains(log.String(), strings.Repeat("m", 100)) {
		t.Error("a long name reached the log")
	}
}

type lockedLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedLog) Len() int       { l.mu.Lock(); defer l.mu.Unlock(); return l.b.Len() }
func (l *lockedLog) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// fastCompare stands in for bcrypt in tests of the limits, which make many
// logins (a cost-10 comparison takes seconds under the race detector): it
// knows the fixture's one password.
func fastCompare(hash, password []byte) error {
	if string(hash) == testPasswordHash && string(password) == "correct horse" {
		return nil
	}
	return bcrypt.ErrMismatchedHashAndPassword
}

// A refusal takes as long whatever the name: the password is compared, once,
// against the account's hash or, for an unknown name (or one over the
// limits' delay…), against a dummy hash of the highest configured cost.
func TestLoginRefusalWhateverTheName(t *testing.T) {
	const h11 = "$2a$11$" + "GyCy5c/CAZT/op7wRJfM7ueknQMRhH8D3n70ndxrcKFMEwz2M4BMy" // cost 11 (of no password: only the cost is read)
	d := newDesk(t, func(c *deskconfig.Config) {
		c.Staff = append(c.Staff, deskconfig.Staff{Name: "boss2", Role: RoleManager, PasswordHash: h11})
	})
	var compared []int
	d.srv.auth.compare = func(hash, password []byte) error {
		cost, err := bcrypt.Cost(hash)
		if err != nil {
			t.Errorf("compared against a non-hash %q", hash)
		}
		compared = append(compared, cost)
		return fastCompare(hash, password)
	}
	cases := []struct {
		name, body string
		want       int
		cost       int
	}{
		{"known name, wrong password", `{"name":"xiao","password":"wrong"}`, 401, 10},
		{"unknown name", `{"name":"nobody-at-all","password":"wrong"}`, 401, 11},
		{"empty name", `{"name":"","password":""}`, 401, 11},
		{"password over 72 bytes", `{"name":"xiao","password":"` + strings.Repeat("p", 73) + `"}`, 401, 10},
		{"right password", `{"name":"xiao","password":"correct horse"}`, 200, 10},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			compared = nil
			rec := request(d.h, "POST", "/api/v1/login", "", strings.NewReader(tc.body), map[string]string{"RemoteAddr": fmt.Sprintf("198.51.100.%d:1", i)})
			if rec.Code != tc.want || len(compared) != 1 || compared[0] != tc.cost {
				t.Errorf("status %d, comparisons at cost %v; want %d after one at cost %d", rec.Code, compared, tc.want, tc.cost)
			}
			if tc.want == 401 && !strings.Contains(rec.Body.String(), `"wrong name or password"`) {
				t.Errorf("the refusal tells something: %s", rec.Body.String())
			}
		})
	}
	if cost, _ := bcrypt.Cost(newAuthenticator(deskconfig.Config{}, nil, time.Now).dummy); cost != bcrypt.DefaultCost {
		t.Errorf("dummy hash cost %d without staff, want %d", cost, bcrypt.DefaultCost)
	}
	// The real comparison against the dummy does fail (it is a hash of no one's password).
	for cost, h := range dummyHashes {
		if c, err := bcrypt.Cost([]byte(h)); err != nil || c != cost {
			t.Errorf("dummy hash of cost %d has cost %d (%v)", cost, c, err)
		}
	}
	if err := bcrypt.CompareHashAndPassword([]byte(dummyHashes[10]), []byte("")); err == nil {
		t.Error("the dummy hash matches an empty password")
	}
}

// A session ends when its user is removed from the configuration or given a
// new password (the desk restarted or reloaded with the new file).
func TestSessionsEndOnUserChange(t *testing.T) {
	d := newDesk(t, nil)
	code, body := d.call(t, "POST", "/api/v1/login", "", `{"name":"xiao","password":"correct horse"}`)
	if code != 200 {
		t.Fatalf("login: %d %s", code, body)
	}
	session := decodeInto[struct{ Token string }](t, body).Token
	base := d.srv.cfg
	restart := func(staff []deskconfig.Staff) http.Handler {
		cfg := base
		cfg.Staff = staff
		return New(cfg, d.st, slog.New(slog.NewTextHandler(io.Discard, nil)), WithClock(d.clock.Now)).Handler()
	}
	xiao := base.Staff[0]
	renamed := xiao
	renamed.DisplayName = "王小" // not the password: the session lives on
	changed := xiao
	changed.PasswordHash = otherPasswordHash
	cases := []struct {
		name  string
		staff []deskconfig.Staff
		want  int
	}{
		{"same configuration", []deskconfig.Staff{xiao}, 200},
		{"display name changed", []deskconfig.Staff{renamed}, 200},
		{"password changed", []deskconfig.Staff{changed}, 401},
		{"user removed", nil, 401},
		{"user back with the old password", []deskconfig.Staff{xiao}, 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if code, body := call(t, restart(tc.staff), "GET", "/api/v1/me", session, ""); code != tc.want {
				t.Errorf("me: %d %s, want %d", code, body, tc.want)
			}
		})
	}
}

// On a real listener: a body sent slowly to /login is cut off by the read
// timeout, while the event stream outlives both the read and the write
// timeouts.
func TestServerTimeouts(t *testing.T) {
	addr := testenv.FreeAddr(t)
	d := newDesk(t, func(c *deskconfig.Config) {
		c.Listen = addr
		c.ReadTimeout, c.WriteTimeout, c.IdleTimeout = 300*time.Millisecond, 300*time.Millisecond, time.Second
	})
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan error, 1)
	done := make(chan error, 1)
	go func() { done <- d.srv.Run(ctx, ready) }()
	if err := <-ready; err != nil {
		t.Fatal(err)
	}
	defer func() {
		cancel()
		<-done
	}()

	t.Run("slow login body", func(t *testing.T) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "POST /api/v1/login HTTP/1.1\r\nHost: desk\r\nContent-Type: application/json\r\nContent-Length: 60\r\n\r\n{\"na")
		start := time.Now()
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		// Keep trickling a byte now and then; the server must give up anyway.
		stop := make(chan struct{})
		defer close(stop)
		go func() {
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
					if _, err := conn.Write([]byte(" ")); err != nil {
						return
					}
				}
			}
		}()
		_, _ = io.ReadAll(conn) // the answer (400) if any, then the close
		if took := time.Since(start); took > 5*time.Second {
			t.Fatalf("the slow body held the connection for %s", took)
		}
	})

	t.Run("event stream outlives the timeouts", func(t *testing.T) {
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/api/v1/events", nil)
		req.Header.Set("Authorization", "Bearer "+adminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("events: %d", resp.StatusCode)
		}
		got := make(chan string, 1)
		go func() {
			b := make([]byte, 0, 4096)
			buf := make([]byte, 512)
			for {
				n, err := resp.Body.Read(buf)
				b = append(b, buf[:n]...)
				if strings.Contains(string(b), "flooding B2") || err != nil {
					got <- string(b)
					return
				}
			}
		}()
		// Wait past both timeouts, then make an event: the stream still delivers it.
		waitUntil := time.Now().Add(time.Second)
		for time.Now().Before(waitUntil) {
			select {
			case s := <-got:
				t.Fatalf("the stream ended before any event: %q", s)
			case <-time.After(50 * time.Millisecond):
			}
		}
		post, _ := http.NewRequest("POST", "http://"+addr+"/api/v1/tickets", strings.NewReader(`{"kind":"emergency","title":"flooding B2","site":"site-a"}`))
		post.Header.Set("Content-Type", "application/json")
		post.Header.Set("Authorization", "Bearer "+adminToken)
		pr, err := http.DefaultClient.Do(post)
		if err != nil || pr.StatusCode != 201 {
			t.Fatalf("create: %v %v", pr, err)
		}
		pr.Body.Close()
		select {
		case s := <-got:
			if !strings.Contains(s, "flooding B2") {
				t.Fatalf("the stream ended without the event: %q", s)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no event on the stream")
		}
	})
}
