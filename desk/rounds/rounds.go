package rounds

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/estatehq/estate/desk/deskconfig"
	"github.com/estatehq/estate/desk/store"
	"github.com/estatehq/estate/desk/ticket"
	"github.com/estatehq/estate/internal/wire"
)

// Round statuses.
const (
	StatusDue        = "due"         // fell due, nobody started it
	StatusInProgress = "in_progress" // someone is walking it
	StatusDone       = "done"        // finished (late when after finish_by)
	StatusMissed     = "missed"      // not finished by finish_by; may still be finished late
)

// Outcomes of a checklist item.
const (
	Pass  = "pass"
	Fail  = "fail"
	Noted = "noted" // a note item's answer
)

// Visit methods.
const (
	MethodQR     = "qr"     // the checkpoint's QR label scanned with the phone's camera
	MethodManual = "manual" // its code typed in
	MethodReader = "reader" // a patrol reader (guard-tour device) over MQTT
)

// Methods are the ways a person confirms a checkpoint.
var Methods = []string{MethodQR, MethodManual}

// RepeatWithin is how soon the same person or reader scanning the same
// checkpoint again is a repeat, refused (a double read, not a second round).
const RepeatWithin = time.Minute

// AnomalyWithin is the failed item's ticket's deadline: the manuals ask for
// any anomaly of the distribution rooms to be dealt with within 24 hours.
const AnomalyWithin = 24 * time.Hour

// Round is one round of a route on one day.
type Round struct {
	ID           int64      `json:"id"`
	Site         string     `json:"site"`
	Route        string     `json:"route"`
	Name         string     `json:"name"`
	NameEN       string     `json:"name_en,omitempty"`
	Building     string     `json:"building,omitempty"`
	Team         string     `json:"team,omitempty"`
	Day          string     `json:"day"`
	Status       string     `json:"status"`
	StartsAt     time.Time  `json:"starts_at"`
	StartBy      time.Time  `json:"start_by"`
	FinishBy     time.Time  `json:"finish_by"`
	StartedAt    *time.Time `json:"started_at,omitempty"`
	StartedBy    string     `json:"started_by,omitempty"`
	FinishedAt   *time.Time `json:"finished_at,omitempty"`
	FinishedBy   string     `json:"finished_by,omitempty"`
	Late         bool       `json:"late,omitempty"`
	EscalatedAt  *time.Time `json:"escalated_at,omitempty"`
	MissedTicket int64      `json:"missed_ticket,omitempty"`
	Progress     Progress   `json:"progress"`
	// Checkpoints are the route's, with what was found; filled when one
	// round is read.
	Checkpoints []CheckpointState `json:"checkpoints,omitempty"`

	route deskconfig.Route
}

// Progress counts a round's work.
type Progress struct {
	Checkpoints int `json:"checkpoints"`
	Visited     int `json:"visited"`
	Items       int `json:"items"`
	Answered    int `json:"answered"`
	Failed      int `json:"failed"`
}

// CheckpointState is a checkpoint of a round with its visit and results.
type CheckpointState struct {
	Code    string      `json:"code"`
	Name    string      `json:"name"`
	NameEN  string      `json:"name_en,omitempty"`
	Floor   string      `json:"floor,omitempty"`
	Unit    string      `json:"unit,omitempty"`
	Visited *Visit      `json:"visited,omitempty"`
	Items   []ItemState `json:"items"`
}

// ItemState is a checklist item with its result.
type ItemState struct {
	deskconfig.CheckItem
	Result *Result `json:"result,omitempty"`
}

// Visit is a checkpoint confirmed by someone (or a reader) at a time.
type Visit struct {
	ID         int64     `json:"id"`
	Site       string    `json:"site"`
	RoundID    int64     `json:"round_id,omitempty"`
	Checkpoint string    `json:"checkpoint"`
	At         time.Time `json:"at"`
	By         string    `json:"by"`
	Method     string    `json:"method"`
	Reader     string    `json:"reader,omitempty"`
}

// Result is an item's answer.
type Result struct {
	Checkpoint string    `json:"checkpoint"`
	Item       string    `json:"item"`
	Outcome    string    `json:"outcome"`
	Value      *float64  `json:"value,omitempty"`
	Note       string    `json:"note,omitempty"`
	TicketID   int64     `json:"ticket_id,omitempty"`
	At         time.Time `json:"at"`
	By         string    `json:"by"`
}

// Answer is what a person records for an item.
type Answer struct {
	Checkpoint string   `json:"checkpoint"`
	Item       string   `json:"item"`
	Outcome    string   `json:"outcome,omitempty"`
	Value      *float64 `json:"value,omitempty"`
	Note       string   `json:"note,omitempty"`
}

// MaxNote bounds an answer's note, in bytes.
const MaxNote = 2000

// InputError is an answer or a visit that cannot be taken: Field names what
// is wrong; Conflict marks a state that forbids it (409) rather than bad
// input (422).
type InputError struct {
	Field    string
	Msg      string
	Conflict bool
}

func (e *InputError) Error() string {
	if e.Field == "" {
		return e.Msg
	}
	return e.Field + ": " + e.Msg
}

func inputErr(field, format string, args ...any) error {
	return &InputError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

func conflict(format string, args ...any) error {
	return &InputError{Msg: fmt.Sprintf(format, args...), Conflict: true}
}

// Tickets is how rounds open tickets: the desk store's path (store.Store).
type Tickets interface {
	OpenTicketWithin(ctx context.Context, n wire.NewTicket, by string, now time.Time, w store.Within) (wire.Ticket, bool, error)
}

// Service runs the rounds of the configured routes.
type Service struct {
	store    *Store
	tickets  Tickets
	routes   []deskconfig.Route
	location func(site string) *time.Location
	log      *slog.Logger
}

// New runs routes (validated) on st, opening tickets through t; location is
// each site's time zone.
func New(st *Store, t Tickets, routes []deskconfig.Route, location func(string) *time.Location, log *slog.Logger) *Service {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{store: st, tickets: t, routes: routes, location: location, log: log}
}

func (s *Service) loc(site string) *time.Location {
	if s.location != nil {
		if l := s.location(site); l != nil {
			return l
		}
	}
	return time.UTC
}

// Routes returns the routes of the sites allowed.
func (s *Service) Routes(allowed func(string) bool) []deskconfig.Route {
	var out []deskconfig.Route
	for _, r := range s.routes {
		if allowed(r.Site) {
			out = append(out, r)
		}
	}
	return out
}

// Ensure creates the rounds that fall due on each site's day of now; the
// scheduler calls it every minute, and List before it answers.
func (s *Service) Ensure(ctx context.Context, now time.Time) error {
	for _, r := range s.routes {
		w, due, err := DueOn(r, now, s.loc(r.Site))
		if err != nil {
			return fmt.Errorf("route %s: %w", r.ID, err)
		}
		if !due {
			continue
		}
		created, err := s.store.ensure(ctx, r, w, now)
		if err != nil {
			return err
		}
		if created {
			s.log.Info("round due", "site", r.Site, "route", r.ID, "day", w.Day, "starts", w.StartsAt)
		}
	}
	return nil
}

// Escalate deals with rounds whose deadline passed: a round not started by
// its start_by, or not finished by its finish_by (then missed), opens a
// ticket for the supervisor, notified through the desk's channels. It
// returns the rounds it escalated.
func (s *Service) Escalate(ctx context.Context, now time.Time) ([]Round, error) {
	lapsed, err := s.store.lapsed(ctx, now)
	if err != nil {
		return nil, fmt.Errorf("lapsed rounds: %w", err)
	}
	var out []Round
	for _, r := range lapsed {
		missed := !now.Before(r.FinishBy)
		var tid int64
		if r.EscalatedAt == nil {
			t, err := s.openMissedTicket(ctx, r, missed, now)
			if err != nil {
				return out, err
			}
			tid = t.ID
		}
		if err := s.store.markLapsed(ctx, r.ID, missed, tid, now); err != nil {
			return out, fmt.Errorf("round %d: %w", r.ID, err)
		}
		s.log.Warn("round escalated", "round", r.ID, "site", r.Site, "route", r.Route, "day", r.Day, "missed", missed, "ticket", tid)
		out = append(out, r)
	}
	return out, nil
}

func (s *Service) openMissedTicket(ctx context.Context, r Round, missed bool, now time.Time) (wire.Ticket, error) {
	loc := s.loc(r.Site)
	what, by := "未开始", r.StartBy
	if missed {
		what, by = "未完成", r.FinishBy
	}
	n := wire.NewTicket{Kind: wire.Repair, Category: "round_missed", Site: r.Site, Building: r.Building, Source: wire.SourceRound,
		Title: fmt.Sprintf("巡检%s: %s %s", what, r.Name, r.Day),
		Description: fmt.Sprintf("巡检 %s (%s) 应于 %s 前%s。Round %q of %s was not %s by %s.", r.Name, r.Route,
			by.In(loc).Format("01-02 15:04"), map[bool]string{false: "开始", true: "完成"}[missed], r.Route, r.Day,
			map[bool]string{false: "started", true: "finished"}[missed], by.In(loc).Format("2006-01-02 15:04 MST")),
		AlarmKey: fmt.Sprintf("%s/round/%d/missed", r.Site, r.ID)}
	t, _, err := s.tickets.OpenTicketWithin(ctx, n, "rounds", now, store.Within{
		Event: "round_missed", Levels: []ticket.Level{ticket.LevelAssignee, ticket.LevelSupervisor}})
	if err != nil {
		return t, fmt.Errorf("round %d: missed ticket: %w", r.ID, err)
	}
	return t, nil
}

// List returns a site's rounds of its day of now and those still open
// from before, with their progress.
func (s *Service) List(ctx context.Context, site string, now time.Time) ([]Round, error) {
	if err := s.Ensure(ctx, now); err != nil {
		return nil, err
	}
	day := now.In(s.loc(site)).Format(dayLayout)
	rs, err := s.store.list(ctx, site, day)
	if err != nil {
		return nil, err
	}
	for i := range rs {
		if err := s.fill(ctx, &rs[i], false); err != nil {
			return nil, err
		}
	}
	return rs, nil
}

// Get returns one round of the allowed sites, with its checkpoints.
func (s *Service) Get(ctx context.Context, id int64, allowed func(string) bool) (Round, error) {
	r, err := s.store.get(ctx, id, allowed)
	if err != nil {
		return r, err
	}
	return r, s.fill(ctx, &r, true)
}

// fill adds visits, results and progress; detail adds the checkpoints.
func (s *Service) fill(ctx context.Context, r *Round, detail bool) error {
	visits, err := s.store.visits(ctx, r.ID)
	if err != nil {
		return err
	}
	results, err := s.store.results(ctx, r.ID)
	if err != nil {
		return err
	}
	r.Late = r.FinishedAt != nil && r.FinishedAt.After(r.FinishBy)
	r.Progress = Progress{Checkpoints: len(r.route.Checkpoints)}
	r.Checkpoints = nil
	for _, cp := range r.route.Checkpoints {
		st := CheckpointState{Code: cp.Code, Name: cp.Name, NameEN: cp.NameEN, Floor: cp.Floor, Unit: cp.Unit}
		for i := range visits {
			if visits[i].Checkpoint == cp.Code {
				st.Visited = &visits[i]
				r.Progress.Visited++
				break
			}
		}
		for _, it := range cp.Items {
			is := ItemState{CheckItem: it}
			for i := range results {
				if results[i].Checkpoint == cp.Code && results[i].Item == it.ID {
					is.Result = &results[i]
					r.Progress.Answered++
					if results[i].Outcome == Fail {
						r.Progress.Failed++
					}
				}
			}
			r.Progress.Items++
			st.Items = append(st.Items, is)
		}
		if detail {
			r.Checkpoints = append(r.Checkpoints, st)
		}
	}
	return nil
}

func (r Round) checkpoint(code string) *deskconfig.Checkpoint {
	for i := range r.route.Checkpoints {
		if r.route.Checkpoints[i].Code == code {
			return &r.route.Checkpoints[i]
		}
	}
	return nil
}

// Start begins a round (due, or missed but not yet started).
func (s *Service) Start(ctx context.Context, id int64, by string, allowed func(string) bool, now time.Time) (Round, error) {
	r, err := s.store.get(ctx, id, allowed)
	if err != nil {
		return r, err
	}
	switch {
	case r.FinishedAt != nil:
		return r, conflict("round %d was finished at %s", r.ID, r.FinishedAt.In(s.loc(r.Site)).Format("01-02 15:04"))
	case r.StartedAt != nil:
		return s.Get(ctx, id, allowed) // starting twice is starting once
	}
	if err := s.store.start(ctx, id, by, now); err != nil {
		return r, fmt.Errorf("start round %d: %w", id, err)
	}
	return s.Get(ctx, id, allowed)
}

// Confirm records a person's visit of a checkpoint of a round (its QR code
// scanned, or its code typed): the round starts if it had not.
func (s *Service) Confirm(ctx context.Context, id int64, code, method, by string, allowed func(string) bool, now time.Time) (Round, error) {
	if !slices.Contains(Methods, method) {
		return Round{}, inputErr("method", "%q is not one of %s", method, strings.Join(Methods, ", "))
	}
	code = strings.TrimSpace(code)
	r, err := s.store.get(ctx, id, allowed)
	if err != nil {
		return r, err
	}
	if r.FinishedAt != nil {
		return r, conflict("round %d is finished", r.ID)
	}
	if r.checkpoint(code) == nil {
		return r, inputErr("code", "%q is not a checkpoint of round %s (its checkpoints: %s)", code, r.Name, strings.Join(r.codes(), ", "))
	}
	if _, err := s.visit(ctx, Visit{Site: r.Site, RoundID: r.ID, Checkpoint: code, At: now, By: by, Method: method}, now); err != nil {
		return r, err
	}
	if r.StartedAt == nil {
		if err := s.store.start(ctx, id, by, now); err != nil {
			return r, err
		}
	}
	return s.Get(ctx, id, allowed)
}

func (r Round) codes() []string {
	out := make([]string, len(r.route.Checkpoints))
	for i, cp := range r.route.Checkpoints {
		out[i] = cp.Code
	}
	return out
}

// visit records v unless the same person or reader confirmed the same
// checkpoint less than RepeatWithin before (or after: readers' messages may
// come out of order), which is refused with the earlier time.
func (s *Service) visit(ctx context.Context, v Visit, now time.Time) (Visit, error) {
	prev, found, err := s.store.lastVisit(ctx, v.Site, v.Checkpoint, v.By, v.Reader, v.At.Add(-RepeatWithin+time.Nanosecond), v.At.Add(RepeatWithin-time.Nanosecond))
	if err != nil {
		return v, err
	}
	if found && !prev.Equal(v.At) {
		who := v.By
		if v.Reader != "" {
			who = "reader " + v.Reader
		}
		return v, conflict("checkpoint %s was already scanned by %s at %s: a second scan within %s is not a new visit",
			v.Checkpoint, who, prev.In(s.loc(v.Site)).Format("15:04:05"), RepeatWithin)
	}
	out, created, err := s.store.addVisit(ctx, v, now)
	if err != nil {
		return out, fmt.Errorf("visit of %s: %w", v.Checkpoint, err)
	}
	if !created {
		out.Method = "replayed"
	}
	return out, nil
}

// ReaderVisit is a patrol reader's scan of a checkpoint, forwarded by a
// gateway of the site.
type ReaderVisit struct {
	Site       string
	Checkpoint string
	Reader     string
	At         time.Time
	Gateway    string
}

// Known reports whether a checkpoint code is on a route of the site.
func (s *Service) Known(site, code string) bool {
	for _, r := range s.routes {
		if r.Site == site && slices.ContainsFunc(r.Checkpoints, func(c deskconfig.Checkpoint) bool { return c.Code == code }) {
			return true
		}
	}
	return false
}

// RecordReader records a reader's visit: against the open round of the
// site whose route has the checkpoint (starting it), or on its own when no
// round is open, so that the patrol's record is kept either way. A replayed
// visit (the gateway's retry) is found, not recorded twice.
func (s *Service) RecordReader(ctx context.Context, rv ReaderVisit, now time.Time) (Visit, error) {
	if !s.Known(rv.Site, rv.Checkpoint) {
		return Visit{}, inputErr("checkpoint", "%q is not a checkpoint of any route of site %s", rv.Checkpoint, rv.Site)
	}
	if rv.At.After(now.Add(5*time.Minute)) || rv.At.Before(now.Add(-7*24*time.Hour)) {
		return Visit{}, inputErr("at", "%s is more than 5 minutes ahead of or a week behind the desk's clock (%s): check the reader's clock",
			rv.At.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	if err := s.Ensure(ctx, now); err != nil {
		return Visit{}, err
	}
	v := Visit{Site: rv.Site, Checkpoint: rv.Checkpoint, At: rv.At, By: "reader:" + rv.Reader, Method: MethodReader, Reader: rv.Reader}
	r, err := s.store.openRoundWith(ctx, rv.Site, rv.Checkpoint, rv.At.In(s.loc(rv.Site)).Format(dayLayout), rv.At)
	switch {
	case err == nil:
		v.RoundID = r.ID
	case !errors.Is(err, ErrNotFound):
		return v, err
	}
	out, err := s.visit(ctx, v, now)
	if err != nil {
		return out, err
	}
	if v.RoundID != 0 && r.StartedAt == nil {
		if err := s.store.start(ctx, r.ID, v.By, rv.At); err != nil {
			return out, err
		}
	}
	return out, nil
}

// Record takes an item's answer, checked against the item's type: a check
// is pass or fail, a reading a number (outside its limits it fails), a note
// a text. A failed item opens a ticket due within 24 hours with the note.
func (s *Service) Record(ctx context.Context, id int64, a Answer, by string, allowed func(string) bool, now time.Time) (Round, Result, error) {
	r, err := s.store.get(ctx, id, allowed)
	if err != nil {
		return r, Result{}, err
	}
	if r.FinishedAt != nil {
		return r, Result{}, conflict("round %d is finished: its record is kept as it was", r.ID)
	}
	cp := r.checkpoint(a.Checkpoint)
	if cp == nil {
		return r, Result{}, inputErr("checkpoint", "%q is not a checkpoint of round %s (its checkpoints: %s)", a.Checkpoint, r.Name, strings.Join(r.codes(), ", "))
	}
	var item *deskconfig.CheckItem
	for i := range cp.Items {
		if cp.Items[i].ID == a.Item {
			item = &cp.Items[i]
		}
	}
	if item == nil {
		ids := make([]string, len(cp.Items))
		for i, it := range cp.Items {
			ids[i] = it.ID
		}
		return r, Result{}, inputErr("item", "%q is not an item of checkpoint %s (its items: %s)", a.Item, cp.Code, strings.Join(ids, ", "))
	}
	res, err := judge(*item, a)
	if err != nil {
		return r, res, err
	}
	visits, err := s.store.visits(ctx, r.ID)
	if err != nil {
		return r, res, err
	}
	if !slices.ContainsFunc(visits, func(v Visit) bool { return v.Checkpoint == cp.Code }) {
		return r, res, conflict("checkpoint %s is not confirmed yet: scan its QR code or type its code first", cp.Code)
	}
	res.At, res.By = now, by
	if err := s.store.putResult(ctx, r.ID, res); err != nil {
		return r, res, fmt.Errorf("result of %s/%s: %w", cp.Code, item.ID, err)
	}
	if r.StartedAt == nil {
		if err := s.store.start(ctx, id, by, now); err != nil {
			return r, res, err
		}
	}
	if res.Outcome == Fail {
		t, err := s.openAnomaly(ctx, r, *cp, *item, res, by, now)
		if err != nil {
			return r, res, err
		}
		res.TicketID = t.ID
		if err := s.store.setResultTicket(ctx, r.ID, cp.Code, item.ID, t.ID); err != nil {
			return r, res, err
		}
	}
	out, err := s.Get(ctx, id, allowed)
	return out, res, err
}

// judge checks an answer against its item's type and decides its outcome.
func judge(it deskconfig.CheckItem, a Answer) (Result, error) {
	res := Result{Checkpoint: a.Checkpoint, Item: a.Item, Note: strings.TrimSpace(a.Note)}
	if len(a.Note) > MaxNote {
		return res, inputErr("note", "is longer than %d bytes", MaxNote)
	}
	switch it.Type {
	case TypeCheck:
		if a.Value != nil {
			return res, inputErr("value", "item %s is a check: answer pass or fail, not a reading", it.ID)
		}
		if a.Outcome != Pass && a.Outcome != Fail {
			return res, inputErr("outcome", "item %s is a check: outcome must be pass or fail, not %q", it.ID, a.Outcome)
		}
		res.Outcome = a.Outcome
	case TypeReading:
		if a.Outcome != "" {
			return res, inputErr("outcome", "item %s is a reading: send its value, the limits decide pass or fail", it.ID)
		}
		if a.Value == nil {
			return res, inputErr("value", "item %s is a reading: a number is required", it.ID)
		}
		v := *a.Value
		if math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) > 1e12 {
			return res, inputErr("value", "%v is not a reading", v)
		}
		res.Value, res.Outcome = &v, Pass
		if it.Min != nil && v < *it.Min || it.Max != nil && v > *it.Max {
			res.Outcome = Fail
		}
	case TypeNote:
		if a.Outcome != "" || a.Value != nil {
			return res, inputErr("outcome", "item %s is a note: send its text only", it.ID)
		}
		if res.Note == "" {
			return res, inputErr("note", "item %s is a note: the text is required", it.ID)
		}
		res.Outcome = Noted
	default:
		return res, inputErr("item", "item %s has type %q, which this desk does not know", it.ID, it.Type)
	}
	return res, nil
}

// openAnomaly opens the failed item's ticket through the desk's ticket path:
// a repair due within 24 hours, on site already (the inspector is), with the
// item's note and reading; its alarm key makes a retry find the same ticket.
func (s *Service) openAnomaly(ctx context.Context, r Round, cp deskconfig.Checkpoint, it deskconfig.CheckItem, res Result, by string, now time.Time) (wire.Ticket, error) {
	desc := []string{fmt.Sprintf("巡检 %s %s · %s · %s", r.Name, r.Day, cp.Name, it.Label)}
	if res.Value != nil {
		limits := ""
		switch {
		case it.Min != nil && it.Max != nil:
			limits = fmt.Sprintf(" (%g–%g)", *it.Min, *it.Max)
		case it.Min != nil:
			limits = fmt.Sprintf(" (≥ %g)", *it.Min)
		case it.Max != nil:
			limits = fmt.Sprintf(" (≤ %g)", *it.Max)
		}
		desc = append(desc, fmt.Sprintf("读数 reading: %g %s%s", *res.Value, it.Unit, limits))
	}
	if res.Note != "" {
		desc = append(desc, res.Note)
	}
	n := wire.NewTicket{Kind: wire.Repair, Category: "inspection", Site: r.Site, Building: r.Building, Floor: cp.Floor, Unit: cp.Unit,
		Source: wire.SourceRound, Title: truncate(fmt.Sprintf("巡检异常: %s · %s", cp.Name, it.Label), 200),
		Description: truncate(strings.Join(desc, "\n"), wire.MaxTextLen),
		AlarmKey:    fmt.Sprintf("%s/round/%d/%s/%s", r.Site, r.ID, cp.Code, it.ID)}
	if res.Value != nil {
		n.Reading = &wire.Reading{Point: it.ID, Value: *res.Value, Unit: it.Unit, At: now}
	}
	t, created, err := s.tickets.OpenTicketWithin(ctx, n, by, now, store.Within{Resolve: AnomalyWithin, OnSiteMet: true})
	if err != nil {
		return t, fmt.Errorf("anomaly ticket of %s/%s: %w", cp.Code, it.ID, err)
	}
	if created {
		s.log.Info("round anomaly ticket", "round", r.ID, "checkpoint", cp.Code, "item", it.ID, "ticket", t.ID)
	}
	return t, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8Start(s[n]) {
		n--
	}
	return s[:n]
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

// Finish ends a round once every item has an answer.
func (s *Service) Finish(ctx context.Context, id int64, by string, allowed func(string) bool, now time.Time) (Round, error) {
	r, err := s.Get(ctx, id, allowed)
	if err != nil {
		return r, err
	}
	if r.FinishedAt != nil {
		return r, nil // finishing twice is finishing once
	}
	var missing []string
	for _, cp := range r.Checkpoints {
		if cp.Visited == nil {
			missing = append(missing, cp.Code+" (not confirmed)")
			continue
		}
		for _, it := range cp.Items {
			if it.Result == nil {
				missing = append(missing, cp.Code+"/"+it.ID)
			}
		}
	}
	if len(missing) > 0 {
		return r, &InputError{Field: "checkpoints", Conflict: true,
			Msg: fmt.Sprintf("round %d is not complete: %s", r.ID, strings.Join(missing, ", "))}
	}
	if err := s.store.finish(ctx, id, by, now); err != nil {
		return r, fmt.Errorf("finish round %d: %w", id, err)
	}
	return s.Get(ctx, id, allowed)
}

// CheckpointRecord is a visit of a checkpoint, with what its round's
// answers found there: an entry of the history of the equipment checked
// at that checkpoint (the register's page).
type CheckpointRecord struct {
	RoundID    int64     `json:"round_id,omitempty"`
	Route      string    `json:"route,omitempty"`
	RouteName  string    `json:"route_name,omitempty"`
	RouteEN    string    `json:"route_name_en,omitempty"`
	Checkpoint string    `json:"checkpoint"`
	Name       string    `json:"name"`
	NameEN     string    `json:"name_en,omitempty"`
	At         time.Time `json:"at"`
	By         string    `json:"by"`
	Method     string    `json:"method"`
	Results    []Result  `json:"results"`
	Failed     int       `json:"failed"`
}

// checkpointsOf are the site's checkpoints (code → its route and
// checkpoint) that check the equipment.
func (s *Service) checkpointsOf(site, equipment string) map[string]struct {
	route deskconfig.Route
	cp    deskconfig.Checkpoint
} {
	out := map[string]struct {
		route deskconfig.Route
		cp    deskconfig.Checkpoint
	}{}
	for _, r := range s.routes {
		if r.Site != site {
			continue
		}
		for _, cp := range r.Checkpoints {
			if slices.Contains(cp.Equipment, equipment) {
				out[cp.Code] = struct {
					route deskconfig.Route
					cp    deskconfig.Checkpoint
				}{r, cp}
			}
		}
	}
	return out
}

// EquipmentHistory is what the rounds found at the checkpoints that check
// a register entry since a time, newest first, at most limit visits.
func (s *Service) EquipmentHistory(ctx context.Context, site, equipment string, since time.Time, limit int) ([]CheckpointRecord, error) {
	cps := s.checkpointsOf(site, equipment)
	codes := make([]string, 0, len(cps))
	for c := range cps {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	visits, err := s.store.visitsAt(ctx, site, codes, since, limit)
	if err != nil {
		return nil, fmt.Errorf("rounds at the checkpoints of %s: %w", equipment, err)
	}
	results := map[int64][]Result{}
	out := []CheckpointRecord{}
	for _, v := range visits {
		c := cps[v.Checkpoint]
		rec := CheckpointRecord{RoundID: v.RoundID, Checkpoint: v.Checkpoint, Name: c.cp.Name, NameEN: c.cp.NameEN,
			At: v.At, By: v.By, Method: v.Method, Results: []Result{}}
		if v.RoundID != 0 {
			rs, ok := results[v.RoundID]
			if !ok {
				if rs, err = s.store.results(ctx, v.RoundID); err != nil {
					return nil, fmt.Errorf("results of round %d: %w", v.RoundID, err)
				}
				results[v.RoundID] = rs
			}
			rec.Route, rec.RouteName, rec.RouteEN = c.route.ID, c.route.Name, c.route.NameEN
			for _, r := range rs {
				if r.Checkpoint == v.Checkpoint {
					rec.Results = append(rec.Results, r)
					if r.Outcome == Fail {
						rec.Failed++
					}
				}
			}
		}
		out = append(out, rec)
	}
	return out, nil
}
