package desk

import (
	"bytes"
	"context"
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
// different request is a 422; a key of another caller (another token or
// account, or the same name on another site) is another key; while the first
// request with a key is being answered, others with it are 409. Answers of
// 5xx and of refused credentials are not saved: those requests may be
// retried for real.
func (s *Server) idempotent(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		key := c.Request().Header.Get("Idempotency-Key")
		if c.Request().Method != http.MethodPost || key == "" {
			return next(c)
		}
		if len(key) > 200 {
			return echo.NewHTTPError(http.StatusBadRequest, apiErr{Error: "Idempotency-Key: at most 200 characters", Field: "Idempotency-Key"})
		}
		// limitBody has read the body whole within the route's limit.
		body, err := io.ReadAll(io.LimitReader(c.Request().Body, bodyLimit(c.Path())+1))
		if err != nil {
			return apiError(http.StatusBadRequest, "cannot read the body", err.Error())
		}
		c.Request().Body = io.NopCloser(bytes.NewReader(body))
		sum := sha256.Sum256(body)
		fingerprint := c.Request().Method + " " + c.Request().URL.Path + " " + hex.EncodeToString(sum[:])
		who := principal(c).identity()
		ctx := c.Request().Context()
		// The key is claimed before the handler acts, so that of parallel
		// requests with one key exactly one acts (issue 20: 50 parallel
		// comments with one key stored up to 4).
		saved, claimed, err := s.store.ClaimIdempotencyKey(ctx, who, key, fingerprint, s.now())
		switch {
		case errors.Is(err, store.ErrInProgress):
			c.Response().Header().Set("Retry-After", "1")
			return echo.NewHTTPError(http.StatusConflict, apiErr{Error: "Idempotency-Key: a request with this key is still being answered",
				Field: "Idempotency-Key", Hint: "retry in a moment to get its answer"})
		case err != nil:
			return err
		case !claimed && saved.Request != fingerprint:
			return echo.NewHTTPError(http.StatusUnprocessableEntity, apiErr{Error: "Idempotency-Key: already used for a different request",
				Field: "Idempotency-Key", Hint: "use a new key for each new request"})
		case !claimed:
			c.Response().Header().Set("Idempotent-Replayed", "true")
			return c.JSONBlob(saved.Status, []byte(saved.Body))
		}
		rec := &recorder{ResponseWriter: c.Response().Writer}
		c.Response().Writer = rec
		if err := next(c); err != nil {
			c.Error(err)
		}
		// Answered, or given up, even when the client has gone.
		ctx = context.WithoutCancel(ctx)
		status := c.Response().Status
		if status >= 500 || status == http.StatusUnauthorized || status == http.StatusForbidden || status == http.StatusTooManyRequests {
			if err := s.store.ReleaseIdempotencyKey(ctx, who, key); err != nil {
				s.log.Error("idempotency key not released", "err", err, "request_id", requestID(c))
			}
			return nil
		}
		if err := s.store.SaveIdempotentResponse(ctx, who, key, store.SavedResponse{Request: fingerprint, Status: status, Body: rec.body.String()}); err != nil {
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
