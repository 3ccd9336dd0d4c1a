package desk

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/estatehq/estate/desk/store"
)

// idempotent replays the saved answer of a POST that carries an
// Idempotency-Key the same caller already used for the same request, so that
// a client retrying after a lost answer does not act twice. The same key on a
// different request is a 422. Answers of 5xx and of refused credentials are
// not saved: those requests may be retried for real.
func (s *Server) idempotent(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		key := c.Request().Header.Get("Idempotency-Key")
		if c.Request().Method != http.MethodPost || key == "" {
			return next(c)
		}
		if len(key) > 200 {
			return echo.NewHTTPError(http.StatusBadRequest, apiErr{Error: "Idempotency-Key: at most 200 characters", Field: "Idempotency-Key"})
		}
		body, err := io.ReadAll(io.LimitReader(c.Request().Body, maxBody+1))
		if err != nil {
			return apiError(http.StatusBadRequest, "cannot read the body", err.Error())
		}
		c.Request().Body = io.NopCloser(bytes.NewReader(body))
		sum := sha256.Sum256(body)
		fingerprint := c.Request().Method + " " + c.Request().URL.Path + " " + hex.EncodeToString(sum[:])
		p := principal(c)
		ctx := c.Request().Context()
		saved, err := s.store.IdempotentResponse(ctx, p.Name, key)
		switch {
		case err == nil && saved.Request != fingerprint:
			return echo.NewHTTPError(http.StatusUnprocessableEntity, apiErr{Error: "Idempotency-Key: already used for a different request",
				Field: "Idempotency-Key", Hint: "use a new key for each new request"})
		case err == nil:
			c.Response().Header().Set("Idempotent-Replayed", "true")
			return c.JSONBlob(saved.Status, []byte(saved.Body))
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
		rec := &recorder{ResponseWriter: c.Response().Writer}
		c.Response().Writer = rec
		if err := next(c); err != nil {
			c.Error(err)
		}
		status := c.Response().Status
		if status >= 500 || status == http.StatusUnauthorized || status == http.StatusForbidden || status == http.StatusTooManyRequests {
			return nil
		}
		if err := s.store.SaveIdempotentResponse(ctx, p.Name, key, store.SavedResponse{Request: fingerprint, Status: status, Body: rec.body.String()}, s.now()); err != nil {
			s.log.Error("idempotency key not saved", "err", err, "request_id", requestID(c))
		}
		return nil
	}
}

// recorder keeps a copy of what a handler writes.
type recorder struct {
	http.ResponseWriter
	body bytes.Buffer
}

func (r *recorder) Write(b []byte) (int, error) {
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}

func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
