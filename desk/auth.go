package desk

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/crypto/bcrypt"

	"github.com/estatehq/estate/desk/deskconfig"
	"github.com/estatehq/estate/desk/store"
)

// Roles of desk callers.
const (
	RoleAdmin       = "admin"
	RoleManager     = "manager"
	RoleEngineer    = "engineer"
	RoleControlRoom = "control_room"
	RoleAssistant   = "assistant"
	RoleGateway     = "gateway"
)

// Principal is who is calling.
type Principal struct {
	Name string
	Role string
	// Site is set for gateway tokens and site-bound staff: they may act on that site only.
	Site string
	// session is the SHA-256 of the console session token, for logout.
	session string
}

// SiteAllowed reports whether the caller may see or touch a site's tickets.
func (p Principal) SiteAllowed(site string) bool { return p.Site == "" || p.Site == site }

// identity names the caller for what is kept per caller (idempotency keys,
// the token a gateway id belongs to): whether it is an API token or a staff
// account, its name and its site, so that no two callers share one.
func (p Principal) identity() string {
	kind, site := "token", p.Site
	if p.session != "" {
		kind = "staff"
	}
	if site == "" {
		site = "*"
	}
	return kind + ":" + p.Name + "@" + site
}

// SeesContacts reports whether the caller is given residents' names and
// phones: the front desk and managers call residents; engineers and the
// control room work from the ticket, and gateways get nothing personal.
func (p Principal) SeesContacts() bool {
	switch p.Role {
	case RoleAdmin, RoleManager, RoleAssistant:
		return true
	}
	return false
}

// authenticator knows API tokens (by the SHA-256 of each secret, so that the
// secrets are not kept in memory past configuration loading), staff accounts
// and their sessions, and limits failed logins.
type authenticator struct {
	tokens  map[[32]byte]Principal
	staff   map[string]deskconfig.Staff
	store   Store
	now     func() time.Time
	ttl     time.Duration
	limiter *loginLimiter
}

func newAuthenticator(cfg deskconfig.Config, st Store, now func() time.Time) *authenticator {
	a := &authenticator{tokens: map[[32]byte]Principal{}, staff: map[string]deskconfig.Staff{}, store: st, now: now, ttl: cfg.SessionTTL,
		limiter: &loginLimiter{max: cfg.LoginAttempts, window: cfg.LoginWindow, failures: map[string][]time.Time{}}}
	if a.ttl == 0 {
		a.ttl = 12 * time.Hour
	}
	if a.limiter.max == 0 {
		a.limiter.max, a.limiter.window = 5, 15*time.Minute
	}
	for _, c := range cfg.Tokens {
		a.tokens[sha256.Sum256([]byte(c.Token))] = Principal{Name: c.Name, Role: c.Role, Site: c.Site}
	}
	for _, s := range cfg.Staff {
		a.staff[s.Name] = s
	}
	return a
}

const principalKey = "estate.principal"

// authenticate requires "Authorization: Bearer <token>" on every call: an API
// token from the configuration, or a console session from POST /api/v1/login.
func (a *authenticator) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Request().Header.Get(echo.HeaderAuthorization)
		secret, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || secret == "" {
			c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="estate"`)
			return apiError(http.StatusUnauthorized, "missing bearer token",
				"send the header 'Authorization: Bearer <token>' with a token from the desk configuration or from POST /api/v1/login")
		}
		sum := sha256.Sum256([]byte(secret))
		if p, known := a.tokens[sum]; known {
			c.Set(principalKey, p)
			return next(c)
		}
		hash := hex.EncodeToString(sum[:])
		name, err := a.store.SessionStaff(c.Request().Context(), hash, a.now())
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		s, known := a.staff[name]
		if err != nil || !known {
			c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="estate", error="invalid_token"`)
			return apiError(http.StatusUnauthorized, "unknown or expired token", "check the token against the desk configuration, or log in again")
		}
		c.Set(principalKey, Principal{Name: s.Name, Role: s.Role, Site: s.Site, session: hash})
		return next(c)
	}
}

// allow lets only the given roles through.
func allow(roles ...string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			p := principal(c)
			if !slices.Contains(roles, p.Role) {
				return apiError(http.StatusForbidden, "role "+p.Role+" may not do this",
					"ask an administrator for an account of role "+strings.Join(roles, " or "))
			}
			return next(c)
		}
	}
}

func principal(c echo.Context) Principal {
	p, _ := c.Get(principalKey).(Principal)
	return p
}

// dummyHash is compared against when the login name is unknown, so that the
// answer takes as long as for a known name with a wrong password.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("not a password of anyone"), bcrypt.DefaultCost)

type loginRequest struct {
	Name     string `json:"name"`
	Password string `json:"password"`
}

func (s *Server) login(c echo.Context) error {
	var req loginRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	a := s.auth
	key := req.Name + "|" + c.RealIP()
	if wait := a.limiter.blocked(key, a.now()); wait > 0 {
		s.metrics.logins.WithLabelValues("rate_limited").Inc()
		c.Response().Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
		return apiError(http.StatusTooManyRequests, "too many failed logins", "wait before trying again")
	}
	staff, known := a.staff[req.Name]
	hash := dummyHash
	if known {
		hash = []byte(staff.PasswordHash)
	}
	if err := bcrypt.CompareHashAndPassword(hash, []byte(req.Password)); err != nil || !known || len(req.Password) > 72 {
		a.limiter.fail(key, a.now())
		s.metrics.logins.WithLabelValues("bad_password").Inc()
		s.log.Warn("login refused", "name", req.Name, "addr", c.RealIP(), "request_id", requestID(c))
		return apiError(http.StatusUnauthorized, "wrong name or password", "")
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return err
	}
	token := hex.EncodeToString(raw)
	sum := sha256.Sum256([]byte(token))
	now := a.now()
	expires := now.Add(a.ttl)
	if err := s.store.CreateSession(c.Request().Context(), hex.EncodeToString(sum[:]), staff.Name, now, expires); err != nil {
		return err
	}
	a.limiter.reset(key)
	s.metrics.logins.WithLabelValues("ok").Inc()
	s.log.Info("login", "name", staff.Name, "role", staff.Role, "request_id", requestID(c))
	return c.JSON(http.StatusOK, map[string]any{"token": token, "expires_at": expires, "name": staff.Name, "role": staff.Role,
		"display_name": staff.DisplayName, "team": staff.Team})
}

func (s *Server) logout(c echo.Context) error {
	p := principal(c)
	if p.session == "" {
		return apiError(http.StatusBadRequest, "this is an API token, not a session", "API tokens are revoked by removing them from the configuration")
	}
	if err := s.store.DeleteSession(c.Request().Context(), p.session); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) me(c echo.Context) error {
	p := principal(c)
	out := map[string]any{"name": p.Name, "role": p.Role, "site": p.Site}
	if st, ok := s.auth.staff[p.Name]; ok && p.session != "" {
		out["display_name"], out["team"] = st.DisplayName, st.Team
	}
	return c.JSON(http.StatusOK, out)
}

// loginLimiter allows max failed logins per key (name and address) within a
// sliding window. It is per process: with several desks an attacker gets at
// most max attempts per desk per window.
type loginLimiter struct {
	mu       sync.Mutex
	max      int
	window   time.Duration
	failures map[string][]time.Time
}

func (l *loginLimiter) recent(key string, now time.Time) []time.Time {
	kept := l.failures[key][:0]
	for _, at := range l.failures[key] {
		if now.Sub(at) < l.window {
			kept = append(kept, at)
		}
	}
	if len(kept) == 0 {
		delete(l.failures, key)
		return nil
	}
	l.failures[key] = kept
	return kept
}

// blocked returns how long the key must wait, zero when it may try.
func (l *loginLimiter) blocked(key string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	recent := l.recent(key, now)
	if len(recent) < l.max {
		return 0
	}
	return l.window - now.Sub(recent[0])
}

func (l *loginLimiter) fail(key string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.failures) > 100_000 {
		// Bounded memory under a spray of names: forget everything rather than grow.
		l.failures = map[string][]time.Time{}
	}
	l.failures[key] = append(l.recent(key, now), now)
}

func (l *loginLimiter) reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.failures, key)
}
