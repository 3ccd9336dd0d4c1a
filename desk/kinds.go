package desk

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/estatehq/estate/desk/calendar"
	"github.com/estatehq/estate/desk/deskconfig"
	"github.com/estatehq/estate/desk/store"
	"github.com/estatehq/estate/desk/ticket"
	"github.com/estatehq/estate/internal/config"
	"github.com/estatehq/estate/internal/wire"
)

// The kinds and sub-kinds of the manuals, complaint categories per site, the
// sites' working calendars, and the update of what a ticket is (issue 14).

// subKindTable is the steps a sub-kind sets over its kind's table on a site:
// the defaults of ticket.DefaultSubKindDeadlines with the configured rules
// naming the sub-kind applied (site-wide first); a step set to none is a
// zero Limit (no deadline). It assumes a validated configuration.
func subKindTable(d deskconfig.Config, site string, kind wire.Kind, sub string) ticket.Deadlines {
	out := ticket.Deadlines{}
	for step, l := range ticket.DefaultSubKindDeadlines()[kind][sub] {
		out[step] = l
	}
	for _, pass := range []func(r deskconfig.DeadlineRule) bool{
		func(r deskconfig.DeadlineRule) bool { return r.Site == "" || r.Site == "*" },
		func(r deskconfig.DeadlineRule) bool { return r.Site == site },
	} {
		for _, r := range d.Deadlines {
			if r.Kind != string(kind) || r.SubKind != sub || sub == "" || !pass(r) {
				continue
			}
			for step, v := range r.Steps {
				if v == "none" {
					out[wire.Step(step)] = ticket.Limit{}
				} else if l, err := ticket.ParseLimit(v); err == nil {
					out[wire.Step(step)] = l
				}
			}
		}
	}
	return out
}

// complaintCategories are the categories complaints are filed under on a site.
func complaintCategories(d deskconfig.Config, site string) []string {
	for _, s := range d.Sites {
		if s.ID == site && len(s.ComplaintCategories) > 0 {
			return s.ComplaintCategories
		}
	}
	if len(d.ComplaintCategories) > 0 {
		return d.ComplaintCategories
	}
	return wire.ComplaintCategories
}

// calendarPath resolves a calendar file named in the configuration file
// cfgFile: relative to its folder, else (a file that folder lacks) by its
// name in the calendars that ship with Estate (config.SharedDir/calendars,
// /usr/share/estate/calendars), as rule files are found.
func calendarPath(cfgFile, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	beside := p
	if cfgFile != "" {
		beside = filepath.Join(filepath.Dir(cfgFile), p)
	}
	if _, err := os.Stat(beside); err != nil {
		shared := filepath.Join(config.SharedDir, "calendars", filepath.Base(p))
		if _, err := os.Stat(shared); err == nil {
			return shared
		}
	}
	return beside
}

// loadCalendars loads every site's calendar once per list of files, for the
// store's policy; a file that does not load (estate check reports it) leaves
// its sites counting Monday to Friday.
func loadCalendars(cfg *config.Config) func(site string) ticket.WorkingCalendar {
	d := cfg.Desk
	loaded := map[string]*calendar.Calendar{}
	load := func(files []string) *calendar.Calendar {
		if len(files) == 0 {
			return nil
		}
		key := strings.Join(files, "\x00")
		if c, ok := loaded[key]; ok {
			return c
		}
		paths := make([]string, len(files))
		for i, f := range files {
			paths[i] = calendarPath(cfg.File, f)
		}
		c, err := calendar.Load(paths...)
		if err != nil {
			c = nil
		}
		loaded[key] = c
		return c
	}
	bySite := map[string]*calendar.Calendar{}
	for _, s := range d.Sites {
		bySite[s.ID] = load(d.CalendarFiles(s.ID))
	}
	fallback := load(d.Calendar)
	return func(site string) ticket.WorkingCalendar {
		c, ok := bySite[site]
		if !ok {
			c = fallback
		}
		if c == nil {
			return nil // a nil *Calendar in the interface would not be nil
		}
		return c
	}
}

// validateKinds checks what this file adds to the desk: section: calendar
// files (each file's own problems located in it), complaint categories, the
// sub-kinds of deadline rules, and that a rule counting working days has a
// calendar to count on.
func validateKinds(c *config.Config) []config.Problem {
	var ps []config.Problem
	add := func(path, format string, args ...any) { ps = append(ps, c.Problemf(path, format, args...)) }
	d := c.Desk
	checkFiles := func(path string, files []string) {
		var years []*calendar.Year
		for j, f := range files {
			p := fmt.Sprintf("%s[%d]", path, j)
			full := calendarPath(c.File, f)
			data, err := os.ReadFile(full)
			if err != nil {
				add(p, "cannot read the calendar file %s: %v", full, errors.Unwrap(err))
				continue
			}
			y, err := calendar.Parse(full, data)
			var cps calendar.Problems
			if errors.As(err, &cps) {
				for _, cp := range cps {
					ps = append(ps, config.Problem{File: cp.File, Line: cp.Line, Field: cp.Field, Msg: cp.Msg})
				}
				continue
			}
			years = append(years, y)
		}
		if _, err := calendar.New(years...); err != nil {
			add(path, "%v", err)
		}
	}
	checkFiles("desk.calendar", d.Calendar)
	checkCategories := func(path string, cats []string) {
		seen := map[string]bool{}
		for j, cat := range cats {
			p := fmt.Sprintf("%s[%d]", path, j)
			switch {
			case !config.IsIdentifier(cat) || len(cat) > 64:
				add(p, "%q: a category is an id of letters, digits, '-' and '_' (such as house_quality), up to 64", cat)
			case seen[cat]:
				add(p, "%q is given twice", cat)
			}
			seen[cat] = true
		}
	}
	checkCategories("desk.complaint_categories", d.ComplaintCategories)
	hasCalendar := map[string]bool{}
	for i, s := range d.Sites {
		checkFiles(fmt.Sprintf("desk.sites[%d].calendar", i), s.Calendar)
		checkCategories(fmt.Sprintf("desk.sites[%d].complaint_categories", i), s.ComplaintCategories)
		hasCalendar[s.ID] = len(d.CalendarFiles(s.ID)) > 0
	}
	for i, r := range d.Deadlines {
		p := fmt.Sprintf("desk.deadlines[%d]", i)
		if r.SubKind != "" && slices.Contains(wire.Kinds, wire.Kind(r.Kind)) {
			if err := wire.CheckSubKind(wire.Kind(r.Kind), r.SubKind); err != nil {
				add(p+".sub_kind", "%s", strings.TrimPrefix(err.Error(), "sub_kind "))
			}
		}
		calendared := len(d.Calendar) > 0
		where := "the rule is for every site and desk.calendar is empty"
		if r.Site != "" && r.Site != "*" {
			where = "site " + r.Site + " has no working calendar"
			if has, listed := hasCalendar[r.Site]; listed {
				calendared = has
			}
		}
		for step, v := range r.Steps {
			if l, err := ticket.ParseLimit(v); err == nil && l.WorkingDays > 0 && !calendared {
				add(p+".steps."+step, "%s counts working days, but %s: give desk.calendar (or the site's calendar in desk.sites) such as [calendars/cn-2026.yaml]", v, where)
			}
		}
	}
	return ps
}

// checkComplaintFields says what is wrong with a complaint's category on its site.
func (s *Server) checkCategory(kind wire.Kind, site, category string) error {
	if kind != wire.Complaint || category == "" {
		return nil
	}
	cats := complaintCategories(s.cfg, site)
	if !slices.Contains(cats, category) {
		return fieldError("category", fmt.Sprintf("%q is not a complaint category of site %s; use one of %s", category, site, strings.Join(cats, ", ")))
	}
	return nil
}

// ticketUpdate is the body of PATCH /tickets/{id}: what the ticket is.
type ticketUpdate struct {
	Kind          *wire.Kind `json:"kind"`
	SubKind       *string    `json:"sub_kind"`
	Category      *string    `json:"category"`
	Cause         *string    `json:"cause"`
	ParentID      *int64     `json:"parent_id"`
	AppointmentAt *time.Time `json:"appointment_at"`
	// Reason is why a manager moves an emergency's on-site deadline to an appointment.
	Reason string `json:"reason"`
}

// updateTicket changes a ticket's kind, sub-kind, category, cause, case or
// appointment: PATCH /tickets/{id}. The deadlines follow (store.UpdateTicket).
// An appointment later than an emergency's on-site deadline moves it only
// when a manager (or an administrator) gives a reason; anyone else is
// refused, since someone must be there within the limit whatever is booked.
func (s *Server) updateTicket(c echo.Context) error {
	t, err := s.visibleTicket(c)
	if err != nil {
		return err
	}
	var u ticketUpdate
	if err := decode(c, &u); err != nil {
		return err
	}
	p := principal(c)
	now := s.now()
	if u.Kind != nil && !slices.Contains(wire.Kinds, *u.Kind) {
		return fieldError("kind", fmt.Sprintf("%q is not a kind; use one of %s", *u.Kind, kindList()))
	}
	kind := t.Kind
	if u.Kind != nil {
		kind = *u.Kind
	}
	if u.SubKind != nil {
		if err := wire.CheckSubKind(kind, *u.SubKind); err != nil {
			return fieldError("sub_kind", strings.TrimPrefix(err.Error(), "sub_kind "))
		}
	}
	if u.Category != nil {
		if len(*u.Category) > 64 {
			return fieldError("category", "longer than 64 bytes")
		}
		if err := s.checkCategory(kind, t.Site, *u.Category); err != nil {
			return err
		}
	}
	if u.Cause != nil && len(*u.Cause) > 64 {
		return fieldError("cause", "longer than 64 bytes")
	}
	if u.ParentID != nil && *u.ParentID < 0 {
		return fieldError("parent_id", "a ticket id, or 0 to unlink")
	}
	if len(u.Reason) > wire.MaxTextLen {
		return fieldError("reason", fmt.Sprintf("longer than %d bytes", wire.MaxTextLen))
	}
	if err := checkAppointment("appointment_at", u.AppointmentAt, now); err != nil {
		return err
	}
	move := false
	if kind == wire.Emergency && u.AppointmentAt != nil {
		for _, dl := range t.Deadlines {
			if dl.Step == wire.StepOnSite && dl.State == wire.DeadlinePending && u.AppointmentAt.After(dl.DueAt) {
				if p.Role != RoleManager && p.Role != RoleAdmin {
					return apiError(http.StatusForbidden, "an appointment does not move an emergency's on-site deadline: someone must be there within the limit; only a manager can move it, with a reason",
						"book the visit as a comment, or ask a manager")
				}
				if strings.TrimSpace(u.Reason) == "" {
					return fieldError("reason", "required: say why this emergency's on-site deadline moves to the appointment (it is kept in the audit trail)")
				}
				move = true
			}
		}
	}
	out, err := s.store.UpdateTicket(c.Request().Context(), t.ID, store.TicketUpdate{Kind: u.Kind, SubKind: u.SubKind, Category: u.Category,
		Cause: u.Cause, ParentID: u.ParentID, AppointmentAt: u.AppointmentAt, MoveOnSite: move, Reason: strings.TrimSpace(u.Reason)}, p.Name, now)
	if err != nil {
		return err
	}
	s.hub.publish()
	s.log.Info("ticket updated", "id", t.ID, "kind", out.Kind, "sub_kind", out.SubKind, "by", p.Name, "request_id", requestID(c))
	return c.JSON(http.StatusOK, p.ticketView(out))
}

func kindList() string {
	names := make([]string, len(wire.Kinds))
	for i, k := range wire.Kinds {
		names[i] = string(k)
	}
	return strings.Join(names, ", ")
}

// kindInfo is one kind as the console's forms offer it.
type kindInfo struct {
	Kind      wire.Kind                       `json:"kind"`
	Priority  string                          `json:"priority"`
	SubKinds  []string                        `json:"sub_kinds,omitempty"`
	Deadlines map[wire.Step]string            `json:"deadlines"`
	BySubKind map[string]map[wire.Step]string `json:"by_sub_kind,omitempty"`
}

// kinds lists the kinds, sub-kinds, deadlines and complaint categories of a
// site: GET /kinds?site=…, for the ticket form.
func (s *Server) kinds(c echo.Context) error {
	p := principal(c)
	site := c.QueryParam("site")
	if p.Site != "" {
		if site != "" && site != p.Site {
			return apiError(http.StatusForbidden, "this account sees its own site only", "")
		}
		site = p.Site
	}
	text := func(d ticket.Deadlines) map[wire.Step]string {
		out := map[wire.Step]string{}
		for st, l := range d {
			if l == (ticket.Limit{}) {
				out[st] = "none"
			} else {
				out[st] = l.String()
			}
		}
		return out
	}
	var out []kindInfo
	for _, k := range wire.Kinds {
		ki := kindInfo{Kind: k, Priority: k.Priority(), SubKinds: wire.SubKinds[k], Deadlines: text(deadlineTable(s.cfg, site, k))}
		for _, sub := range wire.SubKinds[k] {
			if d := subKindTable(s.cfg, site, k, sub); len(d) > 0 {
				if ki.BySubKind == nil {
					ki.BySubKind = map[string]map[wire.Step]string{}
				}
				ki.BySubKind[sub] = text(d)
			}
		}
		out = append(out, ki)
	}
	return c.JSON(http.StatusOK, map[string]any{"site": site, "kinds": out, "complaint_categories": complaintCategories(s.cfg, site)})
}
