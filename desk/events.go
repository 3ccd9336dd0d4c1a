package desk

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/estatehq/estate/desk/store"
)

// hub wakes event streams when an event was committed: by this process
// (its handlers publish after their transaction), or by any desk on the same
// PostgreSQL (the LISTEN connection publishes on each NOTIFY). Streams also
// poll, for what a lost listening connection missed.
type hub struct {
	mu  sync.Mutex
	ch  chan struct{}
	gen uint64 // publications so far
}

func newHub() *hub { return &hub{ch: make(chan struct{})} }

func (h *hub) publish() {
	h.mu.Lock()
	close(h.ch)
	h.ch = make(chan struct{})
	h.gen++
	h.mu.Unlock()
}

// wait returns a channel closed by the next publication, and the number of
// publications before it.
func (h *hub) wait() <-chan struct{} {
	ch, _ := h.waitGen()
	return ch
}

func (h *hub) waitGen() (<-chan struct{}, uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.ch, h.gen
}

func (h *hub) generation() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.gen
}

// feed is this process's copy of the newest events, shared by its streams:
// after a wake-up one stream reads what is new (every site) from the store
// and the others are served from memory, so that a commit costs the database
// one query per desk, not one per console. It holds every event with
// base < id <= last (event ids become visible in commit order, store.flushEvents,
// so reading "after last" never leaves a hole); a stream further behind than
// base (a console resuming after a while) reads the store itself.
type feed struct {
	st  Store
	hub *hub

	mu        sync.Mutex // held while reading the store: one read at a time
	primed    bool
	base      int64
	last      int64
	ring      []store.Event
	readGen   uint64    // the hub's generation when the last read began
	readAt    time.Time // when it began
	maxEvents int
}

// feedEvents is how many recent events a desk keeps for its streams.
const feedEvents = 4096

func newFeed(st Store, h *hub) *feed { return &feed{st: st, hub: h, maxEvents: feedEvents} }

// after returns up to limit events after the id, of one site ("" every
// site), oldest first. gen is the hub's generation the caller woke at: the
// store is read again when something was published since the last read, or
// when the last read is older than maxAge (the poll, for what no
// publication announced).
func (f *feed) after(ctx context.Context, after int64, site string, limit int, gen uint64, maxAge time.Duration) ([]store.Event, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.primed {
		last, err := f.st.LastEventID(ctx)
		if err != nil {
			return nil, err
		}
		f.base, f.last, f.primed = last, last, true
	}
	if gen > f.readGen || time.Since(f.readAt) >= maxAge {
		if err := f.read(ctx); err != nil {
			return nil, err
		}
	}
	if after < f.base {
		// Older than what is kept here: from the store, for this stream only.
		return f.st.Events(ctx, after, site, limit)
	}
	var out []store.Event
	// The ring is in id order: start at the first event after the id.
	i, _ := slices.BinarySearchFunc(f.ring, after+1, func(e store.Event, id int64) int { return cmp.Compare(e.ID, id) })
	for _, e := range f.ring[i:] {
		if site != "" && e.Site != site {
			continue
		}
		out = append(out, e)
		if len(out) == limit {
			break
		}
	}
	return out, nil
}

// read appends what was committed after last (bounded: a desk that fell far
// behind reads the rest at the next wake-up, and its streams from the store).
func (f *feed) read(ctx context.Context) error {
	gen, at := f.hub.generation(), time.Now() // before the query: what was published later is read next time
	for range 10 {
		evs, err := f.st.Events(ctx, f.last, "", 1000)
		if err != nil {
			return err
		}
		f.ring = append(f.ring, evs...)
		if len(evs) > 0 {
			f.last = evs[len(evs)-1].ID
		}
		if len(evs) < 1000 {
			break
		}
	}
	if over := len(f.ring) - f.maxEvents; over > 0 {
		f.base = f.ring[over-1].ID
		f.ring = slices.Delete(f.ring, 0, over)
	}
	f.readGen, f.readAt = gen, at
	return nil
}

const (
	eventBatch     = 200
	eventPoll      = 2 * time.Second  // for events no wake-up announced (a desk whose LISTEN connection is down)
	eventHeartbeat = 15 * time.Second // keeps proxies from closing an idle stream
)

// events streams ticket changes as Server-Sent Events. Each event's id is
// its row id: a console that reconnects with Last-Event-ID (or ?after=)
// receives everything it missed; without one, only what happens from now on.
// A site-bound caller gets its site's events only, history included; callers
// that do not call residents get tickets without residents' names and
// phones; the session is checked on every wake-up, poll and keep-alive, so
// the stream ends within a poll and a second (stillValid) of a logout or an expiry.
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
		woken, gen := s.hub.waitGen() // taken before reading, so no wake-up is missed
		evs, err := s.feed.after(ctx, after, p.Site, eventBatch, gen, eventPoll)
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
		// Each event as the caller may see it (privacy.go); the unmasked
		// phones among them are logged before they are written.
		datas := make([]json.RawMessage, len(evs))
		var seen []store.Access
		for i, e := range evs {
			var a *store.Access
			datas[i], a = s.eventView(ctx, c, p, e)
			if a != nil {
				seen = append(seen, *a)
			}
		}
		if err := s.store.LogAccess(ctx, seen); err != nil {
			s.log.Error("event stream: access log", "err", err, "request_id", requestID(c))
			return nil // nothing unlogged is shown; the console reconnects
		}
		for i, e := range evs {
			if !p.SiteAllowed(e.Site) {
				continue // Events is asked for the caller's site; a second wall
			}
			data := datas[i]
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
// A session found valid is believed for sessionRecheck:
// every stream of this desk wakes on every commit of every desk, and without
// it each session's stream would query the store on each. A logout on this
// desk forgets it at once; one on another desk is seen within sessionRecheck.
func (a *authenticator) stillValid(ctx context.Context, p Principal) bool {
	if p.session == "" {
		return true
	}
	now, wall := a.now(), time.Now()
	a.checkedMu.Lock()
	at, ok := a.checked[p.session]
	a.checkedMu.Unlock()
	// Within a second by the wall clock and by the desk's (which tests
	// move, or stop): either one passing a second asks the store again.
	if ok && wall.Sub(at.wall) < sessionRecheck && now.Sub(at.clock) < sessionRecheck && !now.Before(at.clock) {
		return true
	}
	q, err := a.session(ctx, p.session)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) && ctx.Err() == nil {
			return true // a store hiccup is not a logout; the read of events reports it
		}
		a.forgetChecked(p.session)
		return false
	}
	if q.Name != p.Name {
		return false
	}
	a.checkedMu.Lock()
	if len(a.checked) >= maxCheckedSessions {
		clear(a.checked) // bounded; the next wake-ups simply ask the store again
	}
	a.checked[p.session] = sessionCheck{wall: wall, clock: now}
	a.checkedMu.Unlock()
	return true
}

// sessionCheck is when a streaming session was last found valid.
type sessionCheck struct{ wall, clock time.Time }

// sessionRecheck is how long a stream believes its session valid.
const sessionRecheck = time.Second

// maxCheckedSessions bounds the streams' session cache.
const maxCheckedSessions = 10_000

func (a *authenticator) forgetChecked(tokenHash string) {
	a.checkedMu.Lock()
	delete(a.checked, tokenHash)
	a.checkedMu.Unlock()
}
