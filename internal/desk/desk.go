// Package desk is the service desk's HTTP API (Echo): tickets opened by
// gateways from device alarms and by staff from calls and visits. Every call
// under /api is authenticated by a bearer token and authorised by its role.
package desk

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/estatehq/estate/internal/config"
	"github.com/estatehq/estate/internal/fleet"
	"github.com/estatehq/estate/internal/store"
	"github.com/estatehq/estate/internal/ticket"
	"github.com/estatehq/estate/internal/web"
)

// Store is what the desk needs from its ticket store.
type Store interface {
	CreateTicket(ctx context.Context, n ticket.NewTicket, by string, now time.Time) (ticket.Ticket, bool, error)
	GetTicket(ctx context.Context, id int64) (ticket.Ticket, error)
	ListTickets(ctx context.Context, f store.Filter) ([]ticket.Ticket, error)
	SaveGatewayStatus(ctx context.Context, st fleet.GatewayStatus, received time.Time) error
	GatewayStatuses(ctx context.Context, site string) ([]store.GatewayHeard, error)
	Ping(ctx context.Context) error
}

var ticketsCreated = promauto.NewCounterVec(prometheus.CounterOpts{
	Name: "estate_desk_tickets_created_total",
	Help: "Tickets opened, by kind and source.",
}, []string{"kind", "source"})

// Server is the desk's HTTP server.
type Server struct {
	echo    *echo.Echo
	store   Store
	log     *slog.Logger
	listen  string
	now     func() time.Time
	history History
}

// New builds the desk on a store with the configured tokens.
func New(cfg config.Desk, st Store, log *slog.Logger) *Server {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	s := &Server{echo: e, store: st, log: log, listen: cfg.Listen, now: time.Now}
	e.HTTPErrorHandler = s.handleError

	e.GET("/healthz", s.health)
	e.GET("/metrics", echo.WrapHandler(promhttp.Handler()))

	staff := []string{RoleAdmin, RoleEngineer, RoleControlRoom, RoleAssistant}
	api := e.Group("/api/v1", newTokens(cfg.Tokens).authenticate)
	api.POST("/tickets", s.createTicket, allow(append(staff, RoleGateway)...))
	api.GET("/tickets", s.listTickets, allow(append(staff, RoleGateway)...))
	api.GET("/tickets/:id", s.getTicket, allow(append(staff, RoleGateway)...))
	api.GET("/me", s.me)
	s.registerFleet(api, staff)
	e.GET("/*", echo.WrapHandler(web.Handler()))
	s.registerAlarmRoutes(api, staff)
	return s
}

// Handler is the desk's HTTP handler, for tests and embedding.
func (s *Server) Handler() http.Handler { return s.echo }

// Run serves on the configured address until ctx ends, then shuts down
// gracefully. It returns once the listener is bound or failed to bind, via ready.
func (s *Server) Run(ctx context.Context, ready chan<- error) error {
	ln, err := net.Listen("tcp", s.listen)
	if err != nil {
		err = fmt.Errorf("desk: listen on %s: %w (is another desk or program using the port?)", s.listen, err)
		if ready != nil {
			ready <- err
		}
		return err
	}
	if ready != nil {
		ready <- nil
	}
	srv := &http.Server{Handler: s.echo, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	s.log.Info("desk listening", "addr", ln.Addr().String())
	select {
	case err := <-done:
		return fmt.Errorf("desk: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("desk: shutdown: %w", err)
	}
	<-done
	return nil
}

// apiErr is the body of every error answer.
type apiErr struct {
	Error string `json:"error"`
	Hint  string `json:"hint,omitempty"`
}

func apiError(code int, msg, hint string) error {
	return echo.NewHTTPError(code, apiErr{Error: msg, Hint: hint})
}

func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	code, body := http.StatusInternalServerError, apiErr{Error: "internal error", Hint: "see the desk log"}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		code = he.Code
		switch m := he.Message.(type) {
		case apiErr:
			body = m
		case string:
			body = apiErr{Error: m}
		default:
			body = apiErr{Error: http.StatusText(code)}
		}
	}
	if code >= 500 {
		s.log.Error("desk request failed", "method", c.Request().Method, "path", c.Path(), "err", err)
	}
	_ = c.JSON(code, body)
}

func (s *Server) health(c echo.Context) error {
	if err := s.store.Ping(c.Request().Context()); err != nil {
		return apiError(http.StatusServiceUnavailable, "ticket store unavailable", err.Error())
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) createTicket(c echo.Context) error {
	p := principal(c)
	var n ticket.NewTicket
	if err := c.Bind(&n); err != nil {
		return apiError(http.StatusBadRequest, "the body is not a valid ticket in JSON",
			"send Content-Type: application/json with fields kind, title, site")
	}
	if p.Role == RoleGateway {
		if n.Site == "" {
			n.Site = p.Site
		}
		if n.Source == "" {
			n.Source = ticket.SourceDeviceAlarm
		}
	}
	if err := n.Validate(); err != nil {
		return apiError(http.StatusUnprocessableEntity, err.Error(), "")
	}
	if !p.SiteAllowed(n.Site) {
		return apiError(http.StatusForbidden, fmt.Sprintf("token %s may not open tickets for site %s", p.Name, n.Site),
			"a gateway token opens tickets for its own site only")
	}
	t, created, err := s.store.CreateTicket(c.Request().Context(), n, p.Name, s.now())
	if err != nil {
		return fmt.Errorf("create ticket: %w", err)
	}
	if !created {
		// Same alarm, ticket already open: idempotent answer, not an error.
		return c.JSON(http.StatusOK, t)
	}
	ticketsCreated.WithLabelValues(string(t.Kind), t.Source).Inc()
	s.log.Info("ticket opened", "id", t.ID, "kind", t.Kind, "site", t.Site, "device", t.Device, "by", p.Name)
	c.Response().Header().Set(echo.HeaderLocation, fmt.Sprintf("/api/v1/tickets/%d", t.ID))
	return c.JSON(http.StatusCreated, t)
}

func (s *Server) listTickets(c echo.Context) error {
	p := principal(c)
	f := store.Filter{
		Site:   c.QueryParam("site"),
		Status: ticket.Status(c.QueryParam("status")),
		Kind:   ticket.Kind(c.QueryParam("kind")),
		Device: c.QueryParam("device"),
	}
	var err error
	if v := c.QueryParam("limit"); v != "" {
		if f.Limit, err = strconv.Atoi(v); err != nil || f.Limit < 1 || f.Limit > 500 {
			return apiError(http.StatusBadRequest, "limit must be a number from 1 to 500", "")
		}
	}
	if v := c.QueryParam("before"); v != "" {
		if f.BeforeID, err = strconv.ParseInt(v, 10, 64); err != nil || f.BeforeID < 1 {
			return apiError(http.StatusBadRequest, "before must be a ticket id", "")
		}
	}
	if p.Site != "" {
		if f.Site != "" && f.Site != p.Site {
			return apiError(http.StatusForbidden, "this token may list its own site only", "")
		}
		f.Site = p.Site
	}
	ts, err := s.store.ListTickets(c.Request().Context(), f)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"tickets": ts})
}

func (s *Server) getTicket(c echo.Context) error {
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
	return c.JSON(http.StatusOK, t)
}
