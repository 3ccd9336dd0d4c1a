package desk

// The assistants' red-meter list (issue 13 part 5): each open top-up
// reminder with the meter's balance and supply state now, from the newest
// readings in InfluxDB, not the balance that opened the ticket; the
// households already without power or water first.

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/estatehq/estate/desk/history"
	"github.com/estatehq/estate/desk/store"
)

// latestPoints is what the red-meter list needs of the telemetry reader:
// the newest readings of some points of many devices at once.
// history.Reader is the implementation.
type latestPoints interface {
	LatestPoints(ctx context.Context, site, measurement string, devices, points []string) (map[string]map[string]history.Reading, error)
}

// supplyPoint is, per meter family, the point that says whether the
// household still has supply, and the values that mean it is cut: a prepaid
// electricity meter's relay (1 closed, 0 tripped), a prepaid water meter's
// valve (0 open, 1 closed; 3, a valve fault, is not "cut for arrears" but the
// household has no water either).
var supplyPoint = map[string]struct {
	point string
	off   func(v float64) bool
}{
	"meter": {"relay", func(v float64) bool { return v == 0 }},
	"water": {"valve", func(v float64) bool { return v == 1 || v == 3 }},
}

// TopUpView is one line of the red-meter list as the console shows it.
type TopUpView struct {
	store.TopUp
	// BalanceNow is the newest balance reading, and ReadingAt when it was
	// taken; absent when the desk has no reading of it (no InfluxDB, or the
	// meter silent for a day): Balance, the one that opened the ticket, is
	// then all there is.
	BalanceNow *float64   `json:"balance_now,omitempty"`
	ReadingAt  *time.Time `json:"reading_at,omitempty"`
	// Supply is "off" when the relay is tripped (the valve shut), "on" when
	// it is closed (open), "" when unknown.
	Supply string `json:"supply,omitempty"`
}

// topUpOrder is the red-meter list's order, the first comparison that
// tells two lines apart deciding: households without supply first, then
// the longest red. A new criterion (an assistant's own area first) is one
// more function in front.
var topUpOrder = []func(a, b TopUpView) int{
	func(a, b TopUpView) int { return boolFirst(a.Supply == "off", b.Supply == "off") },
	func(a, b TopUpView) int { return a.RedSince.Compare(b.RedSince) },
	func(a, b TopUpView) int { return cmp.Compare(a.TicketID, b.TicketID) },
}

// boolFirst orders true before false.
func boolFirst(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return -1
	}
	return 1
}

func sortTopUps(list []TopUpView, order []func(a, b TopUpView) int) {
	slices.SortStableFunc(list, func(a, b TopUpView) int {
		for _, f := range order {
			if c := f(a, b); c != 0 {
				return c
			}
		}
		return 0
	})
}

// redMeters adds the readings now to the list and orders it. Without a
// telemetry reader, or when InfluxDB fails, the list is still given (with
// the ticket's own balance) and the failure logged: the assistants' work
// does not stop with the telemetry.
// redMeters is the list as the caller me reads it: their own area's
// households first (areas.go), then topUpOrder.
func (s *Server) redMeters(ctx context.Context, me string, list []store.TopUp) []TopUpView {
	out := make([]TopUpView, len(list))
	for i, tp := range list {
		out[i] = TopUpView{TopUp: tp}
	}
	if reader, ok := s.history.(latestPoints); ok && s.history != nil {
		// One query per site and meter family.
		type group struct{ site, family string }
		devices := map[group][]string{}
		for _, tp := range list {
			if tp.Device != "" {
				g := group{tp.Site, cmp.Or(tp.Category, "meter")}
				devices[g] = append(devices[g], tp.Device)
			}
		}
		for g, ids := range devices {
			points := []string{"balance"}
			sp, known := supplyPoint[g.family]
			if known {
				points = append(points, sp.point)
			}
			readings, err := reader.LatestPoints(ctx, g.site, g.family, slices.Compact(slices.Sorted(slices.Values(ids))), points)
			if err != nil {
				s.log.Warn("red-meter list: the readings now are not available", "site", g.site, "family", g.family, "err", err)
				continue
			}
			for i := range out {
				tp := &out[i]
				if tp.Site != g.site || cmp.Or(tp.Category, "meter") != g.family {
					continue
				}
				r := readings[tp.Device]
				if b, ok := r["balance"]; ok {
					v, at := b.Value, b.At
					tp.BalanceNow, tp.ReadingAt = &v, &at
				}
				if v, ok := r[sp.point]; ok && known {
					tp.Supply = "on"
					if sp.off(v.Value) {
						tp.Supply = "off"
					}
				}
			}
		}
	}
	mineFirst := func(a, b TopUpView) int {
		return boolFirst(a.Assistant == me && me != "", b.Assistant == me && me != "")
	}
	sortTopUps(out, append([]func(a, b TopUpView) int{mineFirst}, topUpOrder...))
	return out
}
