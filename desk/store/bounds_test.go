package store

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/estatehq/estate/desk/ticket"
	"github.com/estatehq/estate/internal/wire"
)

// A session keeps the fingerprint it was created with; a session row written
// before migration 008 reads back with none (and so ends at the desk).
func TestSessionFingerprint(t *testing.T) {
	forEachStore(t, func(t *testing.T, b backend) {
		st := b.open(t, Policy{})
		ctx := context.Background()
		if err := st.CreateSession(ctx, "hash-1", Session{Staff: "xiao", Fingerprint: "fp-1"}, t0, t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		got, err := st.Session(ctx, "hash-1", t0.Add(time.Minute))
		if err != nil || got != (Session{Staff: "xiao", Fingerprint: "fp-1"}) {
			t.Fatalf("session: %+v %v", got, err)
		}
		if name, err := st.SessionStaff(ctx, "hash-1", t0.Add(time.Minute)); err != nil || name != "xiao" {
			t.Fatalf("session staff: %q %v", name, err)
		}
		if _, err := st.Session(ctx, "hash-1", t0.Add(2*time.Hour)); !errors.Is(err, ErrNotFound) {
			t.Fatalf("expired session: %v", err)
		}
		if _, err := st.db.ExecContext(ctx, st.q(`INSERT INTO sessions (token_sha256, staff, created_at, expires_at) VALUES (?, ?, ?, ?)`),
			"hash-old", "xiao", nanos(t0), nanos(t0.Add(time.Hour))); err != nil {
			t.Fatal(err)
		}
		if got, err := st.Session(ctx, "hash-old", t0); err != nil || got.Fingerprint != "" {
			t.Fatalf("a session from before the fingerprint: %+v %v", got, err)
		}
	})
}

// An appointment moves a repair's on-site deadline wherever it is agreed, but
// an emergency's only earlier: nobody books the fire brigade for next year.
func TestAppointmentNeverDelaysAnEmergency(t *testing.T) {
	forEachStore(t, func(t *testing.T, b backend) {
		st := b.open(t, Policy{})
		ctx := context.Background()
		later := t0.Add(180 * 24 * time.Hour)
		onSite := func(tk wire.Ticket) time.Time {
			t.Helper()
			got, err := st.GetTicket(ctx, tk.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range got.Deadlines {
				if d.Step == wire.StepOnSite {
					return d.DueAt
				}
			}
			t.Fatalf("ticket %d has no on-site deadline: %+v", tk.ID, got.Deadlines)
			return time.Time{}
		}
		cases := []struct {
			name    string
			kind    wire.Kind
			atOpen  bool
			want    time.Time
			wantNot time.Time
		}{
			{"repair dispatched with a visit in six months", wire.Repair, false, later, time.Time{}},
			{"repair opened with a visit in six months", wire.Repair, true, later, time.Time{}},
			{"emergency dispatched with a visit in six months", wire.Emergency, false, time.Time{}, later},
			{"emergency opened with a visit in six months", wire.Emergency, true, time.Time{}, later},
		}
		for i, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				n := wire.NewTicket{Kind: tc.kind, Title: "t", Site: "s", AlarmKey: fmt.Sprintf("s/x/%d", i)}
				if tc.atOpen {
					n.AppointmentAt = &later
				}
				tk, _, err := st.CreateTicket(ctx, n, "desk", t0)
				if err != nil {
					t.Fatal(err)
				}
				before := onSite(tk)
				if !tc.atOpen {
					if _, err := st.Transition(ctx, tk.ID, ticket.Change{Action: ticket.Dispatch, Assignee: "li", AppointmentAt: &later}, "desk", t0.Add(time.Second)); err != nil {
						t.Fatal(err)
					}
				}
				got := onSite(tk)
				if !tc.want.IsZero() && !got.Equal(tc.want) {
					t.Errorf("on site due %s, want the appointment %s", got, tc.want)
				}
				if !tc.wantNot.IsZero() && (got.Equal(tc.wantNot) || got.After(before) || got.After(t0.Add(time.Hour))) {
					t.Errorf("emergency on site due %s (was %s): moved later by an appointment", got, before)
				}
			})
		}
	})
}
