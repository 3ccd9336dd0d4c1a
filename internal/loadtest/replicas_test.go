package loadtest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/crypto/bcrypt"

	"github.com/estatehq/estate/internal/testenv"
)

// What of site B no caller bound to site A may read (as desk/isolation_test.go).
const (
	secretTitle = "SECRET-B"
	secretName  = "Bob-of-B"
	secretPhone = "13800000002"
	phoneA      = "13900000001"
)

func call(t testing.TB, method, url, token, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitFor polls cond until it holds or limit passes.
func waitFor(t testing.TB, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", limit, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// tableEvents reads the events table straight from PostgreSQL: what every
// console must have received, in this order (site "" for all sites).
func tableEvents(t testing.TB, db *pgx.Conn, site string) []int64 {
	t.Helper()
	q := `SELECT id FROM events ORDER BY id`
	var args []any
	if site != "" {
		q, args = `SELECT id FROM events WHERE site = $1 ORDER BY id`, []any{site}
	}
	rows, err := db.Query(context.Background(), q, args...)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func ids(evs []Event, after int64) []int64 {
	var out []int64
	for _, e := range evs {
		if e.ID > after {
			out = append(out, e.ID)
		}
	}
	return out
}

// replicaDesk is two replicas on a database of the test's own.
type replicaDesk struct {
	db       *pgx.Conn
	r1, r2   *Replica
	hook     *hookCounter
	password string
}

// Tokens of the replica tests.
const (
	rootToken     = "replica-root-0123456789"
	gwAToken      = "replica-gw-a-0123456789"
	gwBToken      = "replica-gw-b-0123456789"
	gwEscToken    = "replica-gw-esc-0123456789"
	engineerToken = "replica-engineer-a-0123456789"
)

// hookCounter is the webhook channel: it counts notifications per ticket and event.
type hookCounter struct {
	mu   sync.Mutex
	seen map[string]int // "<ticket>/<event>"
}

func (h *hookCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var n struct {
		Event  string `json:"event"`
		Ticket struct {
			ID int64 `json:"id"`
		} `json:"ticket"`
	}
	_ = json.NewDecoder(r.Body).Decode(&n)
	h.mu.Lock()
	h.seen[fmt.Sprintf("%d/%s", n.Ticket.ID, n.Event)]++
	h.mu.Unlock()
}

func (h *hookCounter) count(ticket int64, event string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.seen[fmt.Sprintf("%d/%s", ticket, event)]
}

func startReplicaDesk(t *testing.T) *replicaDesk {
	pgURL := testenv.PostgreSQL(t)
	bin := Binary(t)
	hook := &hookCounter{seen: map[string]int{}}
	hs := httptest.NewServer(hook)
	t.Cleanup(hs.Close)
	password := "correct horse battery"
	hash, err := bcrypt.GenerateFromPassword([]byte(password), 10)
	if err != nil {
		t.Fatal(err)
	}
	cfg := DeskConfig{Database: pgURL, Webhook: hs.URL, LoginAttempts: 3,
		Tokens: []Token{{"root", rootToken, "admin", ""}, {"gw-a", gwAToken, "gateway", "site-a"}, {"gw-b", gwBToken, "gateway", "site-b"},
			{"gw-esc", gwEscToken, "gateway", "esc"}, {"engineer-a", engineerToken, "engineer", "site-a"}},
		Staff: []Staff{{"amy", "assistant", "", string(hash)}},
		// Only site esc has deadlines short enough to pass during the test.
		Deadlines: "    - {site: esc, kind: repair, steps: {dispatch: 2s, on_site: none, resolve: none}}\n",
	}
	dir := t.TempDir()
	l1, l2 := testenv.FreeAddr(t), testenv.FreeAddr(t)
	// Both start at once: they migrate the new database one after the other.
	var r1, r2 *Replica
	var wg sync.WaitGroup
	wg.Go(func() { r1 = StartReplica(t, bin, cfg.Write(t, dir, "replica-1", l1), "replica-1", l1) })
	wg.Go(func() { r2 = StartReplica(t, bin, cfg.Write(t, dir, "replica-2", l2), "replica-2", l2) })
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	db, err := pgx.Connect(ctx, pgURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close(context.Background()) })
	return &replicaDesk{db: db, r1: r1, r2: r2, hook: hook, password: password}
}

func createTicket(t testing.TB, r *Replica, token, site, title string) int64 {
	t.Helper()
	id, err := tryCreateTicket(r, token, site, title)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// tryCreateTicket is createTicket for goroutines (which may not t.Fatal).
func tryCreateTicket(r *Replica, token, site, title string) (int64, error) {
	body := fmt.Sprintf(`{"kind":"repair","title":%q,"site":%q,"reporter":%q,"phone":%q,"source":"phone"}`, title, site, "Ann-of-A", phoneA)
	if site == "site-b" {
		body = fmt.Sprintf(`{"kind":"repair","title":%q,"site":%q,"reporter":%q,"phone":%q,"source":"phone"}`, secretTitle+" "+title, site, secretName, secretPhone)
	}
	code, out := post(r.URL+"/api/v1/tickets", token, body)
	if code != http.StatusCreated {
		return 0, fmt.Errorf("create on %s: %d %s", r.Name, code, out)
	}
	var tk struct {
		ID int64 `json:"id"`
	}
	if err := json.Unmarshal([]byte(out), &tk); err != nil {
		return 0, err
	}
	return tk.ID, nil
}

func post(url, token, body string) (int, string) {
	req, err := http.NewRequest("POST", url, strings.NewReader(body))
	if err != nil {
		return 0, err.Error()
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// checkConsole compares what a console received after from with the events
// table: the same ids, once each, in order.
func checkConsole(t *testing.T, name string, c *Console, want []int64, from int64) {
	t.Helper()
	got := ids(c.Events(), from)
	if !slices.Equal(got, want) {
		t.Errorf("%s received %d events, the table holds %d: got %v, want %v", name, len(got), len(want), got, want)
	}
}

func after(ids []int64, from int64) []int64 {
	var out []int64
	for _, id := range ids {
		if id > from {
			out = append(out, id)
		}
	}
	return out
}

// Two `estate desk` processes on one PostgreSQL behind no balancer at all
// (each client picks one): consoles on each see every ticket created on
// either exactly once and in order, a site-bound console its site only and
// no residents' details; a session from one works on the other and its
// logout ends streams on both; failed logins count across them; a due
// escalation fires once; a replica killed with SIGKILL mid-stream leaves its
// consoles to resume on the other with Last-Event-ID, missing nothing.
func TestReplicasOnPostgreSQL(t *testing.T) {
	d := startReplicaDesk(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	r1, r2 := d.r1, d.r2

	// Consoles from the start of the stream (Last-Event-ID 0): all sites on
	// each replica, and site A's engineer on each.
	all1 := OpenConsole(ctx, rootToken, 0, r1, r2)
	all2 := OpenConsole(ctx, rootToken, 0, r2, r1)
	eng1 := OpenConsole(ctx, engineerToken, 0, r1, r2)
	eng2 := OpenConsole(ctx, engineerToken, 0, r2, r1)
	consoles := map[string]*Console{"all-sites on replica-1": all1, "all-sites on replica-2": all2,
		"site-a engineer on replica-1": eng1, "site-a engineer on replica-2": eng2}
	for name, c := range consoles {
		select {
		case <-c.Opened():
		case <-ctx.Done():
			t.Fatalf("%s never opened", name)
		}
	}

	t.Run("tickets from both replicas reach every console once, in order", func(t *testing.T) {
		var wg sync.WaitGroup
		for w, who := range []struct {
			token, site string
		}{{gwAToken, "site-a"}, {gwBToken, "site-b"}, {rootToken, "site-a"}, {rootToken, "site-b"}} {
			wg.Go(func() {
				for i := range 10 {
					r := []*Replica{r1, r2}[(w+i)%2]
					if _, err := tryCreateTicket(r, who.token, who.site, fmt.Sprintf("w%d-%d via %s", w, i, r.Name)); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		all, siteA := tableEvents(t, d.db, ""), tableEvents(t, d.db, "site-a")
		if len(all) != 40 || len(siteA) != 20 {
			t.Fatalf("the table holds %d events (%d of site A), want 40 (20)", len(all), len(siteA))
		}
		waitFor(t, time.Minute, "every console caught up", func() bool {
			return len(all1.Events()) >= 40 && len(all2.Events()) >= 40 && len(eng1.Events()) >= 20 && len(eng2.Events()) >= 20
		})
		checkConsole(t, "all-sites on replica-1", all1, all, 0)
		checkConsole(t, "all-sites on replica-2", all2, all, 0)
		checkConsole(t, "site-a engineer on replica-1", eng1, siteA, 0)
		checkConsole(t, "site-a engineer on replica-2", eng2, siteA, 0)
		for _, c := range []*Console{eng1, eng2} {
			for _, e := range c.Events() {
				if e.Site != "site-a" || strings.Contains(e.Data, secretTitle) || strings.Contains(e.Data, secretPhone) || strings.Contains(e.Data, secretName) {
					t.Errorf("site A's engineer received %s", e.Data)
				}
				if strings.Contains(e.Data, phoneA) {
					t.Errorf("an engineer received a resident's phone: %s", e.Data)
				}
			}
		}
		// Site A's gateway reads no site-B ticket through either replica.
		for _, e := range all1.Events() {
			if e.Site == "site-b" {
				for _, r := range []*Replica{r1, r2} {
					if code, out := call(t, "GET", fmt.Sprintf("%s/api/v1/tickets/%d", r.URL, e.TicketID), gwAToken, ""); code != http.StatusNotFound {
						t.Errorf("site A's gateway read site B's ticket %d on %s: %d %s", e.TicketID, r.Name, code, out)
					}
				}
				break
			}
		}
	})

	t.Run("a session from one replica works on the other and ends on both", func(t *testing.T) {
		code, out := call(t, "POST", r1.URL+"/api/v1/login", "", fmt.Sprintf(`{"name":"amy","password":%q}`, d.password))
		if code != http.StatusOK {
			t.Fatalf("login on replica-1: %d %s", code, out)
		}
		var login struct {
			Token string `json:"token"`
		}
		_ = json.Unmarshal([]byte(out), &login)
		if code, out := call(t, "GET", r2.URL+"/api/v1/me", login.Token, ""); code != http.StatusOK || !strings.Contains(out, `"amy"`) {
			t.Fatalf("replica-1's session on replica-2: %d %s", code, out)
		}
		sctx, scancel := context.WithCancel(ctx)
		defer scancel()
		stream := OpenConsole(sctx, login.Token, -1, r2, r1)
		select {
		case <-stream.Opened():
		case <-ctx.Done():
			t.Fatal("the session's stream on replica-2 never opened")
		}
		if code, out := call(t, "POST", r1.URL+"/api/v1/logout", login.Token, ""); code != http.StatusNoContent {
			t.Fatalf("logout on replica-1: %d %s", code, out)
		}
		if code, _ := call(t, "GET", r2.URL+"/api/v1/me", login.Token, ""); code != http.StatusUnauthorized {
			t.Errorf("the session still works on replica-2 after its logout on replica-1: %d", code)
		}
		// The stream on replica-2 ends within a poll and is refused when it comes back.
		select {
		case <-stream.Stopped():
		case <-time.After(30 * time.Second):
			t.Fatalf("the logged-out session's stream on replica-2 still runs: %v", stream.Statuses())
		}
		if st := stream.Statuses(); st[len(st)-1] != http.StatusUnauthorized {
			t.Errorf("the stream's reconnection was answered %v, want 401 last", st)
		}
	})

	t.Run("failed logins count across replicas", func(t *testing.T) {
		// login_attempts 3: three failures spread over both replicas, then
		// the right password is refused on either.
		for i, r := range []*Replica{r1, r2, r1} {
			if code, out := call(t, "POST", r.URL+"/api/v1/login", "", `{"name":"amy","password":"wrong"}`); code != http.StatusUnauthorized {
				t.Fatalf("failure %d on %s: %d %s", i+1, r.Name, code, out)
			}
		}
		for _, r := range []*Replica{r2, r1} {
			if code, out := call(t, "POST", r.URL+"/api/v1/login", "", fmt.Sprintf(`{"name":"amy","password":%q}`, d.password)); code != http.StatusTooManyRequests {
				t.Errorf("after 3 failures on two replicas, %s answered %d %s, want 429", r.Name, code, out)
			}
		}
	})

	t.Run("a due escalation fires once with two replicas", func(t *testing.T) {
		const n = 12
		var tickets []int64
		for i := range n {
			tickets = append(tickets, createTicket(t, []*Replica{r1, r2}[i%2], gwEscToken, "esc", fmt.Sprintf("pump %d", i)))
		}
		missed := func(id int64) int {
			var c int
			if err := d.db.QueryRow(ctx, `SELECT COUNT(*) FROM ticket_audit WHERE ticket_id = $1 AND action = 'deadline_missed'`, id).Scan(&c); err != nil {
				t.Fatal(err)
			}
			return c
		}
		waitFor(t, time.Minute, "every esc ticket escalated and its notification delivered", func() bool {
			for _, id := range tickets {
				if missed(id) == 0 || d.hook.count(id, "deadline_missed:dispatch") == 0 {
					return false
				}
			}
			return true
		})
		// Both replicas go on looking: let each complete two more rounds.
		rounds := func(r *Replica) float64 {
			v, err := r.Metric("estate_desk_escalation_rounds_total")
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
		base1, base2 := rounds(r1), rounds(r2)
		waitFor(t, time.Minute, "two more scheduler rounds on each replica", func() bool {
			return rounds(r1) >= base1+2 && rounds(r2) >= base2+2
		})
		m1, _ := r1.Metric("estate_desk_deadlines_missed_total")
		m2, _ := r2.Metric("estate_desk_deadlines_missed_total")
		t.Logf("escalations: replica-1 %v, replica-2 %v", m1, m2)
		if m1+m2 != n {
			t.Errorf("the replicas escalated %v + %v deadlines, want %d", m1, m2, n)
		}
		for _, id := range tickets {
			if c := missed(id); c != 1 {
				t.Errorf("ticket %d: %d deadline_missed audit entries, want 1", id, c)
			}
			if c := d.hook.count(id, "deadline_missed:dispatch"); c != 1 {
				t.Errorf("ticket %d: %d escalation notifications, want 1", id, c)
			}
		}
	})

	t.Run("a replica killed mid-stream: its consoles resume on the other", func(t *testing.T) {
		before := tableEvents(t, d.db, "")
		from := before[len(before)-1]
		// Writers on replica-2 keep creating tickets while replica-1 dies.
		wctx, stopWriters := context.WithCancel(ctx)
		var wg sync.WaitGroup
		for w, who := range []struct{ token, site string }{{gwAToken, "site-a"}, {gwBToken, "site-b"}} {
			wg.Go(func() {
				for i := 0; wctx.Err() == nil && i < 200; i++ {
					if _, err := tryCreateTicket(r2, who.token, who.site, fmt.Sprintf("storm %d-%d", w, i)); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		// Kill replica-1 once its consoles are mid-stream (have some of the new events).
		waitFor(t, time.Minute, "replica-1's consoles received new events", func() bool {
			return len(ids(all1.Events(), from)) >= 10 && len(ids(eng1.Events(), from)) >= 3
		})
		r1.Kill()
		killedAt := tableEvents(t, d.db, "")
		t.Logf("replica-1 killed after event %d (%d new events so far)", killedAt[len(killedAt)-1], len(after(killedAt, from)))
		// More tickets after the kill, then the writers stop.
		waitFor(t, time.Minute, "more tickets after the kill", func() bool {
			return len(after(tableEvents(t, d.db, ""), killedAt[len(killedAt)-1])) >= 20
		})
		stopWriters()
		wg.Wait()
		all, siteA := after(tableEvents(t, d.db, ""), from), after(tableEvents(t, d.db, "site-a"), from)
		waitFor(t, time.Minute, "every console caught up after the kill", func() bool {
			return len(ids(all1.Events(), from)) >= len(all) && len(ids(all2.Events(), from)) >= len(all) &&
				len(ids(eng1.Events(), from)) >= len(siteA) && len(ids(eng2.Events(), from)) >= len(siteA)
		})
		checkConsole(t, "all-sites, resumed from replica-1 on replica-2", all1, all, from)
		checkConsole(t, "all-sites on replica-2", all2, all, from)
		checkConsole(t, "site-a engineer, resumed from replica-1 on replica-2", eng1, siteA, from)
		checkConsole(t, "site-a engineer on replica-2", eng2, siteA, from)
		for name, c := range map[string]*Console{"all-sites": all1, "site-a engineer": eng1} {
			evs := c.Events()
			if last := evs[len(evs)-1]; last.Replica != "replica-2" || c.Resumed() == 0 {
				t.Errorf("%s console of replica-1: last event from %s after %d reconnections", name, last.Replica, c.Resumed())
			}
		}
		for _, e := range eng1.Events() {
			if e.Site != "site-a" || strings.Contains(e.Data, secretTitle) {
				t.Errorf("site A's engineer, resumed on replica-2, received %s", e.Data)
			}
		}
		t.Logf("%d events after the kill point reached all four consoles once and in order", len(all))
	})
}
