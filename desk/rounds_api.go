package desk

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/estatehq/estate/desk/deskconfig"
	"github.com/estatehq/estate/desk/rounds"
	"github.com/estatehq/estate/desk/store"
	"github.com/estatehq/estate/internal/wire"
)

// Inspection rounds (巡检): today's rounds, one round with its checkpoints,
// start, confirm a checkpoint, answer an item, finish; the routes (for the
// QR labels); and the gateways' patrol-reader visits. desk/rounds holds the
// logic; every route here is scoped to the caller's site.

// roundWalkers are the roles that walk rounds: engineering and the control
// room's security staff, and their managers.
var roundWalkers = []string{RoleAdmin, RoleManager, RoleEngineer, RoleControlRoom}

// roundsStore is what the rounds need of the desk's store (store.Store).
type roundsStore interface {
	DB() *sql.DB
	Rebind(query string) string
	rounds.Tickets
}

// newRounds builds the rounds service when the store can hold them.
func (s *Server) newRounds() {
	rs, ok := s.store.(roundsStore)
	if !ok {
		return
	}
	loc := func(site string) *time.Location {
		if s.location != nil {
			return s.location(site)
		}
		return s.cfg.Location(site, time.UTC)
	}
	s.rounds = rounds.New(rounds.NewStore(rs), rs, s.cfg.Rounds, loc, s.log.With("part", "rounds"))
}

// runRounds creates the rounds that fall due and escalates the lapsed ones,
// every minute until ctx ends.
func (s *Server) runRounds(ctx context.Context) {
	if s.rounds == nil || len(s.cfg.Rounds) == 0 {
		return
	}
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	for {
		s.roundsTick(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// roundsTick is one pass of runRounds.
func (s *Server) roundsTick(ctx context.Context) {
	now := s.now()
	if err := s.rounds.Ensure(ctx, now); err != nil && ctx.Err() == nil {
		s.log.Error("rounds: due", "err", err)
	}
	esc, err := s.rounds.Escalate(ctx, now)
	if err != nil && ctx.Err() == nil {
		s.log.Error("rounds: escalate", "err", err)
	}
	if len(esc) > 0 {
		s.metrics.roundsEscalated.Add(float64(len(esc)))
		s.hub.publish()
	}
}

func (s *Server) roundsOr404() error {
	if s.rounds == nil {
		return apiError(http.StatusNotFound, "this desk's store keeps no rounds", "")
	}
	return nil
}

// roundErr maps the rounds' errors to answers.
func roundErr(err error, id int64) error {
	var ie *rounds.InputError
	switch {
	case errors.Is(err, rounds.ErrNotFound):
		return apiError(http.StatusNotFound, fmt.Sprintf("no round %d", id), "")
	case errors.As(err, &ie) && ie.Conflict:
		return echo.NewHTTPError(http.StatusConflict, apiErr{Error: ie.Msg, Field: ie.Field})
	case errors.As(err, &ie):
		return echo.NewHTTPError(http.StatusUnprocessableEntity, apiErr{Error: ie.Error(), Field: ie.Field})
	}
	return err
}

func roundID(c echo.Context) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id < 1 {
		return 0, apiError(http.StatusBadRequest, "round id must be a positive number", "")
	}
	return id, nil
}

// roundSites are the sites a list covers: the one asked for (if allowed),
// else the caller's own, else every site with a route.
func (s *Server) roundSites(c echo.Context, p Principal) ([]string, error) {
	if site := c.QueryParam("site"); site != "" {
		if !p.SiteAllowed(site) {
			return nil, apiError(http.StatusForbidden, fmt.Sprintf("%s may not see the rounds of site %s", p.Name, site), "")
		}
		return []string{site}, nil
	}
	if p.Site != "" {
		return []string{p.Site}, nil
	}
	var sites []string
	for _, r := range s.cfg.Rounds {
		if !slices.Contains(sites, r.Site) {
			sites = append(sites, r.Site)
		}
	}
	return sites, nil
}

// listRounds is GET /rounds: the site's rounds of today and those still open.
func (s *Server) listRounds(c echo.Context) error {
	if err := s.roundsOr404(); err != nil {
		return err
	}
	p := principal(c)
	sites, err := s.roundSites(c, p)
	if err != nil {
		return err
	}
	out := []rounds.Round{}
	for _, site := range sites {
		rs, err := s.rounds.List(c.Request().Context(), site, s.now())
		if err != nil {
			return fmt.Errorf("rounds of %s: %w", site, err)
		}
		out = append(out, rs...)
	}
	return c.JSON(http.StatusOK, map[string]any{"rounds": out})
}

// RoundDetail is a round as the console shows and prints it.
type RoundDetail struct {
	rounds.Round
	SiteName     string `json:"site_name"`
	SiteTimezone string `json:"site_timezone"`
}

func (s *Server) roundDetail(r rounds.Round) RoundDetail {
	loc := s.cfg.Location(r.Site, time.UTC)
	if s.location != nil {
		loc = s.location(r.Site)
	}
	return RoundDetail{Round: r, SiteName: s.siteName(r.Site), SiteTimezone: loc.String()}
}

func (s *Server) getRound(c echo.Context) error {
	if err := s.roundsOr404(); err != nil {
		return err
	}
	id, err := roundID(c)
	if err != nil {
		return err
	}
	r, err := s.rounds.Get(c.Request().Context(), id, principal(c).SiteAllowed)
	if err != nil {
		return roundErr(err, id)
	}
	return c.JSON(http.StatusOK, s.roundDetail(r))
}

func (s *Server) startRound(c echo.Context) error {
	if err := s.roundsOr404(); err != nil {
		return err
	}
	id, err := roundID(c)
	if err != nil {
		return err
	}
	p := principal(c)
	r, err := s.rounds.Start(c.Request().Context(), id, p.Name, p.SiteAllowed, s.now())
	if err != nil {
		return roundErr(err, id)
	}
	s.hub.publish()
	return c.JSON(http.StatusOK, s.roundDetail(r))
}

// confirmRequest is POST /rounds/:id/visits: a checkpoint's code as its QR
// label carries it (method qr) or as typed (manual).
type confirmRequest struct {
	Code   string `json:"code"`
	Method string `json:"method"`
}

func (s *Server) confirmCheckpoint(c echo.Context) error {
	if err := s.roundsOr404(); err != nil {
		return err
	}
	id, err := roundID(c)
	if err != nil {
		return err
	}
	var in confirmRequest
	if err := decode(c, &in); err != nil {
		return err
	}
	if len(in.Code) > 200 {
		return fieldError("code", "is longer than 200 bytes")
	}
	p := principal(c)
	r, err := s.rounds.Confirm(c.Request().Context(), id, in.Code, in.Method, p.Name, p.SiteAllowed, s.now())
	if err != nil {
		return roundErr(err, id)
	}
	s.hub.publish()
	return c.JSON(http.StatusOK, s.roundDetail(r))
}

// answerResponse is the round after an answer, and the answer as kept
// (with the ticket a failed item opened).
type answerResponse struct {
	Round  RoundDetail   `json:"round"`
	Result rounds.Result `json:"result"`
}

func (s *Server) answerItem(c echo.Context) error {
	if err := s.roundsOr404(); err != nil {
		return err
	}
	id, err := roundID(c)
	if err != nil {
		return err
	}
	var in rounds.Answer
	if err := decode(c, &in); err != nil {
		return err
	}
	p := principal(c)
	r, res, err := s.rounds.Record(c.Request().Context(), id, in, p.Name, p.SiteAllowed, s.now())
	if err != nil {
		return roundErr(err, id)
	}
	s.hub.publish()
	return c.JSON(http.StatusOK, answerResponse{Round: s.roundDetail(r), Result: res})
}

func (s *Server) finishRound(c echo.Context) error {
	if err := s.roundsOr404(); err != nil {
		return err
	}
	id, err := roundID(c)
	if err != nil {
		return err
	}
	p := principal(c)
	r, err := s.rounds.Finish(c.Request().Context(), id, p.Name, p.SiteAllowed, s.now())
	if err != nil {
		return roundErr(err, id)
	}
	s.hub.publish()
	return c.JSON(http.StatusOK, s.roundDetail(r))
}

// listRoutes is GET /rounds/routes: the routes of the caller's sites, with
// their next round, for the console's QR labels and schedules.
func (s *Server) listRoutes(c echo.Context) error {
	if err := s.roundsOr404(); err != nil {
		return err
	}
	p := principal(c)
	type routeView struct {
		deskconfig.Route
		SiteName string     `json:"site_name"`
		Next     *time.Time `json:"next,omitempty"`
	}
	out := []routeView{}
	for _, r := range s.rounds.Routes(p.SiteAllowed) {
		v := routeView{Route: r, SiteName: s.siteName(r.Site)}
		loc := s.cfg.Location(r.Site, time.UTC)
		if s.location != nil {
			loc = s.location(r.Site)
		}
		if w, ok, err := rounds.Next(r, s.now(), loc); err == nil && ok {
			v.Next = &w.StartsAt
		}
		out = append(out, v)
	}
	return c.JSON(http.StatusOK, map[string]any{"routes": out})
}

// readerVisit is POST /rounds/reader-visits, what a gateway forwards of a
// patrol reader (guard-tour device): checkpoint, reader, time.
func (s *Server) readerVisit(c echo.Context) error {
	if err := s.roundsOr404(); err != nil {
		return err
	}
	p := principal(c)
	var in wire.CheckpointVisit
	if err := decode(c, &in); err != nil {
		return err
	}
	if in.Site == "" {
		in.Site = p.Site
	}
	if err := in.Validate(); err != nil {
		return apiError(http.StatusUnprocessableEntity, err.Error(), "")
	}
	if !p.SiteAllowed(in.Site) {
		return apiError(http.StatusForbidden, fmt.Sprintf("token %s may not record visits of site %s", p.Name, in.Site),
			"a gateway token records its own site's visits only")
	}
	v, err := s.rounds.RecordReader(c.Request().Context(), rounds.ReaderVisit{Site: in.Site, Checkpoint: in.Checkpoint,
		Reader: in.Reader, At: in.At, Gateway: in.Gateway}, s.now())
	if err != nil {
		var ie *rounds.InputError
		if errors.As(err, &ie) && ie.Conflict && strings.Contains(ie.Msg, "already scanned") {
			// A repeat of a reader is answered, not refused: the gateway's
			// outbox would otherwise retry it for an hour. It is not recorded.
			s.log.Info("reader visit repeated", "site", in.Site, "checkpoint", in.Checkpoint, "reader", in.Reader, "why", ie.Msg)
			return c.JSON(http.StatusOK, wire.CheckpointVisitResult{Repeat: true, Message: ie.Msg})
		}
		return roundErr(err, 0)
	}
	s.hub.publish()
	return c.JSON(http.StatusOK, wire.CheckpointVisitResult{Visit: v.ID, Round: v.RoundID, Replayed: v.Method == "replayed"})
}

var _ roundsStore = (*store.Store)(nil)
