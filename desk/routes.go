package desk

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// route is one authenticated call under /api/v1 and the roles that may make it.
// The table is the single list that New mounts, the OpenAPI document is
// checked against, and the route × role test walks.
type route struct {
	method, path string
	handler      echo.HandlerFunc
	roles        []string
}

var (
	staffRoles    = []string{RoleAdmin, RoleManager, RoleEngineer, RoleControlRoom, RoleAssistant}
	frontDesk     = []string{RoleAdmin, RoleManager, RoleControlRoom, RoleAssistant}
	managersOnly  = []string{RoleAdmin, RoleManager}
	everyoneRoles = append(append([]string{}, staffRoles...), RoleGateway)
)

func routes(s *Server) []route {
	return []route{
		{http.MethodGet, "/me", s.me, everyoneRoles},
		{http.MethodGet, "/staff", s.listStaff, staffRoles},
		{http.MethodPost, "/logout", s.logout, staffRoles},
		{http.MethodPost, "/tickets", s.createTicket, everyoneRoles},
		{http.MethodGet, "/tickets", s.listTickets, everyoneRoles},
		{http.MethodGet, "/tickets/:id", s.getTicket, everyoneRoles},
		{http.MethodPost, "/tickets/:id/actions", s.ticketAction, staffRoles},
		{http.MethodGet, "/tickets/:id/audit", s.ticketAudit, staffRoles},
		{http.MethodGet, "/tickets/:id/comments", s.ticketComments, staffRoles},
		{http.MethodPost, "/tickets/:id/comments", s.addComment, staffRoles},
		{http.MethodGet, "/tickets/:id/reminders", s.ticketReminders, frontDesk},
		{http.MethodPost, "/tickets/:id/reminders", s.addReminder, frontDesk},
		{http.MethodGet, "/topups", s.topUps, frontDesk},
		{http.MethodGet, "/units/:site/:unit", s.getUnit, staffRoles},
		{http.MethodPut, "/units/:site/:unit", s.putUnit, []string{RoleAdmin, RoleManager, RoleAssistant}},
		// Households of a site from and to CSV or XLSX (households_import.go).
		{http.MethodPost, "/households/:site/import", s.importHouseholds, []string{RoleAdmin, RoleManager, RoleAssistant}},
		{http.MethodGet, "/households/:site", s.exportHouseholds, []string{RoleAdmin, RoleManager, RoleAssistant}},
		{http.MethodGet, "/events", s.events, staffRoles},
		{http.MethodGet, "/reports/monthly", s.monthlyReport, managersOnly},
		// The gateways' side: alarm actions (open, note, clear) applied once per
		// idempotency key, their notes, and the heartbeat with device health.
		{http.MethodPost, "/alarm-actions", s.applyAlarmAction, []string{RoleGateway, RoleAdmin}},
		{http.MethodGet, "/tickets/:id/notes", s.listNotes, everyoneRoles},
		{http.MethodPost, "/gateways/heartbeat", s.heartbeat, []string{RoleGateway}},
		// The engineers' console: gateways, devices, and telemetry read back from InfluxDB.
		{http.MethodGet, "/gateways", s.listGateways, staffRoles},
		{http.MethodGet, "/alarms", s.listAlarms, staffRoles},
		{http.MethodPost, "/alarms/ack", s.ackAlarm, []string{RoleAdmin, RoleManager, RoleEngineer, RoleControlRoom}},
		{http.MethodGet, "/devices", s.listDevices, staffRoles},
		{http.MethodGet, "/devices/:id/latest", s.deviceLatest, staffRoles},
		{http.MethodGet, "/devices/:id/history", s.deviceHistory, staffRoles},
		{http.MethodGet, "/devices/:id/alarms", s.deviceAlarms, staffRoles},
		// Sites by name and time zone for the consoles (sites.go).
		{http.MethodGet, "/sites", s.listSites, staffRoles},
	}
}
