package desk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/estatehq/estate/desk/store"
)

// hub wakes event streams when this process has written an event; events
// written by another desk on the same database are picked up by polling.
type hub struct {
	mu sync.Mutex
	ch chan struct{}
}

func newHub() *hub { return &hub{ch: make(chan struct{})} }

func (h *hub) publish() {
	h.mu.Lock()
	close(h.ch)
	h.ch = make(chan struct{})
	h.mu.Unlock()
}

func (h *hub) wait() <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.ch
}

const (
	eventBatch     = 200
	eventPoll      = 2 * time.Second  // for events written by other desk processes
	eventHeartbeat = 15 * time.Second // keeps proxies from closing an idle stream
)

// events streams ticket changes as Server-Sent Events. Each event's id is
// its row id: a console that reconnects with Last-Event-ID (or ?after=)
// receives everything it missed; without one, only what happens from now on.
// A site-bound caller gets its site's events only, history included; callers
// that do not call residents get tickets without residents' names and
// phones; the session is checked on every wake-up, poll and keep-alive, so
// the stream ends within one poll of a logout or an expiry.
func (s *Server) events(c echo.Context) error {
	ctx := c.Request().Context()
	p := principal(c)
	var after int64
	resume := c.Request().Header.Get("Last-Event-ID")
	if resume == "" {
		resume = c.QueryParam("after")
	}
	if resume != "" {
		id, err := strconv.ParseInt(resume, 10, 64)
		if err != nil || id < 0 {
			return echo.NewHTTPError(http.StatusBadRequest, apiErr{Error: "Last-Event-ID must be an event id", Field: "Last-Event-ID"})
		}
		after = id
	} else {
		last, err := s.store.LastEventID(ctx)
		if err != nil {
			return err
		}
		after = last
	}
	w := c.Response()
	// The server's read and write timeouts bound ordinary calls; a stream
	// lives for hours. Where the writer cannot lift them (tests' recorders)
	// there are none to lift.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	w.Header().Set(echo.HeaderContentType, "text/event-stream")
	// The events carry residents' names and phones: nothing keeps a copy.
	w.Header().Set(echo.HeaderCacheControl, "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprintf(w, "retry: 3000\n\n")
	w.Flush()
	s.metrics.eventStreams.Inc()
	defer s.metrics.eventStreams.Dec()

	poll := time.NewTicker(eventPoll)
	defer poll.Stop()
	heartbeat := time.NewTicker(eventHeartbeat)
	defer heartbeat.Stop()
	for {
		woken := s.hub.wait() // taken before reading, so no wake-up is missed
		evs, err := s.store.Events(ctx, after, p.Site, eventBatch)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			s.log.Error("event stream: read events", "err", err, "request_id", requestID(c))
			return nil // the console reconnects with Last-Event-ID
		}
		if !s.auth.stillValid(ctx, p) {
			return nil // logged out, expired or removed: the stream ends with the session
		}
		for _, e := range evs {
			if !p.SiteAllowed(e.Site) {
				continue // Events is asked for the caller's site; a second wall
			}
			data := e.Data
			if !p.SeesContacts() {
				data = withoutContacts(data)
			}
			if _, err := fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", e.ID, e.Type, data); err != nil {
				return nil
			}
			after = e.ID
		}
		if len(evs) > 0 {
			w.Flush()
		}
		if len(evs) == eventBatch {
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-woken:
		case <-poll.C:
		case <-heartbeat.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return nil
			}
			w.Flush()
		}
	}
}

// personal are the ticket fields that reach a resident.
var personal = []string{"reporter", "phone", "contact"}

// withoutContacts drops a ticket event's personal fields. An event whose
// data is not an object is dropped whole rather than passed on unread.
func withoutContacts(data json.RawMessage) json.RawMessage {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return json.RawMessage(`{}`)
	}
	for _, f := range personal {
		delete(m, f)
	}
	out, err := json.Marshal(m)
	if err != nil {
		return json.RawMessage(`{}`)
	}
	return out
}

// stillValid reports whether a streaming caller may go on: API tokens are
// valid for the process's life; a session until logout or expiry, and only
// while its account is still configured with the password it logged in with.
func (a *authenticator) stillValid(ctx context.Context, p Principal) bool {
	if p.session == "" {
		return true
	}
	q, err := a.session(ctx, p.session)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) && ctx.Err() == nil {
			return true // a store hiccup is not a logout; the read of events reports it
		}
		return false
	}
	return q.Name == p.Name
}
