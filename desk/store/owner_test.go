package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/estatehq/estate/desk/ticket"
	"github.com/estatehq/estate/internal/wire"
)

// The owner answers for a case; either role is handed over with a note in
// the trail; a gateway's ticket is owned by whoever accepts it.
func TestOwnerAndHandover(t *testing.T) {
	forEachStore(t, func(t *testing.T, b backend) {
		st := b.open(t, Policy{})
		ctx := context.Background()
		tk, _, err := st.CreateTicket(ctx, wire.NewTicket{Kind: wire.Complaint, Title: "noise", Site: "s", Owner: "wang"}, "wang", t0)
		if err != nil || tk.Owner != "wang" {
			t.Fatalf("owner at creation: %+v %v", tk, err)
		}
		gw, _, _ := st.CreateTicket(ctx, wire.NewTicket{Kind: wire.Repair, Title: "door offline", Site: "s"}, "gw-s", t0)
		if gw.Owner != "" {
			t.Fatalf("a gateway's ticket is owned before anyone accepts it: %q", gw.Owner)
		}
		if got, err := st.Transition(ctx, gw.ID, ticket.Change{Action: ticket.Acknowledge}, "control", t0); err != nil || got.Owner != "control" {
			t.Fatalf("accepted: %+v %v", got.Owner, err)
		}
		if got, _ := st.Transition(ctx, gw.ID, ticket.Change{Action: ticket.Dispatch, Assignee: "li"}, "chen", t0); got.Owner != "control" {
			t.Fatalf("a second person's dispatch took the ownership: %q", got.Owner)
		}
		// An assignee before dispatch: refused, nothing changed.
		if _, err := st.Handover(ctx, tk.ID, HandAssignee, "li", "x", "wang", t0); !errors.Is(err, ErrConflict) {
			t.Fatalf("assignee of a new ticket handed over: %v", err)
		}
		got, err := st.Handover(ctx, tk.ID, HandOwner, "zhao", "on leave from tomorrow", "wang", t0.Add(time.Minute))
		if err != nil || got.Owner != "zhao" {
			t.Fatalf("handover: %+v %v", got.Owner, err)
		}
		if _, err := st.Transition(ctx, tk.ID, ticket.Change{Action: ticket.Dispatch, Assignee: "li"}, "zhao", t0); err != nil {
			t.Fatal(err)
		}
		if got, err = st.Handover(ctx, tk.ID, HandAssignee, "sun", "li is off sick", "zhao", t0.Add(2*time.Minute)); err != nil || got.Assignee != "sun" || got.Owner != "zhao" {
			t.Fatalf("assignee handover: %+v %v", got, err)
		}
		trail, _ := st.Audit(ctx, tk.ID)
		var notes []string
		for _, a := range trail {
			if strings.HasPrefix(a.Action, "handover_") {
				notes = append(notes, a.Action+" "+a.Actor+" "+a.Note)
			}
		}
		want := []string{"handover_owner wang wang → zhao: on leave from tomorrow", "handover_assignee zhao li → sun: li is off sick"}
		if fmt.Sprint(notes) != fmt.Sprint(want) {
			t.Errorf("handover trail %q, want %q", notes, want)
		}
		mine, err := st.ListTickets(ctx, Filter{Site: "s", Owner: "zhao"})
		if err != nil || len(mine) != 1 || mine[0].ID != tk.ID {
			t.Errorf("zhao's cases: %+v %v", mine, err)
		}
	})
}

// The reply meets its deadline; a committed reply time is a new one; a
// weekly call meets the week's and sets the next; a solved case has none.
func TestReplyAndWeeklyCalls(t *testing.T) {
	forEachStore(t, func(t *testing.T, b backend) {
		st := b.open(t, Policy{})
		ctx := context.Background()
		tk, _, _ := st.CreateTicket(ctx, wire.NewTicket{Kind: wire.Complaint, Title: "lift noise", Site: "s", Owner: "wang"}, "wang", t0)
		due := func(step wire.Step, state wire.DeadlineState) []time.Time {
			got, _ := st.GetTicket(ctx, tk.ID)
			var out []time.Time
			for _, d := range got.Deadlines {
				if d.Step == step && d.State == state {
					out = append(out, d.DueAt.UTC())
				}
			}
			return out
		}
		if d := due(wire.StepReply, wire.DeadlinePending); len(d) != 1 || !d[0].Equal(t0.Add(24*time.Hour)) {
			t.Fatalf("reply due %v", d)
		}
		committed := t0.AddDate(0, 0, 5)
		if _, err := st.Reply(ctx, tk.ID, "the lift company comes on Monday", &committed, "wang", t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if d := due(wire.StepReply, wire.DeadlinePending); len(d) != 1 || !d[0].Equal(committed) {
			t.Fatalf("committed reply due %v, want %v", d, committed)
		}
		if _, err := st.Reply(ctx, tk.ID, "x", &t0, "wang", t0.Add(time.Hour)); err == nil {
			t.Error("a committed time in the past accepted")
		}
		// A week on: the call is due; logging it sets the next one.
		m, _ := st.MissDeadlines(ctx, t0.AddDate(0, 0, 7).Add(-time.Minute), 100)
		for _, x := range m {
			if x.Step == wire.StepWeeklyCall {
				t.Fatalf("weekly call missed before the week: %+v", x)
			}
		}
		callAt := t0.AddDate(0, 0, 6)
		c, err := st.LogCall(ctx, tk.ID, "still waiting for the part; resident fine with it", "wang", callAt)
		if err != nil || c.ID == 0 {
			t.Fatalf("call: %+v %v", c, err)
		}
		if d := due(wire.StepWeeklyCall, wire.DeadlineMet); len(d) != 1 {
			t.Errorf("first weekly call not met: %v", d)
		}
		if d := due(wire.StepWeeklyCall, wire.DeadlinePending); len(d) != 1 || !d[0].Equal(callAt.AddDate(0, 0, 7)) {
			t.Errorf("next weekly call due %v", d)
		}
		calls, _ := st.Calls(ctx, tk.ID)
		if len(calls) != 1 || calls[0].By != "wang" {
			t.Errorf("calls %+v", calls)
		}
		st.Transition(ctx, tk.ID, ticket.Change{Action: ticket.Dispatch, Assignee: "li"}, "wang", callAt)
		st.Transition(ctx, tk.ID, ticket.Change{Action: ticket.Resolve, Resolution: "bearing replaced"}, "li", callAt)
		if d := due(wire.StepWeeklyCall, wire.DeadlinePending); len(d) != 0 {
			t.Errorf("a solved case still has a weekly call due: %v", d)
		}
		if d := due(wire.StepFollowUp, wire.DeadlinePending); len(d) != 1 || !d[0].Equal(callAt.Add(72*time.Hour)) {
			t.Errorf("complaint follow-up due %v", d)
		}
		// A blank call is refused by the database itself.
		if _, err := st.LogCall(ctx, tk.ID, "", "wang", callAt); err == nil {
			t.Error("a blank call logged")
		}
	})
}

// A follow-up below the threshold reopens the ticket to engineering with the
// resident's words; one on a ticket not resolved is refused, nothing changed.
func TestUnsatisfiedFollowUpReopens(t *testing.T) {
	forEachStore(t, func(t *testing.T, b backend) {
		st := b.open(t, Policy{Satisfied: func(string) int { return 4 }})
		ctx := context.Background()
		tk, _, _ := st.CreateTicket(ctx, wire.NewTicket{Kind: wire.Repair, Title: "tap leaks", Site: "s", Unit: "1-101", Owner: "wang"}, "wang", t0)
		st.Transition(ctx, tk.ID, ticket.Change{Action: ticket.Dispatch, Assignee: "li", Team: "customer_service"}, "wang", t0)
		var te *ticket.TransitionError
		if _, err := st.Transition(ctx, tk.ID, ticket.Change{Action: ticket.FollowUp, Satisfaction: 5, FollowUpNote: "ok"}, "wang", t0); !errors.As(err, &te) ||
			!strings.Contains(err.Error(), "cannot follow_up") {
			t.Fatalf("follow-up of a dispatched ticket: %v", err)
		}
		if got, _ := st.GetTicket(ctx, tk.ID); got.Satisfaction != 0 || got.Status != wire.Dispatched {
			t.Fatalf("the refused follow-up changed the ticket: %+v", got)
		}
		st.Transition(ctx, tk.ID, ticket.Change{Action: ticket.Resolve, Resolution: "washer"}, "li", t0.Add(time.Hour))
		got, err := st.Transition(ctx, tk.ID, ticket.Change{Action: ticket.FollowUp, Satisfaction: 3, FollowUpNote: "还在滴水"}, "wang", t0.Add(2*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != wire.Dispatched || got.Team != "engineering" || got.Assignee != "li" || got.ResolvedAt != nil || got.Satisfaction != 3 {
			t.Fatalf("after an unsatisfied follow-up: %+v", got)
		}
		trail, _ := st.Audit(ctx, tk.ID)
		last := trail[len(trail)-1]
		if last.Action != "reopen" || last.From != wire.FollowedUp || last.To != wire.Dispatched || !strings.Contains(last.Note, "还在滴水") ||
			!strings.Contains(last.Note, "below 4") {
			t.Errorf("reopen entry %+v", last)
		}
		pending := 0
		for _, d := range got.Deadlines {
			if d.State == wire.DeadlinePending && (d.Step == wire.StepOnSite || d.Step == wire.StepResolve) {
				pending++
			}
		}
		if pending != 2 {
			t.Errorf("the work's deadlines did not start again: %+v", got.Deadlines)
		}
		// Satisfied the second time: it stays followed up.
		st.Transition(ctx, tk.ID, ticket.Change{Action: ticket.Resolve, Resolution: "new cartridge"}, "li", t0.Add(3*time.Hour))
		if got, _ := st.Transition(ctx, tk.ID, ticket.Change{Action: ticket.FollowUp, Satisfaction: 4, FollowUpNote: "好了"}, "wang", t0.Add(4*time.Hour)); got.Status != wire.FollowedUp {
			t.Errorf("a satisfied follow-up: %s", got.Status)
		}
	})
}

// An emergency closes only with its incident report approved; the owner
// writes it, a manager decides; the database refuses the same by itself.
func TestIncidentReportGuardsTheClose(t *testing.T) {
	forEachStore(t, func(t *testing.T, b backend) {
		st := b.open(t, Policy{})
		ctx := context.Background()
		em, _, _ := st.CreateTicket(ctx, wire.NewTicket{Kind: wire.Emergency, Title: "3号楼电梯困人", Site: "s", Owner: "control"}, "control", t0)
		rep, _, _ := st.CreateTicket(ctx, wire.NewTicket{Kind: wire.Repair, Title: "tap", Site: "s", Owner: "wang"}, "wang", t0)
		full := IncidentText{WhatHappened: "two people trapped", Cause: "door lock fault", Measures: "released by maintenance",
			Result: "nobody hurt", People: "control, li, lift company"}
		var xe *IncidentError
		if _, err := st.SaveIncident(ctx, rep.ID, full, true, "wang", t0); !errors.As(err, &xe) || xe.Status != 422 {
			t.Fatalf("report on a repair: %v", err)
		}
		if _, err := st.SaveIncident(ctx, em.ID, full, true, "wang", t0); !errors.As(err, &xe) || xe.Status != 403 {
			t.Fatalf("report by someone not the owner: %v", err)
		}
		st.Transition(ctx, em.ID, ticket.Change{Action: ticket.Dispatch, Assignee: "li"}, "control", t0)
		st.Transition(ctx, em.ID, ticket.Change{Action: ticket.Arrive}, "li", t0)
		st.Transition(ctx, em.ID, ticket.Change{Action: ticket.Resolve, Resolution: "released"}, "li", t0.Add(10*time.Minute))
		closeIt := func() error {
			_, err := st.Transition(ctx, em.ID, ticket.Change{Action: ticket.CloseTicket}, "control", t0.Add(time.Hour))
			return err
		}
		if err := closeIt(); !errors.Is(err, ErrIncidentReport) || !strings.Contains(err.Error(), "no incident report") {
			t.Fatalf("closed without a report: %v", err)
		}
		var ie *ticket.InputError
		if _, err := st.SaveIncident(ctx, em.ID, IncidentText{WhatHappened: "trapped"}, true, "control", t0); !errors.As(err, &ie) {
			t.Fatalf("an incomplete report submitted: %v", err)
		}
		if _, err := st.SaveIncident(ctx, em.ID, IncidentText{WhatHappened: "trapped"}, false, "control", t0); err != nil {
			t.Fatalf("draft: %v", err)
		}
		if err := closeIt(); !errors.Is(err, ErrIncidentReport) || !strings.Contains(err.Error(), "draft") {
			t.Fatalf("closed with a draft: %v", err)
		}
		if _, err := st.DecideIncident(ctx, em.ID, true, "", "boss", t0); !errors.As(err, &xe) || xe.Status != 409 {
			t.Fatalf("a draft approved: %v", err)
		}
		if _, err := st.SaveIncident(ctx, em.ID, full, true, "control", t0.Add(20*time.Minute)); err != nil {
			t.Fatal(err)
		}
		if _, err := st.DecideIncident(ctx, em.ID, false, "", "boss", t0); !errors.As(err, &ie) {
			t.Fatalf("returned without a reason: %v", err)
		}
		if x, err := st.DecideIncident(ctx, em.ID, false, "timeline of the release missing", "boss", t0.Add(30*time.Minute)); err != nil || x.State != IncidentReturned {
			t.Fatalf("return: %+v %v", x, err)
		}
		full.Measures = "released by maintenance at 10:12 (5 min after the call)"
		if _, err := st.SaveIncident(ctx, em.ID, full, true, "control", t0.Add(40*time.Minute)); err != nil {
			t.Fatal(err)
		}
		// The database's own guard, whatever the code above it does.
		if _, err := st.db.Exec(st.q(`UPDATE tickets SET status = 'closed' WHERE id = ?`), em.ID); err == nil {
			t.Fatal("the database closed an emergency whose report is not approved")
		}
		if _, err := st.db.Exec(st.q(`UPDATE incident_reports SET state = 'draft' WHERE ticket_id = ?`), em.ID); err == nil {
			t.Fatal("the database took a submitted report back to draft")
		}
		if _, err := st.SaveIncident(ctx, em.ID, full, false, "control", t0); !errors.As(err, &xe) || xe.Status != 409 {
			t.Fatalf("a submitted report edited: %v", err)
		}
		if _, err := st.db.Exec(st.q(`UPDATE incident_reports SET state = 'approved' WHERE ticket_id = ?`), em.ID); err == nil {
			t.Fatal("the database took an approval without its manager")
		}
		x, err := st.DecideIncident(ctx, em.ID, true, "", "boss", t0.Add(50*time.Minute))
		if err != nil || x.State != IncidentApproved || x.DecidedBy != "boss" || x.SubmittedBy != "control" {
			t.Fatalf("approve: %+v %v", x, err)
		}
		if _, err := st.db.Exec(st.q(`UPDATE incident_reports SET state = 'returned', decision_note = 'x' WHERE ticket_id = ?`), em.ID); err == nil {
			t.Fatal("an approved report changed")
		}
		if _, err := st.SaveIncident(ctx, em.ID, full, false, "control", t0); !errors.As(err, &xe) || xe.Status != 409 {
			t.Fatalf("an approved report edited: %v", err)
		}
		if err := closeIt(); err != nil {
			t.Fatalf("close with the approved report: %v", err)
		}
		trail, _ := st.Audit(ctx, em.ID)
		var acts []string
		for _, a := range trail {
			if strings.HasPrefix(a.Action, "incident_") {
				acts = append(acts, a.Action)
			}
		}
		if fmt.Sprint(acts) != "[incident_saved incident_submitted incident_returned incident_submitted incident_approved]" {
			t.Errorf("incident trail %v", acts)
		}
	})
}

// The reviews: open cases by owner, the week's overdue ones with their
// causes, and the month beside its targets.
func TestReviewsAndTargets(t *testing.T) {
	forEachStore(t, func(t *testing.T, b backend) {
		st := b.open(t, Policy{Targets: func(string) Targets { g := DefaultTargets; g.HouseholdsFollowedUp = 2; return g }})
		ctx := context.Background()
		for _, u := range []string{"1-101", "1-102", "1-103", "1-104"} {
			if err := st.PutUnit(ctx, Unit{Site: "s", Unit: u}); err != nil {
				t.Fatal(err)
			}
		}
		a, _, _ := st.CreateTicket(ctx, wire.NewTicket{Kind: wire.Complaint, Title: "noise", Site: "s", Unit: "1-101", Owner: "wang"}, "wang", t0)
		bb, _, _ := st.CreateTicket(ctx, wire.NewTicket{Kind: wire.Repair, Title: "tap", Site: "s", Unit: "1-102", Owner: "wang"}, "wang", t0)
		c, _, _ := st.CreateTicket(ctx, wire.NewTicket{Kind: wire.Repair, Title: "door", Site: "s", Unit: "1-103", Owner: "zhao"}, "zhao", t0)
		st.CreateTicket(ctx, wire.NewTicket{Kind: wire.Repair, Title: "other site", Site: "t", Owner: "wang"}, "wang", t0)
		// b: done, followed up happy; c: done, unhappy (reopened), then happy.
		for _, id := range []int64{bb.ID, c.ID} {
			st.Transition(ctx, id, ticket.Change{Action: ticket.Dispatch, Assignee: "li"}, "wang", t0.Add(5*time.Minute))
			st.Transition(ctx, id, ticket.Change{Action: ticket.Resolve, Resolution: "fixed"}, "li", t0.Add(time.Hour))
		}
		st.Transition(ctx, bb.ID, ticket.Change{Action: ticket.FollowUp, Satisfaction: 5, FollowUpNote: "good"}, "wang", t0.Add(2*time.Hour))
		st.Transition(ctx, c.ID, ticket.Change{Action: ticket.FollowUp, Satisfaction: 1, FollowUpNote: "still sticks"}, "zhao", t0.Add(2*time.Hour))
		st.Transition(ctx, c.ID, ticket.Change{Action: ticket.Resolve, Resolution: "hinge"}, "li", t0.Add(3*time.Hour))
		st.Transition(ctx, c.ID, ticket.Change{Action: ticket.FollowUp, Satisfaction: 4, FollowUpNote: "ok"}, "zhao", t0.Add(4*time.Hour))
		// a: its dispatch is missed; the owner explains and commits a time.
		if m, err := st.MissDeadlines(ctx, t0.Add(11*time.Minute), 100); err != nil || len(m) != 2 || m[0].TicketID != a.ID {
			t.Fatalf("missed: %+v %v", m, err)
		}
		commit := t0.AddDate(0, 0, 3)
		st.Reply(ctx, a.ID, "the neighbour is away until Friday", &commit, "wang", t0.Add(time.Hour))

		now := t0.Add(49 * time.Hour) // past a's resolve (a complaint: within 2 days)
		daily, err := st.DailyReview(ctx, "s", now)
		if err != nil {
			t.Fatal(err)
		}
		// Followed-up tickets are open until closed: they are on the list too.
		if len(daily) != 2 || daily[0].Owner != "wang" || daily[0].Open != 2 || daily[1].Owner != "zhao" || daily[1].Open != 1 {
			t.Fatalf("daily review: %+v", daily)
		}
		if ca := daily[0].Cases[0]; daily[0].Overdue != 1 || ca.ID != a.ID || !ca.Overdue || ca.NextStep != wire.StepResolve {
			t.Errorf("daily overdue: %+v", daily[0])
		}
		weekly, err := st.WeeklyOverdue(ctx, "s", t0.Add(-24*time.Hour), t0.AddDate(0, 0, 6), now)
		if err != nil {
			t.Fatal(err)
		}
		var steps []string
		for _, r := range weekly {
			steps = append(steps, fmt.Sprintf("%d/%s", r.TicketID, r.Step))
			if r.TicketID == a.ID && r.Explanation != "the neighbour is away until Friday" {
				t.Errorf("cause of %d: %+v", a.ID, r)
			}
		}
		// a's dispatch missed, its resolve pending past due; the reply met
		// its respond step; b's and c's work was in time.
		if want := fmt.Sprintf("[%d/dispatch %d/resolve]", a.ID, a.ID); fmt.Sprint(steps) != want {
			t.Errorf("weekly overdue %v, want %s", steps, want)
		}

		r, err := st.MonthlyReport(ctx, "s", t0.AddDate(0, 0, -23), t0.AddDate(0, 0, 7))
		if err != nil {
			t.Fatal(err)
		}
		if r.Households != 4 || r.HouseholdsFollowedUp != 2 || r.Satisfied != 2 || r.SatisfactionCount != 2 || r.EverResolved != 2 || r.Reopened != 1 {
			t.Fatalf("figures: households %d followed %d satisfied %d/%d resolved %d reopened %d",
				r.Households, r.HouseholdsFollowedUp, r.Satisfied, r.SatisfactionCount, r.EverResolved, r.Reopened)
		}
		got := map[string]string{}
		for _, g := range r.Targets {
			key := g.Name
			if g.Step != "" {
				key += "/" + string(g.Step)
			}
			v := "—"
			if g.Value != nil {
				v = fmt.Sprintf("%.2f %s %.2f %v", *g.Value, g.Op, g.Target, *g.Met)
			}
			got[key] = v
		}
		for k, v := range map[string]string{
			"follow_up_rate":         "1.00 >= 1.00 true", // b and c resolved, both followed up
			"satisfaction_rate":      "1.00 >= 0.96 true", // satisfaction column keeps the last: 5 and 4
			"complaint_rate":         "0.25 <= 0.01 false",
			"households_followed_up": "2.00 >= 2.00 true",
			"reopen_rate":            "0.50 <= 0.05 false",
			"on_time/dispatch":       "0.67 >= 0.95 false",
		} {
			if got[k] != v {
				t.Errorf("%s: %q, want %q", k, got[k], v)
			}
		}
		// A month with nothing in it: no rates to count, no verdicts (the
		// households are still there: no complaints is a rate of 0).
		empty, _ := st.MonthlyReport(ctx, "s", t0.AddDate(1, 0, 0), t0.AddDate(1, 1, 0))
		for _, g := range empty.Targets {
			if g.Name != "households_followed_up" && g.Name != "complaint_rate" && (g.Value != nil || g.Met != nil) {
				t.Errorf("empty month %s: %v", g.Name, *g.Value)
			}
		}
	})
}
