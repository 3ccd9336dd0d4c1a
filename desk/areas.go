package desk

// Assistants' areas (issue 15 part 4): a site's households grouped by
// building or by listed unit, each area with its assistant, who owns the
// area's top-up reminders and household tickets; the red-meter list shows
// the caller's area first; reassigning an area moves its open cases, each
// with an audit note.

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/estatehq/estate/desk/store"
	"github.com/estatehq/estate/internal/config"
	"github.com/estatehq/estate/internal/wire"
)

// areaBody is POST /areas and PUT /areas/{id}.
type areaBody struct {
	Site      string   `json:"site"`
	Name      string   `json:"name"`
	Assistant string   `json:"assistant"`
	Buildings []string `json:"buildings"`
	Units     []string `json:"units"`
	// Note is why (a reassignment's reason), added to each moved case's audit entry.
	Note string `json:"note"`
}

// Bounds of an area.
const (
	maxAreaMembers = 2000
	maxAreaName    = 64
)

// areaChanged is the answer of a change: the area and the cases it moved.
type areaChanged struct {
	Area  store.Area `json:"area"`
	Moved []int64    `json:"moved"`
}

func (s *Server) checkArea(c echo.Context, b *areaBody) error {
	p := principal(c)
	if b.Site == "" && p.Site != "" {
		b.Site = p.Site
	}
	if !config.IsIdentifier(b.Site) {
		return fieldError("site", "required: the site of the area's households")
	}
	if !p.SiteAllowed(b.Site) {
		return apiError(http.StatusForbidden, "this account may act on its own site only", "")
	}
	b.Name = strings.TrimSpace(b.Name)
	if b.Name == "" || len(b.Name) > maxAreaName {
		return fieldError("name", fmt.Sprintf("required, at most %d bytes (such as 1-3 栋)", maxAreaName))
	}
	st, ok := s.auth.staff[b.Assistant]
	switch {
	case b.Assistant == "":
		return fieldError("assistant", "required: the login name of the area's assistant")
	case !ok:
		return fieldError("assistant", fmt.Sprintf("%q is not a staff member of desk.staff", b.Assistant))
	case st.Role != RoleAssistant && st.Role != RoleManager:
		return fieldError("assistant", fmt.Sprintf("%s is %s: an area is looked after by an assistant (or a manager)", b.Assistant, st.Role))
	case st.Site != "" && st.Site != b.Site:
		return fieldError("assistant", fmt.Sprintf("%s works on site %s, not %s", b.Assistant, st.Site, b.Site))
	}
	if len(b.Buildings)+len(b.Units) == 0 {
		return fieldError("buildings", "give the area's buildings, or its units, or both")
	}
	if len(b.Buildings) > maxAreaMembers || len(b.Units) > maxAreaMembers {
		return fieldError("units", fmt.Sprintf("at most %d buildings and %d units", maxAreaMembers, maxAreaMembers))
	}
	for _, list := range []struct {
		field string
		vs    *[]string
	}{{"buildings", &b.Buildings}, {"units", &b.Units}} {
		seen := map[string]bool{}
		for i, v := range *list.vs {
			v = strings.TrimSpace(v)
			if v == "" || len(v) > 64 {
				return fieldError(fmt.Sprintf("%s[%d]", list.field, i), "1 to 64 bytes")
			}
			if seen[v] {
				return fieldError(fmt.Sprintf("%s[%d]", list.field, i), fmt.Sprintf("%q is given twice", v))
			}
			seen[v] = true
			(*list.vs)[i] = v
		}
	}
	if len(b.Note) > wire.MaxTextLen {
		return fieldError("note", fmt.Sprintf("longer than %d bytes", wire.MaxTextLen))
	}
	return nil
}

func (s *Server) areaError(err error) error {
	var ce *store.AreaConflictError
	if errors.As(err, &ce) {
		return echo.NewHTTPError(http.StatusConflict, apiErr{Error: ce.Error(), Field: map[string]string{"building": "buildings", "unit": "units", "name": "name"}[ce.Kind],
			Hint: "take it out of the other area first, or move it there"})
	}
	return err
}

// createArea is POST /api/v1/areas.
func (s *Server) createArea(c echo.Context) error {
	var b areaBody
	if err := decode(c, &b); err != nil {
		return err
	}
	if err := s.checkArea(c, &b); err != nil {
		return err
	}
	p := principal(c)
	a, moved, err := s.store.SaveArea(c.Request().Context(), store.Area{Site: b.Site, Name: b.Name, Assistant: b.Assistant, Buildings: b.Buildings, Units: b.Units},
		p.Name, b.Note, s.now())
	if err != nil {
		return s.areaError(err)
	}
	s.afterArea(c, "area created", a, moved)
	return c.JSON(http.StatusCreated, areaChanged{Area: a, Moved: orEmpty(moved)})
}

func orEmpty(ids []int64) []int64 {
	if ids == nil {
		return []int64{}
	}
	return ids
}

func (s *Server) afterArea(c echo.Context, msg string, a store.Area, moved []int64) {
	if len(moved) > 0 {
		s.hub.publish()
	}
	s.log.Info(msg, "area", a.ID, "site", a.Site, "name", a.Name, "assistant", a.Assistant, "moved", len(moved),
		"by", principal(c).Name, "request_id", requestID(c))
}

// visibleArea loads an area of the caller's site; others are 404.
func (s *Server) visibleArea(c echo.Context) (store.Area, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id < 1 {
		return store.Area{}, apiError(http.StatusBadRequest, "area id must be a positive number", "")
	}
	a, err := s.store.GetArea(c.Request().Context(), id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !principal(c).SiteAllowed(a.Site)) {
		return store.Area{}, apiError(http.StatusNotFound, fmt.Sprintf("no area %d", id), "")
	}
	return a, err
}

// updateArea is PUT /api/v1/areas/{id}: the whole area again; a new
// assistant (or members) moves the open cases, with the note.
func (s *Server) updateArea(c echo.Context) error {
	old, err := s.visibleArea(c)
	if err != nil {
		return err
	}
	var b areaBody
	if err := decode(c, &b); err != nil {
		return err
	}
	if b.Site == "" {
		b.Site = old.Site
	}
	if b.Site != old.Site {
		return fieldError("site", "an area stays on its site")
	}
	if err := s.checkArea(c, &b); err != nil {
		return err
	}
	a, moved, err := s.store.SaveArea(c.Request().Context(), store.Area{ID: old.ID, Site: old.Site, Name: b.Name, Assistant: b.Assistant,
		Buildings: b.Buildings, Units: b.Units}, principal(c).Name, b.Note, s.now())
	if errors.Is(err, store.ErrNotFound) {
		return apiError(http.StatusNotFound, fmt.Sprintf("no area %d", old.ID), "")
	}
	if err != nil {
		return s.areaError(err)
	}
	s.afterArea(c, "area changed", a, moved)
	return c.JSON(http.StatusOK, areaChanged{Area: a, Moved: orEmpty(moved)})
}

// deleteArea is DELETE /api/v1/areas/{id}[?note=…].
func (s *Server) deleteArea(c echo.Context) error {
	a, err := s.visibleArea(c)
	if err != nil {
		return err
	}
	note := c.QueryParam("note")
	if len(note) > wire.MaxTextLen {
		return fieldError("note", fmt.Sprintf("longer than %d bytes", wire.MaxTextLen))
	}
	moved, err := s.store.DeleteArea(c.Request().Context(), a.Site, a.ID, principal(c).Name, note, s.now())
	if errors.Is(err, store.ErrNotFound) {
		return apiError(http.StatusNotFound, fmt.Sprintf("no area %d", a.ID), "")
	}
	if err != nil {
		return err
	}
	s.afterArea(c, "area deleted", a, moved)
	return c.JSON(http.StatusOK, map[string]any{"deleted": a.ID, "moved": orEmpty(moved)})
}

// listAreas is GET /api/v1/areas[?site=…]: the site's areas with their
// households and open cases.
func (s *Server) listAreas(c echo.Context) error {
	p := principal(c)
	site := c.QueryParam("site")
	if p.Site != "" {
		if site != "" && site != p.Site {
			return apiError(http.StatusForbidden, "this account may list its own site only", "")
		}
		site = p.Site
	}
	if site == "" {
		return echo.NewHTTPError(http.StatusBadRequest, apiErr{Error: "site: required (areas are per site)", Field: "site"})
	}
	as, err := s.store.Areas(c.Request().Context(), site)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"areas": as})
}

// topUpsByArea fills each red-meter line's area and puts the caller's
// area first (then the others, each in the store's order: longest red
// first); ?area=mine keeps the caller's area only, ?area=<id> one area.
func (s *Server) topUpsByArea(c echo.Context, list []store.TopUp) ([]store.TopUp, error) {
	ids := make([]int64, len(list))
	for i, t := range list {
		ids[i] = t.TicketID
	}
	areas, err := s.store.TicketAreas(c.Request().Context(), ids)
	if err != nil {
		return nil, err
	}
	for i := range list {
		if a, ok := areas[list[i].TicketID]; ok {
			list[i].AreaID, list[i].Area, list[i].Assistant = a.AreaID, a.Area, a.Assistant
		}
	}
	me := principal(c).Name
	switch v := c.QueryParam("area"); v {
	case "":
	case "mine":
		list = slices.DeleteFunc(list, func(t store.TopUp) bool { return t.Assistant != me })
	default:
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id < 1 {
			return nil, echo.NewHTTPError(http.StatusBadRequest, apiErr{Error: "area: mine, or an area id", Field: "area"})
		}
		list = slices.DeleteFunc(list, func(t store.TopUp) bool { return t.AreaID != id })
	}
	slices.SortStableFunc(list, func(a, b store.TopUp) int {
		am, bm := a.Assistant == me, b.Assistant == me
		switch {
		case am && !bm:
			return -1
		case bm && !am:
			return 1
		}
		return 0
	})
	return list, nil
}

// viewTopUps masks the red-meter list's phones for the control room (it
// sees names) and logs the unmasked ones.
func (s *Server) viewTopUps(c echo.Context, list []store.TopUp) ([]store.TopUp, error) {
	p := principal(c)
	var log []store.Access
	for i := range list {
		t := &list[i]
		switch {
		case seesAll(p.Role):
			if t.Phone != "" {
				log = append(log, s.access(c, t.Site, "ticket", strconv.FormatInt(t.TicketID, 10), t.Unit, "phone", "top-up list"))
			}
		case p.Role == RoleControlRoom:
			t.Phone = maskPhone(t.Phone)
		case p.Role == RoleEngineer:
			t.Resident, t.Phone = maskName(t.Resident), maskPhone(t.Phone)
		default:
			t.Resident, t.Phone, t.Contact = "", "", ""
		}
	}
	if err := s.store.LogAccess(c.Request().Context(), log); err != nil {
		return nil, err
	}
	return list, nil
}
