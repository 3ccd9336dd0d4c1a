package shift

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/estatehq/estate/internal/promreg"
)

// Source is what the desk knows that a sheet hands over besides tickets:
// the alarms that nobody has acknowledged (desk: the control room's alarms).
type Source interface {
	UnackedAlarms(ctx context.Context, site string, now time.Time) ([]AlarmItem, error)
}

// Router names the notification channels that carry a site's shift notice
// to an escalation level (supervisor, manager).
type Router func(site, level string) []string

// Options are what a Service is built with.
type Options struct {
	Settings Settings
	Source   Source
	// Now is the clock (tests pass a fake one); nil: time.Now.
	Now func() time.Time
	// Location is a site's time zone; nil: UTC.
	Location func(site string) *time.Location
	Route    Router
	// Sites lists the sites whose shifts the scheduler follows.
	Sites func() []string
	Log   *slog.Logger
	// Registry takes the service's metrics; nil: a private one.
	Registry prometheus.Registerer
}

// Service is the shifts, duty log and key register of every site.
type Service struct {
	st      *Store
	o       Options
	started time.Time
	// sheets counts handover steps (built, signed, accepted, reminded);
	// keyNotices the overdue keys told to the supervisors.
	sheets     *prometheus.CounterVec
	keyNotices prometheus.Counter
}

// NewService builds the service on its store.
func NewService(st *Store, o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Location == nil {
		o.Location = func(string) *time.Location { return time.UTC }
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Sites == nil {
		o.Sites = func() []string { return o.Settings.Sites }
	}
	if o.Registry == nil {
		o.Registry = prometheus.NewRegistry()
	}
	return &Service{st: st, o: o, started: o.Now(),
		sheets: promreg.Register(o.Registry, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "estate_desk_handover_steps_total",
			Help: "Handover sheets built, signed, accepted, and reminders of late handovers sent (reminded_supervisor, reminded_manager).",
		}, []string{"step"})),
		keyNotices: promreg.Register(o.Registry, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "estate_desk_key_overdue_notices_total",
			Help: "Keys not back when due, told to the supervisors (once per loan).",
		})),
	}
}

// Store is the service's store.
func (s *Service) Store() *Store { return s.st }

func (s *Service) loc(site string) *time.Location {
	if l := s.o.Location(site); l != nil {
		return l
	}
	return time.UTC
}

// Plan is a site's plan and roster.
func (s *Service) Plan(site string) SitePlan { return s.o.Settings.For(site) }

// Current is a site's shift at t.
func (s *Service) Current(site string, at time.Time) Instance {
	return s.Plan(site).Plan.At(site, at, s.loc(site))
}

func (s *Service) when(site string, t time.Time) string {
	return t.In(s.loc(site)).Format("2006-01-02 15:04")
}

func (s *Service) describe(i Instance) string {
	return fmt.Sprintf("%s %s–%s", i.Label, s.when(i.Site, i.Start), i.End.In(s.loc(i.Site)).Format("15:04"))
}

// defaultLabelsEN are the default shifts' names in English (DefaultPlan);
// a site's own labels are its words in both languages.
var defaultLabelsEN = map[string]string{"night": "night shift", "day": "day shift", "evening": "evening shift"}

// describeEN is describe for English entries.
func (s *Service) describeEN(i Instance) string {
	label := i.Label
	for _, d := range DefaultPlan() {
		if d.Name == i.Name && d.Label == i.Label {
			label = defaultLabelsEN[i.Name]
		}
	}
	return fmt.Sprintf("%s %s–%s", label, s.when(i.Site, i.Start), i.End.In(s.loc(i.Site)).Format("15:04"))
}

// holdover reports whether the shift before cur has a sheet not yet
// accepted: its people stay on duty until it is (接班人员未上岗,不准下岗).
func (s *Service) holdover(ctx context.Context, prev Instance) (bool, error) {
	sh, err := s.st.SheetAt(ctx, prev.Site, prev.Start)
	if errors.Is(err, errNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return sh.AcceptedAt == nil, nil
}

// OnDuty is who of a department is on duty on a site at a time, the people
// to call in an emergency: the roster of the shift under way, and before
// them the outgoing shift's while its handover is not accepted. Departments
// are those of Departments; none configured: nobody (an empty list).
func (s *Service) OnDuty(ctx context.Context, site, department string, at time.Time) ([]string, error) {
	if !slices.Contains(Departments, department) {
		return nil, inputErr("department", "%q is not a department; use one of %s", department, strings.Join(Departments, ", "))
	}
	sp := s.Plan(site)
	cur := sp.Plan.At(site, at, s.loc(site))
	out := []string{}
	prev := sp.Plan.Previous(cur, s.loc(site))
	held, err := s.holdover(ctx, prev)
	if err != nil {
		return nil, err
	}
	if held {
		out = append(out, sp.Roster(prev.Name, department)...)
	}
	for _, p := range sp.Roster(cur.Name, department) {
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out, nil
}

// Duty is a site's control room now: the shift, who is on duty, the sheets
// waiting to be signed or accepted and the shift's entries.
type Duty struct {
	Site     string              `json:"site"`
	Now      time.Time           `json:"now"`
	Shift    Instance            `json:"shift"`
	Next     Instance            `json:"next"`
	Previous Instance            `json:"previous"`
	Plan     Plan                `json:"plan"`
	OnDuty   map[string][]string `json:"on_duty"`
	// Holdover: the previous shift's handover is not accepted, its people are still on duty.
	Holdover bool `json:"holdover"`
	// Pending are the sheets of ended shifts not accepted yet, oldest first;
	// Sheet is the current shift's, once built.
	Pending  []Sheet  `json:"pending"`
	Sheet    *Sheet   `json:"sheet,omitempty"`
	Entries  []Entry  `json:"entries"`
	Reminder string   `json:"handover_reminder"`
	Kinds    []string `json:"entry_kinds"`
}

// Duty is a site's control room at now.
func (s *Service) Duty(ctx context.Context, site string) (Duty, error) {
	now := s.o.Now()
	sp := s.Plan(site)
	loc := s.loc(site)
	cur := sp.Plan.At(site, now, loc)
	d := Duty{Site: site, Now: now, Shift: cur, Next: sp.Plan.Next(cur, loc), Previous: sp.Plan.Previous(cur, loc), Plan: sp.Plan,
		OnDuty: map[string][]string{}, Reminder: sp.Reminder.String(), Kinds: EntryKinds}
	for _, dep := range Departments {
		people, err := s.OnDuty(ctx, site, dep, now)
		if err != nil {
			return Duty{}, err
		}
		d.OnDuty[dep] = people
	}
	var err error
	if d.Holdover, err = s.holdover(ctx, d.Previous); err != nil {
		return Duty{}, err
	}
	if d.Pending, err = s.st.Sheets(ctx, SheetFilter{Site: site, Unaccepted: true, EndedBy: now, Limit: 50}); err != nil {
		return Duty{}, err
	}
	if sh, err := s.st.SheetAt(ctx, site, cur.Start); err == nil {
		d.Sheet = &sh
	} else if !errors.Is(err, errNotFound) {
		return Duty{}, err
	}
	start := cur.Start
	if d.Entries, err = s.st.Entries(ctx, EntryFilter{Site: site, ShiftStart: &start}); err != nil {
		return Duty{}, err
	}
	return d, nil
}

// Bounds of what people write.
const (
	maxBody  = 2000
	maxLabel = 64
	maxName  = 100
	maxNote  = 500
)

func checkText(field, v string, max int, required bool) error {
	switch {
	case required && strings.TrimSpace(v) == "":
		return inputErr(field, "required")
	case !utf8.ValidString(v) || strings.ContainsRune(v, 0):
		return inputErr(field, "is not valid text")
	case utf8.RuneCountInString(v) > max:
		return inputErr(field, "longer than %d characters", max)
	}
	return nil
}

// AddEntry writes a note, an instruction or a public-area repair into the
// duty log of the shift under way.
func (s *Service) AddEntry(ctx context.Context, site, kind, body, by string) (Entry, error) {
	if !slices.Contains(EntryKinds, kind) {
		return Entry{}, inputErr("kind", "%q is not an entry kind; use one of %s", kind, strings.Join(EntryKinds, ", "))
	}
	if err := checkText("body", body, maxBody, true); err != nil {
		return Entry{}, err
	}
	now := s.o.Now()
	return s.st.AddEntry(ctx, Entry{Site: site, ShiftStart: s.Current(site, now).Start, At: now, Kind: kind, Body: strings.TrimSpace(body), Author: by})
}

// event is an entry of the desk's own, in Chinese (body) and in English
// (body_en): the console shows the one of its language.
func (s *Service) event(site string, now time.Time, by, zh, en string) Entry {
	return Entry{Site: site, ShiftStart: s.Current(site, now).Start, At: now, Kind: EntryEvent, Body: zh, BodyEN: en, Author: by}
}

// content is what is open on a site at now, for the sheet of shift inst.
func (s *Service) content(ctx context.Context, inst Instance, now time.Time) (Content, error) {
	sp := s.Plan(inst.Site)
	c := Content{Next: sp.Plan.Next(inst, s.loc(inst.Site)), Alarms: []AlarmItem{}, Emergencies: []TicketItem{}, Tickets: []TicketItem{}}
	if s.o.Source != nil {
		alarms, err := s.o.Source.UnackedAlarms(ctx, inst.Site, now)
		if err != nil {
			return Content{}, fmt.Errorf("unacknowledged alarms: %w", err)
		}
		c.Alarms = append(c.Alarms, alarms...)
	}
	open, err := s.st.OpenTickets(ctx, inst.Site)
	if err != nil {
		return Content{}, err
	}
	for _, t := range open {
		item := t.TicketItem
		for _, d := range t.Deadlines {
			relevant := d.State == "missed" && !t.done[string(d.Step)] || d.State == "pending" && d.DueAt.Before(c.Next.End)
			if !relevant {
				continue
			}
			if item.DueAt == nil || d.DueAt.Before(*item.DueAt) {
				due := d.DueAt
				item.Step, item.DueAt = string(d.Step), &due
			}
		}
		if item.DueAt != nil {
			item.Overdue = !now.Before(*item.DueAt)
		}
		switch {
		case t.Kind == "emergency" || t.Category == "power_accident":
			// Open emergencies and accidents not cleared are handed over
			// whatever their deadlines.
			c.Emergencies = append(c.Emergencies, item)
		case item.DueAt != nil:
			c.Tickets = append(c.Tickets, item)
		}
	}
	start := inst.Start
	if c.Entries, err = s.st.Entries(ctx, EntryFilter{Site: inst.Site, ShiftStart: &start, Kinds: EntryKinds}); err != nil {
		return Content{}, err
	}
	if c.KeysOut, err = s.st.Loans(ctx, LoanFilter{Site: inst.Site, Out: true}, now); err != nil {
		return Content{}, err
	}
	if c.KeysTotal, err = s.st.KeyCount(ctx, inst.Site); err != nil {
		return Content{}, err
	}
	return c, nil
}

func (s *Service) sheetOf(ctx context.Context, inst Instance, by string, now time.Time) (Sheet, Entry, error) {
	c, err := s.content(ctx, inst, now)
	if err != nil {
		return Sheet{}, Entry{}, err
	}
	ev := s.event(inst.Site, now, by,
		fmt.Sprintf("交接班记录已生成: %s, 未确认告警 %d 条, 紧急事件 %d 件, 到期工单 %d 件, 记事 %d 条, 钥匙借出 %d/%d 把",
			s.describe(inst), len(c.Alarms), len(c.Emergencies), len(c.Tickets), len(c.Entries), len(c.KeysOut), c.KeysTotal),
		fmt.Sprintf("handover sheet of %s built: %d alarms, %d emergencies, %d tickets due, %d entries, %d of %d keys out",
			s.describeEN(inst), len(c.Alarms), len(c.Emergencies), len(c.Tickets), len(c.Entries), len(c.KeysOut), c.KeysTotal))
	return Sheet{Shift: inst, BuiltAt: now, BuiltBy: by, Content: c}, ev, nil
}

func (s *Service) build(ctx context.Context, inst Instance, by string, now time.Time) (Sheet, error) {
	sh, ev, err := s.sheetOf(ctx, inst, by, now)
	if err != nil {
		return Sheet{}, err
	}
	out, err := s.st.SaveSheet(ctx, sh, ev)
	if err == nil {
		s.sheets.WithLabelValues("built").Inc()
	}
	return out, err
}

// Build builds (or, while it is unsigned, rebuilds) the handover sheet of
// the site's shift that starts at start; zero: the shift under way. A shift
// that has not begun has no sheet.
func (s *Service) Build(ctx context.Context, site string, start time.Time, by string) (Sheet, error) {
	now := s.o.Now()
	sp := s.Plan(site)
	inst := sp.Plan.At(site, now, s.loc(site))
	if !start.IsZero() {
		inst = sp.Plan.At(site, start, s.loc(site))
		if !inst.Start.Equal(start) {
			return Sheet{}, inputErr("shift_start", "%s is not the start of a shift of site %s (the shift then is %s)", start.Format(time.RFC3339), site, s.describe(inst))
		}
		if inst.Start.After(now) {
			return Sheet{}, inputErr("shift_start", "shift %s has not begun", s.describe(inst))
		}
	}
	return s.build(ctx, inst, by, now)
}

// Sheet is a site's sheet by id.
func (s *Service) Sheet(ctx context.Context, site string, id int64) (Sheet, error) {
	sh, err := s.st.Sheet(ctx, site, id)
	if errors.Is(err, errNotFound) {
		return Sheet{}, notFoundErr("no handover sheet %d on site %s", id, site)
	}
	if err == nil && sh.Shift.Label == "" {
		sh.Shift.Label = sh.Shift.Name
	}
	return sh, err
}

// Sign is the outgoing operator's signature: someone on the control room's
// roster of the sheet's shift (any control-room operator where the shift
// has no roster).
func (s *Service) Sign(ctx context.Context, site string, id int64, by, note string) (Sheet, error) {
	if err := checkText("note", note, maxNote, false); err != nil {
		return Sheet{}, err
	}
	sh, err := s.Sheet(ctx, site, id)
	if err != nil {
		return Sheet{}, err
	}
	if sh.SignedAt != nil {
		return Sheet{}, conflictErr("the handover sheet of %s was signed by %s at %s", s.describe(sh.Shift), sh.SignedBy, s.when(site, *sh.SignedAt))
	}
	if roster := s.Plan(site).Roster(sh.Shift.Name, ControlRoom); len(roster) > 0 && !slices.Contains(roster, by) {
		return Sheet{}, forbiddenErr("%s is not on the outgoing shift (%s): its control room is %s, who sign its handover",
			by, s.describe(sh.Shift), strings.Join(roster, ", "))
	}
	now := s.o.Now()
	ev := s.event(site, now, by, fmt.Sprintf("交班签字: %s, %s 签字", s.describe(sh.Shift), by),
		fmt.Sprintf("handover of %s signed by %s", s.describeEN(sh.Shift), by))
	out, err := s.st.Sign(ctx, site, id, by, strings.TrimSpace(note), now, ev)
	if err == nil {
		s.sheets.WithLabelValues("signed").Inc()
	}
	return out, err
}

// Accept is the incoming operator's acceptance with the keys counted in the
// key box: someone on the control room's roster of the next shift (any
// control-room operator but the signer where it has no roster), of a signed
// sheet. A count that differs from the register is recorded as an event.
func (s *Service) Accept(ctx context.Context, site string, id int64, by, note string, counted *int) (Sheet, error) {
	if err := checkText("note", note, maxNote, false); err != nil {
		return Sheet{}, err
	}
	if counted == nil {
		return Sheet{}, inputErr("keys_counted", "required: the number of keys counted in the key box")
	}
	if *counted < 0 || *counted > 100000 {
		return Sheet{}, inputErr("keys_counted", "must be between 0 and 100000, got %d", *counted)
	}
	sh, err := s.Sheet(ctx, site, id)
	if err != nil {
		return Sheet{}, err
	}
	switch {
	case sh.AcceptedAt != nil:
		return Sheet{}, conflictErr("the handover sheet of %s was accepted by %s at %s", s.describe(sh.Shift), sh.AcceptedBy, s.when(site, *sh.AcceptedAt))
	case sh.SignedAt == nil:
		return Sheet{}, conflictErr("the handover sheet of %s is not signed yet: the outgoing operator signs it first", s.describe(sh.Shift))
	case sh.SignedBy == by:
		return Sheet{}, forbiddenErr("%s signed this handover as the outgoing operator: the incoming operator accepts it", by)
	}
	next := sh.Content.Next
	if next.Name == "" {
		next = s.Plan(site).Plan.Next(sh.Shift, s.loc(site))
	}
	if roster := s.Plan(site).Roster(next.Name, ControlRoom); len(roster) > 0 && !slices.Contains(roster, by) {
		return Sheet{}, forbiddenErr("%s is not on the next shift (%s): its control room is %s, who accept the handover",
			by, s.describe(next), strings.Join(roster, ", "))
	}
	now := s.o.Now()
	evs := []Entry{s.event(site, now, by, fmt.Sprintf("接班确认: %s, %s 接班, 清点钥匙 %d 把", s.describe(sh.Shift), by, *counted),
		fmt.Sprintf("handover of %s accepted by %s, %d keys counted", s.describeEN(sh.Shift), by, *counted))}
	if want := sh.KeysIn(); *counted != want {
		evs = append(evs, s.event(site, now, by,
			fmt.Sprintf("钥匙清点不符: 钥匙箱内清点 %d 把, 登记应有 %d 把 (借出 %d/%d 把)", *counted, want, len(sh.KeysOut), sh.KeysTotal),
			fmt.Sprintf("key count differs: %d counted in the key box, the register says %d (%d of %d out)", *counted, want, len(sh.KeysOut), sh.KeysTotal)))
	}
	out, err := s.st.Accept(ctx, site, id, by, strings.TrimSpace(note), *counted, now, evs)
	if err == nil {
		s.sheets.WithLabelValues("accepted").Inc()
	}
	return out, err
}

// Levels of the shift notices, in the order a late handover reaches them.
var reminderLevels = []string{"supervisor", "manager"}

// Tick does the scheduler's work at now on every site: it builds the sheet
// of a shift that has just ended, reminds the supervisors (then the
// managers) of handovers not accepted in time, and tells the supervisors of
// keys not back when due. Each step is done once, whichever desk does it.
func (s *Service) Tick(ctx context.Context) error {
	var errs []error
	for _, site := range s.o.Sites() {
		if err := s.tickSite(ctx, site, s.o.Now()); err != nil {
			errs = append(errs, fmt.Errorf("site %s: %w", site, err))
		}
	}
	return errors.Join(errs...)
}

func (s *Service) route(site, level string) []string {
	if s.o.Route == nil {
		return nil
	}
	return s.o.Route(site, level)
}

func (s *Service) tickSite(ctx context.Context, site string, now time.Time) error {
	sp := s.Plan(site)
	loc := s.loc(site)
	cur := sp.Plan.At(site, now, loc)
	prev := sp.Plan.Previous(cur, loc)
	// The shift that has just ended gets its sheet at once: if it ended
	// while the desk ran, or the site hands over already (a desk restarted
	// after the end); a desk newly installed starts with the next shift.
	if _, err := s.st.SheetAt(ctx, site, prev.Start); errors.Is(err, errNotFound) {
		inUse := prev.End.After(s.started)
		if !inUse {
			if inUse, err = s.st.HasSheets(ctx, site); err != nil {
				return err
			}
		}
		if inUse {
			sh, ev, err := s.sheetOf(ctx, prev, "desk", now)
			if err != nil {
				return err
			}
			added, err := s.st.AddSheet(ctx, sh, ev)
			if err != nil {
				return err
			}
			if added {
				s.sheets.WithLabelValues("built").Inc()
			}
		}
	} else if err != nil {
		return err
	}
	late, err := s.st.Sheets(ctx, SheetFilter{Site: site, Unaccepted: true, EndedBy: now, Limit: 50})
	if err != nil {
		return err
	}
	for _, sh := range late {
		rung := sh.Reminded + 1
		if rung > len(reminderLevels) {
			continue
		}
		due := sh.Shift.End.Add(sp.Reminder * time.Duration(2*rung-1))
		if now.Before(due) {
			continue
		}
		level := reminderLevels[rung-1]
		whatZH, whatEN := "未签字", "not signed"
		if sh.SignedAt != nil {
			whatZH, whatEN = "未接班", "not accepted"
		}
		what := whatZH + " " + whatEN
		title := fmt.Sprintf("[交接班 handover] %s %s: %s", site, s.describe(sh.Shift), what)
		n := Notice{Channels: s.route(site, level), Event: "handover_overdue", Level: level, Site: site, Title: title}
		ev := s.event(site, now, "desk",
			fmt.Sprintf("交接班提醒: %s %s (%s), 已通知%s (%d 个渠道)", s.describe(sh.Shift), whatZH, s.when(site, now), levelZH[level], len(n.Channels)),
			fmt.Sprintf("handover of %s %s at %s: reminded the %s (%d channels)", s.describeEN(sh.Shift), whatEN, s.when(site, now), level, len(n.Channels)))
		ok, err := s.st.Remind(ctx, site, sh.ID, rung, now, n, ev)
		if err != nil {
			return err
		}
		if ok {
			s.sheets.WithLabelValues("reminded_" + level).Inc()
			s.o.Log.Warn("handover not accepted; reminded", "site", site, "shift", sh.Shift.Name, "start", sh.Shift.Start, "level", level)
		}
	}
	overdue, err := s.st.OverdueUnnoticed(ctx, site, now)
	if err != nil {
		return err
	}
	for _, l := range overdue {
		title := fmt.Sprintf("[钥匙未还 key overdue] %s %s %s: %s, due %s", site, l.Label, l.KeyName, l.Borrower, s.when(site, l.DueAt))
		n := Notice{Channels: s.route(site, "supervisor"), Event: "key_overdue", Level: "supervisor", Site: site, Title: title}
		ev := s.event(site, now, "desk",
			fmt.Sprintf("钥匙未还: %s (%s) 借用人 %s, 应还 %s, 已通知主管", l.Label, l.KeyName, l.Borrower, s.when(site, l.DueAt)),
			fmt.Sprintf("key %s (%s) not back from %s, due %s: supervisors told", l.Label, l.KeyName, l.Borrower, s.when(site, l.DueAt)))
		told, err := s.st.NoticeOverdue(ctx, l, now, n, ev)
		if err != nil {
			return err
		}
		if told {
			s.keyNotices.Inc()
			s.o.Log.Warn("key not back when due; supervisors told", "site", site, "key", l.Label, "borrower", l.Borrower, "due", l.DueAt)
		}
	}
	return nil
}

// levelZH are the reminder levels' people in Chinese.
var levelZH = map[string]string{"supervisor": "主管", "manager": "经理"}

// Run ticks every interval until ctx ends.
func (s *Service) Run(ctx context.Context, every time.Duration) {
	if every <= 0 {
		every = 15 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := s.Tick(ctx); err != nil && ctx.Err() == nil {
			s.o.Log.Error("shift scheduler", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// AddKey registers a key of a site.
func (s *Service) AddKey(ctx context.Context, site, label, name, by string) (Key, error) {
	label, name = strings.TrimSpace(label), strings.TrimSpace(name)
	if err := checkText("label", label, maxLabel, true); err != nil {
		return Key{}, err
	}
	if err := checkText("name", name, maxName, true); err != nil {
		return Key{}, err
	}
	now := s.o.Now()
	return s.st.AddKey(ctx, Key{Site: site, Label: label, Name: name, CreatedAt: now},
		s.event(site, now, by, fmt.Sprintf("钥匙登记: %s (%s) 已登记", label, name), fmt.Sprintf("key %s (%s) added to the register", label, name)))
}

// EndOfDay is the end of t's day in loc: the next midnight.
func EndOfDay(t time.Time, loc *time.Location) time.Time {
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d+1, 0, 0, 0, 0, loc)
}

// Lend lends a key to a person until due (nil: the end of the day, the
// manuals' "borrowed keys come back the same day").
func (s *Service) Lend(ctx context.Context, site string, keyID int64, borrower string, due *time.Time, note, by string) (Loan, error) {
	borrower = strings.TrimSpace(borrower)
	if err := checkText("borrower", borrower, maxName, true); err != nil {
		return Loan{}, err
	}
	if err := checkText("note", note, maxNote, false); err != nil {
		return Loan{}, err
	}
	now := s.o.Now()
	dueAt := EndOfDay(now, s.loc(site))
	if due != nil {
		if !due.After(now) {
			return Loan{}, inputErr("due_at", "%s is not in the future", s.when(site, *due))
		}
		if due.Sub(now) > 31*24*time.Hour {
			return Loan{}, inputErr("due_at", "more than 31 days ahead")
		}
		dueAt = *due
	}
	return s.st.Lend(ctx, Loan{Site: site, KeyID: keyID, Borrower: borrower, LentBy: by, LentAt: now, DueAt: dueAt, Note: strings.TrimSpace(note)}, now,
		func(k Key) Entry {
			return s.event(site, now, by,
				fmt.Sprintf("钥匙借出: %s (%s) 借给 %s, 经办 %s, 应还 %s", k.Label, k.Name, borrower, by, s.when(site, dueAt)),
				fmt.Sprintf("key %s (%s) lent to %s by %s, due %s", k.Label, k.Name, borrower, by, s.when(site, dueAt)))
		})
}

// Return records a key back in the key box.
func (s *Service) Return(ctx context.Context, site string, keyID int64, by string) (Loan, error) {
	now := s.o.Now()
	return s.st.Return(ctx, site, keyID, by, now, func(l Loan) Entry {
		lateZH, lateEN := "", ""
		if !now.Before(l.DueAt) {
			lateZH, lateEN = fmt.Sprintf(", 逾期 (应还 %s)", s.when(site, l.DueAt)), fmt.Sprintf(", late (due %s)", s.when(site, l.DueAt))
		}
		return s.event(site, now, by,
			fmt.Sprintf("钥匙归还: %s (%s) 由 %s 归还, 经办 %s%s", l.Label, l.KeyName, l.Borrower, by, lateZH),
			fmt.Sprintf("key %s (%s) returned by %s to %s%s", l.Label, l.KeyName, l.Borrower, by, lateEN))
	})
}

// Keys is a site's register.
func (s *Service) Keys(ctx context.Context, site string) ([]Key, error) {
	return s.st.Keys(ctx, site, s.o.Now())
}

// Log is the duty log of a site over a period: the sheets of the shifts in
// it, its entries and events, and its key loans; with q, only what matches.
type Log struct {
	Site    string    `json:"site"`
	From    time.Time `json:"from"`
	To      time.Time `json:"to"`
	Query   string    `json:"q,omitempty"`
	Sheets  []Sheet   `json:"sheets"`
	Entries []Entry   `json:"entries"`
	Loans   []Loan    `json:"loans"`
}

// MaxLogSpan is the longest period one log answer covers.
const MaxLogSpan = 92 * 24 * time.Hour

// DutyLog reads a site's log over [from, to).
func (s *Service) DutyLog(ctx context.Context, site string, from, to time.Time, q string) (Log, error) {
	if !to.After(from) {
		return Log{}, inputErr("to", "must be after from")
	}
	if to.Sub(from) > MaxLogSpan {
		return Log{}, inputErr("to", "the period is longer than 92 days")
	}
	if err := checkText("q", q, 100, false); err != nil {
		return Log{}, err
	}
	q = strings.TrimSpace(q)
	l := Log{Site: site, From: from, To: to, Query: q}
	var err error
	if l.Sheets, err = s.st.Sheets(ctx, SheetFilter{Site: site, From: from, To: to, Search: q}); err != nil {
		return Log{}, err
	}
	if l.Entries, err = s.st.Entries(ctx, EntryFilter{Site: site, From: from, To: to, Search: q}); err != nil {
		return Log{}, err
	}
	if l.Loans, err = s.st.Loans(ctx, LoanFilter{Site: site, From: from, To: to, Search: q}, s.o.Now()); err != nil {
		return Log{}, err
	}
	return l, nil
}
