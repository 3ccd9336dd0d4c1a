package desk

import (
	"context"
	"slices"

	"github.com/estatehq/estate/desk/deskconfig"
	"github.com/estatehq/estate/desk/shift"
	"github.com/estatehq/estate/internal/wire"
)

// rosterMentions is the desk's MentionSource: the people a channel lists
// and, for a channel with mention_on_duty, the people on duty when the
// message goes out (issue 15: the on-duty people of each department are who
// is called in an emergency). It asks the shift service at sending time, so
// a message sent after a shift change mentions the new shift, and one sent
// while a handover is not accepted mentions both (shift.Service.OnDuty).
type rosterMentions struct{ s *Server }

func (r rosterMentions) Mentions(ctx context.Context, ch deskconfig.Channel, t wire.Ticket) Mentions {
	m := Mentions{UserIDs: slices.Clone(ch.MentionUsers), Mobiles: slices.Clone(ch.MentionMobiles)}
	if !ch.MentionOnDuty || r.s.duty == nil || t.Site == "" {
		return m
	}
	add := func(list []string, v string) []string {
		if v == "" || slices.Contains(list, v) {
			return list
		}
		return append(list, v)
	}
	for _, dep := range dutyDepartments(t) {
		people, err := r.s.duty.OnDuty(ctx, t.Site, dep, r.s.now())
		if err != nil {
			r.s.log.Warn("on-duty people for a notification's mentions", "site", t.Site, "department", dep, "err", err)
			continue
		}
		for _, name := range people {
			st, ok := r.s.staffByName(name)
			if !ok {
				continue // a roster name that is no staff account: estate check says so
			}
			switch ch.Type {
			case "wecom":
				m.UserIDs = add(m.UserIDs, st.WeComUser)
			case "dingtalk":
				if st.DingTalkUser != "" {
					m.UserIDs = add(m.UserIDs, st.DingTalkUser)
				} else {
					m.Mobiles = add(m.Mobiles, st.Phone)
				}
			}
		}
	}
	return m
}

// dutyDepartments are the departments whose people on duty a ticket calls:
// its team's, else the one its kind belongs to, and the control room for an
// emergency (which is reported at once, whoever does the work).
func dutyDepartments(t wire.Ticket) []string {
	var out []string
	if slices.Contains(shift.Departments, t.Team) {
		out = append(out, t.Team)
	} else {
		switch t.Kind {
		case wire.Emergency, wire.UrgentRepair, wire.Repair:
			out = append(out, "engineering")
		default:
			out = append(out, "customer_service")
		}
	}
	if t.Kind == wire.Emergency && !slices.Contains(out, shift.ControlRoom) {
		out = append(out, shift.ControlRoom)
	}
	return out
}

// staffByName is the staff account of a login name.
func (s *Server) staffByName(name string) (deskconfig.Staff, bool) {
	for _, st := range s.cfg.Staff {
		if st.Name == name {
			return st, true
		}
	}
	return deskconfig.Staff{}, false
}
