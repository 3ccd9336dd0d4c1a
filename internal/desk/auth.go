package desk

import (
	"crypto/sha256"
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/estatehq/estate/internal/config"
)

// Roles of desk callers.
const (
	RoleAdmin       = "admin"
	RoleEngineer    = "engineer"
	RoleControlRoom = "control_room"
	RoleAssistant   = "assistant"
	RoleGateway     = "gateway"
)

// Principal is who is calling.
type Principal struct {
	Name string
	Role string
	// Site is set for gateway tokens: they may act on that site only.
	Site string
}

// SiteAllowed reports whether the caller may see or touch a site's tickets.
func (p Principal) SiteAllowed(site string) bool { return p.Site == "" || p.Site == site }

// tokens maps the SHA-256 of each secret to its principal, so that the secrets
// themselves are not kept in memory longer than configuration loading.
type tokens map[[32]byte]Principal

func newTokens(cfg []config.Token) tokens {
	t := tokens{}
	for _, c := range cfg {
		t[sha256.Sum256([]byte(c.Token))] = Principal{Name: c.Name, Role: c.Role, Site: c.Site}
	}
	return t
}

const principalKey = "estate.principal"

// authenticate requires "Authorization: Bearer <token>" on every call.
func (t tokens) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Request().Header.Get(echo.HeaderAuthorization)
		secret, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || secret == "" {
			c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="estate"`)
			return apiError(http.StatusUnauthorized, "missing bearer token",
				"send the header 'Authorization: Bearer <token>' with a token from the desk configuration")
		}
		p, known := t[sha256.Sum256([]byte(secret))]
		if !known {
			c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="estate", error="invalid_token"`)
			return apiError(http.StatusUnauthorized, "unknown token", "check the token against the desk configuration")
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
					"ask an administrator for a token of role "+strings.Join(roles, " or "))
			}
			return next(c)
		}
	}
}

func principal(c echo.Context) Principal {
	p, _ := c.Get(principalKey).(Principal)
	return p
}
