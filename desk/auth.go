package desk

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
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
// phones everywhere: the front desk and managers call residents; what
// engineers, the control room and gateways see is in privacy.go.
func (p Principal) SeesContacts() bool { return seesAll(p.Role) }

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
	// dummy is compared against for unknown names (constant-time refusal).
	dummy []byte
	// compare is bcrypt.CompareHashAndPassword (tests of the limits count
	// comparisons instead of waiting for them).
	compare func(hash, password []byte) error
	// checked is when each streaming session was last found valid (stillValid).
	checkedMu sync.Mutex
	checked   map[string]sessionCheck
}

func newAuthenticator(cfg deskconfig.Config, st Store, now func() time.Time) *authenticator {
	a := &authenticator{tokens: map[[32]byte]Principal{}, staff: map[string]deskconfig.Staff{}, store: st, now: now, ttl: cfg.SessionTTL,
		compare: bcrypt.CompareHashAndPassword, checked: map[string]sessionCheck{}}
	if a.ttl == 0 {
		a.ttl = 12 * time.Hour
	}
	attempts, window := cfg.LoginAttempts, cfg.LoginWindow
	if attempts == 0 {
		attempts, window = 5, 15*time.Minute
	}
	a.limiter = newLoginLimiter(attempts, window)
	// Several desks on one PostgreSQL count failures together in it; one
	// desk on SQLite keeps them in memory.
	if sh, ok := st.(sharedLimits); ok && isShared(st) {
		a.limiter = newLoginLimiterOn(attempts, window, sharedFailures{st: sh})
	}
	for _, c := range cfg.Tokens {
		a.tokens[sha256.Sum256([]byte(c.Token))] = Principal{Name: c.Name, Role: c.Role, Site: c.Site}
	}
	cost := bcrypt.DefaultCost
	for _, s := range cfg.Staff {
		a.staff[s.Name] = s
		if c, err := bcrypt.Cost([]byte(s.PasswordHash)); err == nil && c > cost {
			cost = c
		}
	}
	a.dummy = dummyHash(cost)
	return a
}

// isShared reports whether the store is one that several desks share
// (PostgreSQL): what must hold across desks is then kept in it.
func isShared(st Store) bool {
	d, ok := st.(interface{ Dialect() string })
	return ok && d.Dialect() == store.PostgresDialect
}

// fingerprint identifies a password hash without revealing it: a session
// records it at login and ends when the configured hash no longer matches
// (a new password, or the account removed).
func fingerprint(passwordHash string) string {
	sum := sha256.Sum256([]byte("estate session\x00" + passwordHash))
	return hex.EncodeToString(sum[:16])
}

// session returns the principal of a live console session by the SHA-256 of
// its token: the session must exist and not be expired, and its user must
// still be configured with the password hash it logged in with.
func (a *authenticator) session(ctx context.Context, tokenHash string) (Principal, error) {
	sess, err := a.store.Session(ctx, tokenHash, a.now())
	if err != nil {
		return Principal{}, err
	}
	s, known := a.staff[sess.Staff]
	if !known || subtle.ConstantTimeCompare([]byte(fingerprint(s.PasswordHash)), []byte(sess.Fingerprint)) != 1 {
		return Principal{}, store.ErrNotFound
	}
	return Principal{Name: s.Name, Role: s.Role, Site: s.Site, session: tokenHash}, nil
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
		p, err := a.session(c.Request().Context(), hex.EncodeToString(sum[:]))
		if errors.Is(err, store.ErrNotFound) {
			c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="estate", error="invalid_token"`)
			return apiError(http.StatusUnauthorized, "unknown or expired token", "check the token against the desk configuration, or log in again")
		}
		if err != nil {
			return err
		}
		c.Set(principalKey, p)
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

// dummyHash is what an unknown name's password is compared against, so that
// refusing an unknown name takes as long as refusing a known one. It has the
// highest cost among the configured hashes: precomputed for the usual costs,
// computed once at start-up for a higher one.
func dummyHash(cost int) []byte {
	if h, ok := dummyHashes[max(cost, bcrypt.DefaultCost)]; ok {
		return []byte(h)
	}
	h, err := bcrypt.GenerateFromPassword([]byte("not a password of anyone"), cost)
	if err != nil {
		return []byte(dummyHashes[bcrypt.DefaultCost])
	}
	return h
}

// dummyHashes are bcrypt hashes, by cost, of a phrase nobody uses as a password.
var dummyHashes = map[int]string{
	10: "$2a$10$LSyQHFE7OWbG2nRnx9FK8ux7AqjIThFPo9krD.hzQYkcVQ/qG.b76",
	11: "$2a$11$tE1e146Fo2ZCTwoVJ943yOvV2Z17d3UeB75N90AT23Y3ee7lp2mva",
	12: "$2a$12$PiPo/i8DjrVesmXy6a52p.D9wwc8qFPMY5nTu6H6JK6k6vO5jm4SO",
}

// Bounds of a login request: names are identifiers (desk.staff[].name);
// bcrypt reads 72 bytes of a password, more is refused as wrong.
const (
	maxLoginName     = 64
	maxPasswordBytes = 72
	logNameBytes     = 64
)

type loginRequest struct {
	Name     string `json:"name"`
	Password string `json:"password"`
}

func (s *Server) login(c echo.Context) error {
	var req loginRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	// An over-long name is no one's: refused before it costs a bcrypt
	// comparison, a limiter entry or a log line of its size.
	if len(req.Name) > maxLoginName {
		return fieldError("name", fmt.Sprintf("longer than %d bytes", maxLoginName))
	}
	if len(req.Password) > 1024 {
		return fieldError("password", "longer than 1024 bytes")
	}
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	a := s.auth
	addr := c.RealIP()
	ctx := c.Request().Context()
	wait, err := a.limiter.blocked(ctx, req.Name, addr, a.now())
	if err != nil {
		return err
	}
	if wait > 0 {
		s.metrics.logins.WithLabelValues("rate_limited").Inc()
		c.Response().Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
		return apiError(http.StatusTooManyRequests, "too many failed logins", "wait before trying again")
	}
	staff, known := a.staff[req.Name]
	hash := a.dummy
	if known {
		hash = []byte(staff.PasswordHash)
	}
	// The comparison runs whatever the name, so that the answer takes as long.
	err = a.compare(hash, []byte(req.Password))
	if err != nil || !known || len(req.Password) > maxPasswordBytes {
		if err := a.limiter.fail(ctx, req.Name, addr, a.now()); err != nil {
			return err
		}
		s.metrics.logins.WithLabelValues("bad_password").Inc()
		s.log.Warn("login refused", "name", clip(req.Name, logNameBytes), "addr", addr, "request_id", requestID(c))
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
	sess := store.Session{Staff: staff.Name, Fingerprint: fingerprint(staff.PasswordHash)}
	if err := s.store.CreateSession(ctx, hex.EncodeToString(sum[:]), sess, now, expires); err != nil {
		return err
	}
	if err := a.limiter.succeed(ctx, req.Name, addr); err != nil {
		s.log.Error("login limits: forget failures", "err", err, "request_id", requestID(c))
	}
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
	s.auth.forgetChecked(p.session) // this desk's streams of the session end at their next wake-up
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
