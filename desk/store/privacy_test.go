package store

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/estatehq/estate/internal/wire"
)

// Areas, the access log and text messages on both stores: a household
// belongs to one area, a new household ticket is filed under it, a
// reassignment moves the open cases, and two desks asking at once send a
// household one message a day.
func TestAreasAccessAndSMS(t *testing.T) {
	forEachStore(t, func(t *testing.T, b backend) {
		st := b.open(t, Policy{})
		ctx := context.Background()
		for _, u := range []Unit{{Site: "s", Unit: "1-101", Building: "1", Residents: []Resident{{Name: "Chen", Phone: "13900000000"}}, Meters: []string{"m1"}},
			{Site: "s", Unit: "2-201", Building: "2", Meters: []string{"m2"}}} {
			if err := st.PutUnit(ctx, u); err != nil {
				t.Fatal(err)
			}
		}
		a, moved, err := st.SaveArea(ctx, Area{Site: "s", Name: "A", Assistant: "xiao", Buildings: []string{"1"}}, "boss", "", t0)
		if err != nil || len(moved) != 0 || a.Households != 1 {
			t.Fatalf("area: %+v %v %v", a, moved, err)
		}
		var ce *AreaConflictError
		if _, _, err := st.SaveArea(ctx, Area{Site: "s", Name: "B", Assistant: "li", Buildings: []string{"1"}}, "boss", "", t0); !errors.As(err, &ce) || !errors.Is(err, ErrConflict) {
			t.Fatalf("overlap: %v", err)
		}
		// Another site may have a building 1 of its own.
		if _, _, err := st.SaveArea(ctx, Area{Site: "t", Name: "A", Assistant: "li", Buildings: []string{"1"}}, "boss", "", t0); err != nil {
			t.Fatal(err)
		}
		tk, _, err := st.CreateTicket(ctx, wire.NewTicket{Kind: wire.TopUp, Title: "low", Site: "s", Device: "m1",
			Reading: &wire.Reading{Point: "balance", Value: 3, At: t0}}, "gw", t0)
		if err != nil || tk.Assignee != "xiao" || tk.Unit != "1-101" {
			t.Fatalf("top-up: %+v %v", tk, err)
		}
		a.Assistant = "li"
		if _, moved, err = st.SaveArea(ctx, a, "boss", "leave", t0.Add(time.Minute)); err != nil || len(moved) != 1 || moved[0] != tk.ID {
			t.Fatalf("reassign: %v %v", moved, err)
		}
		if got, _ := st.GetTicket(ctx, tk.ID); got.Assignee != "li" {
			t.Errorf("assignee after the reassignment: %q", got.Assignee)
		}
		areas, err := st.TicketAreas(ctx, []int64{tk.ID, 999})
		if err != nil || len(areas) != 1 || areas[tk.ID].Assistant != "li" || areas[tk.ID].Area != "A" {
			t.Errorf("ticket areas: %+v %v", areas, err)
		}

		// Access log.
		if err := st.LogAccess(ctx, []Access{{At: t0, Site: "s", Actor: "xiao", Role: "assistant", Subject: "ticket", SubjectID: "1", Unit: "1-101", What: "phone", Reason: "r", Route: "GET /x"},
			{At: t0.Add(time.Second), Site: "t", Actor: "li", Role: "assistant", Subject: "unit", SubjectID: "1", What: "household", Reason: "r", Route: "GET /y"}}); err != nil {
			t.Fatal(err)
		}
		log, err := st.AccessLog(ctx, AccessFilter{Site: "s"})
		if err != nil || len(log) != 1 || log[0].Actor != "xiao" || !log[0].At.Equal(t0) {
			t.Errorf("access log: %+v %v", log, err)
		}

		// One message a day, whichever of two desks asks first.
		var wg sync.WaitGroup
		results := make([]error, 8)
		for i := range results {
			wg.Go(func() {
				_, results[i] = st.ClaimSMS(ctx, SMSMessage{Site: "s", Unit: "1-101", Day: "2026-11-24", TicketID: tk.ID, Phone: "13900000000",
					Provider: "aliyun", TemplateID: "T", Params: "[]", By: "xiao"}, t0)
			})
		}
		wg.Wait()
		ok := 0
		var claimed SMSMessage
		for _, err := range results {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, ErrSMSToday):
				t.Errorf("claim: %v", err)
			}
		}
		if ok != 1 {
			t.Fatalf("%d claims succeeded", ok)
		}
		pending, _ := st.TicketSMS(ctx, tk.ID)
		claimed = pending[0]
		if _, err := st.SMSSent(ctx, claimed.ID, "biz-1", t0); err != nil {
			t.Fatal(err)
		}
		if rs, _ := st.Reminders(ctx, tk.ID); len(rs) != 1 || rs[0].Channel != "sms" {
			t.Errorf("reminder: %+v", rs)
		}
		if found, err := st.SMSReceipt(ctx, "t", "biz-1", true, "DELIVERED", "", t0); err != nil || found {
			t.Errorf("another site's receipt: %v %v", found, err)
		}
		if found, err := st.SMSReceipt(ctx, "s", "biz-1", true, "DELIVERED", "", t0); err != nil || !found {
			t.Errorf("receipt: %v %v", found, err)
		}
		// A failed message frees the day; an opt-out closes it.
		if _, err := st.ClaimSMS(ctx, SMSMessage{Site: "s", Unit: "1-101", Day: "2026-11-25", TicketID: tk.ID, Phone: "1", Provider: "aliyun", Params: "[]", By: "x"}, t0); err != nil {
			t.Fatal(err)
		}
		ms, _ := st.TicketSMS(ctx, tk.ID)
		if err := st.SMSFailed(ctx, ms[1].ID, "isv.X", "refused", t0); err != nil {
			t.Fatal(err)
		}
		if _, err := st.ClaimSMS(ctx, SMSMessage{Site: "s", Unit: "1-101", Day: "2026-11-25", TicketID: tk.ID, Phone: "1", Provider: "aliyun", Params: "[]", By: "x"}, t0); err != nil {
			t.Fatalf("after a failure: %v", err)
		}
		if err := st.SetSMSOptOut(ctx, SMSOptOut{Site: "s", Unit: "1-101", At: t0, By: "xiao"}, true); err != nil {
			t.Fatal(err)
		}
		if _, err := st.ClaimSMS(ctx, SMSMessage{Site: "s", Unit: "1-101", Day: "2026-11-26", TicketID: tk.ID, Phone: "1", Provider: "aliyun", Params: "[]", By: "x"}, t0); !errors.Is(err, ErrOptedOut) {
			t.Errorf("opted out: %v", err)
		}
		if n, err := st.DeleteArea(ctx, "s", a.ID, "boss", "merged", t0); err != nil || len(n) != 1 {
			t.Errorf("delete: %v %v", n, err)
		}
	})
}
