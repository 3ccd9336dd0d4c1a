// Package desk is the service desk's HTTP API (Echo): tickets opened by
// gateways from device alarms and by staff from calls and visits, moved
// through their lifecycle by people, watched by a deadline scheduler that
// escalates, and announced to consoles (Server-Sent Events) and to group
// chats (notification outbox). Every call under /api/v1 is authenticated by
// a bearer token (API token or console session) and authorised by its role.
// Sites are walls: a caller bound to a site reaches its site's objects only,
// however it names them (ticket id, alarm key, idempotency key, household,
// gateway id, search, event stream), gateways get no resident's details,
// and the event stream ends with its session (docs/desk-api.md; proved by
// isolation_test.go).
//
// The handlers are in a file per noun: tickets.go, households.go,
// gateways.go (heartbeats, devices, their alarms and history), alarms.go (the
// gateways' alarm actions), reports.go, auth.go (tokens, logins, sessions),
// events.go (the event stream), notify.go (the notification outbox and the
// escalation loop); routes.go lists every route with the roles it allows.
// limits.go bounds what a request may cost (body size per route, string
// lengths, times, NULs) and sets the security headers; limiter.go limits
// failed logins per name and address, per address and per account.
// config.go checks the desk: section (Validate). Beside it: desk/store (the
// database), desk/ticket (the lifecycle and deadlines, pure), desk/history
// (InfluxDB read back) and desk/deskconfig (the section's types). What
// gateways send and receive is internal/wire, the only desk-side package
// the gateway imports.
package desk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/estatehq/estate/desk/deskconfig"
	"github.com/estatehq/estate/desk/maintenance"
	"github.com/estatehq/estate/desk/rounds"
	"github.com/estatehq/estate/desk/shift"
	"github.com/estatehq/estate/desk/store"
	"github.com/estatehq/estate/desk/ticket"
	"github.com/estatehq/estate/internal/web"
	"github.com/estatehq/estate/internal/wire"
)

// Store is what the desk needs from its store.
type Store interface {
	CreateTicket(ctx context.Context, n wire.NewTicket, by string, now time.Time) (wire.Ticket, bool, error)
	GetTicket(ctx context.Context, id int64) (wire.Ticket, error)
	ListTickets(ctx context.Context, f store.Filter) ([]wire.Ticket, error)
	SaveGatewayStatus(ctx context.Context, st wire.GatewayStatus, token string, received time.Time) error
	GatewayStatuses(ctx context.Context, site string) ([]store.GatewayHeard, error)
	Transition(ctx context.Context, id int64, c ticket.Change, actor string, now time.Time) (wire.Ticket, error)
	UpdateTicket(ctx context.Context, id int64, u store.TicketUpdate, actor string, now time.Time) (wire.Ticket, error)
	Audit(ctx context.Context, id int64) ([]ticket.AuditEntry, error)
	AddComment(ctx context.Context, id int64, author, kind, body string, now time.Time) (ticket.Comment, error)
	Comments(ctx context.Context, id int64) ([]ticket.Comment, error)
	PutUnit(ctx context.Context, u store.Unit) error
	GetUnit(ctx context.Context, site, unit string) (store.Unit, error)
	HouseholdImporter
	OwnerStore
	AddReminder(ctx context.Context, r store.Reminder) (store.Reminder, error)
	Reminders(ctx context.Context, ticketID int64) ([]store.Reminder, error)
	TopUps(ctx context.Context, site string, now time.Time) ([]store.TopUp, error)
	MissDeadlines(ctx context.Context, now time.Time, limit int) ([]store.Missed, error)
	Events(ctx context.Context, afterID int64, site string, limit int) ([]store.Event, error)
	LastEventID(ctx context.Context) (int64, error)
	ClaimNotifications(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]store.Notification, error)
	MarkSent(ctx context.Context, id int64, now time.Time) error
	MarkFailed(ctx context.Context, id int64, reason string, retryAt time.Time) error
	CreateSession(ctx context.Context, tokenHash string, sess store.Session, now, expires time.Time) error
	Session(ctx context.Context, tokenHash string, now time.Time) (store.Session, error)
	DeleteSession(ctx context.Context, tokenHash string) error
	ClaimIdempotencyKey(ctx context.Context, principal, key, request string, now time.Time) (store.SavedResponse, bool, error)
	SaveIdempotentResponse(ctx context.Context, principal, key string, r store.SavedResponse) error
	ReleaseIdempotencyKey(ctx context.Context, principal, key string) error
	MonthlyReport(ctx context.Context, site string, from, to time.Time) (store.Report, error)
	Prune(ctx context.Context, now time.Time) (int64, error)
	ApplyAlarmAction(ctx context.Context, a wire.AlarmAction, by store.Caller, now time.Time) (wire.AlarmActionResult, error)
	ListNotes(ctx context.Context, id int64) ([]ticket.Note, error)
	AckAlarm(ctx context.Context, site, key string, since time.Time, by string, now time.Time) (store.LoggedAlarm, error)
	AlarmLog(ctx context.Context, site string, from time.Time) ([]store.LoggedAlarm, error)
	Ping(ctx context.Context) error
	// Areas, the access log and SMS reminders (privacy.go).
	PrivacyStore
}

// eventListener is a store that several desks share and that announces
// every desk's events (PostgreSQL LISTEN/NOTIFY): store.ListenEvents.
type eventListener interface {
	ListenEvents(ctx context.Context, wake func(id int64)) error
}

// Option adjusts a Server.
type Option func(*Server)

// WithClock replaces the wall clock (tests of deadlines and sessions).
func WithClock(now func() time.Time) Option { return func(s *Server) { s.now = now } }

// WithLocation gives each site's time zone (monthly reports).
func WithLocation(loc func(site string) *time.Location) Option {
	return func(s *Server) { s.location = loc }
}

// WithSiteNames gives sites' display names (site.name of the gateway's
// configuration) for the sites desk.sites does not name.
func WithSiteNames(names map[string]string) Option {
	return func(s *Server) { s.siteNames = names }
}

// MetricsHandler serves reg in Prometheus' text format. Nothing is taken from
// the default registry: every part registers on the registry it is given
// (app.NewRegistry adds the Go runtime's and the process's collectors).
func MetricsHandler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}

// WithRegistry registers the desk's metrics on reg and serves reg at /metrics
// (the demo passes the process's one registry, so the gateway's show there too).
func WithRegistry(reg *prometheus.Registry) Option { return func(s *Server) { s.reg = reg } }

// WithHTTPClient sets the client that delivers notifications.
func WithHTTPClient(c *http.Client) Option { return func(s *Server) { s.client = c } }

// Server is the desk's HTTP server and its background work.
type Server struct {
	echo    *echo.Echo
	store   Store
	cfg     deskconfig.Config
	log     *slog.Logger
	now     func() time.Time
	auth    *authenticator
	hub     *hub
	feed    *feed
	client  *http.Client
	senders map[string]deskconfig.Channel
	// location is a site's time zone; nil: desk.sites, else UTC.
	location func(site string) *time.Location
	// siteNames are display names of sites beyond desk.sites' own.
	siteNames map[string]string
	// history reads telemetry back from InfluxDB for the consoles; nil: none.
	history History
	// mentions says whom group-robot messages @mention (notifytext.go).
	mentions MentionSource
	// reg holds the desk's metrics and is what /metrics serves.
	reg     *prometheus.Registry
	metrics *metrics
	// duty is the control room's shifts, duty log and keys (duty.go); nil
	// without a SQL store.
	duty *shift.Service
	// sms are the sites' text-message channels (smsreminders.go).
	sms       map[string]smsChannel
	smsClient *http.Client
	// rounds runs the inspection rounds (rounds_api.go); nil when the store keeps none.
	rounds *rounds.Service
	// plant is the equipment register and maintenance (plant.go); nil on
	// stores without them. workingDays is each site's calendar.
	plant       *plant
	workingDays func(site string) maintenance.WorkingDays
}

// New builds the desk on a store with the configured tokens, staff and channels.
func New(cfg deskconfig.Config, st Store, log *slog.Logger, opts ...Option) *Server {
	cfg.ApplyDefaults() // a desk built in a test from a bare Config has every bound too
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	s := &Server{echo: e, store: st, cfg: cfg, log: log, now: time.Now, hub: newHub(),
		client: &http.Client{Timeout: 10 * time.Second}, senders: map[string]deskconfig.Channel{}}
	s.mentions = rosterMentions{s}
	for _, o := range opts {
		o(s)
	}
	s.feed = newFeed(st, s.hub)
	s.plant = newPlant(st)
	if s.reg == nil {
		s.reg = prometheus.NewRegistry()
	}
	s.metrics = newMetrics(s.reg)
	s.newDuty()
	if s.plant != nil {
		s.plant.registerMetrics(s.reg)
	}
	for _, ch := range cfg.Channels {
		s.senders[ch.Name] = ch
	}
	s.auth = newAuthenticator(cfg, st, func() time.Time { return s.now() })
	s.sms = s.newSMSChannels()
	s.newRounds()
	e.HTTPErrorHandler = s.handleError
	// The peer's address, or X-Forwarded-For as far as it was written by
	// trusted proxies only: a client must not choose the address that the
	// login limits count.
	e.IPExtractor = ipExtractor(cfg.TrustedProxies)
	// Headers first, so that every answer has them (errors included); the
	// body is bounded before anyone (authentication included) reads it.
	e.Use(middleware.RequestID(), s.logRequests, securityHeaders, cleanParams, limitBody)

	e.GET("/healthz", s.health)
	e.GET("/metrics", echo.WrapHandler(MetricsHandler(s.reg)))
	e.GET("/api/v1/openapi.json", serveOpenAPI)
	e.POST("/api/v1/login", s.login)

	api := e.Group("/api/v1", s.auth.authenticate, s.idempotent)
	for _, r := range routes(s) {
		api.Add(r.method, r.path, r.handler, allow(r.roles...))
	}
	// The console: every other path is its single page.
	e.GET("/*", echo.WrapHandler(web.Handler()))
	return s
}

// Handler is the desk's HTTP handler, for tests and embedding.
func (s *Server) Handler() http.Handler { return s.echo }

// Run serves on the configured address and runs the deadline scheduler and
// the notification sender until ctx ends, then shuts down gracefully. ready,
// if not nil, receives nil once the listener is bound, or the error.
func (s *Server) Run(ctx context.Context, ready chan<- error) error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		err = fmt.Errorf("desk: listen on %s: %w (is another desk or program using the port?)", s.cfg.Listen, err)
		if ready != nil {
			ready <- err
		}
		return err
	}
	if ready != nil {
		ready <- nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() { s.runScheduler(ctx) })
	wg.Go(func() { s.runNotifier(ctx) })
	if s.duty != nil {
		wg.Go(func() { s.duty.Run(ctx, s.cfg.EscalationInterval) })
	}
	wg.Go(func() { s.runReceipts(ctx) })
	wg.Go(func() { s.runRounds(ctx) })
	wg.Go(func() { s.runMaintenance(ctx) })
	if l, ok := s.store.(interface{ OnListenError(func(error)) }); ok {
		l.OnListenError(func(err error) {
			s.log.Warn("event listener lost its connection; streams poll every 2 s until it is back", "err", err)
		})
	}
	if l, ok := s.store.(eventListener); ok {
		// Other desks on the same PostgreSQL announce their events: the
		// streams here wake at once instead of at their next poll.
		wg.Go(func() {
			if err := l.ListenEvents(ctx, func(int64) { s.metrics.eventWakeUps.Inc(); s.hub.publish() }); err != nil {
				s.log.Error("event listener", "err", err)
			}
		})
	}
	defer wg.Wait()

	// Every phase of a connection is bounded, so that slow clients (a body
	// sent a byte a minute to /login) cannot hold connections open. The event
	// stream lifts its own read and write deadlines (events.go).
	srv := &http.Server{Handler: s.echo, ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout: s.cfg.ReadTimeout, WriteTimeout: s.cfg.WriteTimeout, IdleTimeout: s.cfg.IdleTimeout,
		BaseContext: func(net.Listener) context.Context { return ctx }}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	s.log.Info("desk listening", "addr", ln.Addr().String())
	select {
	case err := <-done:
		return fmt.Errorf("desk: %w", err)
	case <-ctx.Done():
	}
	cancel() // ends event streams so that Shutdown need not wait for them
	shutdownCtx, stop := context.WithTimeout(context.Background(), 5*time.Second)
	defer stop()
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
	// Field names the request field at fault, where there is one.
	Field string `json:"field,omitempty"`
	// Allowed lists the lifecycle actions allowed instead of a refused one.
	Allowed []ticket.Action `json:"allowed,omitempty"`
}

func apiError(code int, msg, hint string) error {
	return echo.NewHTTPError(code, apiErr{Error: msg, Hint: hint})
}

func fieldError(field, msg string) error {
	return echo.NewHTTPError(http.StatusUnprocessableEntity, apiErr{Error: field + ": " + msg, Field: field})
}

func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	code, body := http.StatusInternalServerError, apiErr{Error: "internal error", Hint: "see the desk log (request " + requestID(c) + ")"}
	var he *echo.HTTPError
	var te *ticket.TransitionError
	var ie *ticket.InputError
	var xe *store.IncidentError
	switch {
	case errors.As(err, &he):
		code = he.Code
		switch m := he.Message.(type) {
		case apiErr:
			body = m
		case string:
			body = apiErr{Error: m}
		default:
			body = apiErr{Error: http.StatusText(code)}
		}
	case errors.As(err, &te):
		code, body = http.StatusConflict, apiErr{Error: te.Error(), Allowed: te.Allowed}
		if body.Allowed == nil {
			body.Allowed = []ticket.Action{}
		}
	case errors.As(err, &ie):
		code, body = http.StatusUnprocessableEntity, apiErr{Error: ie.Error(), Field: ie.Field}
	case errors.As(err, &xe):
		code, body = xe.Status, apiErr{Error: xe.Msg}
	case errors.Is(err, store.ErrIncidentReport):
		code, body = http.StatusConflict, apiErr{Error: err.Error(), Field: "incident_report", Hint: "write the incident report (GET/PUT /tickets/{id}/incident); a manager approves it"}
	case errors.Is(err, store.ErrConflict):
		code, body = http.StatusConflict, apiErr{Error: err.Error()}
	case errors.Is(err, store.ErrNotFound):
		code, body = http.StatusNotFound, apiErr{Error: "not found"}
	}
	if code >= 500 {
		s.log.Error("desk request failed", "request_id", requestID(c), "method", c.Request().Method, "path", c.Path(), "err", err)
	}
	_ = c.JSON(code, body)
}

func requestID(c echo.Context) string { return c.Response().Header().Get(echo.HeaderXRequestID) }

// logRequests logs every API call at debug with its request id, principal and
// outcome; never a token or a password.
func (s *Server) logRequests(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		s.log.Debug("request", "request_id", requestID(c), "method", c.Request().Method, "path", c.Path(),
			"status", c.Response().Status, "by", principal(c).Name, "took", time.Since(start))
		return nil
	}
}

func (s *Server) health(c echo.Context) error {
	if err := s.store.Ping(c.Request().Context()); err != nil {
		return apiError(http.StatusServiceUnavailable, "store unavailable", err.Error())
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// decode reads a JSON body strictly: unknown fields, wrong types, trailing
// data and over-long bodies are 400s that name the field.
func decode(c echo.Context, v any) error {
	body, err := io.ReadAll(io.LimitReader(c.Request().Body, maxBody+1))
	if err != nil {
		return apiError(http.StatusBadRequest, "cannot read the body", err.Error())
	}
	if len(body) > maxBody {
		return apiError(http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is larger than %d bytes", maxBody), "")
	}
	ct := c.Request().Header.Get(echo.HeaderContentType)
	if !strings.HasPrefix(ct, echo.MIMEApplicationJSON) {
		return apiError(http.StatusUnsupportedMediaType, "the body must be JSON", "send Content-Type: application/json")
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	err = dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("data after the JSON value")
	}
	if err == nil {
		return nil
	}
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		return echo.NewHTTPError(http.StatusBadRequest, apiErr{Error: fmt.Sprintf("%s: must be %s, not %s", typeErr.Field, jsonType(typeErr.Type.Kind().String()), typeErr.Value),
			Field: typeErr.Field, Hint: "the body is not a valid request in JSON"})
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return echo.NewHTTPError(http.StatusBadRequest, apiErr{Error: field + ": unknown field", Field: field,
			Hint: "the body is not a valid request in JSON; see /api/v1/openapi.json"})
	case errors.As(err, &syntaxErr), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return apiError(http.StatusBadRequest, "the body is not a valid request in JSON", err.Error())
	}
	return apiError(http.StatusBadRequest, "the body is not a valid request in JSON", err.Error())
}

func jsonType(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "int", "int64", "int32", "float64", "uint", "uint64":
		return "a number"
	case "bool":
		return "true or false"
	case "struct", "map":
		return "an object"
	case "slice":
		return "a list"
	}
	return kind
}

func pathID(c echo.Context) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id < 1 {
		return 0, apiError(http.StatusBadRequest, "ticket id must be a positive number", "")
	}
	return id, nil
}
