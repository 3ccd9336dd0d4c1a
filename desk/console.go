package desk

// What the console's ticket page and control room need beyond the plain
// ticket: the actions its lifecycle allows now, the site's display name, the
// console link of a ticket, residents' details masked for the roles that do
// not call residents, and the acknowledgement of alarms that open no ticket.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/estatehq/estate/desk/store"
	"github.com/estatehq/estate/desk/ticket"
	"github.com/estatehq/estate/devices/points"
	"github.com/estatehq/estate/internal/wire"
)

// TicketDetail is GET /tickets/{id}: the ticket, the lifecycle actions the
// caller may take on it now, and the site's display name.
type TicketDetail struct {
	wire.Ticket
	// AllowedActions are the lifecycle's actions from the ticket's status
	// that the caller's role takes (none for a gateway), acknowledge only
	// while nobody has.
	AllowedActions []ticket.Action `json:"allowed_actions"`
	SiteName       string          `json:"site_name"`
	// SiteTimezone is the site's IANA zone: the console shows times in it.
	SiteTimezone string `json:"site_timezone"`
	// Link is the ticket's page on the console, when desk.public_url is set.
	Link string `json:"link,omitempty"`
	// NeedsIncident: the ticket closes only with an approved incident report.
	NeedsIncident bool `json:"needs_incident,omitempty"`
	// ReadingPoint is how people call the point of the reading that raised
	// it (剩余金额, 继电器 with 合闸/跳闸), for the ticket page.
	ReadingPoint *points.Point `json:"reading_point,omitempty"`
}

func (s *Server) ticketDetail(p Principal, t wire.Ticket) TicketDetail {
	d := TicketDetail{Ticket: p.ticketView(t), AllowedActions: []ticket.Action{}, SiteName: s.siteName(t.Site), Link: s.ticketLink(t.ID)}
	loc := s.cfg.Location(t.Site, time.UTC)
	if s.location != nil {
		loc = s.location(t.Site)
	}
	d.SiteTimezone = loc.String()
	d.NeedsIncident = ticket.NeedsIncidentReport(t)
	if t.Reading != nil && t.Reading.Point != "" {
		pt := points.Describe(t.Reading.Point, t.Reading.Unit)
		d.ReadingPoint = &pt
	}
	for _, a := range ticket.AllowedActions(t.Kind, t.Status) {
		// Acknowledging again changes nothing: not offered once acknowledged.
		if a == ticket.Acknowledge && t.AcknowledgedAt != nil {
			continue
		}
		if roleMay(p.Role, a) {
			d.AllowedActions = append(d.AllowedActions, a)
		}
	}
	return d
}

// roleActions are the lifecycle actions each role takes, after the manuals'
// division of the work: engineers take, reach and finish the work; the
// control room also cancels false alarms and closes incidents; the front
// desk, who own the case and call the resident, do everything but be on
// site; managers and administrators everything. Gateways take none.
var roleActions = map[string][]ticket.Action{
	RoleAdmin:       ticket.Actions,
	RoleManager:     ticket.Actions,
	RoleEngineer:    {ticket.Acknowledge, ticket.Dispatch, ticket.Arrive, ticket.Resolve},
	RoleControlRoom: {ticket.Acknowledge, ticket.Dispatch, ticket.Arrive, ticket.Resolve, ticket.CloseTicket, ticket.Cancel, ticket.Reopen},
	RoleAssistant:   {ticket.Acknowledge, ticket.Dispatch, ticket.Resolve, ticket.FollowUp, ticket.CloseTicket, ticket.Cancel, ticket.Reopen},
}

func roleMay(role string, a ticket.Action) bool {
	return slices.Contains(roleActions[role], a)
}

// siteName is a site's display name: desk.sites' name, else the name the
// configuration's site section gives it, else its id.
func (s *Server) siteName(site string) string {
	for _, st := range s.cfg.Sites {
		if st.ID == site && st.Name != "" {
			return st.Name
		}
	}
	if n := s.siteNames[site]; n != "" {
		return n
	}
	return site
}

// ticketLink is a ticket's console page under desk.public_url; "" without one.
func (s *Server) ticketLink(id int64) string {
	if s.cfg.PublicURL == "" {
		return ""
	}
	return fmt.Sprintf("%s/#/tickets/%d", strings.TrimRight(s.cfg.PublicURL, "/"), id)
}

// maskName keeps a name's first character ("张女士" → "张**").
func maskName(name string) string {
	r, size := utf8.DecodeRuneInString(name)
	if size == 0 {
		return ""
	}
	return string(r) + strings.Repeat("*", max(1, utf8.RuneCountInString(name)-1))
}

// maskPhone keeps the first three and the last four digits of a phone of
// eight or more characters ("13800001234" → "138****1234"), else nothing.
func maskPhone(phone string) string {
	if len(phone) < 8 {
		return strings.Repeat("*", len(phone))
	}
	return phone[:3] + strings.Repeat("*", len(phone)-7) + phone[len(phone)-4:]
}

// alarmSite is the site whose alarms a call lists: the caller's own, else
// the site= filter (empty: every site).
func alarmSite(c echo.Context) string {
	if p := principal(c); p.Site != "" {
		return p.Site
	}
	return c.QueryParam("site")
}

// episode names one episode of one alarm.
type episode struct {
	site, key string
	since     int64
}

// alarmViews are the gateways' alarms from their last heartbeats, each with
// its acknowledgement, then the critical alarms that open no ticket which
// fired within the last day, are no longer reported (a forced door closed
// again after seconds) and nobody has acknowledged yet: state "cleared",
// shown until someone does.
func (s *Server) alarmViews(c echo.Context) ([]AlarmView, error) {
	return s.alarmViewsOf(c.Request().Context(), alarmSite(c))
}

// alarmViewsOf is alarmViews of one site ("" for every site).
func (s *Server) alarmViewsOf(ctx context.Context, site string) ([]AlarmView, error) {
	gs, err := s.store.GatewayStatuses(ctx, site)
	if err != nil {
		return nil, err
	}
	logged, err := s.store.AlarmLog(ctx, site, s.now().Add(-24*time.Hour))
	if err != nil {
		return nil, err
	}
	byEpisode := map[episode]store.LoggedAlarm{}
	for _, l := range logged {
		byEpisode[episode{l.Site, l.Key, l.Since.UnixNano()}] = l
	}
	live := map[episode]bool{}
	out := []AlarmView{}
	for _, g := range gs {
		stale := s.isStale(g)
		for _, a := range g.Alarms {
			ep := episode{g.Site, a.Key, a.Since.UnixNano()}
			live[ep] = true
			v := AlarmView{Alarm: a, Site: g.Site, Gateway: g.Gateway, Stale: stale}
			if l, ok := byEpisode[ep]; ok && l.AckedBy != "" {
				v.AcknowledgedBy, v.AcknowledgedAt = l.AckedBy, l.AckedAt
			}
			out = append(out, v)
		}
	}
	for _, l := range logged {
		if live[episode{l.Site, l.Key, l.Since.UnixNano()}] || l.AckedBy != "" || l.Severity != "critical" {
			continue
		}
		a := l.Alarm
		a.State = "cleared"
		out = append(out, AlarmView{Alarm: a, Site: l.Site, Gateway: l.Gateway, LastSeen: &l.LastSeen})
	}
	return out, nil
}

// ackAlarm is POST /api/v1/alarms/ack {"key": …}: the control room has seen
// an alarm that opens no ticket (a forced door), firing or fired and not yet
// acknowledged: its flashing and sound stop on every console, and who and
// when are kept. An alarm with a ticket is acknowledged on its ticket (409).
func (s *Server) ackAlarm(c echo.Context) error {
	var req struct {
		Key string `json:"key"`
	}
	if err := decode(c, &req); err != nil {
		return err
	}
	if req.Key == "" {
		return fieldError("key", "required: the alarm's key")
	}
	if len(req.Key) > 256 {
		return fieldError("key", "longer than 256 bytes")
	}
	p := principal(c)
	views, err := s.alarmViews(c)
	if err != nil {
		return err
	}
	// The live episode of the key, else the newest one still waiting.
	var found *AlarmView
	for i := range views {
		v := &views[i]
		if v.Key != req.Key || !p.SiteAllowed(v.Site) {
			continue
		}
		if found == nil || v.State != "cleared" && found.State == "cleared" {
			found = v
		}
	}
	if found == nil {
		return apiError(http.StatusNotFound, "no such alarm is firing or waiting for an acknowledgement", "it may have been acknowledged already")
	}
	if found.Ticketed {
		return apiError(http.StatusConflict, "this alarm has a ticket: acknowledge the ticket", "")
	}
	l, err := s.store.AckAlarm(c.Request().Context(), found.Site, found.Key, found.Since, p.Name, s.now())
	if errors.Is(err, store.ErrNotFound) {
		return apiError(http.StatusNotFound, "this alarm is not firing (pending or suppressed alarms are not acknowledged)", "")
	}
	if err != nil {
		return err
	}
	s.log.Info("alarm acknowledged", "alarm", l.Key, "site", l.Site, "by", l.AckedBy, "request_id", requestID(c))
	return c.JSON(http.StatusOK, map[string]any{"site": l.Site, "alarm_key": l.Key, "since": l.Since,
		"acknowledged_by": l.AckedBy, "acknowledged_at": l.AckedAt})
}

// StaffView is one person of desk.staff as the console shows them: whom to
// dispatch to, and the display names of the audit trail's actors.
type StaffView struct {
	Name        string `json:"name"`
	DisplayName string `json:"display_name"`
	Role        string `json:"role"`
	Team        string `json:"team,omitempty"`
}

// listStaff is GET /api/v1/staff: the people of the caller's site (and the
// all-sites ones), by login name; no phones or hashes.
func (s *Server) listStaff(c echo.Context) error {
	p := principal(c)
	out := []StaffView{}
	for _, st := range s.cfg.Staff {
		if p.Site != "" && st.Site != "" && st.Site != p.Site {
			continue
		}
		out = append(out, StaffView{Name: st.Name, DisplayName: st.DisplayName, Role: st.Role, Team: st.Team})
	}
	return c.JSON(http.StatusOK, map[string]any{"staff": out})
}
