package ticket

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/estatehq/estate/internal/wire"
)

// Every (kind, status, action) is listed or forbidden: this table is the
// lifecycle of docs/product.md ("Tickets and their life") as the desk enforces it.
func TestLifecycle(t *testing.T) {
	full := Change{Assignee: "li", Resolution: "replaced the breaker", Satisfaction: 5, FollowUpNote: "happy", Note: "why"}
	cases := []struct {
		kind   wire.Kind
		from   wire.Status
		action Action
		to     wire.Status // empty: forbidden
	}{
		{wire.Repair, wire.New, Acknowledge, wire.New},
		{wire.Repair, wire.New, Dispatch, wire.Dispatched},
		{wire.Repair, wire.New, Arrive, ""},
		{wire.Repair, wire.New, Resolve, ""},
		{wire.Repair, wire.New, CloseTicket, ""},
		{wire.Repair, wire.New, Cancel, wire.Cancelled},
		{wire.Repair, wire.New, Reopen, ""},
		{wire.Repair, wire.Dispatched, Dispatch, wire.Dispatched},
		{wire.Repair, wire.Dispatched, Arrive, wire.OnSite},
		{wire.Repair, wire.Dispatched, Resolve, wire.Resolved},
		{wire.Repair, wire.Dispatched, FollowUp, ""},
		{wire.Repair, wire.OnSite, Resolve, wire.Resolved},
		{wire.Repair, wire.OnSite, Dispatch, ""},
		{wire.Repair, wire.OnSite, CloseTicket, ""},
		{wire.Repair, wire.Resolved, FollowUp, wire.FollowedUp},
		{wire.Repair, wire.Resolved, CloseTicket, wire.Closed},
		{wire.Repair, wire.Resolved, Reopen, wire.Dispatched},
		{wire.Repair, wire.Resolved, Cancel, ""},
		{wire.Repair, wire.FollowedUp, CloseTicket, wire.Closed},
		{wire.Repair, wire.FollowedUp, Reopen, wire.Dispatched},
		{wire.Repair, wire.FollowedUp, FollowUp, ""},
		{wire.Repair, wire.Closed, Reopen, wire.Dispatched},
		{wire.Repair, wire.Closed, CloseTicket, ""},
		{wire.Repair, wire.Cancelled, Reopen, ""},
		{wire.Repair, wire.Cancelled, Dispatch, ""},
		{wire.Complaint, wire.Resolved, CloseTicket, ""}, // follow-up first
		{wire.Complaint, wire.Resolved, FollowUp, wire.FollowedUp},
		{wire.Complaint, wire.FollowedUp, CloseTicket, wire.Closed},
		{wire.TopUp, wire.New, Resolve, wire.Resolved}, // the balance came back
		{wire.Emergency, wire.New, Resolve, ""},
		{wire.Emergency, wire.New, Acknowledge, wire.New},
	}
	for _, tc := range cases {
		name := string(tc.kind) + "/" + string(tc.from) + "/" + string(tc.action)
		t.Run(name, func(t *testing.T) {
			c := full
			c.Action = tc.action
			to, err := Plan(wire.Ticket{Kind: tc.kind, Status: tc.from}, c)
			if tc.to == "" {
				var te *TransitionError
				if !errors.As(err, &te) {
					t.Fatalf("got %q, %v; want a TransitionError", to, err)
				}
				for _, a := range te.Allowed {
					if _, ok := allowed(tc.kind, tc.from, a); !ok || !strings.Contains(err.Error(), string(a)) {
						t.Errorf("message %q: allowed action %s not named or not allowed", err, a)
					}
				}
				if slices.Contains(te.Allowed, tc.action) {
					t.Errorf("forbidden action listed as allowed: %v", te.Allowed)
				}
				return
			}
			if err != nil || to != tc.to {
				t.Fatalf("got %q, %v; want %q", to, err, tc.to)
			}
		})
	}
}

func TestForbiddenMessageNamesAllowedActions(t *testing.T) {
	_, err := Plan(wire.Ticket{Kind: wire.Complaint, Status: wire.Resolved}, Change{Action: CloseTicket})
	want := "a complaint ticket that is resolved cannot close; allowed: follow_up, reopen (a complaint is closed only after its follow-up)"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
	_, err = Plan(wire.Ticket{Kind: wire.Repair, Status: wire.Cancelled}, Change{Action: Reopen, Note: "x"})
	if err == nil || !strings.Contains(err.Error(), "allowed: none") {
		t.Fatalf("cancelled: %v", err)
	}
}

func TestRequiredFields(t *testing.T) {
	cases := []struct {
		from  wire.Status
		c     Change
		field string
	}{
		{wire.New, Change{Action: "fix"}, "action"},
		{wire.New, Change{Action: Dispatch}, "assignee"},
		{wire.New, Change{Action: Dispatch, Team: "plumbers"}, "team"},
		{wire.OnSite, Change{Action: Resolve}, "resolution"},
		{wire.OnSite, Change{Action: Resolve, Resolution: "   "}, "resolution"},
		{wire.OnSite, Change{Action: Resolve, Resolution: "x", ChargeCents: -1}, "charge_cents"},
		{wire.Resolved, Change{Action: FollowUp, FollowUpNote: "ok"}, "satisfaction"},
		{wire.Resolved, Change{Action: FollowUp, Satisfaction: 6, FollowUpNote: "ok"}, "satisfaction"},
		{wire.Resolved, Change{Action: FollowUp, Satisfaction: 4}, "follow_up_note"},
		{wire.New, Change{Action: Cancel}, "note"},
		{wire.Closed, Change{Action: Reopen}, "note"},
		{wire.New, Change{Action: Cancel, Note: strings.Repeat("x", wire.MaxTextLen+1)}, "note"},
	}
	for _, tc := range cases {
		_, err := Plan(wire.Ticket{Kind: wire.Repair, Status: tc.from}, tc.c)
		var ie *InputError
		if !errors.As(err, &ie) || ie.Field != tc.field {
			t.Errorf("%s from %s: got %v, want a problem with %s", tc.c.Action, tc.from, err, tc.field)
		}
	}
	if to, err := Plan(wire.Ticket{Kind: wire.Repair, Status: wire.New}, Change{Action: Dispatch, Team: "engineering"}); err != nil || to != wire.Dispatched {
		t.Errorf("dispatch to a team: %v", err)
	}
}

func TestLimits(t *testing.T) {
	shanghai, _ := time.LoadLocation("Asia/Shanghai")
	start := time.Date(2026, 11, 24, 15, 30, 0, 0, time.UTC) // 23:30 in Shanghai
	cases := []struct {
		in   string
		due  time.Time
		back string
	}{
		{"15m", start.Add(15 * time.Minute), "15m0s"},
		{"3d", start.Add(72 * time.Hour), "3d"},
		{"same_day", time.Date(2026, 11, 25, 0, 0, 0, 0, shanghai), "same_day"},
		// Tuesday 23:30: the rest of Tuesday and 23.5 h of Wednesday; without
		// a calendar, working days are Monday to Friday.
		{"1wd", time.Date(2026, 11, 25, 23, 30, 0, 0, shanghai), "1wd"},
		{"4wd", time.Date(2026, 11, 30, 23, 30, 0, 0, shanghai), "4wd"},
	}
	for _, tc := range cases {
		l, err := ParseLimit(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		if got := l.Due(start, shanghai); !got.Equal(tc.due) || l.String() != tc.back {
			t.Errorf("%s: due %s (%s), want %s", tc.in, got, l, tc.due)
		}
	}
	for _, bad := range []string{"", "0s", "-5m", "soon", "0d", "1.5d", "0wd", "-1wd", "+1wd", "wd", "1.5wd", "367wd", "1 wd"} {
		if _, err := ParseLimit(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestEscalationLadder(t *testing.T) {
	level, who := 0, []Level(nil)
	var climbed []Level
	for range 5 {
		level, who = Escalate(wire.Repair, level)
		climbed = append(climbed, who...)
	}
	if !slices.Equal(climbed, []Level{LevelSupervisor, LevelManager, LevelLeadership, LevelLeadership, LevelLeadership}) {
		t.Errorf("repair ladder: %v", climbed)
	}
	if _, who := Escalate(wire.Emergency, 0); !slices.Equal(who, []Level{LevelManager, LevelLeadership}) {
		t.Errorf("emergency: %v", who)
	}
	if !slices.Contains(NotifiedAtCreation(wire.Emergency), LevelLeadership) || slices.Contains(NotifiedAtCreation(wire.Repair), LevelManager) {
		t.Error("creation notices")
	}
}

// Every kind has a default deadline table, and every sub-kind of the
// manuals is a kind's (the tables are data the config example lists).
func TestDefaultTables(t *testing.T) {
	table := DefaultDeadlines()
	for _, k := range wire.Kinds {
		if len(table[k]) == 0 {
			t.Errorf("%s has no default deadlines", k)
		}
	}
	for k, subs := range DefaultSubKindDeadlines() {
		for sub := range subs {
			if wire.CheckSubKind(k, sub) != nil {
				t.Errorf("%s/%s is not a sub-kind", k, sub)
			}
		}
	}
	if got := table[wire.Complaint][wire.StepRespond]; got != (Limit{WorkingDays: 1}) {
		t.Errorf("complaint reply: %v, want one working day", got)
	}
}
