package desk

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/estatehq/estate/desk/store"
	"github.com/estatehq/estate/internal/wire"
)

// applyAlarmAction is POST /api/v1/alarm-actions: open, note or clear, applied
// once per idempotency key.
func (s *Server) applyAlarmAction(c echo.Context) error {
	p := principal(c)
	var a wire.AlarmAction
	if err := c.Bind(&a); err != nil {
		return apiError(http.StatusBadRequest, "the body is not a valid alarm action in JSON",
			"send idempotency_key, alarm_key, action (open, note, clear), and ticket or note")
	}
	if p.Role == RoleGateway && a.Ticket != nil {
		if a.Ticket.Site == "" {
			a.Ticket.Site = p.Site
		}
		if a.Ticket.Source == "" {
			a.Ticket.Source = wire.SourceDeviceAlarm
		}
	}
	if err := a.Validate(); err != nil {
		return apiError(http.StatusUnprocessableEntity, err.Error(), "")
	}
	if err := checkAlarmAction(a, s.now()); err != nil {
		return err
	}
	// Alarm keys start with the site: a gateway acts on its own site's alarms only.
	if p.Site != "" && (!strings.HasPrefix(a.AlarmKey, p.Site+"/") || a.Ticket != nil && a.Ticket.Site != p.Site) {
		return apiError(http.StatusForbidden, fmt.Sprintf("token %s may not act on alarms of another site", p.Name),
			"a gateway token acts on its own site's alarms only")
	}
	res, err := s.store.ApplyAlarmAction(c.Request().Context(), a, p.Name, s.now())
	if errors.Is(err, store.ErrNotFound) {
		return apiError(http.StatusNotFound, fmt.Sprintf("alarm %s has no ticket", a.AlarmKey), "open it first")
	}
	if err != nil {
		return fmt.Errorf("alarm action: %w", err)
	}
	if res.Created {
		s.metrics.ticketsCreated.WithLabelValues(string(res.Ticket.Kind), res.Ticket.Source).Inc()
		s.log.Info("ticket opened", "id", res.Ticket.ID, "kind", res.Ticket.Kind, "site", res.Ticket.Site,
			"device", res.Ticket.Device, "alarm", a.AlarmKey, "by", p.Name)
		return c.JSON(http.StatusCreated, res)
	}
	return c.JSON(http.StatusOK, res)
}

func (s *Server) listNotes(c echo.Context) error {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id < 1 {
		return apiError(http.StatusBadRequest, "ticket id must be a positive number", "")
	}
	t, err := s.store.GetTicket(c.Request().Context(), id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !principal(c).SiteAllowed(t.Site)) {
		return apiError(http.StatusNotFound, fmt.Sprintf("no ticket %d", id), "")
	}
	if err != nil {
		return err
	}
	notes, err := s.store.ListNotes(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"notes": notes})
}
