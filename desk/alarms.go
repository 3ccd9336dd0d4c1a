package desk

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
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
	if a.Action == wire.ActionVisit {
		return apiError(http.StatusUnprocessableEntity, "action visit is not an alarm action here",
			"send a patrol reader's visit to POST /api/v1/rounds/reader-visits")
	}
	if err := checkAlarmAction(a, s.now()); err != nil {
		return err
	}
	// Alarm keys start with the site: a site-bound caller acts on its own
	// site's alarms only, and an opened ticket is on its key's site.
	site, _, _ := strings.Cut(a.AlarmKey, "/")
	if !p.SiteAllowed(site) || a.Ticket != nil && !p.SiteAllowed(a.Ticket.Site) {
		return apiError(http.StatusForbidden, fmt.Sprintf("token %s may not act on alarms of another site", p.Name),
			"a gateway token acts on its own site's alarms only")
	}
	if a.Ticket != nil && a.Ticket.Site != site {
		return fieldError("ticket.site", fmt.Sprintf("%q is not the site of alarm_key %q (alarm keys are <site>/<rule>/<device>)", a.Ticket.Site, a.AlarmKey))
	}
	// The request's fingerprint, from the action as decoded (whitespace and
	// field order do not make another request).
	canon, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("alarm action: %w", err)
	}
	sum := sha256.Sum256(canon)
	by := store.Caller{Name: p.Name, Key: p.identity(), Site: site, Request: hex.EncodeToString(sum[:])}
	res, err := s.store.ApplyAlarmAction(c.Request().Context(), a, by, s.now())
	switch {
	case errors.Is(err, store.ErrKeyReused):
		return echo.NewHTTPError(http.StatusUnprocessableEntity, apiErr{Error: "idempotency_key: already used for a different alarm action",
			Field: "idempotency_key", Hint: "use a new key for each new action"})
	case errors.Is(err, store.ErrNotFound):
		return apiError(http.StatusNotFound, fmt.Sprintf("alarm %s has no ticket", a.AlarmKey), "open it first")
	case err != nil:
		return fmt.Errorf("alarm action: %w", err)
	}
	given := ""
	if a.Ticket != nil {
		given = a.Ticket.Phone
	}
	if res.Ticket, err = s.viewTicket(c, "alarm action", res.Ticket, given); err != nil {
		return err
	}
	if res.Created || !res.Replayed {
		s.hub.publish()
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
