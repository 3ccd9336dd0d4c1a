package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/estatehq/estate/desk/ticket"
	"github.com/estatehq/estate/internal/wire"
)

// One group, as concurrent callers would make it: every member gets its own
// answer as if it had been alone — a new ticket, the holder of its alarm
// key (created earlier in the same group), its own input error, or its
// caller's cancellation — and the group's other tickets are all committed,
// each with its audit entry, deadlines and one event, in the members' order.
func TestGroupCommitAnswersEachMember(t *testing.T) {
	forEachStore(t, func(t *testing.T, b backend) {
		st := b.open(t, Policy{})
		ctx := context.Background()
		gone, cancel := context.WithCancel(ctx)
		cancel()
		mk := func(c context.Context, n wire.NewTicket) *creation {
			return &creation{ctx: c, n: n, by: "gw", now: t0, wake: make(chan struct{}, 1)}
		}
		group := []*creation{
			mk(ctx, wire.NewTicket{Kind: wire.Repair, Title: "pump 1 offline", Site: "s", AlarmKey: "s/offline/pump-1"}),
			mk(ctx, wire.NewTicket{Kind: wire.Repair, Title: "pump 1 offline again", Site: "s", AlarmKey: "s/offline/pump-1"}),
			mk(gone, wire.NewTicket{Kind: wire.Repair, Title: "caller went away", Site: "s", AlarmKey: "s/offline/pump-9"}),
			mk(ctx, wire.NewTicket{Kind: wire.Repair, Title: "pump 2 offline", Site: "s", AlarmKey: "s/offline/pump-2"}),
		}
		st.runGroup(group)
		// A member that fails fails its group's transaction: the others are
		// created again, each alone.
		failing := []*creation{
			mk(ctx, wire.NewTicket{Kind: wire.Complaint, Title: "linked to nothing", Site: "s", ParentID: 99999}),
			mk(ctx, wire.NewTicket{Kind: wire.Repair, Title: "pump 3 offline", Site: "s", AlarmKey: "s/offline/pump-3"}),
		}
		st.runGroup(failing)

		first, dup, left, second := group[0], group[1], group[2], group[3]
		bad, third := failing[0], failing[1]
		if first.err != nil || !first.made {
			t.Fatalf("first: made %v, %v", first.made, first.err)
		}
		if dup.err != nil || dup.made || dup.t.ID != first.t.ID {
			t.Errorf("same alarm in the group: made %v, ticket %d (want %d), %v", dup.made, dup.t.ID, first.t.ID, dup.err)
		}
		if !errors.Is(left.err, context.Canceled) || left.t.ID != 0 {
			t.Errorf("cancelled caller: %d, %v", left.t.ID, left.err)
		}
		var in *ticket.InputError
		if !errors.As(bad.err, &in) || in.Field != "parent_id" {
			t.Errorf("bad member: %v, want its own parent_id error", bad.err)
		}
		if second.err != nil || !second.made || second.t.ID <= first.t.ID {
			t.Fatalf("second: made %v, ticket %d, %v", second.made, second.t.ID, second.err)
		}
		if third.err != nil || !third.made || third.t.ID <= second.t.ID {
			t.Fatalf("beside the bad member: made %v, ticket %d, %v", third.made, third.t.ID, third.err)
		}
		all, err := st.ListTickets(ctx, Filter{Site: "s", Oldest: true})
		if err != nil {
			t.Fatal(err)
		}
		var titles []string
		for _, tk := range all {
			titles = append(titles, tk.Title)
			got, err := st.GetTicket(ctx, tk.ID)
			if err != nil || len(got.Deadlines) == 0 {
				t.Errorf("ticket %d: deadlines %v, %v", tk.ID, got.Deadlines, err)
			}
			trail, err := st.Audit(ctx, tk.ID)
			if err != nil || len(trail) == 0 || trail[0].Action != "created" {
				t.Errorf("ticket %d: trail %v, %v", tk.ID, trail, err)
			}
		}
		if fmt.Sprint(titles) != "[pump 1 offline pump 2 offline pump 3 offline]" {
			t.Errorf("stored %v", titles)
		}
		evs, err := st.Events(ctx, 0, "s", 100)
		if err != nil {
			t.Fatal(err)
		}
		var created []int64
		for _, e := range evs {
			if e.Type == "ticket.created" {
				created = append(created, e.TicketID)
			}
		}
		if want := []int64{first.t.ID, second.t.ID, third.t.ID}; fmt.Sprint(created) != fmt.Sprint(want) {
			t.Errorf("created events for %v, want %v", created, want)
		}
	})
}

// Many callers at once, most of them in groups: each alarm key ends with
// exactly one ticket, every caller is answered with it, and the queue hands
// the lead on until it is empty (no caller is left waiting).
func TestGroupCommitUnderConcurrentCallers(t *testing.T) {
	forEachStore(t, func(t *testing.T, b backend) {
		st := b.open(t, Policy{})
		ctx := context.Background()
		const callers, keys = 64, 16
		var wg sync.WaitGroup
		var mu sync.Mutex
		holder := map[string]int64{}
		made := map[string]int{}
		for i := range callers {
			wg.Go(func() {
				key := fmt.Sprintf("s/offline/m%d", i%keys)
				tk, isNew, err := st.CreateTicket(ctx, wire.NewTicket{Kind: wire.Repair, Title: key, Site: "s", AlarmKey: key}, "gw", t0)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				if h, ok := holder[key]; ok && h != tk.ID {
					t.Errorf("%s answered with tickets %d and %d", key, h, tk.ID)
				}
				holder[key] = tk.ID
				if isNew {
					made[key]++
				}
			})
		}
		wg.Wait()
		for k := range keys {
			if key := fmt.Sprintf("s/offline/m%d", k); made[key] != 1 {
				t.Errorf("%s created %d times", key, made[key])
			}
		}
		if n := len(st.creations.queue); n != 0 {
			t.Errorf("%d creations left in the queue", n)
		}
	})
}
