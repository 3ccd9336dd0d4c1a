package desk

// What the console's ticket page and control room need beyond the plain
// ticket: the actions its lifecycle allows now, the site's display name, the
// console link of a ticket, residents' details masked for the roles that do
// not call residents, and the acknowledgement of alarms that open no ticket.

import (
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/estatehq/estate/desk/store"
	"github.com/estatehq/estate/desk/ticket"
	"github.com/estatehq/estate/internal/wire"
)

// TicketDetail is GET /tickets/{id}: the ticket, the lifecycle actions the
// caller may take on it now, and the site's display name.
type TicketDetail struct {
	wire.Ticket
	// AllowedActions are the lifecycle's actions from the ticket's status
	// (none for a gateway, which takes no actions).
	AllowedActions []ticket.Action `json:"allowed_actions"`
	SiteName       string          `json:"site_name"`
	// SiteTimezone is the site's IANA zone: the console shows times in it.
	SiteTimezone string `json:"site_timezone"`
	// Link is the ticket's page on the console, when desk.public_url is set.
	Link string `json:"link,omitempty"`
}

func (s *Server) ticketDetail(p Principal, t wire.Ticket) TicketDetail {
	d := TicketDetail{Ticket: p.ticketView(t), AllowedActions: []ticket.Action{}, SiteName: s.siteName(t.Site), Link: s.ticketLink(t.ID)}
	loc := s.cfg.Location(t.Site, time.UTC)
	if s.location != nil {
		loc = s.location(t.Site)
	}
	d.SiteTimezone = loc.String()
	if p.Role != RoleGateway {
		d.AllowedActions = ticket.AllowedActions(t.Kind, t.Status)
	}
	return d
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

// siteAlarm finds a firing or pending alarm of the caller's sites by its key
// in the gateways' last heartbeats.
func (s *Server) siteAlarm(c echo.Context, key string) (AlarmView, bool, error) {
	gs, err := s.gateways(c)
	if err != nil {
		return AlarmView{}, false, err
	}
	for _, g := range gs {
		for _, a := range g.Alarms {
			if a.Key == key {
				return AlarmView{Alarm: a, Site: g.Site, Gateway: g.Gateway, Stale: s.isStale(g)}, true, nil
			}
		}
	}
	return AlarmView{}, false, nil
}

// ackAlarm is POST /api/v1/alarms/ack {"key": …}: the control room has seen
// an alarm that opens no ticket (a forced door): its flashing and sound stop
// on every console, and who and when are kept. An alarm with a ticket is
// acknowledged on its ticket instead (409).
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
	site, _, _ := strings.Cut(req.Key, "/")
	if !p.SiteAllowed(site) {
		return apiError(http.StatusNotFound, "no such alarm is firing", "")
	}
	a, ok, err := s.siteAlarm(c, req.Key)
	if err != nil {
		return err
	}
	if !ok {
		return apiError(http.StatusNotFound, "no such alarm is firing", "it may have cleared since the list was read")
	}
	if a.Ticketed {
		return apiError(http.StatusConflict, "this alarm has a ticket: acknowledge the ticket", "")
	}
	ack, err := s.store.AckAlarm(c.Request().Context(), store.AlarmAck{Site: a.Site, AlarmKey: a.Key, Since: a.Since, By: p.Name, At: s.now()})
	if err != nil {
		return err
	}
	s.log.Info("alarm acknowledged", "alarm", a.Key, "site", a.Site, "by", ack.By, "request_id", requestID(c))
	return c.JSON(http.StatusOK, ack)
}

// alarmAcks are the acknowledgements of the caller's sites' alarms over the
// last day (an episode longer than that is acknowledged again).
func (s *Server) alarmAcks(c echo.Context) (map[store.AlarmAckKey]store.AlarmAck, error) {
	return s.store.AlarmAcks(c.Request().Context(), principal(c).Site, s.now().Add(-24*time.Hour))
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
