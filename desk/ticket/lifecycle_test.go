package ticket

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// Every (kind, status, action) is listed or forbidden: this table is the
// lifecycle of DESIGN.md §2 as the desk enforces it.
func TestLifecycle(t *testing.T) {
	full := Change{Assignee: "li", Resolution: "replaced the breaker", Satisfaction: 5, FollowUpNote: "happy", Note: "why"}
	cases := []struct {
		kind   Kind
		from   Status
		action Action
		to     Status // empty: forbidden
	}{
		{Repair, New, Acknowledge, New},
		{Repair, New, Dispatch, Dispatched},
		{Repair, New, Arrive, ""},
		{Repair, New, Resolve, ""},
		{Repair, New, CloseTicket, ""},
		{Repair, New, Cancel, Cancelled},
		{Repair, New, Reopen, ""},
		{Repair, Dispatched, Dispatch, Dispatched},
		{Repair, Dispatched, Arrive, OnSite},
		{Repair, Dispatched, Resolve, Resolved},
		{Repair, Dispatched, FollowUp, ""},
		{Repair, OnSite, Resolve, Resolved},
		{Repair, OnSite, Dispatch, ""},
		{Repair, OnSite, CloseTicket, ""},
		{Repair, Resolved, FollowUp, FollowedUp},
		{Repair, Resolved, CloseTicket, Closed},
		{Repair, Resolved, Reopen, Dispatched},
		{Repair, Resolved, Cancel, ""},
		{Repair, FollowedUp, CloseTicket, Closed},
		{Repair, FollowedUp, Reopen, Dispatched},
		{Repair, FollowedUp, FollowUp, ""},
		{Repair, Closed, Reopen, Dispatched},
		{Repair, Closed, CloseTicket, ""},
		{Repair, Cancelled, Reopen, ""},
		{Repair, Cancelled, Dispatch, ""},
		{Complaint, Resolved, CloseTicket, ""}, // follow-up first
		{Complaint, Resolved, FollowUp, FollowedUp},
		{Complaint, FollowedUp, CloseTicket, Closed},
		{TopUp, New, Resolve, Resolved}, // the balance came back
		{Emergency, New, Resolve, ""},
		{Emergency, New, Acknowledge, New},
	}
	for _, tc := range cases {
		name := string(tc.kind) + "/" + string(tc.from) + "/" + string(tc.action)
		t.Run(name, func(t *testing.T) {
			c := full
			c.Action = tc.action
			to, err := Plan(Ticket{Kind: tc.kind, Status: tc.from}, c)
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
	_, err := Plan(Ticket{Kind: Complaint, Status: Resolved}, Change{Action: CloseTicket})
	want := "a complaint ticket that is resolved cannot close; allowed: follow_up, reopen (a complaint is closed only after its follow-up)"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
	_, err = Plan(Ticket{Kind: Repair, Status: Cancelled}, Change{Action: Reopen, Note: "x"})
	if err == nil || !strings.Contains(err.Error(), "allowed: none") {
		t.Fatalf("cancelled: %v", err)
	}
}

func TestRequiredFields(t *testing.T) {
	cases := []struct {
		from  Status
		c     Change
		field string
	}{
		{New, Change{Action: "fix"}, "action"},
		{New, Change{Action: Dispatch}, "assignee"},
		{New, Change{Action: Dispatch, Team: "plumbers"}, "team"},
		{OnSite, Change{Action: Resolve}, "resolution"},
		{OnSite, Change{Action: Resolve, Resolution: "   "}, "resolution"},
		{OnSite, Change{Action: Resolve, Resolution: "x", ChargeCents: -1}, "charge_cents"},
		{Resolved, Change{Action: FollowUp, FollowUpNote: "ok"}, "satisfaction"},
		{Resolved, Change{Action: FollowUp, Satisfaction: 6, FollowUpNote: "ok"}, "satisfaction"},
		{Resolved, Change{Action: FollowUp, Satisfaction: 4}, "follow_up_note"},
		{New, Change{Action: Cancel}, "note"},
		{Closed, Change{Action: Reopen}, "note"},
		{New, Change{Action: Cancel, Note: strings.Repeat("x", MaxTextLen+1)}, "note"},
	}
	for _, tc := range cases {
		_, err := Plan(Ticket{Kind: Repair, Status: tc.from}, tc.c)
		var ie *InputError
		if !errors.As(err, &ie) || ie.Field != tc.field {
			t.Errorf("%s from %s: got %v, want a problem with %s", tc.c.Action, tc.from, err, tc.field)
		}
	}
	if to, err := Plan(Ticket{Kind: Repair, Status: New}, Change{Action: Dispatch, Team: "engineering"}); err != nil || to != Dispatched {
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
	for _, bad := range []string{"", "0s", "-5m", "soon", "0d", "1.5d"} {
		if _, err := ParseLimit(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestEscalationLadder(t *testing.T) {
	level, who := 0, []Level(nil)
	var climbed []Level
	for range 5 {
		level, who = Escalate(Repair, level)
		climbed = append(climbed, who...)
	}
	if !slices.Equal(climbed, []Level{LevelSupervisor, LevelManager, LevelLeadership, LevelLeadership, LevelLeadership}) {
		t.Errorf("repair ladder: %v", climbed)
	}
	if _, who := Escalate(Emergency, 0); !slices.Equal(who, []Level{LevelManager, LevelLeadership}) {
		t.Errorf("emergency: %v", who)
	}
	if !slices.Contains(NotifiedAtCreation(Emergency), LevelLeadership) || slices.Contains(NotifiedAtCreation(Repair), LevelManager) {
		t.Error("creation notices")
	}
}
