package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/estatehq/estate/desk/ticket"
	"github.com/estatehq/estate/internal/testenv"
	"github.com/estatehq/estate/internal/wire"
)

// backend opens a fresh store of one dialect; open may be called again for a
// second handle on the same database (a restart, or a second desk).
type backend struct {
	name string
	open func(t testing.TB, p Policy) *Store
}

// backends gives every test the same suite on SQLite and on the real
// PostgreSQL that `make test` starts (skipped without it, failing in CI).
func backends(t *testing.T) []backend {
	sqlitePath := filepath.Join(t.TempDir(), "desk.db")
	var pgURL string
	return []backend{
		{SQLiteDialect, func(t testing.TB, p Policy) *Store {
			st, err := Open(context.Background(), SQLiteDialect, sqlitePath, p)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		}},
		{PostgresDialect, func(t testing.TB, p Policy) *Store {
			if pgURL == "" {
				pgURL = testenv.PostgreSQL(t)
			}
			st, err := Open(context.Background(), PostgresDialect, pgURL, p)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		}},
	}
}

func forEachStore(t *testing.T, test func(t *testing.T, b backend)) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) { test(t, b) })
	}
}

var t0 = time.Date(2026, 11, 24, 2, 0, 0, 0, time.UTC) // 10:00 in Shanghai

// Many concurrent requests for one alarm key leave exactly one open ticket:
// the unique index decides, not a check in memory.
func TestConcurrentCreatesOfOneAlarmMakeOneTicket(t *testing.T) {
	forEachStore(t, func(t *testing.T, b backend) {
		st := b.open(t, Policy{})
		ctx := context.Background()
		n := wire.NewTicket{Kind: wire.Emergency, Title: "fire", Site: "s", AlarmKey: "s/fire/panel-1"}
		var wg sync.WaitGroup
		var mu sync.Mutex
		created := 0
		ids := map[int64]bool{}
		for range 20 {
			wg.Go(func() {
				tk, isNew, err := st.CreateTicket(ctx, n, "gw", time.Now())
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				ids[tk.ID] = true
				if isNew {
					created++
				}
			})
		}
		wg.Wait()
		if created != 1 || len(ids) != 1 {
			t.Fatalf("created %d tickets with ids %v, want exactly one", created, ids)
		}
		list, err := st.ListTickets(ctx, Filter{})
		if err != nil || len(list) != 1 || list[0].Priority != "P1" {
			t.Fatalf("list: %v %+v", err, list)
		}
	})
}

func TestListPagingAndSearch(t *testing.T) {
	forEachStore(t, func(t *testing.T, b backend) {
		st := b.open(t, Policy{})
		ctx := context.Background()
		for i, title := range []string{"Leak in kitchen", "door 100% stuck", "LEAK under sink", "电梯困人 二号梯"} {
			if _, isNew, err := st.CreateTicket(ctx, wire.NewTicket{Kind: wire.Request, Title: title, Site: "s",
				Description: fmt.Sprint("call ", i)}, "front", t0); err != nil || !isNew {
				t.Fatalf("create: %v new=%v", err, isNew)
			}
		}
		for q, want := range map[string]int{"困人": 1, "电梯困": 1, "二号梯": 1, `"quoted"`: 0, "kitchen": 1} {
			if found, err := st.ListTickets(ctx, Filter{Search: q}); err != nil || len(found) != want {
				t.Errorf("search %q: %d tickets, %v; want %d", q, len(found), err, want)
			}
		}
		if b.name == PostgresDialect {
			var n int
			if err := st.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM pg_indexes WHERE indexname = 'tickets_title_trgm'`).Scan(&n); err != nil || n != 1 {
				t.Errorf("trigram index on PostgreSQL: %d, %v", n, err)
			}
		}
		list, _ := st.ListTickets(ctx, Filter{Kind: wire.Request, Limit: 2, BeforeID: 4})
		if len(list) != 2 || list[0].ID != 3 || list[0].Source != wire.SourcePhone {
			t.Fatalf("newest first, limited: %+v", list)
		}
		older, _ := st.ListTickets(ctx, Filter{BeforeID: list[1].ID})
		if len(older) != 1 || older[0].ID != 1 {
			t.Fatalf("paging: %+v", older)
		}
		oldest, _ := st.ListTickets(ctx, Filter{Oldest: true, AfterID: 1})
		if len(oldest) != 3 || oldest[0].ID != 2 {
			t.Fatalf("oldest first after 1: %+v", oldest)
		}
		found, _ := st.ListTickets(ctx, Filter{Search: "leak"})
		if len(found) != 2 {
			t.Errorf("search leak: %d tickets", len(found))
		}
		if found, _ := st.ListTickets(ctx, Filter{Search: "100%"}); len(found) != 1 {
			t.Errorf("search with a LIKE wildcard: %d tickets", len(found))
		}
		if found, _ := st.ListTickets(ctx, Filter{Search: "call 2"}); len(found) != 1 {
			t.Errorf("search in description: %d tickets", len(found))
		}
		if _, err := st.GetTicket(ctx, 42); !errors.Is(err, ErrNotFound) {
			t.Fatalf("missing ticket: %v", err)
		}
	})
}

func TestReadingSurvivesRoundTrip(t *testing.T) {
	forEachStore(t, func(t *testing.T, b backend) {
		st := b.open(t, Policy{})
		at := time.Date(2026, 11, 24, 8, 0, 0, 123456789, time.UTC)
		tk, _, err := st.CreateTicket(context.Background(), wire.NewTicket{Kind: wire.TopUp, Title: "low", Site: "s",
			Building: "1", Unit: "1-101", Device: "m", Reading: &wire.Reading{Point: "balance", Value: 9.25, Unit: "CNY", At: at}}, "gw", at)
		if err != nil {
			t.Fatal(err)
		}
		got, err := st.GetTicket(context.Background(), tk.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Reading == nil || got.Reading.Value != 9.25 || !got.Reading.At.Equal(at) || got.Building != "1" || !got.CreatedAt.Equal(at) {
			t.Fatalf("round trip: %+v %+v", got, got.Reading)
		}
	})
}

// A complaint goes the whole way; every step is in the audit trail, a
// forbidden step writes nothing, and the deadlines are met as it goes.
func TestComplaintLifecycleAndAudit(t *testing.T) {
	forEachStore(t, func(t *testing.T, b backend) {
		st := b.open(t, Policy{})
		ctx := context.Background()
		tk, _, err := st.CreateTicket(ctx, wire.NewTicket{Kind: wire.Complaint, Title: "noise at night", Site: "s",
			Unit: "2-301", Reporter: "Wang", Phone: "13800000000"}, "front", t0)
		if err != nil {
			t.Fatal(err)
		}
		at := t0
		step := func(c ticket.Change) (wire.Ticket, error) {
			at = at.Add(5 * time.Minute)
			return st.Transition(ctx, tk.ID, c, "li", at)
		}
		if _, err := step(ticket.Change{Action: ticket.Dispatch, Assignee: "li", Team: "security"}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.AddComment(ctx, tk.ID, "li", CommentStaff, "called the neighbour", at.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if _, err := step(ticket.Change{Action: ticket.Resolve}); err == nil {
			t.Fatal("resolve without what was done accepted")
		}
		if _, err := step(ticket.Change{Action: ticket.Resolve, Resolution: "spoke to 2-401"}); err != nil {
			t.Fatal(err)
		}
		var te *ticket.TransitionError
		if _, err := step(ticket.Change{Action: ticket.CloseTicket}); !errors.As(err, &te) {
			t.Fatalf("closing a complaint before follow-up: %v", err)
		}
		if _, err := step(ticket.Change{Action: ticket.FollowUp, Satisfaction: 4, FollowUpNote: "quiet now"}); err != nil {
			t.Fatal(err)
		}
		got, err := step(ticket.Change{Action: ticket.CloseTicket})
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != wire.Closed || got.Satisfaction != 4 || got.Resolution != "spoke to 2-401" || got.Assignee != "li" ||
			got.DispatchedAt == nil || got.ResolvedAt == nil || got.FollowedUpAt == nil || got.ClosedAt == nil || got.OnSiteAt != nil {
			t.Fatalf("closed ticket: %+v", got)
		}
		trail, err := st.Audit(ctx, tk.ID)
		if err != nil {
			t.Fatal(err)
		}
		var steps []string
		for _, e := range trail {
			steps = append(steps, fmt.Sprintf("%s:%s>%s", e.Action, e.From, e.To))
		}
		want := []string{"created:>new", "dispatch:new>dispatched", "comment:dispatched>dispatched", "resolve:dispatched>resolved",
			"follow_up:resolved>followed_up", "close:followed_up>closed"}
		if !slices.Equal(steps, want) {
			t.Fatalf("audit trail:\n got %v\nwant %v", steps, want)
		}
		states := map[wire.Step]wire.DeadlineState{}
		for _, d := range got.Deadlines {
			states[d.Step] = d.State
		}
		wantStates := map[wire.Step]wire.DeadlineState{wire.StepDispatch: wire.DeadlineMet, wire.StepRespond: wire.DeadlineMet,
			wire.StepResolve: wire.DeadlineMet, wire.StepFollowUp: wire.DeadlineMet,
			// The follow-up told the resident the result; a solved case needs no more weekly calls.
			wire.StepReply: wire.DeadlineMet, wire.StepWeeklyCall: wire.DeadlineWithdrawn}
		if fmt.Sprint(states) != fmt.Sprint(wantStates) {
			t.Fatalf("deadlines: %v, want %v", states, wantStates)
		}
		if _, err := st.Transition(ctx, 999, ticket.Change{Action: ticket.Acknowledge}, "li", at); !errors.Is(err, ErrNotFound) {
			t.Fatalf("missing ticket: %v", err)
		}
	})
}

func TestReopenKeepsOneOpenTicketPerAlarm(t *testing.T) {
	forEachStore(t, func(t *testing.T, b backend) {
		st := b.open(t, Policy{})
		ctx := context.Background()
		n := wire.NewTicket{Kind: wire.Repair, Title: "meter offline", Site: "s", AlarmKey: "s/offline/m1"}
		first, _, _ := st.CreateTicket(ctx, n, "gw", t0)
		for _, c := range []ticket.Change{{Action: ticket.Dispatch, Team: "engineering"}, {Action: ticket.Resolve, Resolution: "cable"},
			{Action: ticket.CloseTicket}} {
			if _, err := st.Transition(ctx, first.ID, c, "li", t0); err != nil {
				t.Fatal(err)
			}
		}
		second, created, err := st.CreateTicket(ctx, n, "gw", t0)
		if err != nil || !created || second.ID == first.ID {
			t.Fatalf("new episode after close: %v created=%v", err, created)
		}
		_, err = st.Transition(ctx, first.ID, ticket.Change{Action: ticket.Reopen, Note: "again"}, "li", t0)
		if !errors.Is(err, ErrConflict) {
			t.Fatalf("reopen while another ticket holds the alarm: %v", err)
		}
		if got, _ := st.GetTicket(ctx, first.ID); got.Status != wire.Closed {
			t.Fatalf("refused reopen changed the ticket: %s", got.Status)
		}
	})
}

// The scheduler marks a missed deadline once, escalates one rung per miss,
// writes the notifications in the same transaction, and does not repeat
// itself after a restart.
func TestMissedDeadlinesEscalateOnce(t *testing.T) {
	forEachStore(t, func(t *testing.T, b backend) {
		shanghai, _ := time.LoadLocation("Asia/Shanghai")
		var routed []string
		policy := Policy{
			Location: func(string) *time.Location { return shanghai },
			Route: func(tk wire.Ticket, event string, levels []ticket.Level) []string {
				routed = append(routed, fmt.Sprintf("%s %v", event, levels))
				return []string{"ops-group"}
			},
		}
		st := b.open(t, policy)
		ctx := context.Background()
		tk, _, err := st.CreateTicket(ctx, wire.NewTicket{Kind: wire.Repair, Title: "door fault", Site: "s"}, "gw", t0)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := st.GetTicket(ctx, tk.ID)
		due := map[wire.Step]time.Time{}
		for _, d := range got.Deadlines {
			due[d.Step] = d.DueAt
		}
		if !due[wire.StepDispatch].Equal(t0.Add(10*time.Minute)) || !due[wire.StepOnSite].Equal(t0.Add(15*time.Minute)) ||
			!due[wire.StepResolve].Equal(time.Date(2026, 11, 25, 0, 0, 0, 0, shanghai)) ||
			!due[wire.StepWeeklyCall].Equal(t0.AddDate(0, 0, 7)) || len(due) != 4 {
			t.Fatalf("due times: %v", due)
		}
		if m, err := st.MissDeadlines(ctx, t0.Add(9*time.Minute), 100); err != nil || len(m) != 0 {
			t.Fatalf("before any deadline: %v %v", m, err)
		}
		m, err := st.MissDeadlines(ctx, t0.Add(11*time.Minute), 100)
		if err != nil || len(m) != 1 || m[0].Step != wire.StepDispatch || m[0].Level != ticket.LevelSupervisor {
			t.Fatalf("dispatch missed: %+v %v", m, err)
		}
		if m, _ := st.MissDeadlines(ctx, t0.Add(12*time.Minute), 100); len(m) != 0 {
			t.Fatalf("the same miss again: %+v", m)
		}
		restarted := b.open(t, policy) // a second handle: as after a restart
		m, err = restarted.MissDeadlines(ctx, t0.Add(16*time.Minute), 100)
		if err != nil || len(m) != 1 || m[0].Step != wire.StepOnSite || m[0].Level != ticket.LevelManager {
			t.Fatalf("on site missed after restart: %+v %v", m, err)
		}
		got, _ = st.GetTicket(ctx, tk.ID)
		if got.EscalationLevel != 2 {
			t.Errorf("escalation level %d, want 2 (manager)", got.EscalationLevel)
		}
		trail, _ := st.Audit(ctx, tk.ID)
		if len(trail) != 3 || trail[1].Action != "deadline_missed" || !strings.Contains(trail[1].Note, "dispatch was due") {
			t.Errorf("audit: %+v", trail)
		}
		wantRouted := []string{"created [assignee]", "deadline_missed:dispatch [supervisor]", "deadline_missed:on_site [manager]"}
		if !slices.Equal(routed, wantRouted) {
			t.Errorf("routed %v, want %v", routed, wantRouted)
		}
		// Dispatching now meets nothing already missed; resolving meets the rest.
		if _, err := st.Transition(ctx, tk.ID, ticket.Change{Action: ticket.Dispatch, Assignee: "zhang"}, "front", t0.Add(17*time.Minute)); err != nil {
			t.Fatal(err)
		}
		got, _ = st.GetTicket(ctx, tk.ID)
		for _, d := range got.Deadlines {
			if d.Step == wire.StepDispatch && (d.State != wire.DeadlineMissed || d.MissedAt == nil) {
				t.Errorf("a late dispatch unmarked the miss: %+v", d)
			}
		}
	})
}

// Two desks on one database run their schedulers at once: every deadline is
// escalated by exactly one of them.
func TestTwoSchedulersNeverDoubleEscalate(t *testing.T) {
	forEachStore(t, func(t *testing.T, b backend) {
		policy := Policy{Route: func(wire.Ticket, string, []ticket.Level) []string { return []string{"ch"} }}
		deskA, deskB := b.open(t, policy), b.open(t, policy)
		ctx := context.Background()
		const tickets = 40
		for i := range tickets {
			kind := wire.Emergency // two deadlines each
			if _, _, err := deskA.CreateTicket(ctx, wire.NewTicket{Kind: kind, Title: fmt.Sprint("fire ", i), Site: "s"}, "gw", t0); err != nil {
				t.Fatal(err)
			}
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		seen := map[string]int{}
		for _, st := range []*Store{deskA, deskB, deskA, deskB} {
			wg.Go(func() {
				for range 20 {
					m, err := st.MissDeadlines(ctx, t0.Add(time.Hour), 7)
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					for _, x := range m {
						seen[fmt.Sprint(x.TicketID, x.Step)]++
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(seen) != 2*tickets {
			t.Fatalf("%d deadlines escalated, want %d", len(seen), 2*tickets)
		}
		for k, n := range seen {
			if n != 1 {
				t.Errorf("%s escalated %d times", k, n)
			}
		}
		counts, _ := deskA.NotificationCounts(ctx)
		// One at creation and one per missed deadline, to one channel each.
		if counts["pending"] != tickets+2*tickets {
			t.Errorf("notifications %v, want %d pending", counts, 3*tickets)
		}
	})
}

func TestNotificationOutboxLeases(t *testing.T) {
	forEachStore(t, func(t *testing.T, b backend) {
		st := b.open(t, Policy{Route: func(wire.Ticket, string, []ticket.Level) []string { return []string{"wecom", "hook"} }})
		ctx := context.Background()
		tk, _, _ := st.CreateTicket(ctx, wire.NewTicket{Kind: wire.Emergency, Title: "entrapment", Site: "s"}, "gw", t0)
		got, err := st.ClaimNotifications(ctx, t0, 10, time.Minute)
		if err != nil || len(got) != 2 || got[0].TicketID != tk.ID || got[0].Attempts != 1 ||
			!slices.Equal(got[0].Levels, []ticket.Level{ticket.LevelAssignee, ticket.LevelManager, ticket.LevelLeadership}) ||
			got[0].Ticket.Title != "entrapment" {
			t.Fatalf("claim: %+v %v", got, err)
		}
		if again, _ := st.ClaimNotifications(ctx, t0.Add(30*time.Second), 10, time.Minute); len(again) != 0 {
			t.Fatalf("claimed while leased: %+v", again)
		}
		if err := st.MarkSent(ctx, got[0].ID, t0); err != nil {
			t.Fatal(err)
		}
		if err := st.MarkFailed(ctx, got[1].ID, "502", t0.Add(2*time.Minute)); err != nil {
			t.Fatal(err)
		}
		retry, _ := st.ClaimNotifications(ctx, t0.Add(2*time.Minute), 10, time.Minute)
		if len(retry) != 1 || retry[0].ID != got[1].ID || retry[0].Attempts != 2 {
			t.Fatalf("retry: %+v", retry)
		}
		_ = st.MarkFailed(ctx, retry[0].ID, "gave up", time.Time{})
		counts, _ := st.NotificationCounts(ctx)
		if counts["sent"] != 1 || counts["failed"] != 1 || counts["pending"] != 0 {
			t.Fatalf("counts: %v", counts)
		}
	})
}

// A household's meter raises one reminder with the resident's contact;
// reminders are recorded; the balance coming back resolves it and ends the
// episode, so the next low balance is a new reminder.
func TestTopUpReminders(t *testing.T) {
	forEachStore(t, func(t *testing.T, b backend) {
		st := b.open(t, Policy{})
		ctx := context.Background()
		err := st.PutUnit(ctx, Unit{Site: "s", Unit: "1-101", Building: "1", Floor: "1",
			Residents: []Resident{{Name: "Chen", Phone: "13900000000", Contact: "sms"}}, Meters: []string{"m1", "m1b"}})
		if err != nil {
			t.Fatal(err)
		}
		low := wire.NewTicket{Kind: wire.TopUp, Title: "low balance", Site: "s", Device: "m1", AlarmKey: "s/low/m1",
			Reading: &wire.Reading{Point: "balance", Value: 8.5, At: t0}}
		tk, created, err := st.CreateTicket(ctx, low, "gw", t0)
		if err != nil || !created || tk.Unit != "1-101" || tk.Building != "1" || tk.Phone != "13900000000" || tk.Contact != "sms" || tk.Reporter != "Chen" {
			t.Fatalf("reminder: %+v %v", tk, err)
		}
		// The household's second meter, or a second rule, is the same episode.
		other := low
		other.Device, other.AlarmKey = "m1b", "s/low/m1b"
		if again, created, err := st.CreateTicket(ctx, other, "gw", t0); err != nil || created || again.ID != tk.ID {
			t.Fatalf("second reminder for one unit: %+v created=%v %v", again, created, err)
		}
		if _, err := st.AddReminder(ctx, Reminder{TicketID: tk.ID, At: t0.Add(20 * time.Minute), By: "xiao", Channel: "phone", Answer: "will buy tonight"}); err != nil {
			t.Fatal(err)
		}
		list, err := st.TopUps(ctx, "s", t0.Add(49*time.Hour))
		if err != nil || len(list) != 1 || list[0].DaysRed != 2 || list[0].Reminders != 1 || list[0].LastReminder == nil ||
			list[0].LastReminder.Answer != "will buy tonight" || list[0].Balance == nil || *list[0].Balance != 8.5 || list[0].Phone != "13900000000" {
			t.Fatalf("daily list: %+v %v", list, err)
		}
		got, _ := st.GetTicket(ctx, tk.ID)
		if len(got.Deadlines) != 1 || got.Deadlines[0].State != wire.DeadlineMet {
			t.Errorf("remind deadline: %+v", got.Deadlines)
		}
		if _, err := st.Transition(ctx, tk.ID, ticket.Change{Action: ticket.Resolve, Resolution: "balance back at 120.00"}, "gw", t0.Add(50*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if list, _ := st.TopUps(ctx, "s", t0); len(list) != 0 {
			t.Errorf("resolved reminder still listed: %+v", list)
		}
		if _, err := st.AddReminder(ctx, Reminder{TicketID: tk.ID, At: t0, By: "xiao", Channel: "phone"}); !errors.Is(err, ErrNotTopUp) {
			t.Errorf("reminder on a resolved ticket: %v", err)
		}
		next, created, err := st.CreateTicket(ctx, low, "gw", t0.Add(70*time.Hour))
		if err != nil || !created || next.ID == tk.ID {
			t.Fatalf("next episode: %+v created=%v %v", next, created, err)
		}
	})
}

// A household's water and electricity meters each have their reminder: the
// category (the meter's family) tells them apart, and the register names the
// kind of each meter its gateway reported.
func TestWaterAndElectricityReminders(t *testing.T) {
	forEachStore(t, func(t *testing.T, b backend) {
		st := b.open(t, Policy{})
		ctx := context.Background()
		if err := st.PutUnit(ctx, Unit{Site: "s", Unit: "1-102", Building: "1", Meters: []string{"e102", "w102"}}); err != nil {
			t.Fatal(err)
		}
		hb := wire.GatewayStatus{Gateway: "gw-s", Site: "s", Devices: []wire.Device{{ID: "e102", Family: "meter"}, {ID: "w102", Family: "water"}, {ID: "lift", Family: "elevator"}}}
		if err := st.SaveGatewayStatus(ctx, hb, "token:gw", t0); err != nil {
			t.Fatal(err)
		}
		u, err := st.GetUnit(ctx, "s", "1-102")
		if err != nil || len(u.MeterKinds) != 2 || u.MeterKinds["e102"] != "meter" || u.MeterKinds["w102"] != "water" {
			t.Fatalf("register: %+v %v", u, err)
		}
		power := wire.NewTicket{Kind: wire.TopUp, Category: "meter", Title: "power low", Site: "s", Device: "e102", AlarmKey: "s/low/e102"}
		water := wire.NewTicket{Kind: wire.TopUp, Category: "water", Title: "water low", Site: "s", Device: "w102", AlarmKey: "s/water_low/w102"}
		p, created, err := st.CreateTicket(ctx, power, "gw", t0)
		if err != nil || !created {
			t.Fatalf("power reminder: %+v %v", p, err)
		}
		w, created, err := st.CreateTicket(ctx, water, "gw", t0)
		if err != nil || !created || w.ID == p.ID || w.Category != "water" || w.Unit != "1-102" {
			t.Fatalf("water reminder beside the power one: %+v created=%v %v", w, created, err)
		}
		// The urgent water reminder (valve closed for arrears) joins the water one.
		urgent := water
		urgent.AlarmKey, urgent.Priority = "s/water_arrears/w102", "P2"
		if again, created, err := st.CreateTicket(ctx, urgent, "gw", t0); err != nil || created || again.ID != w.ID || again.Priority != "P2" {
			t.Fatalf("urgent water reminder: %+v created=%v %v", again, created, err)
		}
		list, err := st.TopUps(ctx, "s", t0)
		if err != nil || len(list) != 2 || list[0].Category != "meter" || list[1].Category != "water" {
			t.Fatalf("daily list: %+v %v", list, err)
		}
	})
}

func TestEventsResumeAfterID(t *testing.T) {
	forEachStore(t, func(t *testing.T, b backend) {
		st := b.open(t, Policy{})
		ctx := context.Background()
		a, _, _ := st.CreateTicket(ctx, wire.NewTicket{Kind: wire.Repair, Title: "a", Site: "s1"}, "x", t0)
		_, _, _ = st.CreateTicket(ctx, wire.NewTicket{Kind: wire.Repair, Title: "b", Site: "s2"}, "x", t0)
		_, _ = st.Transition(ctx, a.ID, ticket.Change{Action: ticket.Acknowledge}, "x", t0)
		all, err := st.Events(ctx, 0, "", 100)
		if err != nil || len(all) != 3 || all[0].Type != "ticket.created" || all[2].Type != "ticket.updated" {
			t.Fatalf("events: %+v %v", all, err)
		}
		rest, _ := st.Events(ctx, all[0].ID, "s1", 100)
		if len(rest) != 1 || rest[0].TicketID != a.ID {
			t.Fatalf("after %d for s1: %+v", all[0].ID, rest)
		}
		if last, _ := st.LastEventID(ctx); last != all[2].ID {
			t.Errorf("last event id %d", last)
		}
		if n, err := st.Prune(ctx, t0.Add(EventRetention-time.Second)); err != nil || n != 0 {
			t.Errorf("pruned %d, %v before retention", n, err)
		}
		if n, err := st.Prune(ctx, t0.Add(EventRetention+time.Second)); err != nil || n != 3 {
			t.Errorf("pruned %d, %v after retention, want 3", n, err)
		}
	})
}

func TestSplitStatements(t *testing.T) {
	got := splitStatements("-- comment\nCREATE TABLE a (x INT);\n\nCREATE INDEX i\n  ON a(x) WHERE x <> 0;\nSELECT 1")
	want := []string{"CREATE TABLE a (x INT)", "CREATE INDEX i\n  ON a(x) WHERE x <> 0", "SELECT 1"}
	if !slices.Equal(got, want) {
		t.Fatalf("%q", got)
	}
}

// An idempotency key is claimed before its request acts: while the first
// request is answered the key is in progress; a claim left unanswered (its
// desk died) is taken over after a while; an answered key returns its
// answer; keys are per principal.
func TestIdempotencyKeyClaims(t *testing.T) {
	forEachStore(t, func(t *testing.T, b backend) {
		st := b.open(t, Policy{})
		ctx := context.Background()
		if _, claimed, err := st.ClaimIdempotencyKey(ctx, "token:a@s1", "k", "req-1", t0); err != nil || !claimed {
			t.Fatalf("first claim: %v %v", claimed, err)
		}
		if _, _, err := st.ClaimIdempotencyKey(ctx, "token:a@s1", "k", "req-1", t0.Add(time.Second)); !errors.Is(err, ErrInProgress) {
			t.Fatalf("second claim while the first is answered: %v", err)
		}
		if _, claimed, err := st.ClaimIdempotencyKey(ctx, "token:b@s2", "k", "req-1", t0); err != nil || !claimed {
			t.Fatalf("another principal's key: %v %v", claimed, err)
		}
		if _, claimed, err := st.ClaimIdempotencyKey(ctx, "token:a@s1", "k", "req-2", t0.Add(6*time.Minute)); err != nil || !claimed {
			t.Fatalf("abandoned claim taken over: %v %v", claimed, err)
		}
		if err := st.SaveIdempotentResponse(ctx, "token:a@s1", "k", SavedResponse{Request: "req-2", Status: 201, Body: "{}"}); err != nil {
			t.Fatal(err)
		}
		if err := st.ReleaseIdempotencyKey(ctx, "token:a@s1", "k"); err != nil {
			t.Fatal(err)
		}
		saved, claimed, err := st.ClaimIdempotencyKey(ctx, "token:a@s1", "k", "req-2", t0.Add(time.Hour))
		if err != nil || claimed || saved.Status != 201 || saved.Request != "req-2" {
			t.Fatalf("answered key: %+v %v %v", saved, claimed, err)
		}
	})
}

// An alarm's ticket keeps its description in each language, and a search
// finds it by the words of either (the trigram index covers both on SQLite,
// a word of three letters or more going through it).
func TestDescriptionInBothLanguages(t *testing.T) {
	forEachStore(t, func(t *testing.T, b backend) {
		st := b.open(t, Policy{})
		ctx := context.Background()
		tk, _, err := st.CreateTicket(ctx, wire.NewTicket{Kind: wire.Emergency, Title: "1栋 火警: 1回路 23号", TitleEN: "FIRE ALARM building 1: loop 1 address 23",
			Description: "1栋 火警: 1回路 23号 3层东走廊\n", DescriptionEN: "FIRE ALARM building 1: loop 1 address 23 smoke\n", Site: "s", AlarmKey: "s/fire_alarm/fp1/loop 1 address 23"}, "gw", t0)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := st.GetTicket(ctx, tk.ID); err != nil || got.Description != "1栋 火警: 1回路 23号 3层东走廊\n" || got.DescriptionEN != "FIRE ALARM building 1: loop 1 address 23 smoke\n" {
			t.Fatalf("read back: %+v %v", got, err)
		}
		for _, q := range []string{"smoke", "sm", "address 23", "东走廊"} {
			if found, err := st.ListTickets(ctx, Filter{Search: q}); err != nil || len(found) != 1 {
				t.Errorf("search %q: %d tickets, %v", q, len(found), err)
			}
		}
	})
}
