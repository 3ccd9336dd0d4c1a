package desk

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/estatehq/estate/desk/store"
	"github.com/estatehq/estate/desk/ticket"
	"github.com/estatehq/estate/internal/wire"
)

func (s *Server) createTicket(c echo.Context) error {
	p := principal(c)
	var n wire.NewTicket
	if err := decode(c, &n); err != nil {
		return err
	}
	if p.Role == RoleGateway {
		if n.Site == "" {
			n.Site = p.Site
		}
		if n.Source == "" {
			n.Source = wire.SourceDeviceAlarm
		}
	}
	if err := n.Validate(); err != nil {
		return apiError(http.StatusUnprocessableEntity, err.Error(), "")
	}
	if err := checkAppointment("appointment_at", n.AppointmentAt, s.now()); err != nil {
		return err
	}
	if err := s.checkCategory(n.Kind, n.Site, n.Category); err != nil {
		return err
	}
	if !p.SiteAllowed(n.Site) {
		return apiError(http.StatusForbidden, fmt.Sprintf("%s may not open tickets for site %s", p.Name, n.Site),
			"a gateway token opens tickets for its own site only")
	}
	// An alarm key names its site: a ticket may hold only a key of its own
	// site, so that no caller finds, raises or squats another site's alarm.
	if n.AlarmKey != "" && !strings.HasPrefix(n.AlarmKey, n.Site+"/") {
		return fieldError("alarm_key", fmt.Sprintf("must start with the ticket's site %q and a slash (alarm keys are <site>/<rule>/<device>)", n.Site))
	}
	n.Owner = s.ownerOf(p, n)
	t, created, err := s.store.CreateTicket(c.Request().Context(), n, p.Name, s.now())
	if err != nil {
		return err
	}
	// The answer may carry a phone completed from the households register.
	if t, err = s.viewTicket(c, "ticket opened", t, n.Phone); err != nil {
		return err
	}
	if !created {
		// Same alarm (or same household's reminder) already open on the
		// site: idempotent answer, not an error.
		s.hub.publish() // its priority may have been raised
		return c.JSON(http.StatusOK, t)
	}
	s.hub.publish()
	s.metrics.ticketsCreated.WithLabelValues(string(t.Kind), t.Source).Inc()
	s.log.Info("ticket opened", "id", t.ID, "kind", t.Kind, "site", t.Site, "device", t.Device, "by", p.Name, "request_id", requestID(c))
	c.Response().Header().Set(echo.HeaderLocation, fmt.Sprintf("/api/v1/tickets/%d", t.ID))
	return c.JSON(http.StatusCreated, t)
}

// ticketPage is one page of a list; NextCursor continues it.
type ticketPage struct {
	Tickets    []wire.Ticket `json:"tickets"`
	NextCursor string        `json:"next_cursor,omitempty"`
}

// Cursors are opaque to clients: "n<id>" continues a newest-first list below
// id, "o<id>" an oldest-first list above it.
func encodeCursor(oldest bool, id int64) string {
	prefix := "n"
	if oldest {
		prefix = "o"
	}
	return base64.RawURLEncoding.EncodeToString([]byte(prefix + strconv.FormatInt(id, 10)))
}

func decodeCursor(s string) (oldest bool, id int64, err error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(raw) < 2 || (raw[0] != 'n' && raw[0] != 'o') {
		return false, 0, errors.New("bad cursor")
	}
	id, err = strconv.ParseInt(string(raw[1:]), 10, 64)
	if err != nil || id < 1 {
		return false, 0, errors.New("bad cursor")
	}
	return raw[0] == 'o', id, nil
}

var statuses = []wire.Status{wire.New, wire.Dispatched, wire.OnSite, wire.Resolved, wire.FollowedUp, wire.Closed, wire.Cancelled}

func (s *Server) listTickets(c echo.Context) error {
	p := principal(c)
	qp := c.QueryParams()
	for name := range qp {
		if !slices.Contains([]string{"site", "status", "kind", "device", "unit", "assignee", "q", "open", "mine", "sort", "limit", "cursor", "before", "parent"}, name) {
			return echo.NewHTTPError(http.StatusBadRequest, apiErr{Error: name + ": unknown query parameter", Field: name,
				Hint: "filters: site, status, kind, device, unit, assignee, parent, mine, q, open, sort, limit, cursor"})
		}
	}
	var err error
	f := store.Filter{
		Site:     c.QueryParam("site"),
		Status:   wire.Status(c.QueryParam("status")),
		Kind:     wire.Kind(c.QueryParam("kind")),
		Device:   c.QueryParam("device"),
		Unit:     c.QueryParam("unit"),
		Assignee: c.QueryParam("assignee"),
		Search:   strings.TrimSpace(c.QueryParam("q")),
		Open:     c.QueryParam("open") == "true",
	}
	switch c.QueryParam("mine") {
	case "":
	case "owner":
		// My cases: those I accepted and answer for.
		f.Owner = p.Name
	case "true":
		// My work: assigned to me, or to my team.
		f.MineName = p.Name
		if st, ok := s.auth.staff[p.Name]; ok && p.session != "" {
			f.MineTeam = st.Team
		}
	default:
		return echo.NewHTTPError(http.StatusBadRequest, apiErr{Error: "mine: use mine=true (tickets assigned to me or my team) or mine=owner (the cases I own)", Field: "mine"})
	}
	if f.Status != "" && !slices.Contains(statuses, f.Status) {
		return echo.NewHTTPError(http.StatusBadRequest, apiErr{Error: fmt.Sprintf("status: %q is not a status", f.Status), Field: "status"})
	}
	if f.Kind != "" && !slices.Contains(wire.Kinds, f.Kind) {
		return echo.NewHTTPError(http.StatusBadRequest, apiErr{Error: fmt.Sprintf("kind: %q is not a kind", f.Kind), Field: "kind"})
	}
	if v := c.QueryParam("parent"); v != "" {
		if f.ParentID, err = strconv.ParseInt(v, 10, 64); err != nil || f.ParentID < 1 {
			return echo.NewHTTPError(http.StatusBadRequest, apiErr{Error: "parent must be a ticket id (the case whose complaints to list)", Field: "parent"})
		}
	}
	if len(f.Search) > 200 {
		return echo.NewHTTPError(http.StatusBadRequest, apiErr{Error: "q: longer than 200 bytes", Field: "q"})
	}
	switch c.QueryParam("sort") {
	case "", "-id", "-created_at":
	case "id", "created_at":
		f.Oldest = true
	default:
		return echo.NewHTTPError(http.StatusBadRequest, apiErr{Error: "sort: use -id (newest first, the default) or id (oldest first)", Field: "sort"})
	}
	f.Limit = 100
	if v := c.QueryParam("limit"); v != "" {
		if f.Limit, err = strconv.Atoi(v); err != nil || f.Limit < 1 || f.Limit > 500 {
			return echo.NewHTTPError(http.StatusBadRequest, apiErr{Error: "limit must be a number from 1 to 500", Field: "limit"})
		}
	}
	if v := c.QueryParam("before"); v != "" {
		if f.BeforeID, err = strconv.ParseInt(v, 10, 64); err != nil || f.BeforeID < 1 {
			return echo.NewHTTPError(http.StatusBadRequest, apiErr{Error: "before must be a ticket id", Field: "before"})
		}
	}
	if v := c.QueryParam("cursor"); v != "" {
		oldest, id, err := decodeCursor(v)
		if err != nil || oldest != f.Oldest {
			return echo.NewHTTPError(http.StatusBadRequest, apiErr{Error: "cursor: not a cursor of this list", Field: "cursor",
				Hint: "pass next_cursor from the previous page with the same sort"})
		}
		if oldest {
			f.AfterID = id
		} else {
			f.BeforeID = id
		}
	}
	if p.Site != "" {
		if f.Site != "" && f.Site != p.Site {
			return apiError(http.StatusForbidden, "this token may list its own site only", "")
		}
		f.Site = p.Site
	}
	ts, err := s.store.ListTickets(c.Request().Context(), f)
	if err != nil {
		return err
	}
	if ts, err = s.viewTickets(c, "ticket list", ts, ""); err != nil {
		return err
	}
	page := ticketPage{Tickets: ts}
	if len(ts) == f.Limit {
		page.NextCursor = encodeCursor(f.Oldest, ts[len(ts)-1].ID)
	}
	return c.JSON(http.StatusOK, page)
}

// visibleTicket loads a ticket the caller may see; others' sites are 404, not
// 403, so that ids of other sites are not revealed.
func (s *Server) visibleTicket(c echo.Context) (wire.Ticket, error) {
	id, err := pathID(c)
	if err != nil {
		return wire.Ticket{}, err
	}
	t, err := s.store.GetTicket(c.Request().Context(), id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !principal(c).SiteAllowed(t.Site)) {
		return wire.Ticket{}, apiError(http.StatusNotFound, fmt.Sprintf("no ticket %d", id), "")
	}
	return t, err
}

func (s *Server) getTicket(c echo.Context) error {
	t, err := s.visibleTicket(c)
	if err != nil {
		return err
	}
	if _, err := s.viewTicket(c, "ticket", t, ""); err != nil { // logs an unmasked phone
		return err
	}
	return c.JSON(http.StatusOK, s.ticketDetail(principal(c), t))
}

// ticketAction applies one lifecycle action: POST /tickets/{id}/actions with
// {"action": "dispatch", "assignee": "…"}. A forbidden action is a 409 that
// lists the allowed ones; a missing field a 422 that names it.
func (s *Server) ticketAction(c echo.Context) error {
	t, err := s.visibleTicket(c)
	if err != nil {
		return err
	}
	var ch ticket.Change
	if err := decode(c, &ch); err != nil {
		return err
	}
	if err := checkAppointment("appointment_at", ch.AppointmentAt, s.now()); err != nil {
		return err
	}
	if len(ch.Assignee) > 100 {
		return fieldError("assignee", "longer than 100 bytes")
	}
	p := principal(c)
	// A step the lifecycle allows now but the role does not take is a 403;
	// a step the lifecycle forbids is the store's 409 with what is allowed.
	if slices.Contains(ticket.AllowedActions(t.Kind, t.Status), ch.Action) && !roleMay(p.Role, ch.Action) {
		s.metrics.transitionsRefused.WithLabelValues(string(ch.Action)).Inc()
		return apiError(http.StatusForbidden, fmt.Sprintf("role %s does not %s tickets", p.Role, ch.Action),
			"engineers acknowledge, dispatch, arrive and resolve; the front desk follows up; see docs/desk-api.md")
	}
	out, err := s.store.Transition(c.Request().Context(), t.ID, ch, p.Name, s.now())
	if err != nil {
		s.metrics.transitionsRefused.WithLabelValues(string(ch.Action)).Inc()
		return err
	}
	s.hub.publish()
	if out, err = s.viewTicket(c, "ticket changed", out, ""); err != nil {
		return err
	}
	s.metrics.ticketTransitions.WithLabelValues(string(ch.Action)).Inc()
	s.log.Info("ticket changed", "id", t.ID, "action", ch.Action, "from", t.Status, "to", out.Status, "by", p.Name, "request_id", requestID(c))
	return c.JSON(http.StatusOK, out)
}

func (s *Server) ticketAudit(c echo.Context) error {
	t, err := s.visibleTicket(c)
	if err != nil {
		return err
	}
	trail, err := s.store.Audit(c.Request().Context(), t.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"audit": trail})
}

func (s *Server) ticketComments(c echo.Context) error {
	t, err := s.visibleTicket(c)
	if err != nil {
		return err
	}
	cs, err := s.store.Comments(c.Request().Context(), t.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"comments": cs})
}

func (s *Server) addComment(c echo.Context) error {
	t, err := s.visibleTicket(c)
	if err != nil {
		return err
	}
	var req struct {
		Body string `json:"body"`
	}
	if err := decode(c, &req); err != nil {
		return err
	}
	if strings.TrimSpace(req.Body) == "" {
		return fieldError("body", "required")
	}
	if len(req.Body) > wire.MaxTextLen {
		return fieldError("body", fmt.Sprintf("longer than %d bytes", wire.MaxTextLen))
	}
	cm, err := s.store.AddComment(c.Request().Context(), t.ID, principal(c).Name, store.CommentStaff, req.Body, s.now())
	if err != nil {
		return err
	}
	s.hub.publish()
	return c.JSON(http.StatusCreated, cm)
}
