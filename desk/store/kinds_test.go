package store

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/estatehq/estate/desk/calendar"
	"github.com/estatehq/estate/desk/ticket"
	"github.com/estatehq/estate/internal/testenv"
	"github.com/estatehq/estate/internal/wire"
)

var shanghai = func() *time.Location {
	l, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		panic(err)
	}
	return l
}()

// chinaPolicy counts working days on the shipped 2026 calendar in Shanghai,
// and routes every notification to one channel so that tests can see them.
func chinaPolicy(t testing.TB) Policy {
	cal, err := calendar.Load(filepath.Join("..", "..", "configs", "calendars", "cn-2026.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return Policy{
		Location: func(string) *time.Location { return shanghai },
		Calendar: func(string) ticket.WorkingCalendar { return cal },
		Route:    func(wire.Ticket, string, []ticket.Level) []string { return []string{"ops"} },
	}
}

func inShanghai(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", s, shanghai)
	if err != nil {
		panic(err)
	}
	return t
}

func dueOf(t *testing.T, tk wire.Ticket, step wire.Step) (time.Time, wire.DeadlineState) {
	t.Helper()
	for _, d := range tk.Deadlines {
		if d.Step == step {
			return d.DueAt, d.State
		}
	}
	t.Fatalf("ticket %d has no %s deadline: %+v", tk.ID, step, tk.Deadlines)
	return time.Time{}, ""
}

// A complaint's reply is due on its sub-kind's clock, in working days of the
// site's calendar: opened on the Friday evening after National Day, a
// general complaint's "one working day" is the make-up Saturday.
func TestComplaintSubKindDeadlinesOnTheCalendar(t *testing.T) {
	forEachStore(t, func(t *testing.T, b backend) {
		st := b.open(t, chinaPolicy(t))
		ctx := context.Background()
		friday := inShanghai("2026-10-09 18:30")
		for _, tc := range []struct {
			sub      string
			respond  string
			priority string
		}{
			{"", "2026-10-10 18:30", "P3"},                  // general: the make-up Saturday
			{wire.SubKindWritten, "2026-10-10 00:00", "P3"}, // same day
			{wire.SubKindStaffAttitude, "2026-10-10 00:00", "P3"},
			{wire.SubKindImportant, "2026-10-12 18:30", "P2"}, // two working days: Saturday, Monday
		} {
			tk, _, err := st.CreateTicket(ctx, wire.NewTicket{Kind: wire.Complaint, SubKind: tc.sub, Title: "电梯噪音", Site: "s",
				Category: "equipment", Cause: "曳引机异响"}, "zhang", friday)
			if err != nil {
				t.Fatal(err)
			}
			got, err := st.GetTicket(ctx, tk.ID)
			if err != nil {
				t.Fatal(err)
			}
			if due, _ := dueOf(t, got, wire.StepRespond); !due.Equal(inShanghai(tc.respond)) {
				t.Errorf("%q complaint: reply due %s, want %s", tc.sub, due.In(shanghai), tc.respond)
			}
			want := tc.sub
			if want == "" {
				want = wire.SubKindGeneral
			}
			if got.SubKind != want || got.Priority != tc.priority || got.Category != "equipment" || got.Cause != "曳引机异响" {
				t.Errorf("%q complaint read back: sub-kind %q priority %s category %q cause %q", tc.sub, got.SubKind, got.Priority, got.Category, got.Cause)
			}
		}
		// A repair has no sub-kind; its follow-up counts one working day from resolution.
		eve := inShanghai("2026-09-30 18:00")
		tk, _, err := st.CreateTicket(ctx, wire.NewTicket{Kind: wire.Repair, Title: "水管漏水", Site: "s"}, "zhang", eve)
		if err != nil || tk.SubKind != "" {
			t.Fatalf("repair: %+v %v", tk, err)
		}
		for _, c := range []ticket.Change{{Action: ticket.Dispatch, Assignee: "li"}, {Action: ticket.Arrive}} {
			if _, err := st.Transition(ctx, tk.ID, c, "li", eve.Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
		}
		resolved, err := st.Transition(ctx, tk.ID, ticket.Change{Action: ticket.Resolve, Resolution: "换阀门"}, "li", inShanghai("2026-09-30 20:00"))
		if err != nil {
			t.Fatal(err)
		}
		if due, _ := dueOf(t, resolved, wire.StepFollowUp); !due.Equal(inShanghai("2026-10-08 20:00")) {
			t.Errorf("repair resolved on the eve of National Day: follow-up due %s, want Thursday 8 Oct 20:00", due.In(shanghai))
		}
	})
}

// A deadline that needs a year the calendar lacks is recorded all the same,
// counted Monday to Friday, and the audit trail names the year and the file.
func TestDeadlineBeyondTheCalendar(t *testing.T) {
	forEachStore(t, func(t *testing.T, b backend) {
		st := b.open(t, chinaPolicy(t))
		ctx := context.Background()
		tk, _, err := st.CreateTicket(ctx, wire.NewTicket{Kind: wire.Complaint, SubKind: wire.SubKindImportant, Title: "年底投诉", Site: "s"},
			"zhang", inShanghai("2026-12-31 10:00"))
		if err != nil {
			t.Fatalf("a ticket is never refused for want of next year's calendar: %v", err)
		}
		got, _ := st.GetTicket(ctx, tk.ID)
		if due, _ := dueOf(t, got, wire.StepRespond); !due.Equal(inShanghai("2027-01-04 10:00")) {
			t.Errorf("2 working days from Thursday 31 Dec counted Monday to Friday: %s", due.In(shanghai))
		}
		audit, _ := st.Audit(ctx, tk.ID)
		found := false
		for _, e := range audit {
			if e.Action == "calendar_missing" && strings.Contains(e.Note, "2027") && strings.Contains(e.Note, "cn-2026.yaml") {
				found = true
			}
		}
		if !found {
			t.Errorf("no audit entry naming 2027 and the calendar file: %+v", audit)
		}
	})
}

// Changing a ticket's kind recomputes the deadlines still to meet from its
// creation; those met keep their record; the audit says what changed.
func TestKindChangeRecomputesDeadlines(t *testing.T) {
	forEachStore(t, func(t *testing.T, b backend) {
		st := b.open(t, chinaPolicy(t))
		ctx := context.Background()
		opened := inShanghai("2026-10-09 18:30")
		tk, _, err := st.CreateTicket(ctx, wire.NewTicket{Kind: wire.Request, Title: "物业费太高", Site: "s", Unit: "3-1201"}, "zhang", opened)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Transition(ctx, tk.ID, ticket.Change{Action: ticket.Dispatch, Assignee: "wang"}, "zhang", opened.Add(5*time.Minute)); err != nil {
			t.Fatal(err)
		}
		kind, cat := wire.Complaint, "fees"
		got, err := st.UpdateTicket(ctx, tk.ID, TicketUpdate{Kind: &kind, Category: &cat}, "zhang", opened.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if got.Kind != wire.Complaint || got.SubKind != wire.SubKindGeneral || got.Category != "fees" || got.Priority != "P3" {
			t.Errorf("after the change: %+v", got)
		}
		if due, _ := dueOf(t, got, wire.StepRespond); !due.Equal(inShanghai("2026-10-10 18:30")) {
			t.Errorf("reply due %s, want one working day from the opening (the make-up Saturday)", due.In(shanghai))
		}
		if _, state := dueOf(t, got, wire.StepDispatch); state != wire.DeadlineMet {
			t.Errorf("dispatch, met before the change, is %s", state)
		}
		if due, _ := dueOf(t, got, wire.StepResolve); !due.Equal(opened.Add(48 * time.Hour)) {
			t.Errorf("handled within 2 days of the opening: %s", due.In(shanghai))
		}
		sub := wire.SubKindImportant
		got, err = st.UpdateTicket(ctx, tk.ID, TicketUpdate{SubKind: &sub}, "zhang", opened.Add(2*time.Hour))
		if err != nil || got.Priority != "P2" {
			t.Fatalf("important: %+v %v", got, err)
		}
		if due, _ := dueOf(t, got, wire.StepRespond); !due.Equal(inShanghai("2026-10-12 18:30")) {
			t.Errorf("important complaint's reply due %s, want two working days", due.In(shanghai))
		}
		audit, _ := st.Audit(ctx, tk.ID)
		last := audit[len(audit)-1]
		if last.Action != "update" || !strings.Contains(last.Note, "sub_kind general → important") || !strings.Contains(last.Note, "priority P3 → P2") {
			t.Errorf("audit of the change: %+v", last)
		}
		prev := audit[len(audit)-2]
		if !strings.Contains(prev.Note, "kind request → complaint") || !strings.Contains(prev.Note, "category — → fees") {
			t.Errorf("audit of the kind change: %+v", prev)
		}

		// Bad values change nothing.
		before, _ := st.GetTicket(ctx, tk.ID)
		for _, u := range []TicketUpdate{
			{SubKind: ptr("urgent")},
			{Kind: ptr(wire.Kind("chores"))},
			{Kind: ptr(wire.TopUp)},
			{Kind: ptr(wire.Repair), SubKind: ptr(wire.SubKindWritten)},
			{ParentID: ptr(tk.ID)},
			{ParentID: ptr(int64(99999))},
		} {
			_, err := st.UpdateTicket(ctx, tk.ID, u, "zhang", opened.Add(3*time.Hour))
			var ie *ticket.InputError
			if !errors.As(err, &ie) {
				t.Errorf("%+v: %v, want an input error", u, err)
			}
		}
		after, _ := st.GetTicket(ctx, tk.ID)
		if after.Kind != before.Kind || after.SubKind != before.SubKind || after.UpdatedAt != before.UpdatedAt || len(after.Deadlines) != len(before.Deadlines) {
			t.Errorf("a refused update changed the ticket: %+v → %+v", before, after)
		}
	})
}

func ptr[T any](v T) *T { return &v }

// An appointment moves a repair's on-site deadline, never an emergency's,
// unless the desk says a manager decided it (the reason is in the audit).
func TestAppointmentUpdateAndEmergencies(t *testing.T) {
	forEachStore(t, func(t *testing.T, b backend) {
		st := b.open(t, chinaPolicy(t))
		ctx := context.Background()
		later := t0.Add(3 * time.Hour)
		repair, _, _ := st.CreateTicket(ctx, wire.NewTicket{Kind: wire.Repair, Title: "门禁坏", Site: "s"}, "zhang", t0)
		got, err := st.UpdateTicket(ctx, repair.ID, TicketUpdate{AppointmentAt: &later}, "zhang", t0.Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if due, _ := dueOf(t, got, wire.StepOnSite); !due.Equal(later) {
			t.Errorf("repair on site due %s, want the appointment %s", due, later)
		}
		em, _, _ := st.CreateTicket(ctx, wire.NewTicket{Kind: wire.Emergency, Title: "B2 水浸", Site: "s"}, "zhang", t0)
		got, err = st.UpdateTicket(ctx, em.ID, TicketUpdate{AppointmentAt: &later}, "zhang", t0.Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if due, _ := dueOf(t, got, wire.StepOnSite); !due.Equal(t0.Add(5 * time.Minute)) {
			t.Errorf("emergency on site due %s, want 5 minutes after the report", due)
		}
		got, err = st.UpdateTicket(ctx, em.ID, TicketUpdate{AppointmentAt: ptr(later.Add(time.Hour)), MoveOnSite: true, Reason: "水泵房封闭,消防同意"}, "boss", t0.Add(2*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if due, _ := dueOf(t, got, wire.StepOnSite); !due.Equal(later.Add(time.Hour)) {
			t.Errorf("a manager's move: on site due %s", due)
		}
		audit, _ := st.Audit(ctx, em.ID)
		if last := audit[len(audit)-1]; last.Actor != "boss" || !strings.Contains(last.Note, "reason: 水泵房封闭,消防同意") {
			t.Errorf("the move's audit: %+v", last)
		}
		// A repair that becomes an emergency: 5 minutes from its report, whoever booked what.
		kind := wire.Emergency
		got, err = st.UpdateTicket(ctx, repair.ID, TicketUpdate{Kind: &kind}, "zhang", t0.Add(3*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if due, _ := dueOf(t, got, wire.StepOnSite); !due.Equal(t0.Add(5*time.Minute)) || got.Priority != "P1" {
			t.Errorf("repair become emergency: on site due %s, priority %s", due, got.Priority)
		}
	})
}

// Complaints of three households on the same matter, linked under one case,
// make a collective complaint: the case becomes P1 and the emergency's
// notification goes out, once.
func TestCollectiveComplaint(t *testing.T) {
	forEachStore(t, func(t *testing.T, b backend) {
		st := b.open(t, chinaPolicy(t))
		ctx := context.Background()
		open := func(unit string, parent int64) wire.Ticket {
			t.Helper()
			tk, _, err := st.CreateTicket(ctx, wire.NewTicket{Kind: wire.Complaint, Title: "3号楼电梯经常停运", Site: "s", Unit: unit,
				Category: "equipment", ParentID: parent}, "zhang", t0)
			if err != nil {
				t.Fatal(err)
			}
			return tk
		}
		collectiveNotices := func(id int64) int {
			var n int
			if err := st.db.QueryRow(st.q(`SELECT COUNT(*) FROM notifications WHERE ticket_id = ? AND event = 'collective'`), id).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		root := open("3-101", 0)
		second := open("3-502", root.ID)
		open("3-502", second.ID) // same household again, linked through the second: joins the root
		if got, _ := st.GetTicket(ctx, root.ID); got.CollectiveAt != nil || got.Priority != "P3" {
			t.Fatalf("two households are not collective: %+v", got)
		}
		// The third household's complaint, opened alone and linked afterwards.
		third := open("3-1201", 0)
		linked, err := st.UpdateTicket(ctx, third.ID, TicketUpdate{ParentID: &root.ID}, "zhang", t0.Add(time.Minute))
		if err != nil || linked.ParentID != root.ID {
			t.Fatalf("link: %+v %v", linked, err)
		}
		got, _ := st.GetTicket(ctx, root.ID)
		if got.CollectiveAt == nil || got.Priority != "P1" || collectiveNotices(root.ID) != 1 {
			t.Fatalf("three households: collective_at %v priority %s notices %d", got.CollectiveAt, got.Priority, collectiveNotices(root.ID))
		}
		var levels string
		st.db.QueryRow(st.q(`SELECT level FROM notifications WHERE ticket_id = ? AND event = 'collective'`), root.ID).Scan(&levels)
		if !strings.Contains(levels, "manager") || !strings.Contains(levels, "leadership") {
			t.Errorf("collective complaint told %q, want the manager and leadership", levels)
		}
		open("3-1702", root.ID)
		if n := collectiveNotices(root.ID); n != 1 {
			t.Errorf("raised %d times", n)
		}
		if cases, err := st.ListTickets(ctx, Filter{ParentID: root.ID, Limit: 10}); err != nil || len(cases) != 4 {
			t.Errorf("the case's complaints: %d %v", len(cases), err)
		}
		// Linking to what is not an open complaint of the site is refused.
		repair, _, _ := st.CreateTicket(ctx, wire.NewTicket{Kind: wire.Repair, Title: "x", Site: "s"}, "zhang", t0)
		other, _, _ := st.CreateTicket(ctx, wire.NewTicket{Kind: wire.Complaint, Title: "x", Site: "other"}, "zhang", t0)
		for _, parent := range []int64{repair.ID, other.ID, 424242} {
			_, _, err := st.CreateTicket(ctx, wire.NewTicket{Kind: wire.Complaint, Title: "y", Site: "s", ParentID: parent}, "zhang", t0)
			var ie *ticket.InputError
			if !errors.As(err, &ie) || ie.Field != "parent_id" {
				t.Errorf("parent %d: %v", parent, err)
			}
		}
		// A case is not linked under another.
		if _, err := st.UpdateTicket(ctx, root.ID, TicketUpdate{ParentID: &third.ID}, "zhang", t0); err == nil {
			t.Error("a case with complaints was linked under another")
		}
	})
}

// Migration 012 carries the previous release's tickets over: a complaint
// becomes a general one, other kinds have no sub-kind, nothing is linked.
func TestSubKindMigrationCarriesTicketsOver(t *testing.T) {
	for _, b := range []struct {
		name string
		dsn  func(t *testing.T) string
	}{
		{SQLiteDialect, func(t *testing.T) string { return filepath.Join(t.TempDir(), "desk.db") }},
		{PostgresDialect, func(t *testing.T) string { return testenv.PostgreSQL(t) }},
	} {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			dsn := b.dsn(t)
			loadFixture(t, b.name, dsn)
			old, err := open(ctx, b.name, dsn, Policy{}, 11) // the release before this migration
			if err != nil {
				t.Fatal(err)
			}
			var id int64
			if err := old.db.QueryRowContext(ctx, old.q(`INSERT INTO tickets (kind, priority, status, title, site, unit, source, created_by, created_at, updated_at)
				VALUES ('complaint', 'P3', 'new', '楼上噪音', 'site-a', '3-1201', 'phone', 'zhang', ?, ?) RETURNING id`), nanos(t0), nanos(t0)).Scan(&id); err != nil {
				t.Fatal(err)
			}
			old.Close()
			st, err := Open(ctx, b.name, dsn, Policy{})
			if err != nil {
				t.Fatalf("upgrade: %v", err)
			}
			defer st.Close()
			tks, err := st.ListTickets(ctx, Filter{Limit: 10})
			if err != nil || len(tks) != 3 {
				t.Fatalf("tickets after the upgrade: %d %v", len(tks), err)
			}
			for _, tk := range tks {
				want := ""
				if tk.Kind == wire.Complaint {
					want = wire.SubKindGeneral
				}
				if tk.SubKind != want || tk.ParentID != 0 || tk.CollectiveAt != nil {
					t.Errorf("ticket %d (%s) after the upgrade: sub-kind %q parent %d collective %v", tk.ID, tk.Kind, tk.SubKind, tk.ParentID, tk.CollectiveAt)
				}
			}
			// The old complaint takes part in a case.
			n, _, err := st.CreateTicket(ctx, wire.NewTicket{Kind: wire.Complaint, Title: "楼上噪音", Site: "site-a", Unit: "3-1301", ParentID: id}, "zhang", t0)
			if err != nil || n.ParentID != id {
				t.Errorf("link to the old complaint: %+v %v", n, err)
			}
		})
	}
}
