package desk

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/estatehq/estate/desk/store"
	"github.com/estatehq/estate/internal/wire"
)

// unitBody is PUT /units/{site}/{unit}: a household's place, residents and meters.
type unitBody struct {
	Building  string           `json:"building"`
	Floor     string           `json:"floor"`
	Residents []store.Resident `json:"residents"`
	Meters    []string         `json:"meters"`
}

func (s *Server) siteParam(c echo.Context) (string, error) {
	site := c.Param("site")
	if !principal(c).SiteAllowed(site) {
		return "", apiError(http.StatusForbidden, "this account may act on its own site only", "")
	}
	return site, nil
}

func (s *Server) putUnit(c echo.Context) error {
	site, err := s.siteParam(c)
	if err != nil {
		return err
	}
	var b unitBody
	if err := decode(c, &b); err != nil {
		return err
	}
	u := store.Unit{Site: site, Unit: c.Param("unit"), Building: b.Building, Floor: b.Floor, Residents: b.Residents, Meters: b.Meters}
	if len(u.Unit) > 64 || len(u.Building) > 64 || len(u.Floor) > 64 {
		return fieldError("unit", "unit, building and floor are at most 64 bytes")
	}
	if len(u.Residents) > 20 || len(u.Meters) > 20 {
		return fieldError("residents", "at most 20 residents and 20 meters per unit")
	}
	for i, r := range u.Residents {
		f := fmt.Sprintf("residents[%d]", i)
		switch {
		case strings.TrimSpace(r.Name) == "" || len(r.Name) > 100:
			return fieldError(f+".name", "required, at most 100 bytes")
		case len(r.Phone) > 32:
			return fieldError(f+".phone", "at most 32 bytes")
		case r.Contact != "" && !slices.Contains(wire.Contacts, r.Contact):
			return fieldError(f+".contact", fmt.Sprintf("%q is not one of %s", r.Contact, strings.Join(wire.Contacts, ", ")))
		}
	}
	for i, m := range u.Meters {
		if m == "" || len(m) > 128 {
			return fieldError(fmt.Sprintf("meters[%d]", i), "a device id of 1 to 128 bytes")
		}
	}
	if err := s.store.PutUnit(c.Request().Context(), u); err != nil {
		return err
	}
	saved, err := s.store.GetUnit(c.Request().Context(), site, u.Unit)
	if err != nil {
		return err
	}
	if saved, err = s.unitView(c, saved, "household saved"); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, saved)
}

func (s *Server) getUnit(c echo.Context) error {
	site, err := s.siteParam(c)
	if err != nil {
		return err
	}
	u, err := s.store.GetUnit(c.Request().Context(), site, c.Param("unit"))
	if errors.Is(err, store.ErrNotFound) {
		return apiError(http.StatusNotFound, fmt.Sprintf("no unit %s on site %s", c.Param("unit"), site), "")
	}
	if err != nil {
		return err
	}
	if u, err = s.unitView(c, u, "household record"); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, u)
}

// reminderBody is POST /tickets/{id}/reminders: a reminder given to a household.
type reminderBody struct {
	Channel string `json:"channel"`
	// Outcome is what came of it (store.ReminderOutcomes); optional.
	Outcome string     `json:"outcome"`
	Answer  string     `json:"answer"`
	At      *time.Time `json:"at"` // when it was given; now if absent
}

func (s *Server) addReminder(c echo.Context) error {
	t, err := s.visibleTicket(c)
	if err != nil {
		return err
	}
	var b reminderBody
	if err := decode(c, &b); err != nil {
		return err
	}
	if !slices.Contains(wire.Contacts, b.Channel) {
		return fieldError("channel", fmt.Sprintf("%q is not one of %s", b.Channel, strings.Join(wire.Contacts, ", ")))
	}
	if b.Outcome != "" && !slices.Contains(store.ReminderOutcomes, b.Outcome) {
		return fieldError("outcome", fmt.Sprintf("%q is not one of %s", b.Outcome, strings.Join(store.ReminderOutcomes, ", ")))
	}
	if len(b.Answer) > wire.MaxTextLen {
		return fieldError("answer", fmt.Sprintf("longer than %d bytes", wire.MaxTextLen))
	}
	at := s.now()
	if b.At != nil {
		if err := checkTime("at", *b.At); err != nil {
			return err
		}
		if b.At.After(at.Add(time.Minute)) {
			return fieldError("at", "is in the future")
		}
		at = *b.At
	}
	r, err := s.store.AddReminder(c.Request().Context(), store.Reminder{TicketID: t.ID, At: at, By: principal(c).Name, Channel: b.Channel, Outcome: b.Outcome, Answer: b.Answer})
	if errors.Is(err, store.ErrNotTopUp) {
		return apiError(http.StatusConflict, err.Error(), "reminders are recorded on open top-up tickets")
	}
	if err != nil {
		return err
	}
	s.hub.publish()
	return c.JSON(http.StatusCreated, r)
}

func (s *Server) ticketReminders(c echo.Context) error {
	t, err := s.visibleTicket(c)
	if err != nil {
		return err
	}
	rs, err := s.store.Reminders(c.Request().Context(), t.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"reminders": rs})
}

// topUps is the assistants' daily list: households still red, the longest first.
func (s *Server) topUps(c echo.Context) error {
	p := principal(c)
	site := c.QueryParam("site")
	if p.Site != "" {
		if site != "" && site != p.Site {
			return apiError(http.StatusForbidden, "this account may list its own site only", "")
		}
		site = p.Site
	}
	list, err := s.store.TopUps(c.Request().Context(), site, s.now())
	if err != nil {
		return err
	}
	// The caller's area first, and each line with its area (areas.go).
	if list, err = s.topUpsByArea(c, list); err != nil {
		return err
	}
	if list, err = s.viewTopUps(c, list); err != nil {
		return err
	}
	// The balance and supply now, from the latest readings (redmeters.go).
	return c.JSON(http.StatusOK, map[string]any{"topups": s.redMeters(c.Request().Context(), principal(c).Name, list)})
}
