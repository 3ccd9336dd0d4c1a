package desk

// Residents' personal data, seen only by those who need it (issue 15 part 5):
// what each role sees of a resident's name, phone and household on every
// route (tickets, top-ups, households, the event stream, exports), and the
// access log of every view of an unmasked phone or of a household record.
//
//   - admin, manager, assistant: everything (they call residents), each
//     unmasked phone and household record they view logged;
//   - engineer: the resident's name and phone masked (张**, 138****1234),
//     except on a ticket dispatched to them by name, until it is closed or
//     cancelled (the engineer on the way calls the resident, and may call
//     back after the repair); a household record likewise, while they hold
//     such a ticket of that household;
//   - control room: names, phones masked except on an open emergency (the
//     operator calls the household that is flooding);
//   - gateway: no resident's name, phone or way of contact at all.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/estatehq/estate/desk/store"
	"github.com/estatehq/estate/internal/wire"
)

// PrivacyStore is what areas, the access log and SMS reminders need of the store.
type PrivacyStore interface {
	Areas(ctx context.Context, site string) ([]store.Area, error)
	GetArea(ctx context.Context, id int64) (store.Area, error)
	SaveArea(ctx context.Context, a store.Area, by, note string, now time.Time) (store.Area, []int64, error)
	DeleteArea(ctx context.Context, site string, id int64, by, note string, now time.Time) ([]int64, error)
	TicketAreas(ctx context.Context, ids []int64) (map[int64]store.AreaTicket, error)
	AreaOfUnit(ctx context.Context, site, unit string) (store.Area, bool, error)
	LogAccess(ctx context.Context, entries []store.Access) error
	AccessLog(ctx context.Context, f store.AccessFilter) ([]store.Access, error)
	ClaimSMS(ctx context.Context, m store.SMSMessage, now time.Time) (store.SMSMessage, error)
	SMSSent(ctx context.Context, id int64, providerID string, now time.Time) (store.SMSMessage, error)
	SMSFailed(ctx context.Context, id int64, code, detail string, now time.Time) error
	PendingSMS(ctx context.Context, site string, limit int) ([]store.SMSMessage, error)
	TicketSMS(ctx context.Context, ticketID int64) ([]store.SMSMessage, error)
	SMSReceipt(ctx context.Context, site, providerID string, delivered bool, code, detail string, now time.Time) (bool, error)
	SetSMSOptOut(ctx context.Context, o store.SMSOptOut, optOut bool) error
	SMSOptOuts(ctx context.Context, site string) ([]store.SMSOptOut, error)
}

// seesAll reports whether the role sees residents unmasked everywhere.
func seesAll(role string) bool {
	switch role {
	case RoleAdmin, RoleManager, RoleAssistant:
		return true
	}
	return false
}

// workOpen is a ticket whose work is still to be done.
func workOpen(s wire.Status) bool { return s == wire.New || s == wire.Dispatched || s == wire.OnSite }

// ticketView is a ticket as the caller may see it (the rules above).
func (p Principal) ticketView(t wire.Ticket) wire.Ticket {
	switch {
	case seesAll(p.Role):
	case p.Role == RoleEngineer:
		if t.Assignee == "" || t.Assignee != p.Name || !t.Status.Open() {
			t.Reporter, t.Phone = maskName(t.Reporter), maskPhone(t.Phone)
		}
	case p.Role == RoleControlRoom:
		if t.Kind != wire.Emergency || !t.Status.Open() {
			t.Phone = maskPhone(t.Phone)
		}
	default: // gateways, and any role not named here
		t.Reporter, t.Phone, t.Contact = "", "", ""
	}
	return t
}

// phoneShown reports whether a view shows a resident's phone unmasked.
func phoneShown(orig, shown string) bool { return orig != "" && orig == shown }

// maxReason bounds the reason a caller gives for a view.
const maxReason = 200

// ReasonHeader carries why the caller looks at residents' data (for the
// access log); without it the route's purpose is recorded.
const ReasonHeader = "X-Estate-Reason"

func accessReason(c echo.Context, purpose string) string {
	r := strings.TrimSpace(c.Request().Header.Get(ReasonHeader))
	if r == "" || !utf8.ValidString(r) {
		return purpose
	}
	if len(r) > maxReason {
		r = r[:maxReason]
		for !utf8.ValidString(r) {
			r = r[:len(r)-1]
		}
	}
	return r
}

// access is one entry of the access log for this request.
func (s *Server) access(c echo.Context, site, subject, id, unit, what, purpose string) store.Access {
	p := principal(c)
	return store.Access{At: s.now(), Site: site, Actor: p.Name, Role: p.Role, Subject: subject, SubjectID: id, Unit: unit,
		What: what, Reason: accessReason(c, purpose), Route: c.Request().Method + " " + c.Path(), RequestID: requestID(c)}
}

// viewTickets turns tickets into the caller's views and logs every
// unmasked phone among them, before the answer is written: a view that
// cannot be logged is not given.
func (s *Server) viewTickets(c echo.Context, purpose string, ts []wire.Ticket, given string) ([]wire.Ticket, error) {
	p := principal(c)
	var log []store.Access
	for i, t := range ts {
		v := p.ticketView(t)
		if phoneShown(t.Phone, v.Phone) && t.Phone != given {
			log = append(log, s.access(c, t.Site, "ticket", strconv.FormatInt(t.ID, 10), t.Unit, "phone", purpose))
		}
		ts[i] = v
	}
	if err := s.store.LogAccess(c.Request().Context(), log); err != nil {
		return nil, err
	}
	return ts, nil
}

func (s *Server) viewTicket(c echo.Context, purpose string, t wire.Ticket, given string) (wire.Ticket, error) {
	ts, err := s.viewTickets(c, purpose, []wire.Ticket{t}, given)
	if err != nil {
		return wire.Ticket{}, err
	}
	return ts[0], nil
}

// unitView is a household record as the caller may see it; the view
// itself is logged (a household record is personal whatever is masked).
func (s *Server) unitView(c echo.Context, u store.Unit, purpose string) (store.Unit, error) {
	p := principal(c)
	ctx := c.Request().Context()
	maskNames, maskPhones := false, false
	switch {
	case seesAll(p.Role):
	case p.Role == RoleEngineer || p.Role == RoleControlRoom:
		// What the caller's open work on the household allows.
		f := store.Filter{Site: u.Site, Unit: u.Unit, Open: true, Limit: 500}
		if p.Role == RoleEngineer {
			f.Assignee = p.Name
		} else {
			f.Kind = wire.Emergency
		}
		ts, err := s.store.ListTickets(ctx, f)
		if err != nil {
			return u, err
		}
		allowed := len(ts) > 0 // open (not closed or cancelled) tickets of the caller's
		maskPhones = !allowed
		maskNames = !allowed && p.Role == RoleEngineer
	default:
		u.Residents = []store.Resident{}
	}
	rs := make([]store.Resident, len(u.Residents))
	shown := false
	for i, r := range u.Residents {
		if maskNames {
			r.Name = maskName(r.Name)
		}
		if maskPhones {
			r.Phone = maskPhone(r.Phone)
		} else if r.Phone != "" {
			shown = true
		}
		rs[i] = r
	}
	u.Residents = rs
	what := "household"
	if shown {
		what = "household+phone"
	}
	if err := s.store.LogAccess(ctx, []store.Access{s.access(c, u.Site, "unit", u.Unit, u.Unit, what, purpose)}); err != nil {
		return u, err
	}
	return u, nil
}

// eventView is an event's data as the caller may see it: a ticket event
// through ticketView (its unmasked phone logged), any other event without
// its personal fields unless the caller sees everything.
func (s *Server) eventView(ctx context.Context, c echo.Context, p Principal, e store.Event) (json.RawMessage, *store.Access) {
	if strings.HasPrefix(e.Type, "ticket.") {
		var t wire.Ticket
		if err := json.Unmarshal(e.Data, &t); err == nil {
			v := p.ticketView(t)
			out, err := json.Marshal(v)
			if err != nil {
				return json.RawMessage(`{}`), nil
			}
			if phoneShown(t.Phone, v.Phone) {
				a := s.access(c, e.Site, "ticket", strconv.FormatInt(t.ID, 10), t.Unit, "phone", "event stream")
				a.Route = "GET /api/v1/events"
				return out, &a
			}
			return out, nil
		}
	}
	if seesAll(p.Role) {
		return e.Data, nil
	}
	return withoutContacts(e.Data), nil
}

// listAccess is GET /api/v1/access-log: managers' list of who saw which
// resident's data, when and why; newest first.
func (s *Server) listAccess(c echo.Context) error {
	p := principal(c)
	for name := range c.QueryParams() {
		switch name {
		case "site", "actor", "unit", "subject", "subject_id", "from", "to", "before", "limit":
		default:
			return echo.NewHTTPError(http.StatusBadRequest, apiErr{Error: name + ": unknown query parameter", Field: name,
				Hint: "filters: site, actor, unit, subject, subject_id, from, to (RFC 3339), before, limit"})
		}
	}
	f := store.AccessFilter{Site: c.QueryParam("site"), Actor: c.QueryParam("actor"), Unit: c.QueryParam("unit"),
		Subject: c.QueryParam("subject"), SubjectID: c.QueryParam("subject_id"), Limit: 200}
	if p.Site != "" {
		if f.Site != "" && f.Site != p.Site {
			return apiError(http.StatusForbidden, "this account may list its own site only", "")
		}
		f.Site = p.Site
	}
	for _, tp := range []struct {
		name string
		to   *time.Time
	}{{"from", &f.From}, {"to", &f.To}} {
		if v := c.QueryParam(tp.name); v != "" {
			at, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return echo.NewHTTPError(http.StatusBadRequest, apiErr{Error: tp.name + ": an RFC 3339 time such as 2026-12-01T00:00:00+08:00", Field: tp.name})
			}
			*tp.to = at
		}
	}
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return echo.NewHTTPError(http.StatusBadRequest, apiErr{Error: "limit must be a number from 1 to 1000", Field: "limit"})
		}
		f.Limit = n
	}
	if v := c.QueryParam("before"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return echo.NewHTTPError(http.StatusBadRequest, apiErr{Error: "before must be an entry id", Field: "before"})
		}
		f.BeforeID = n
	}
	list, err := s.store.AccessLog(c.Request().Context(), f)
	if err != nil {
		return err
	}
	out := map[string]any{"access": list}
	if len(list) == f.Limit {
		out["next_before"] = fmt.Sprint(list[len(list)-1].ID)
	}
	return c.JSON(http.StatusOK, out)
}
