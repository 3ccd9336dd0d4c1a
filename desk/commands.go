package desk

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/estatehq/estate/desk/store"
	"github.com/estatehq/estate/internal/wire"
)

// Commands to gateways (issue 15 part 6): the manuals forbid changing a
// device's settings without authority. A relay trip or close, a valve open
// or close, or a Modbus write is requested by an engineer, approved by a
// manager (or by a rule of the site: closing a relay after a top-up),
// delivered to the device's gateway in the heartbeat's answer, run there
// once, and its outcome reported back; command_audit keeps every step.

type commandRequest struct {
	Site   string  `json:"site"`
	Device string  `json:"device"`
	Action string  `json:"action"`
	Point  string  `json:"point"`
	Value  float64 `json:"value"`
	Reason string  `json:"reason"`
}

// CommandView is a command with its audit trail.
type CommandView struct {
	store.DeviceCommand
	Audit []store.CommandStep `json:"audit"`
}

func (s *Server) listCommands(c echo.Context) error {
	ms, err := s.maint()
	if err != nil {
		return err
	}
	p := principal(c)
	site := c.QueryParam("site")
	if p.Site != "" {
		site = p.Site
	}
	cs, err := ms.ListCommands(c.Request().Context(), site, c.QueryParam("device"), maxOutageList)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"commands": cs})
}

// requestCommand records an engineer's request after checking it against
// what the device's gateway says its configuration allows: a device whose
// writes or relay/valve control is off is refused here, and nothing is kept.
func (s *Server) requestCommand(c echo.Context) error {
	ms, err := s.maint()
	if err != nil {
		return err
	}
	p := principal(c)
	var req commandRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	site, err := siteOf(p, req.Site)
	if err != nil {
		return err
	}
	req.Reason = strings.TrimSpace(req.Reason)
	switch {
	case req.Device == "" || len(req.Device) > maxIDLen:
		return fieldError("device", "required: a device id")
	case !slices.Contains(wire.CommandActions, req.Action):
		return fieldError("action", fmt.Sprintf("%q is not one of %s", req.Action, strings.Join(wire.CommandActions, ", ")))
	case req.Action == wire.CommandModbusWrite && (req.Point == "" || len(req.Point) > maxIDLen):
		return fieldError("point", "required for a modbus_write: a writable point of the device's profile")
	case req.Action != wire.CommandModbusWrite && (req.Point != "" || req.Value != 0):
		return fieldError("point", "only a modbus_write has a point and a value")
	case math.IsNaN(req.Value) || math.IsInf(req.Value, 0):
		return fieldError("value", "must be a number")
	case req.Reason == "":
		return fieldError("reason", "required: why the device is commanded (the audit keeps it)")
	case len(req.Reason) > maxReasonLen:
		return fieldError("reason", fmt.Sprintf("longer than %d bytes", maxReasonLen))
	}
	ctx, now := c.Request().Context(), s.now()
	t, err := s.topologyOf(ctx, site)
	if err != nil {
		return err
	}
	var dev *wire.Device
	for i := range t.devices {
		if t.devices[i].ID == req.Device {
			dev = &t.devices[i]
		}
	}
	if dev == nil {
		return echo.NewHTTPError(http.StatusUnprocessableEntity, apiErr{Error: fmt.Sprintf("device: no gateway of site %s reports a device %s", site, req.Device),
			Field: "device", Hint: "devices appear once their gateway has sent a heartbeat"})
	}
	need := wire.Control(req.Action, req.Point)
	if !slices.Contains(dev.Controls, need) {
		hint := map[string]string{
			wire.ControlRelay: "the device's configuration must allow relay control (dlt645.relay_control: true with its password)",
			wire.ControlValve: "the device's configuration must allow valve control (cjt188.valve_control: true)",
		}[need]
		if hint == "" {
			hint = "the device's configuration must allow writes (writes: true) and its profile mark the point writable"
		}
		return echo.NewHTTPError(http.StatusUnprocessableEntity, apiErr{Error: fmt.Sprintf("device %s does not allow %s (its gateway reports no %s control)", req.Device, req.Action, need),
			Field: "action", Hint: hint})
	}
	cmd := store.DeviceCommand{Site: site, Gateway: t.gateway[dev.ID], Device: dev.ID, Action: req.Action, Point: req.Point, Value: req.Value,
		Reason: req.Reason, RequestedBy: p.Name, RequestedAt: now}
	approver, note, err := s.ruleApproval(c, ms, cmd)
	if err != nil {
		return err
	}
	cmd, err = ms.CreateCommand(ctx, cmd, approver, note)
	if err != nil {
		return err
	}
	s.log.Info("device command requested", "command", cmd.ID, "site", site, "device", cmd.Device, "action", cmd.Action, "by", p.Name, "status", cmd.Status)
	return s.commandView(c, ms, cmd, http.StatusCreated)
}

// ruleApproval says which of the site's rules approves a command at once,
// if one does (the approver is "rule:<action>").
func (s *Server) ruleApproval(c echo.Context, ms maintenanceStore, cmd store.DeviceCommand) (string, string, error) {
	for _, st := range s.cfg.Sites {
		if st.ID != cmd.Site {
			continue
		}
		for _, r := range st.CommandRules {
			if r.Action != cmd.Action || r.AfterTopUp <= 0 {
				continue
			}
			ok, err := ms.TopUpClosedSince(c.Request().Context(), cmd.Site, cmd.Device, cmd.RequestedAt.Add(-r.AfterTopUp))
			if err != nil {
				return "", "", err
			}
			if ok {
				return "rule:" + r.Action, fmt.Sprintf("site rule: %s within %s of a top-up reminder closed (balance back)", r.Action, r.AfterTopUp), nil
			}
		}
	}
	return "", "", nil
}

func (s *Server) commandView(c echo.Context, ms maintenanceStore, cmd store.DeviceCommand, code int) error {
	audit, err := ms.CommandAudit(c.Request().Context(), cmd.ID)
	if err != nil {
		return err
	}
	return c.JSON(code, CommandView{DeviceCommand: cmd, Audit: audit})
}

func (s *Server) findCommand(c echo.Context, ms maintenanceStore) (store.DeviceCommand, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return store.DeviceCommand{}, fieldError("id", "must be a positive integer")
	}
	cmd, err := ms.GetCommand(c.Request().Context(), principal(c).Site, id)
	if errors.Is(err, store.ErrNotFound) {
		return cmd, apiError(http.StatusNotFound, fmt.Sprintf("no command %d", id), "")
	}
	return cmd, err
}

func (s *Server) getCommand(c echo.Context) error {
	ms, err := s.maint()
	if err != nil {
		return err
	}
	cmd, err := s.findCommand(c, ms)
	if err != nil {
		return err
	}
	return s.commandView(c, ms, cmd, http.StatusOK)
}

// decideCommand is a manager's approval or rejection of a requested command.
func (s *Server) decideCommand(approve bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		ms, err := s.maint()
		if err != nil {
			return err
		}
		req, err := s.decodeDecision(c)
		if err != nil {
			return err
		}
		cmd, err := s.findCommand(c, ms)
		if err != nil {
			return err
		}
		p := principal(c)
		if cmd.Status != store.CommandRequested {
			return apiError(http.StatusConflict, fmt.Sprintf("command %d is %s: only a requested command is approved or rejected", cmd.ID, cmd.Status), "")
		}
		if approve && cmd.RequestedBy == p.Name {
			return apiError(http.StatusForbidden, "a command is approved by another person than the one who requested it", "ask another manager")
		}
		now := s.now()
		if approve {
			cmd, err = ms.ApproveCommand(c.Request().Context(), cmd.Site, cmd.ID, p.Name, req.Note, now)
		} else {
			cmd, err = ms.RejectCommand(c.Request().Context(), cmd.Site, cmd.ID, p.Name, req.Note, now)
		}
		if err != nil {
			return err
		}
		s.log.Info("device command "+cmd.Status, "command", cmd.ID, "site", cmd.Site, "device", cmd.Device, "by", p.Name)
		return s.commandView(c, ms, cmd, http.StatusOK)
	}
}
