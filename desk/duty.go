package desk

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/estatehq/estate/desk/shift"
	"github.com/estatehq/estate/desk/ticket"
	"github.com/estatehq/estate/internal/config"
	"github.com/estatehq/estate/internal/wire"
)

// The control room's shifts, duty log and key register (issue 15 parts 1
// and 2): the handlers over desk/shift. Every route is scoped to the
// caller's site: a site-bound caller names no other, an all-sites caller
// names one with site=; sheets and keys are looked up by site and id, so
// another site's id is a 404.

// dutyRoles may write the duty log, build, sign and accept handovers and
// lend keys; everyone on the staff may read them.
var dutyRoles = []string{RoleAdmin, RoleManager, RoleControlRoom}

// newDuty builds the shift service on the store's database, when the store
// is the desk's SQL store (tests of other parts pass stores without one).
func (s *Server) newDuty() {
	db, ok := s.store.(interface {
		DB() *sql.DB
		Dialect() string
	})
	if !ok {
		return
	}
	settings := shift.NewSettings(s.cfg.Shifts)
	s.duty = shift.NewService(shift.NewStore(db.DB(), db.Dialect()), shift.Options{
		Settings: settings,
		Source:   alarmSource{s},
		Now:      func() time.Time { return s.now() },
		Location: s.siteLocation,
		Route: func(site, level string) []string {
			return routeNotice(s.cfg.Channels, wire.Ticket{Site: site}, []ticket.Level{ticket.Level(level)})
		},
		Sites: func() []string {
			var out []string
			add := func(id string) {
				if id != "" && id != "*" && !slices.Contains(out, id) {
					out = append(out, id)
				}
			}
			for _, st := range s.cfg.Sites {
				add(st.ID)
			}
			for _, id := range settings.Sites {
				add(id)
			}
			for id := range s.siteNames {
				add(id)
			}
			slices.Sort(out)
			return out
		},
		Log:      s.log.With("part", "shifts"),
		Registry: s.reg,
	})
}

// Duty is the shift service (nil without a SQL store), for the code that
// calls the people on duty (shift.Service.OnDuty).
func (s *Server) Duty() *shift.Service { return s.duty }

// ValidateShifts checks desk.shifts (config.Validator), within Validate.
func ValidateShifts(c *config.Config) []config.Problem { return shift.Validate(c) }

// siteLocation is the site's time zone (shift ends, notices, deadlines).
func (s *Server) siteLocation(site string) *time.Location {
	if s.location != nil {
		if l := s.location(site); l != nil {
			return l
		}
	}
	return s.cfg.Location(site, time.UTC)
}

// alarmSource gives the handover sheets the control room's unacknowledged
// alarms: those that open no ticket, firing or fired, that nobody has
// acknowledged (the alarms with tickets are on the sheet as tickets).
type alarmSource struct{ s *Server }

func (a alarmSource) UnackedAlarms(ctx context.Context, site string, _ time.Time) ([]shift.AlarmItem, error) {
	views, err := a.s.alarmViewsOf(ctx, site)
	if err != nil {
		return nil, err
	}
	out := []shift.AlarmItem{}
	for _, v := range views {
		if v.Site != site || v.Ticketed || v.Suppressed != "" || v.AcknowledgedBy != "" {
			continue
		}
		out = append(out, shift.AlarmItem{Key: v.Key, Rule: v.Rule, Device: v.Device, Severity: v.Severity, State: v.State, Since: v.Since})
	}
	return out, nil
}

// dutyErr answers a refusal of the shift service in the desk's error shape.
func dutyErr(err error) error {
	var se *shift.Error
	if errors.As(err, &se) {
		return echo.NewHTTPError(se.Code, apiErr{Error: se.Error(), Field: se.Field})
	}
	return err
}

// dutySite is the site a call is about: the caller's own, or for an
// all-sites caller the one it names.
func (s *Server) dutySite(c echo.Context, named string) (string, error) {
	if s.duty == nil {
		return "", apiError(http.StatusServiceUnavailable, "shifts need the desk's SQL store", "")
	}
	if named == "" {
		named = c.QueryParam("site")
	}
	p := principal(c)
	if p.Site != "" {
		if named != "" && named != p.Site {
			return "", apiError(http.StatusForbidden, "this account works on site "+p.Site+" only", "")
		}
		return p.Site, nil
	}
	if named == "" {
		return "", echo.NewHTTPError(http.StatusBadRequest, apiErr{Error: "site: required (this account serves every site: name one)", Field: "site"})
	}
	if !config.IsIdentifier(named) || len(named) > 64 {
		return "", echo.NewHTTPError(http.StatusBadRequest, apiErr{Error: "site: not a site id", Field: "site"})
	}
	return named, nil
}

func dutyID(c echo.Context, what string) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id < 1 {
		return 0, apiError(http.StatusBadRequest, what+" id must be a positive number", "")
	}
	return id, nil
}

// getDuty is GET /duty: the shift under way, who is on duty, the sheets
// waiting and the shift's entries.
func (s *Server) getDuty(c echo.Context) error {
	site, err := s.dutySite(c, "")
	if err != nil {
		return err
	}
	d, err := s.duty.Duty(c.Request().Context(), site)
	if err != nil {
		return dutyErr(err)
	}
	return c.JSON(http.StatusOK, map[string]any{"duty": d, "site_name": s.siteName(site), "site_timezone": s.siteLocation(site).String()})
}

// onDuty is GET /duty/on-duty?department=&at=: who to call.
func (s *Server) onDuty(c echo.Context) error {
	site, err := s.dutySite(c, "")
	if err != nil {
		return err
	}
	at := s.now()
	if v := c.QueryParam("at"); v != "" {
		if at, err = time.Parse(time.RFC3339, v); err != nil {
			return echo.NewHTTPError(http.StatusBadRequest, apiErr{Error: "at: use RFC 3339, such as 2026-12-03T08:00:00+08:00", Field: "at"})
		}
	}
	dep := c.QueryParam("department")
	people, err := s.duty.OnDuty(c.Request().Context(), site, dep, at)
	if err != nil {
		return dutyErr(err)
	}
	return c.JSON(http.StatusOK, map[string]any{"site": site, "department": dep, "at": at,
		"shift": s.duty.Current(site, at), "people": people})
}

func (s *Server) addDutyEntry(c echo.Context) error {
	var req struct {
		Site string `json:"site"`
		Kind string `json:"kind"`
		Body string `json:"body"`
	}
	if err := decode(c, &req); err != nil {
		return err
	}
	site, err := s.dutySite(c, req.Site)
	if err != nil {
		return err
	}
	e, err := s.duty.AddEntry(c.Request().Context(), site, req.Kind, req.Body, principal(c).Name)
	if err != nil {
		return dutyErr(err)
	}
	return c.JSON(http.StatusCreated, e)
}

// buildSheet is POST /duty/sheets: build or rebuild (while unsigned) the
// handover sheet of the shift under way, or of the one starting at shift_start.
func (s *Server) buildSheet(c echo.Context) error {
	var req struct {
		Site       string     `json:"site"`
		ShiftStart *time.Time `json:"shift_start"`
	}
	if err := decode(c, &req); err != nil {
		return err
	}
	site, err := s.dutySite(c, req.Site)
	if err != nil {
		return err
	}
	var start time.Time
	if req.ShiftStart != nil {
		start = *req.ShiftStart
	}
	sh, err := s.duty.Build(c.Request().Context(), site, start, principal(c).Name)
	if err != nil {
		return dutyErr(err)
	}
	return c.JSON(http.StatusOK, sh)
}

func (s *Server) getSheet(c echo.Context) error {
	site, err := s.dutySite(c, "")
	if err != nil {
		return err
	}
	id, err := dutyID(c, "sheet")
	if err != nil {
		return err
	}
	sh, err := s.duty.Sheet(c.Request().Context(), site, id)
	if err != nil {
		return dutyErr(err)
	}
	return c.JSON(http.StatusOK, sh)
}

func (s *Server) signSheet(c echo.Context) error {
	var req struct {
		Note string `json:"note"`
	}
	if err := decode(c, &req); err != nil {
		return err
	}
	site, err := s.dutySite(c, "")
	if err != nil {
		return err
	}
	id, err := dutyID(c, "sheet")
	if err != nil {
		return err
	}
	sh, err := s.duty.Sign(c.Request().Context(), site, id, principal(c).Name, req.Note)
	if err != nil {
		return dutyErr(err)
	}
	return c.JSON(http.StatusOK, sh)
}

func (s *Server) acceptSheet(c echo.Context) error {
	var req struct {
		Note        string `json:"note"`
		KeysCounted *int   `json:"keys_counted"`
	}
	if err := decode(c, &req); err != nil {
		return err
	}
	site, err := s.dutySite(c, "")
	if err != nil {
		return err
	}
	id, err := dutyID(c, "sheet")
	if err != nil {
		return err
	}
	sh, err := s.duty.Accept(c.Request().Context(), site, id, principal(c).Name, req.Note, req.KeysCounted)
	if err != nil {
		return dutyErr(err)
	}
	return c.JSON(http.StatusOK, sh)
}

// dayOrTime reads a day (YYYY-MM-DD, the site's) or an RFC 3339 time.
func dayOrTime(v string, loc *time.Location) (time.Time, bool) {
	if t, err := time.ParseInLocation("2006-01-02", v, loc); err == nil {
		return t, true
	}
	t, err := time.Parse(time.RFC3339, v)
	return t, err == nil
}

// dutyLog is GET /duty/log?from=&to=&q=: the sheets, entries and loans of
// a period (default: the site's today), matching q when given.
func (s *Server) dutyLog(c echo.Context) error {
	site, err := s.dutySite(c, "")
	if err != nil {
		return err
	}
	loc := s.siteLocation(site)
	y, m, d := s.now().In(loc).Date()
	from := time.Date(y, m, d, 0, 0, 0, 0, loc)
	if v := c.QueryParam("from"); v != "" {
		var ok bool
		if from, ok = dayOrTime(v, loc); !ok {
			return echo.NewHTTPError(http.StatusBadRequest, apiErr{Error: "from: use a day such as 2026-12-03, or an RFC 3339 time", Field: "from"})
		}
	}
	to := from.AddDate(0, 0, 1)
	if v := c.QueryParam("to"); v != "" {
		var ok bool
		if to, ok = dayOrTime(v, loc); !ok {
			return echo.NewHTTPError(http.StatusBadRequest, apiErr{Error: "to: use a day such as 2026-12-04, or an RFC 3339 time", Field: "to"})
		}
	}
	l, err := s.duty.DutyLog(c.Request().Context(), site, from, to, c.QueryParam("q"))
	if err != nil {
		return dutyErr(err)
	}
	return c.JSON(http.StatusOK, map[string]any{"log": l, "site_name": s.siteName(site), "site_timezone": loc.String()})
}

func (s *Server) listKeys(c echo.Context) error {
	site, err := s.dutySite(c, "")
	if err != nil {
		return err
	}
	keys, err := s.duty.Keys(c.Request().Context(), site)
	if err != nil {
		return dutyErr(err)
	}
	return c.JSON(http.StatusOK, map[string]any{"site": site, "keys": keys, "site_timezone": s.siteLocation(site).String()})
}

func (s *Server) addKey(c echo.Context) error {
	var req struct {
		Site  string `json:"site"`
		Label string `json:"label"`
		Name  string `json:"name"`
	}
	if err := decode(c, &req); err != nil {
		return err
	}
	site, err := s.dutySite(c, req.Site)
	if err != nil {
		return err
	}
	k, err := s.duty.AddKey(c.Request().Context(), site, req.Label, req.Name, principal(c).Name)
	if err != nil {
		return dutyErr(err)
	}
	return c.JSON(http.StatusCreated, k)
}

func (s *Server) lendKey(c echo.Context) error {
	var req struct {
		Borrower string     `json:"borrower"`
		DueAt    *time.Time `json:"due_at"`
		Note     string     `json:"note"`
	}
	if err := decode(c, &req); err != nil {
		return err
	}
	site, err := s.dutySite(c, "")
	if err != nil {
		return err
	}
	id, err := dutyID(c, "key")
	if err != nil {
		return err
	}
	l, err := s.duty.Lend(c.Request().Context(), site, id, req.Borrower, req.DueAt, req.Note, principal(c).Name)
	if err != nil {
		return dutyErr(err)
	}
	return c.JSON(http.StatusCreated, l)
}

func (s *Server) returnKey(c echo.Context) error {
	site, err := s.dutySite(c, "")
	if err != nil {
		return err
	}
	id, err := dutyID(c, "key")
	if err != nil {
		return err
	}
	l, err := s.duty.Return(c.Request().Context(), site, id, principal(c).Name)
	if err != nil {
		return dutyErr(err)
	}
	return c.JSON(http.StatusOK, l)
}

// dutyRoutes are the routes of this file, appended to routes().
func dutyRoutes(s *Server) []route {
	return []route{
		{http.MethodGet, "/duty", s.getDuty, staffRoles},
		{http.MethodGet, "/duty/on-duty", s.onDuty, staffRoles},
		{http.MethodPost, "/duty/entries", s.addDutyEntry, dutyRoles},
		{http.MethodPost, "/duty/sheets", s.buildSheet, dutyRoles},
		{http.MethodGet, "/duty/sheets/:id", s.getSheet, staffRoles},
		{http.MethodPost, "/duty/sheets/:id/sign", s.signSheet, dutyRoles},
		{http.MethodPost, "/duty/sheets/:id/accept", s.acceptSheet, dutyRoles},
		{http.MethodGet, "/duty/log", s.dutyLog, staffRoles},
		{http.MethodGet, "/keys", s.listKeys, staffRoles},
		{http.MethodPost, "/keys", s.addKey, dutyRoles},
		{http.MethodPost, "/keys/:id/lend", s.lendKey, dutyRoles},
		{http.MethodPost, "/keys/:id/return", s.returnKey, dutyRoles},
	}
}
