package desk

import (
	"net/http"
	"slices"

	"github.com/labstack/echo/v4"

	"github.com/estatehq/estate/desk/store"
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
	// requesters ask for planned outages and device commands.
	requesters = []string{RoleAdmin, RoleManager, RoleEngineer}
	// plantEditors keep the equipment register and the maintenance plans and do the orders.
	plantEditors = []string{RoleAdmin, RoleManager, RoleEngineer}
)

func routes(s *Server) []route {
	// Each domain's routes live beside its handlers and join the table here.
	return slices.Concat([]route{
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
		// Planned outages (outages.go): requested by engineers, approved by
		// managers; their windows go to the gateways in the heartbeat's answer.
		{http.MethodGet, "/outages", s.listOutages, staffRoles},
		{http.MethodPost, "/outages", s.requestOutage, requesters},
		{http.MethodGet, "/outages/:id", s.getOutage, staffRoles},
		{http.MethodPost, "/outages/:id/approve", s.approveOutage, managersOnly},
		{http.MethodPost, "/outages/:id/reject", s.decideOutage(store.OutageRequested, store.OutageRejected), managersOnly},
		{http.MethodPost, "/outages/:id/cancel", s.decideOutage(store.OutageApproved, store.OutageCancelled), managersOnly},
		// Commands to gateways (commands.go): requested, approved, delivered, reported.
		{http.MethodGet, "/commands", s.listCommands, staffRoles},
		{http.MethodPost, "/commands", s.requestCommand, requesters},
		{http.MethodGet, "/commands/:id", s.getCommand, staffRoles},
		{http.MethodPost, "/commands/:id/approve", s.decideCommand(true), managersOnly},
		{http.MethodPost, "/commands/:id/reject", s.decideCommand(false), managersOnly},
		// Assistants' areas, the access log of residents' data, and top-up
		// reminders by text message (areas.go, privacy.go, smsreminders.go).
		{http.MethodGet, "/areas", s.listAreas, []string{RoleAdmin, RoleManager, RoleAssistant, RoleControlRoom}},
		{http.MethodPost, "/areas", s.createArea, managersOnly},
		{http.MethodPut, "/areas/:id", s.updateArea, managersOnly},
		{http.MethodDelete, "/areas/:id", s.deleteArea, managersOnly},
		{http.MethodGet, "/access-log", s.listAccess, managersOnly},
		{http.MethodPost, "/tickets/:id/sms", s.sendSMS, []string{RoleAdmin, RoleManager, RoleAssistant}},
		{http.MethodGet, "/tickets/:id/sms", s.ticketSMS, frontDesk},
		{http.MethodPut, "/units/:site/:unit/sms", s.putOptOut, []string{RoleAdmin, RoleManager, RoleAssistant}},
		{http.MethodGet, "/sms/optouts", s.listOptOuts, []string{RoleAdmin, RoleManager, RoleAssistant}},
		// Inspection rounds (巡检, rounds_api.go) and the patrol readers' visits from gateways.
		{http.MethodGet, "/rounds", s.listRounds, roundWalkers},
		{http.MethodGet, "/rounds/routes", s.listRoutes, roundWalkers},
		{http.MethodGet, "/rounds/:id", s.getRound, roundWalkers},
		{http.MethodPost, "/rounds/:id/start", s.startRound, roundWalkers},
		{http.MethodPost, "/rounds/:id/visits", s.confirmCheckpoint, roundWalkers},
		{http.MethodPost, "/rounds/:id/results", s.answerItem, roundWalkers},
		{http.MethodPost, "/rounds/:id/finish", s.finishRound, roundWalkers},
		{http.MethodPost, "/rounds/reader-visits", s.readerVisit, []string{RoleGateway}},
		// Kinds, sub-kinds and complaint categories (kinds.go); what a ticket is, changed.
		{http.MethodGet, "/kinds", s.kinds, staffRoles},
		{http.MethodPatch, "/tickets/:id", s.updateTicket, frontDesk},
		// The equipment register and preventive maintenance (plant.go, plant_maintenance.go).
		{http.MethodGet, "/equipment", s.listEquipment, staffRoles},
		{http.MethodGet, "/equipment/:site", s.exportEquipment, plantEditors},
		{http.MethodPost, "/equipment/:site/import", s.importEquipment, plantEditors},
		{http.MethodGet, "/equipment/:site/:id", s.getEquipment, staffRoles},
		{http.MethodPut, "/equipment/:site/:id", s.putEquipment, plantEditors},
		{http.MethodDelete, "/equipment/:site/:id", s.deleteEquipment, plantEditors},
		{http.MethodGet, "/maintenance/templates", s.listTemplates, staffRoles},
		{http.MethodGet, "/maintenance/:site/plans", s.listPlans, staffRoles},
		{http.MethodPut, "/maintenance/:site/plans/:id", s.putPlan, plantEditors},
		{http.MethodDelete, "/maintenance/:site/plans/:id", s.deletePlan, plantEditors},
		{http.MethodGet, "/maintenance/:site/orders", s.listOrders, staffRoles},
		{http.MethodGet, "/maintenance/:site/orders/:id", s.getOrder, staffRoles},
		{http.MethodPost, "/maintenance/:site/orders/:id/evidence", s.readEvidence, plantEditors},
		{http.MethodPost, "/maintenance/:site/orders/:id/complete", s.completeOrder, plantEditors},
		{http.MethodGet, "/maintenance/:site/windows", s.windows, everyoneRoles},
		{http.MethodGet, "/maintenance/:site/report", s.maintenanceReport, []string{RoleAdmin, RoleManager, RoleEngineer}},
		// Sites by name and time zone for the consoles (sites.go).
		{http.MethodGet, "/sites", s.listSites, staffRoles},
	},
		ownerRoutes(s), // the owner's side (owner.go)
		dutyRoutes(s),  // the control room's shifts, duty log and keys (duty.go)
	)
}
