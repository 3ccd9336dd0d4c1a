package desk

// The desk's bounds: what one request may cost it. Bodies are read whole (up
// to a limit per route) before anything else looks at them, strings and times
// are range-checked before they reach the store, and every answer carries the
// headers that keep the console's pages and the API's personal data out of
// frames, caches and other origins.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/estatehq/estate/internal/wire"
)

// maxBody is the default limit of a request body: every request of the API
// is a small JSON object.
const maxBody = 1 << 20

// routeBodyLimits are the routes that need more than maxBody, by route path.
// A heartbeat lists every device of a gateway and its alarms (about 1 kB
// each): 4 MiB is a few thousand devices.
var routeBodyLimits = map[string]int64{
	"/api/v1/gateways/heartbeat": 4 << 20,
	// A login is a name and a password: nothing near a kilobyte.
	"/api/v1/login": 4 << 10,
	// A households file (CSV or XLSX) of a large estate.
	"/api/v1/households/:site/import": maxImportBody,
	"/api/v1/equipment/:site/import":  maxImportBody,
}

// rawBodyRoutes take a file, not JSON: a NUL escape means nothing in them
// (an XLSX is a zip whose bytes may spell one); they check their own text.
var rawBodyRoutes = map[string]bool{"/api/v1/households/:site/import": true, "/api/v1/equipment/:site/import": true}

func bodyLimit(path string) int64 {
	if l, ok := routeBodyLimits[path]; ok {
		return l
	}
	return maxBody
}

// limitBody refuses a body over the route's limit with 413 and reads the body
// whole otherwise, so that handlers that bind it (and the idempotency check)
// see either all of it or none: a body cut off by the limit never reaches a
// decoder that would call it bad JSON, or worse, accept a prefix. An
// announced Content-Length over the limit is refused before reading a byte.
func limitBody(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		if req.Body == nil || req.Body == http.NoBody {
			return next(c)
		}
		limit := bodyLimit(c.Path())
		if req.ContentLength > limit {
			return tooLarge(limit)
		}
		body, err := io.ReadAll(http.MaxBytesReader(c.Response(), req.Body, limit))
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			return tooLarge(limit)
		case err != nil:
			// A client that stops sending (ReadTimeout) or goes away.
			return apiError(http.StatusBadRequest, "cannot read the body", err.Error())
		}
		if !rawBodyRoutes[c.Path()] && hasNULEscape(body) {
			return apiError(http.StatusBadRequest, "the body holds a NUL character (\\u0000) in a string", "no name, note or id has one")
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.ContentLength = int64(len(body))
		return next(c)
	}
}

// hasNULEscape reports whether a JSON text holds the escape \u0000, the only
// way a NUL gets into a JSON string (a raw NUL byte is not JSON). The store
// cannot keep one (PostgreSQL refuses it in text). An escape is a backslash
// preceded by an even number of backslashes: in "\\u0000" the text is a
// backslash and "u0000", not a NUL.
func hasNULEscape(body []byte) bool {
	for i := 0; ; {
		j := bytes.Index(body[i:], []byte(`u0000`))
		if j < 0 {
			return false
		}
		at := i + j
		n := 0
		for k := at - 1; k >= 0 && body[k] == '\\'; k-- {
			n++
		}
		if n%2 == 1 {
			return true
		}
		i = at + 1
	}
}

func tooLarge(limit int64) error {
	return apiError(http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is larger than %d bytes", limit), "")
}

// securityHeaders are set on every answer. The console is one page that loads
// its own script and style sheet and talks to its own origin only; nothing
// may frame it (clickjacking of ticket actions) or sniff a JSON answer into
// a script. API answers carry residents' names and phones and session
// tokens: no cache, shared or private, keeps them.
func securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
			"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		if strings.HasPrefix(c.Request().URL.Path, "/api/") {
			h.Set(echo.HeaderCacheControl, "no-store")
		}
		return next(c)
	}
}

// cleanParams refuses a query or path parameter that is not valid UTF-8 or
// holds a NUL: the store cannot keep or compare such text (PostgreSQL refuses
// it; full-text search chokes on it), and no name, id or search term has one.
func cleanParams(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		for name, values := range c.QueryParams() {
			if !cleanText(name) {
				return badParam("query parameter name")
			}
			for _, v := range values {
				if !cleanText(v) {
					return badParam(name)
				}
			}
		}
		for i, v := range c.ParamValues() {
			if !cleanText(v) {
				name := "path"
				if names := c.ParamNames(); i < len(names) {
					name = names[i]
				}
				return badParam(name)
			}
		}
		return next(c)
	}
}

func cleanText(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }

func badParam(name string) error {
	return echo.NewHTTPError(http.StatusBadRequest, apiErr{Error: name + ": not valid UTF-8 text, or holds a NUL", Field: name})
}

// Times the desk keeps are Unix nanoseconds in an int64: they cannot hold a
// time after 2262-04-11 (it wraps to 1677 and an appointment in 9999 would
// be stored as 1816 and escalate at once). No time of a ticket is before
// 2000 either, so times before 2000 or from 2262 on are refused with a 422.
var (
	earliestTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	latestTime   = time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC)
)

// maxAppointmentAhead bounds an appointment from now: a visit is agreed for
// the coming days or months, not for a year away.
const maxAppointmentAhead = 366 * 24 * time.Hour

// checkTime refuses a time the desk cannot store faithfully.
func checkTime(field string, t time.Time) error {
	if t.Before(earliestTime) || t.After(latestTime) {
		return fieldError(field, fmt.Sprintf("%s is out of range (use a time from 2000 to 2261)", t.UTC().Format(time.RFC3339)))
	}
	return nil
}

// checkAppointment refuses an appointment out of range or more than
// maxAppointmentAhead from now. It may be in the past: a visit already made
// by arrangement is recorded after the fact.
func checkAppointment(field string, at *time.Time, now time.Time) error {
	if at == nil {
		return nil
	}
	if err := checkTime(field, *at); err != nil {
		return err
	}
	if at.After(now.Add(maxAppointmentAhead)) {
		return fieldError(field, "more than a year ahead; agree a visit within the coming year")
	}
	return nil
}

// Bounds of the strings of a heartbeat; the gateway's own identifiers are far shorter.
const (
	maxHeartbeatDevices = 10_000
	maxHeartbeatAlarms  = 10_000
	maxIDLen            = 128
	maxMessageLen       = 1000
)

// checkHeartbeat bounds every string of a heartbeat before it is stored and
// served back to every console.
func checkHeartbeat(st wire.GatewayStatus) error {
	if len(st.Devices) > maxHeartbeatDevices {
		return fieldError("devices", fmt.Sprintf("more than %d devices", maxHeartbeatDevices))
	}
	if len(st.Alarms) > maxHeartbeatAlarms {
		return fieldError("alarms", fmt.Sprintf("more than %d alarms", maxHeartbeatAlarms))
	}
	if err := checkHeartbeatMaintenance(st); err != nil {
		return err
	}
	type field struct {
		name, value string
		max         int
	}
	fields := []field{{"gateway", st.Gateway, 64}, {"site", st.Site, 64}}
	for i, d := range st.Devices {
		p := fmt.Sprintf("devices[%d].", i)
		fields = append(fields, field{p + "id", d.ID, maxIDLen}, field{p + "family", d.Family, 64}, field{p + "model", d.Model, maxIDLen},
			field{p + "building", d.Building, 64}, field{p + "floor", d.Floor, 64}, field{p + "unit", d.Unit, 64},
			field{p + "state", d.State, 32}, field{p + "last_error", d.LastError, maxMessageLen})
	}
	for i, a := range st.Alarms {
		p := fmt.Sprintf("alarms[%d].", i)
		fields = append(fields, field{p + "key", a.Key, 256}, field{p + "rule", a.Rule, maxIDLen}, field{p + "device", a.Device, maxIDLen},
			field{p + "building", a.Building, 64}, field{p + "unit", a.Unit, 64}, field{p + "source", a.Source, maxIDLen},
			field{p + "point", a.Point, maxIDLen}, field{p + "state", a.State, 32}, field{p + "severity", a.Severity, 32},
			field{p + "suppressed", a.Suppressed, maxMessageLen}, field{p + "message_zh", a.MessageZH, maxMessageLen},
			field{p + "message_en", a.MessageEN, maxMessageLen})
	}
	for _, f := range fields {
		if len(f.value) > f.max {
			return fieldError(f.name, fmt.Sprintf("longer than %d bytes", f.max))
		}
	}
	return nil
}

// clip shortens what is logged of a caller-supplied string: a refused login
// with a 200 kB name must not write 200 kB to the log.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// checkAlarmAction bounds what wire.AlarmAction.Validate leaves open: the
// alarm key of a note or a clear, and the times.
func checkAlarmAction(a wire.AlarmAction, now time.Time) error {
	if len(a.AlarmKey) > 256 {
		return fieldError("alarm_key", "longer than 256 bytes")
	}
	if !a.At.IsZero() {
		if err := checkTime("at", a.At); err != nil {
			return err
		}
	}
	if a.Ticket != nil {
		return checkAppointment("ticket.appointment_at", a.Ticket.AppointmentAt, now)
	}
	return nil
}
