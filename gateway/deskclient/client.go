// Package deskclient is the gateway's side of the desk API. Gateways call the
// desk, never the reverse: they sit behind NAT on the estates' networks.
package deskclient

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/estatehq/estate/internal/wire"
)

// Client calls one desk with one gateway token.
type Client struct {
	base  string
	token string
	http  *http.Client
}

// New returns a client for the desk at base (http://host:port).
func New(base, token string) *Client {
	return &Client{base: strings.TrimRight(base, "/"), token: token, http: &http.Client{Timeout: 10 * time.Second}}
}

// StatusError is a desk answer other than success.
type StatusError struct {
	Code int
	Msg  string
}

func (e *StatusError) Error() string { return fmt.Sprintf("desk answered %d: %s", e.Code, e.Msg) }

// HTTPStatus is the desk's status code (the outbox tells refusals of one
// action from outages by it).
func (e *StatusError) HTTPStatus() int { return e.Code }

// Permanent reports whether retrying the same request cannot succeed: the desk
// refused its content. Auth failures are not permanent: an operator fixes the
// token and the outbox then delivers.
func (e *StatusError) Permanent() bool {
	return e.Code >= 400 && e.Code < 500 && e.Code != 401 && e.Code != 403 && e.Code != 408 && e.Code != 429
}

// ApplyAlarmAction sends one alarm action (open, note, clear) to the desk,
// which applies each idempotency key once.
func (c *Client) ApplyAlarmAction(ctx context.Context, a wire.AlarmAction) (wire.AlarmActionResult, error) {
	var res wire.AlarmActionResult
	if a.Action == wire.ActionVisit && a.Visit != nil {
		// A patrol reader's visit goes to the desk's rounds.
		var vr wire.CheckpointVisitResult
		err := c.post(ctx, "/api/v1/rounds/reader-visits", a.Visit, &vr)
		res.Replayed = vr.Replayed || vr.Repeat
		return res, err
	}
	err := c.post(ctx, "/api/v1/alarm-actions", a, &res)
	return res, err
}

func (c *Client) post(ctx context.Context, path string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("encode request: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("desk request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("desk %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("desk %s: read answer: %w", c.base, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		var e struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(data, &e)
		if e.Error == "" {
			e.Error = http.StatusText(resp.StatusCode)
		}
		return &StatusError{Code: resp.StatusCode, Msg: e.Error}
	}
	if out == nil || len(data) == 0 { // an answer without a body (204), or one the caller ignores
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("desk %s: unexpected answer to %s: %w", c.base, path, err)
	}
	return nil
}

// OpenTicket opens a ticket, or returns the open ticket that already holds the
// same alarm key.
func (c *Client) OpenTicket(ctx context.Context, n wire.NewTicket) (wire.Ticket, error) {
	var t wire.Ticket
	err := c.post(ctx, "/api/v1/tickets", n, &t)
	return t, err
}
