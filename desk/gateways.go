package desk

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/estatehq/estate/desk/history"
	"github.com/estatehq/estate/desk/store"
	"github.com/estatehq/estate/devices/points"
	"github.com/estatehq/estate/internal/wire"
)

// History is where device telemetry is read back from (InfluxDB).
type History interface {
	Series(ctx context.Context, site, measurement, device, point, rng string) ([]history.Sample, error)
	Around(ctx context.Context, site, measurement, device, point string, at time.Time) ([]history.Sample, error)
	Latest(ctx context.Context, site, measurement, device string) (map[string]float64, time.Time, error)
	Alarms(ctx context.Context, site, device string, days int) ([]history.AlarmChange, error)
}

// SetHistory enables the live-value and chart endpoints; without it they
// answer 503.
func (s *Server) SetHistory(h History) { s.history = h }

// staleAfter is how many missed heartbeats make a gateway's news stale.
const staleAfter = 3

// DeviceView is one device as the consoles show it.
type DeviceView struct {
	wire.Device
	Site    string `json:"site"`
	Gateway string `json:"gateway"`
	// Stale is set when the gateway has not reported for several heartbeats:
	// the device's state is then the last known, not the current one.
	Stale bool `json:"stale"`
}

// GatewayView is one gateway as the consoles show it.
type GatewayView struct {
	Gateway          string    `json:"gateway"`
	Site             string    `json:"site"`
	ReceivedAt       time.Time `json:"received_at"`
	Stale            bool      `json:"stale"`
	Devices          int       `json:"devices"`
	Offline          int       `json:"offline"`
	TelemetryBacklog int       `json:"telemetry_backlog"`
	OutboxPending    int       `json:"outbox_pending"`
}

func (s *Server) heartbeat(c echo.Context) error {
	p := principal(c)
	var st wire.GatewayStatus
	if err := c.Bind(&st); err != nil {
		return apiError(http.StatusBadRequest, "the body is not a gateway status in JSON", "")
	}
	if st.Gateway == "" || st.Site == "" {
		return apiError(http.StatusUnprocessableEntity, "gateway and site are required", "")
	}
	if err := checkHeartbeat(st); err != nil {
		return err
	}
	if !p.SiteAllowed(st.Site) {
		return apiError(http.StatusForbidden, fmt.Sprintf("token %s may not report for site %s", p.Name, st.Site), "")
	}
	// A gateway id belongs to the site and token that first reported it: a
	// heartbeat naming another's gateway would replace its devices' health.
	err := s.store.SaveGatewayStatus(c.Request().Context(), st, p.identity(), s.now())
	if errors.Is(err, store.ErrConflict) {
		// The id is not echoed: the answer tells nothing of the other gateway.
		return apiError(http.StatusForbidden, fmt.Sprintf("token %s may not report for this gateway id", p.Name),
			"a gateway id is reported by one gateway token only; give each gateway its own id")
	}
	if err != nil {
		return err
	}
	// What the desk wants of the gateway travels back in the answer: the
	// site's maintenance windows and the gateway's approved commands
	// (outages.go); nothing to hand is 204, as before.
	a, err := s.heartbeatAnswer(c.Request().Context(), st)
	if err != nil {
		return err
	}
	if len(a.Windows) == 0 && len(a.Commands) == 0 && len(a.Acked) == 0 {
		return c.NoContent(http.StatusNoContent)
	}
	return c.JSON(http.StatusOK, a)
}

func (s *Server) gateways(c echo.Context) ([]store.GatewayHeard, error) {
	site := c.QueryParam("site")
	if p := principal(c); p.Site != "" {
		site = p.Site
	}
	return s.store.GatewayStatuses(c.Request().Context(), site)
}

func (s *Server) isStale(g store.GatewayHeard) bool {
	interval := g.Interval
	if interval <= 0 {
		interval = 10 * time.Second
	}
	return s.now().Sub(g.ReceivedAt) > staleAfter*interval
}

func (s *Server) listGateways(c echo.Context) error {
	gs, err := s.gateways(c)
	if err != nil {
		return err
	}
	out := make([]GatewayView, 0, len(gs))
	for _, g := range gs {
		v := GatewayView{Gateway: g.Gateway, Site: g.Site, ReceivedAt: g.ReceivedAt, Stale: s.isStale(g),
			Devices: len(g.Devices), TelemetryBacklog: g.TelemetryBacklog, OutboxPending: g.OutboxPending}
		for _, d := range g.Devices {
			if d.State == "offline" {
				v.Offline++
			}
		}
		out = append(out, v)
	}
	return c.JSON(http.StatusOK, map[string]any{"gateways": out})
}

// AlarmView is one gateway alarm as the consoles show it.
type AlarmView struct {
	wire.Alarm
	Site    string `json:"site"`
	Gateway string `json:"gateway"`
	// Stale: the gateway has not reported for several heartbeats.
	Stale bool `json:"stale"`
	// AcknowledgedBy and AcknowledgedAt: the control room has seen this
	// episode of an alarm that opens no ticket (POST /alarms/ack).
	AcknowledgedBy string     `json:"acknowledged_by,omitempty"`
	AcknowledgedAt *time.Time `json:"acknowledged_at,omitempty"`
	// LastSeen is when a gateway last reported an alarm that is no longer
	// reported (state "cleared") but still waits for its acknowledgement.
	LastSeen *time.Time `json:"last_seen,omitempty"`
}

// listAlarms is GET /api/v1/alarms: the gateways' pending and firing alarms
// from their last heartbeats; suppressed=true keeps only the suppressed ones
// (with why), suppressed=false only the others.
func (s *Server) listAlarms(c echo.Context) error {
	want := c.QueryParam("suppressed")
	if want != "" && want != "true" && want != "false" {
		return apiError(http.StatusBadRequest, "suppressed must be true or false", "")
	}
	views, err := s.alarmViews(c)
	if err != nil {
		return err
	}
	out := []AlarmView{}
	for _, v := range views {
		if want != "" && (v.Suppressed != "") != (want == "true") {
			continue
		}
		out = append(out, v)
	}
	return c.JSON(http.StatusOK, map[string]any{"alarms": out})
}

func (s *Server) devices(c echo.Context) ([]DeviceView, error) {
	gs, err := s.gateways(c)
	if err != nil {
		return nil, err
	}
	out := []DeviceView{}
	building := c.QueryParam("building")
	for _, g := range gs {
		stale := s.isStale(g)
		for _, d := range g.Devices {
			if building != "" && d.Building != building {
				continue
			}
			out = append(out, DeviceView{Device: d, Site: g.Site, Gateway: g.Gateway, Stale: stale})
		}
	}
	return out, nil
}

func (s *Server) listDevices(c echo.Context) error {
	ds, err := s.devices(c)
	if err != nil {
		return err
	}
	for i := range ds {
		ds[i].Units, ds[i].Names = nil, nil // the device's page has them (deviceLatest); a list of thousands does not need them
	}
	return c.JSON(http.StatusOK, map[string]any{"devices": ds})
}

func (s *Server) findDevice(c echo.Context) (DeviceView, error) {
	ds, err := s.devices(c)
	if err != nil {
		return DeviceView{}, err
	}
	id := c.Param("id")
	for _, d := range ds {
		if d.ID == id && (c.QueryParam("site") == "" || d.Site == c.QueryParam("site")) {
			return d, nil
		}
	}
	return DeviceView{}, apiError(http.StatusNotFound, fmt.Sprintf("no device %s has been reported by a gateway", id),
		"devices appear once their gateway has sent a heartbeat")
}

func (s *Server) deviceLatest(c echo.Context) error {
	d, err := s.findDevice(c)
	if err != nil {
		return err
	}
	if s.history == nil {
		return apiError(http.StatusServiceUnavailable, "no InfluxDB is configured for the desk", "add an influxdb section to the desk's configuration")
	}
	values, at, err := s.history.Latest(c.Request().Context(), d.Site, d.Family, d.ID)
	if err != nil {
		return apiError(http.StatusBadGateway, "InfluxDB query failed", err.Error())
	}
	// How people see each point: 剩余金额 in 元, 继电器 合闸/跳闸 (devices/points).
	described := make(map[string]points.Point, len(values))
	for name := range values {
		described[name] = d.Names[name].Over(points.Describe(name, d.Units[name]))
	}
	return c.JSON(http.StatusOK, map[string]any{"device": d.ID, "site": d.Site, "family": d.Family, "model": d.Model,
		"building": d.Building, "floor": d.Floor, "unit": d.Unit, "at": at, "values": values, "points": described})
}

func (s *Server) deviceHistory(c echo.Context) error {
	d, err := s.findDevice(c)
	if err != nil {
		return err
	}
	if s.history == nil {
		return apiError(http.StatusServiceUnavailable, "no InfluxDB is configured for the desk", "add an influxdb section to the desk's configuration")
	}
	point, rng := c.QueryParam("point"), c.QueryParam("range")
	if v := c.QueryParam("at"); v != "" {
		// A ticket's reading: the point around the moment it was taken.
		at, err := time.Parse(time.RFC3339Nano, v)
		if err != nil || at.Year() < 2000 || at.Year() > 2261 || point == "" {
			return echo.NewHTTPError(http.StatusBadRequest, apiErr{Error: "at: give point=<name> and at=<RFC 3339 time> (between 2000 and 2261)", Field: "at"})
		}
		samples, err := s.history.Around(c.Request().Context(), d.Site, d.Family, d.ID, point, at)
		if err != nil {
			return apiError(http.StatusBadGateway, "InfluxDB query failed", err.Error())
		}
		return c.JSON(http.StatusOK, map[string]any{"device": d.ID, "point": point, "at": at, "samples": samples})
	}
	if rng == "" {
		rng = "1h"
	}
	if _, ok := history.Ranges[rng]; !ok || point == "" {
		return apiError(http.StatusBadRequest, "give point=<name> and range=1h, 24h, 7d or 30d", "")
	}
	samples, err := s.history.Series(c.Request().Context(), d.Site, d.Family, d.ID, point, rng)
	if err != nil {
		return apiError(http.StatusBadGateway, "InfluxDB query failed", err.Error())
	}
	return c.JSON(http.StatusOK, map[string]any{"device": d.ID, "point": point, "range": rng, "samples": samples})
}

// deviceAlarms is a device's alarm history (the last 30 days) from InfluxDB.
func (s *Server) deviceAlarms(c echo.Context) error {
	d, err := s.findDevice(c)
	if err != nil {
		return err
	}
	if s.history == nil {
		return apiError(http.StatusServiceUnavailable, "no InfluxDB is configured for the desk", "add an influxdb section to the desk's configuration")
	}
	changes, err := s.history.Alarms(c.Request().Context(), d.Site, d.ID, 30)
	if err != nil {
		return apiError(http.StatusBadGateway, "InfluxDB query failed", err.Error())
	}
	return c.JSON(http.StatusOK, map[string]any{"device": d.ID, "alarms": changes})
}
