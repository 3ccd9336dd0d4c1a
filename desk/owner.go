package desk

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/estatehq/estate/desk/store"
	"github.com/estatehq/estate/internal/wire"
)

// The owner's side of a case (issue 14 parts 3–6): handing the owner or the
// assignee over, the reply to the resident, weekly calls, incident reports
// and the reviews. The store does the work in one transaction each; these
// handlers check who may ask.

// ownerOf is who owns a ticket opened by p: the staff member (or named
// token) who opens it, the site's head for an important complaint, nobody
// yet for a gateway's (whoever accepts it owns it, store.transitionTx).
func (s *Server) ownerOf(p Principal, n wire.NewTicket) string {
	if n.Kind == wire.Complaint && n.SubKind == "important" {
		if site, ok := siteEntry(s.cfg, n.Site); ok && site.Head != "" {
			return site.Head
		}
	}
	if p.Role == RoleGateway {
		return ""
	}
	return p.Name
}

// managing reports whether p acts for any owner of its sites.
func managing(p Principal) bool { return p.Role == RoleAdmin || p.Role == RoleManager }

// handover is POST /tickets/{id}/handover {"role":"owner"|"assignee","to":"li","note":"…"}.
func (s *Server) handover(c echo.Context) error {
	t, err := s.visibleTicket(c)
	if err != nil {
		return err
	}
	var req struct {
		Role string `json:"role"`
		To   string `json:"to"`
		Note string `json:"note"`
	}
	if err := decode(c, &req); err != nil {
		return err
	}
	p := principal(c)
	switch req.Role {
	case store.HandOwner:
		if !managing(p) && p.Name != t.Owner {
			return apiError(http.StatusForbidden, fmt.Sprintf("only the owner (%s) or a manager hands over the ownership of ticket %d", t.Owner, t.ID), "")
		}
	case store.HandAssignee:
		if !managing(p) && p.Name != t.Owner && p.Name != t.Assignee {
			return apiError(http.StatusForbidden, fmt.Sprintf("only the assignee (%s), the owner (%s) or a manager hands over the work of ticket %d", t.Assignee, t.Owner, t.ID), "")
		}
	default:
		return fieldError("role", "owner (who answers for the case) or assignee (who does the work)")
	}
	if strings.TrimSpace(req.Note) == "" {
		return fieldError("note", "a handover needs a note: what the next person must know")
	}
	if len(req.Note) > wire.MaxTextLen {
		return fieldError("note", fmt.Sprintf("longer than %d bytes", wire.MaxTextLen))
	}
	st, ok := s.auth.staff[req.To]
	if !ok || (st.Site != "" && st.Site != t.Site) {
		return fieldError("to", fmt.Sprintf("%q is not a staff member of site %s", req.To, t.Site))
	}
	out, err := s.store.Handover(c.Request().Context(), t.ID, req.Role, req.To, strings.TrimSpace(req.Note), p.Name, s.now())
	if err != nil {
		return err
	}
	s.hub.publish()
	s.log.Info("ticket handed over", "id", t.ID, "role", req.Role, "to", req.To, "by", p.Name, "request_id", requestID(c))
	return c.JSON(http.StatusOK, s.ticketDetail(p, out))
}

// ownersTask refuses a task of the owner's (the reply, a weekly call) asked
// by someone else than the owner or a manager.
func ownersTask(p Principal, t wire.Ticket, what string) error {
	if managing(p) || p.Name == t.Owner {
		return nil
	}
	return apiError(http.StatusForbidden, fmt.Sprintf("%s of ticket %d is its owner's task (%s)", what, t.ID, t.Owner),
		"the owner hands the case over (POST /tickets/{id}/handover) if someone else is to do it")
}

// reply is POST /tickets/{id}/reply {"note":"…","committed_at":"…"}: the
// result told to the resident, or (with committed_at) why it cannot be
// solved yet and when the resident will hear again.
func (s *Server) reply(c echo.Context) error {
	t, err := s.visibleTicket(c)
	if err != nil {
		return err
	}
	var req struct {
		Note        string     `json:"note"`
		CommittedAt *time.Time `json:"committed_at"`
	}
	if err := decode(c, &req); err != nil {
		return err
	}
	p := principal(c)
	if err := ownersTask(p, t, "the reply to the resident"); err != nil {
		return err
	}
	if strings.TrimSpace(req.Note) == "" {
		return fieldError("note", "what the resident was told is required")
	}
	if len(req.Note) > wire.MaxTextLen {
		return fieldError("note", fmt.Sprintf("longer than %d bytes", wire.MaxTextLen))
	}
	if err := checkAppointment("committed_at", req.CommittedAt, s.now()); err != nil {
		return err
	}
	out, err := s.store.Reply(c.Request().Context(), t.ID, strings.TrimSpace(req.Note), req.CommittedAt, p.Name, s.now())
	if err != nil {
		return err
	}
	s.hub.publish()
	return c.JSON(http.StatusOK, s.ticketDetail(p, out))
}

// logCall is POST /tickets/{id}/calls {"note":"…"}: a weekly call made.
func (s *Server) logCall(c echo.Context) error {
	t, err := s.visibleTicket(c)
	if err != nil {
		return err
	}
	var req struct {
		Note string `json:"note"`
	}
	if err := decode(c, &req); err != nil {
		return err
	}
	p := principal(c)
	if err := ownersTask(p, t, "the weekly call"); err != nil {
		return err
	}
	if strings.TrimSpace(req.Note) == "" {
		return fieldError("note", "what was said on the call is required")
	}
	if len(req.Note) > wire.MaxTextLen {
		return fieldError("note", fmt.Sprintf("longer than %d bytes", wire.MaxTextLen))
	}
	call, err := s.store.LogCall(c.Request().Context(), t.ID, strings.TrimSpace(req.Note), p.Name, s.now())
	if err != nil {
		return err
	}
	s.hub.publish()
	return c.JSON(http.StatusCreated, call)
}

func (s *Server) listCalls(c echo.Context) error {
	t, err := s.visibleTicket(c)
	if err != nil {
		return err
	}
	calls, err := s.store.Calls(c.Request().Context(), t.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"calls": calls})
}

// incidentView is a ticket's incident report with its timeline (the audit
// trail) and what the caller may do with it.
type incidentView struct {
	Ticket   TicketDetail    `json:"ticket"`
	Report   *store.Incident `json:"report"`
	Timeline []timelineEntry `json:"timeline"`
	May      incidentMayDo   `json:"may"`
	Sections []string        `json:"sections"`
	Calls    []store.Call    `json:"calls"`
	Site     string          `json:"site_name"`
}

type incidentMayDo struct {
	Write  bool `json:"write"`
	Decide bool `json:"decide"`
}

type timelineEntry struct {
	At     time.Time   `json:"at"`
	Actor  string      `json:"actor"`
	Action string      `json:"action"`
	From   wire.Status `json:"from,omitempty"`
	To     wire.Status `json:"to,omitempty"`
	Note   string      `json:"note,omitempty"`
}

// getIncident is GET /tickets/{id}/incident.
func (s *Server) getIncident(c echo.Context) error {
	t, err := s.visibleTicket(c)
	if err != nil {
		return err
	}
	return s.incidentAnswer(c, t, http.StatusOK)
}

func (s *Server) incidentAnswer(c echo.Context, t wire.Ticket, code int) error {
	ctx := c.Request().Context()
	p := principal(c)
	v := incidentView{Ticket: s.ticketDetail(p, t), Timeline: []timelineEntry{}, Site: s.siteName(t.Site),
		Sections: []string{"what_happened", "cause", "measures", "result", "people"}}
	if !v.Ticket.NeedsIncident {
		return apiError(http.StatusUnprocessableEntity, fmt.Sprintf("ticket %d is a %s: incident reports (突发事件处理表) are written for emergencies and power-distribution accidents only", t.ID, t.Kind), "")
	}
	r, err := s.store.GetIncident(ctx, t.ID)
	switch {
	case err == nil:
		v.Report = &r
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	trail, err := s.store.Audit(ctx, t.ID)
	if err != nil {
		return err
	}
	for _, a := range trail {
		if a.Action == "comment" || a.Action == "gateway_note" || strings.HasPrefix(a.Action, "incident_") {
			continue
		}
		v.Timeline = append(v.Timeline, timelineEntry{At: a.At, Actor: a.Actor, Action: a.Action, From: a.From, To: a.To, Note: a.Note})
	}
	if v.Calls, err = s.store.Calls(ctx, t.ID); err != nil {
		return err
	}
	state := ""
	if v.Report != nil {
		state = v.Report.State
	}
	v.May.Write = p.Name == t.Owner && state != store.IncidentSubmitted && state != store.IncidentApproved
	v.May.Decide = managing(p) && state == store.IncidentSubmitted
	return c.JSON(code, v)
}

// putIncident is PUT /tickets/{id}/incident: the owner saves the report as
// a draft, or with "submit": true hands it to the managers.
func (s *Server) putIncident(c echo.Context) error {
	t, err := s.visibleTicket(c)
	if err != nil {
		return err
	}
	var req struct {
		store.IncidentText
		Submit bool `json:"submit"`
	}
	if err := decode(c, &req); err != nil {
		return err
	}
	for _, f := range []struct{ name, v string }{{"what_happened", req.WhatHappened}, {"cause", req.Cause}, {"measures", req.Measures},
		{"result", req.Result}, {"people", req.People}} {
		if len(f.v) > wire.MaxTextLen {
			return fieldError(f.name, fmt.Sprintf("longer than %d bytes", wire.MaxTextLen))
		}
	}
	p := principal(c)
	if _, err := s.store.SaveIncident(c.Request().Context(), t.ID, req.IncidentText, req.Submit, p.Name, s.now()); err != nil {
		return err
	}
	s.hub.publish()
	if t, err = s.store.GetTicket(c.Request().Context(), t.ID); err != nil {
		return err
	}
	return s.incidentAnswer(c, t, http.StatusOK)
}

// decideIncident is POST /tickets/{id}/incident/decision {"approve":true} or
// {"approve":false,"note":"why"}: a manager's.
func (s *Server) decideIncident(c echo.Context) error {
	t, err := s.visibleTicket(c)
	if err != nil {
		return err
	}
	var req struct {
		Approve *bool  `json:"approve"`
		Note    string `json:"note"`
	}
	if err := decode(c, &req); err != nil {
		return err
	}
	p := principal(c)
	if !managing(p) {
		return apiError(http.StatusForbidden, fmt.Sprintf("only a manager approves or returns an incident report; %s is %s", p.Name, p.Role), "")
	}
	if req.Approve == nil {
		return fieldError("approve", "true to approve the report, false to return it with a note")
	}
	if len(req.Note) > wire.MaxTextLen {
		return fieldError("note", fmt.Sprintf("longer than %d bytes", wire.MaxTextLen))
	}
	if _, err := s.store.DecideIncident(c.Request().Context(), t.ID, *req.Approve, strings.TrimSpace(req.Note), p.Name, s.now()); err != nil {
		return err
	}
	s.hub.publish()
	s.log.Info("incident report decided", "id", t.ID, "approved", *req.Approve, "by", p.Name, "request_id", requestID(c))
	return s.incidentAnswer(c, t, http.StatusOK)
}

// reviewSite is the site a review is asked for, checked against the caller.
func reviewSite(c echo.Context) (string, error) {
	site := c.QueryParam("site")
	if site == "" {
		return "", echo.NewHTTPError(http.StatusBadRequest, apiErr{Error: "site: required", Field: "site"})
	}
	if !principal(c).SiteAllowed(site) {
		return "", apiError(http.StatusForbidden, "this account may review its own site only", "")
	}
	return site, nil
}

// dailyReview is GET /reviews/daily?site=…: the open cases by owner.
func (s *Server) dailyReview(c echo.Context) error {
	site, err := reviewSite(c)
	if err != nil {
		return err
	}
	owners, err := s.store.DailyReview(c.Request().Context(), site, s.now())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"site": site, "at": s.now(), "owners": owners})
}

// weeklyReview is GET /reviews/weekly?site=…[&week=2026-11-30]: the
// deadlines missed in the seven days from week (a date in the site's time
// zone; default: the seven days up to now), with their causes.
func (s *Server) weeklyReview(c echo.Context) error {
	site, err := reviewSite(c)
	if err != nil {
		return err
	}
	now := s.now()
	from, to := now.AddDate(0, 0, -7), now
	if w := c.QueryParam("week"); w != "" {
		loc := s.cfg.Location(site, time.UTC)
		if s.location != nil {
			loc = s.location(site)
		}
		d, err := time.ParseInLocation("2006-01-02", w, loc)
		if err != nil {
			return echo.NewHTTPError(http.StatusBadRequest, apiErr{Error: "week: the week's first day as YYYY-MM-DD, such as 2026-11-30", Field: "week"})
		}
		from, to = d, d.AddDate(0, 0, 7)
	}
	rows, err := s.store.WeeklyOverdue(c.Request().Context(), site, from, to, now)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"site": site, "from": from, "to": to, "overdue": rows})
}

// ownerRoutes are the routes of this file, appended to the table in routes.go.
func ownerRoutes(s *Server) []route {
	return []route{
		{http.MethodPost, "/tickets/:id/handover", s.handover, staffRoles},
		{http.MethodPost, "/tickets/:id/reply", s.reply, frontDesk},
		{http.MethodGet, "/tickets/:id/calls", s.listCalls, staffRoles},
		{http.MethodPost, "/tickets/:id/calls", s.logCall, frontDesk},
		{http.MethodGet, "/tickets/:id/incident", s.getIncident, staffRoles},
		{http.MethodPut, "/tickets/:id/incident", s.putIncident, staffRoles},
		{http.MethodPost, "/tickets/:id/incident/decision", s.decideIncident, staffRoles},
		{http.MethodGet, "/reviews/daily", s.dailyReview, []string{RoleAdmin, RoleManager, RoleAssistant}},
		{http.MethodGet, "/reviews/weekly", s.weeklyReview, []string{RoleAdmin, RoleManager, RoleAssistant}},
	}
}

// OwnerStore is what this file needs from the store (part of Store).
type OwnerStore interface {
	Handover(ctx context.Context, id int64, role, to, note, actor string, now time.Time) (wire.Ticket, error)
	Reply(ctx context.Context, id int64, note string, committed *time.Time, actor string, now time.Time) (wire.Ticket, error)
	LogCall(ctx context.Context, id int64, note, actor string, now time.Time) (store.Call, error)
	Calls(ctx context.Context, id int64) ([]store.Call, error)
	GetIncident(ctx context.Context, id int64) (store.Incident, error)
	SaveIncident(ctx context.Context, id int64, x store.IncidentText, submit bool, actor string, now time.Time) (store.Incident, error)
	DecideIncident(ctx context.Context, id int64, approve bool, note, actor string, now time.Time) (store.Incident, error)
	DailyReview(ctx context.Context, site string, now time.Time) ([]store.OwnerCases, error)
	WeeklyOverdue(ctx context.Context, site string, from, to, now time.Time) ([]store.OverdueRow, error)
}
