package desk

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/estatehq/estate/desk/equipment"
	"github.com/estatehq/estate/desk/history"
	"github.com/estatehq/estate/desk/maintenance"
	"github.com/estatehq/estate/desk/ticket"
	"github.com/estatehq/estate/internal/wire"
)

// MaintenanceCategory is the category of the tickets maintenance orders open
// (kind repair: an overdue one escalates as a late repair does).
const MaintenanceCategory = "maintenance"

// WarrantyCategory is the category of warranty reminders (kind request).
const WarrantyCategory = "warranty"

// maintenanceEvery is how often the desk steps the plans.
const maintenanceEvery = time.Minute

// rangeReader reads a point's samples over a span (desk/history.Reader.Range):
// usage counters and checklist evidence come from InfluxDB.
type rangeReader interface {
	Range(ctx context.Context, site, measurement, device, point string, from, to time.Time) ([]history.Sample, time.Duration, error)
}

// runMaintenance steps the plans and the warranty reminders every minute
// until ctx ends.
func (s *Server) runMaintenance(ctx context.Context) {
	if s.plant == nil {
		return
	}
	t := time.NewTicker(maintenanceEvery)
	defer t.Stop()
	for {
		if _, err := s.StepMaintenance(ctx); err != nil && ctx.Err() == nil {
			s.plant.stepErrors.Inc()
			s.log.Error("maintenance step", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// StepMaintenance opens the maintenance orders that have come due and the
// warranty reminders, at the desk's clock; it returns how many tickets it
// opened. Several desks may step at once: each occurrence opens once.
func (s *Server) StepMaintenance(ctx context.Context) (int, error) {
	pl, err := s.plantOrError()
	if err != nil {
		return 0, err
	}
	now := s.now()
	opened := 0
	plans, err := pl.maint.Plans(ctx, "")
	if err != nil {
		return 0, err
	}
	var errs []error
	for _, p := range plans {
		if !p.Active {
			continue
		}
		targets, err := s.planTargets(ctx, p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, eq := range targets {
			n, err := s.stepPlan(ctx, pl, p, eq, now)
			opened += n
			if err != nil {
				errs = append(errs, fmt.Errorf("plan %s/%s for %s: %w", p.Site, p.ID, eq.ID, err))
			}
		}
	}
	n, err := s.warrantyReminders(ctx, pl, now)
	opened += n
	return opened, errors.Join(append(errs, err)...)
}

// planTargets are the register entries a plan applies to.
func (s *Server) planTargets(ctx context.Context, p maintenance.Plan) ([]equipment.Item, error) {
	if p.Equipment != "" {
		it, err := s.plant.equip.Get(ctx, p.Site, p.Equipment)
		if errors.Is(err, equipment.ErrNotFound) {
			return nil, nil // removed from the register: nothing to maintain
		}
		return []equipment.Item{it}, err
	}
	all, err := s.plant.equip.List(ctx, p.Site)
	if err != nil {
		return nil, err
	}
	var out []equipment.Item
	for _, it := range all {
		if it.Class == p.Class {
			out = append(out, it)
		}
	}
	return out, nil
}

// usage measures a plan's usage for a piece of equipment since st, or says
// why it cannot (no device, no InfluxDB, a failed query).
func (s *Server) usage(ctx context.Context, p maintenance.Plan, eq equipment.Item, st maintenance.State, now time.Time) (float64, error) {
	from := st.UsageFrom()
	samples, hold, err := s.samples(ctx, eq, p.Usage.Point, from, now)
	if err != nil {
		return 0, err
	}
	return maintenance.Measure(p.Usage.Measure, samples, from, now, hold), nil
}

// samples are a point of an equipment's device from InfluxDB, with how long
// each is to be held (the averaging window, at least maintenance.MaxHold).
func (s *Server) samples(ctx context.Context, eq equipment.Item, point string, from, to time.Time) ([]maintenance.Sample, time.Duration, error) {
	if eq.Device == "" {
		return nil, 0, fmt.Errorf("%s has no gateway device, so nothing of it is measured", eq.ID)
	}
	rr, ok := s.history.(rangeReader)
	if s.history == nil || !ok {
		return nil, 0, errors.New("no InfluxDB is configured for the desk")
	}
	family, err := s.deviceFamily(ctx, eq.Site, eq.Device)
	if err != nil {
		return nil, 0, err
	}
	raw, every, err := rr.Range(ctx, eq.Site, family, eq.Device, point, from, to)
	if err != nil {
		return nil, 0, err
	}
	out := make([]maintenance.Sample, len(raw))
	for i, x := range raw {
		out[i] = maintenance.Sample{Time: x.Time, Value: x.Value}
	}
	return out, max(every, maintenance.MaxHold), nil
}

// deviceFamily is the family (InfluxDB measurement) of a device a gateway of
// the site reports.
func (s *Server) deviceFamily(ctx context.Context, site, device string) (string, error) {
	gs, err := s.store.GatewayStatuses(ctx, site)
	if err != nil {
		return "", err
	}
	for _, g := range gs {
		for _, d := range g.Devices {
			if d.ID == device {
				return d.Family, nil
			}
		}
	}
	return "", fmt.Errorf("no gateway of site %s reports device %s", site, device)
}

// stepPlan moves one plan on for one piece of equipment and opens its order
// when it has come due.
func (s *Server) stepPlan(ctx context.Context, pl *plant, p maintenance.Plan, eq equipment.Item, now time.Time) (int, error) {
	st, err := pl.maint.State(ctx, p.Site, p.ID, eq.ID, now, true)
	if err != nil {
		return 0, err
	}
	plan, use := p, 0.0
	if p.Usage != nil {
		if use, err = s.usage(ctx, p, eq, st, now); err != nil {
			// The calendar still applies; the usage is retried next step.
			plan.Usage = nil
			s.log.Debug("maintenance usage unknown", "site", p.Site, "plan", p.ID, "equipment", eq.ID, "err", err)
		}
	}
	occ, next := maintenance.Step(plan, st, now, use, s.siteLocation(p.Site), s.siteWorkingDays(p.Site))
	if occ == nil {
		return 0, nil
	}
	won, err := pl.maint.SaveState(ctx, p.Site, p.ID, eq.ID, st, next)
	if err != nil || !won {
		return 0, err // another desk stepped it first
	}
	if err := s.openOrder(ctx, pl, p, eq, *occ, now); err != nil {
		// Put the state back, so that the next step tries again.
		if _, rerr := pl.maint.SaveState(ctx, p.Site, p.ID, eq.ID, next, st); rerr != nil {
			err = errors.Join(err, rerr)
		}
		return 0, err
	}
	return 1, nil
}

// openOrder saves an occurrence's order and opens its ticket (both once,
// however often it is retried).
func (s *Server) openOrder(ctx context.Context, pl *plant, p maintenance.Plan, eq equipment.Item, occ maintenance.Occurrence, now time.Time) error {
	days := p.DeadlineDays
	if days == 0 {
		days = 3
	}
	o := maintenance.Order{Site: p.Site, Plan: p.ID, PlanName: p.Name, Equipment: eq.ID, Due: occ.Due, Deadline: occ.Due.AddDate(0, 0, days),
		Trigger: occ.Trigger, Usage: occ.Usage, Explain: occ.Explain, Assignee: p.Assignee, Team: p.Team,
		Contractor: firstNonEmpty(p.Contractor, eq.Contractor), Checklist: p.Checklist, Results: []maintenance.Result{}, CreatedAt: now}
	if p.WindowMinutes > 0 && eq.Device != "" {
		o.Window = maintenance.Window{Devices: []string{eq.Device}, From: occ.Due, To: occ.Due.Add(time.Duration(p.WindowMinutes) * time.Minute)}
	}
	saved, _, err := pl.maint.AddOrder(ctx, o)
	if err != nil {
		return err
	}
	if saved.Ticket != 0 {
		return nil
	}
	loc := s.siteLocation(p.Site)
	var desc strings.Builder
	fmt.Fprintf(&desc, "%s\n设备 / equipment: %s %s (%s %s, S/N %s)\n到期 / due: %s; 期限 / deadline: %s\n",
		occ.Explain, eq.ID, eq.Name, eq.Make, eq.Model, eq.Serial, occ.Due.In(loc).Format("2006-01-02 15:04"), o.Deadline.In(loc).Format("2006-01-02 15:04"))
	if o.Contractor != "" {
		fmt.Fprintf(&desc, "维保单位 / contractor: %s\n", o.Contractor)
	}
	for _, it := range p.Checklist {
		fmt.Fprintf(&desc, "□ %s\n", it.Text)
	}
	device := eq.Device
	if device == "" {
		device = eq.ID
	}
	n := wire.NewTicket{Kind: wire.Repair, Category: MaintenanceCategory, Priority: "P3",
		Title:       truncate(fmt.Sprintf("[保养] %s — %s", p.Name, eq.Name), 200),
		Description: truncate(desc.String(), wire.MaxTextLen), Site: p.Site, Building: eq.Building, Floor: eq.Floor, Device: device,
		AlarmKey: fmt.Sprintf("%s/maintenance/%s/%s/%d", p.Site, p.ID, eq.ID, occ.Due.Unix()), Reporter: "maintenance plan " + p.ID}
	t, _, err := s.store.CreateTicket(ctx, n, "maintenance", now)
	if err != nil {
		return fmt.Errorf("ticket of order %d: %w", saved.ID, err)
	}
	if err := pl.maint.SetTicket(ctx, saved.ID, t.ID); err != nil {
		return err
	}
	if err := pl.maint.SetTicketDeadlines(ctx, t.ID, now, o.Deadline); err != nil {
		return err
	}
	if (p.Assignee != "" || p.Team != "") && t.Status == wire.New {
		if _, err := s.store.Transition(ctx, t.ID, ticket.Change{Action: ticket.Dispatch, Assignee: p.Assignee, Team: p.Team,
			Note: "maintenance plan " + p.ID}, "maintenance", now); err != nil {
			s.log.Warn("maintenance order not dispatched", "ticket", t.ID, "err", err)
		}
	}
	s.hub.publish()
	pl.opened.WithLabelValues(occ.Trigger).Inc()
	s.log.Info("maintenance order opened", "site", p.Site, "plan", p.ID, "equipment", eq.ID, "order", saved.ID, "ticket", t.ID,
		"trigger", occ.Trigger, "due", occ.Due)
	return nil
}

// warrantyReminders opens a reminder (kind request, category warranty) for
// each entry whose warranty ends within 30 days, once per warranty end.
func (s *Server) warrantyReminders(ctx context.Context, pl *plant, now time.Time) (int, error) {
	items, err := pl.equip.List(ctx, "")
	if err != nil {
		return 0, err
	}
	opened := 0
	var errs []error
	for _, it := range items {
		today := now.In(s.siteLocation(it.Site)).Format(time.DateOnly)
		if !it.WarrantyEnding(today) {
			continue
		}
		ok, err := pl.equip.ClaimWarrantyReminder(ctx, it.Site, it.ID, it.WarrantyEnd)
		if err != nil || !ok {
			errs = append(errs, err)
			continue
		}
		device := it.Device
		if device == "" {
			device = it.ID
		}
		n := wire.NewTicket{Kind: wire.Request, Category: WarrantyCategory, Priority: "P3",
			Title: truncate(fmt.Sprintf("[保修到期] %s %s 保修将于 %s 到期 / warranty ends %s", it.ID, it.Name, it.WarrantyEnd, it.WarrantyEnd), 200),
			Description: truncate(fmt.Sprintf("设备 %s (%s %s, S/N %s) 保修于 %s 到期; 供应商 %s, 维保单位 %s。请在到期前安排保修期内检查与报修。\n"+
				"Warranty of %s ends on %s: have it inspected and claim any fault before then.",
				it.Name, it.Make, it.Model, it.Serial, it.WarrantyEnd, it.Supplier, it.Contractor, it.ID, it.WarrantyEnd), wire.MaxTextLen),
			Site: it.Site, Building: it.Building, Floor: it.Floor, Device: device,
			AlarmKey: fmt.Sprintf("%s/warranty/%s/%s", it.Site, it.ID, it.WarrantyEnd), Reporter: "equipment register"}
		if _, _, err := s.store.CreateTicket(ctx, n, "equipment", now); err != nil {
			errs = append(errs, err, pl.equip.ReleaseWarrantyReminder(ctx, it.Site, it.ID))
			continue
		}
		opened++
		pl.opened.WithLabelValues("warranty").Inc()
		s.hub.publish()
		s.log.Info("warranty reminder opened", "site", it.Site, "equipment", it.ID, "warranty_end", it.WarrantyEnd)
	}
	return opened, errors.Join(errs...)
}

func firstNonEmpty(v ...string) string {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && (s[n]&0xC0) == 0x80 {
		n--
	}
	return s[:n]
}

// ---- plans ----

func (s *Server) listTemplates(c echo.Context) error {
	ts, err := maintenance.Templates()
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"templates": ts})
}

// PlanView is a plan with its next due time for each piece it applies to.
type PlanView struct {
	maintenance.Plan
	Targets []PlanTarget `json:"targets"`
}

// PlanTarget is one piece of equipment of a plan and when it is next due.
type PlanTarget struct {
	Equipment string          `json:"equipment"`
	Name      string          `json:"name"`
	Next      maintenance.Due `json:"next"`
	// UsageError says why usage could not be read (the calendar still applies).
	UsageError string `json:"usage_error,omitempty"`
}

func (s *Server) planView(ctx context.Context, p maintenance.Plan) (PlanView, error) {
	v := PlanView{Plan: p, Targets: []PlanTarget{}}
	targets, err := s.planTargets(ctx, p)
	if err != nil {
		return v, err
	}
	now := s.now()
	for _, eq := range targets {
		st, err := s.plant.maint.State(ctx, p.Site, p.ID, eq.ID, now, false)
		if err != nil {
			return v, err
		}
		t := PlanTarget{Equipment: eq.ID, Name: eq.Name}
		plan, use := p, 0.0
		if p.Usage != nil {
			if use, err = s.usage(ctx, p, eq, st, now); err != nil {
				t.UsageError = err.Error()
				plan.Usage = nil
			}
		}
		t.Next = maintenance.Next(plan, st, now, use, s.siteLocation(p.Site), s.siteWorkingDays(p.Site))
		v.Targets = append(v.Targets, t)
	}
	return v, nil
}

func (s *Server) listPlans(c echo.Context) error {
	pl, err := s.plantOrError()
	if err != nil {
		return err
	}
	site, err := s.siteParam(c)
	if err != nil {
		return err
	}
	plans, err := pl.maint.Plans(c.Request().Context(), site)
	if err != nil {
		return err
	}
	out := []PlanView{}
	for _, p := range plans {
		v, err := s.planView(c.Request().Context(), p)
		if err != nil {
			return err
		}
		out = append(out, v)
	}
	return c.JSON(http.StatusOK, map[string]any{"plans": out})
}

// planBody is PUT /maintenance/{site}/plans/{id}: a whole plan, or a
// template's name with what it is for (and any field to override).
type planBody struct {
	maintenance.Plan
	Active *bool `json:"active"`
}

func (s *Server) putPlan(c echo.Context) error {
	pl, err := s.plantOrError()
	if err != nil {
		return err
	}
	site, err := s.siteParam(c)
	if err != nil {
		return err
	}
	var b planBody
	if err := decode(c, &b); err != nil {
		return err
	}
	p := b.Plan
	if p.Template != "" {
		ts, err := maintenance.Templates()
		if err != nil {
			return err
		}
		var found *maintenance.Plan
		for i := range ts {
			if ts[i].Template == p.Template {
				found = &ts[i]
			}
		}
		if found == nil {
			return fieldError("template", fmt.Sprintf("no template %q (GET /api/v1/maintenance/templates lists them)", p.Template))
		}
		t := maintenance.FromTemplate(*found, site, c.Param("id"))
		if p.Equipment != "" {
			t.Equipment, t.Class = p.Equipment, ""
		}
		if p.Class != "" {
			t.Class = p.Class
		}
		// A template's start date is an example: the plan starts today
		// unless it says otherwise.
		if t.Calendar != nil {
			t.Calendar.Start = s.now().In(s.siteLocation(site)).Format(time.DateOnly)
		}
		if p.Calendar != nil {
			t.Calendar = p.Calendar
		}
		if p.Usage != nil {
			t.Usage = p.Usage
		}
		for _, f := range []struct {
			dst *string
			v   string
		}{{&t.Name, p.Name}, {&t.Assignee, p.Assignee}, {&t.Team, p.Team}, {&t.Contractor, p.Contractor}} {
			if f.v != "" {
				*f.dst = f.v
			}
		}
		if p.DeadlineDays != 0 {
			t.DeadlineDays = p.DeadlineDays
		}
		if p.WindowMinutes != 0 {
			t.WindowMinutes = p.WindowMinutes
		}
		if len(p.Checklist) > 0 {
			t.Checklist = p.Checklist
		}
		p = t
	}
	p.Site, p.ID = site, c.Param("id")
	p.Active = b.Active == nil || *b.Active
	if err := p.Validate(); err != nil {
		return planProblems(err)
	}
	if err := s.checkPlanPoints(c.Request().Context(), p); err != nil {
		return err
	}
	if err := pl.maint.PutPlan(c.Request().Context(), p, s.now()); err != nil {
		return err
	}
	// The plan applies from now: usage is counted from here (a replaced
	// plan keeps its state).
	targets, err := s.planTargets(c.Request().Context(), p)
	if err != nil {
		return err
	}
	for _, eq := range targets {
		if _, err := pl.maint.State(c.Request().Context(), p.Site, p.ID, eq.ID, s.now(), true); err != nil {
			return err
		}
	}
	v, err := s.planView(c.Request().Context(), p)
	if err != nil {
		return err
	}
	s.log.Info("maintenance plan saved", "site", site, "plan", p.ID, "by", principal(c).Name, "request_id", requestID(c))
	return c.JSON(http.StatusOK, v)
}

// planProblems is a 422 naming every problem of a plan.
func planProblems(err error) error {
	lines := strings.Split(err.Error(), "\n")
	field, _, _ := strings.Cut(lines[0], ":")
	return echo.NewHTTPError(http.StatusUnprocessableEntity, apiErr{Error: strings.Join(lines, "; "), Field: field})
}

// checkPlanPoints refuses a plan that reads a point its equipment's device
// does not report (usage or evidence), or reads telemetry of equipment
// without a device: the points are those InfluxDB has of the device in the
// last day.
func (s *Server) checkPlanPoints(ctx context.Context, p maintenance.Plan) error {
	points := p.EvidencePoints()
	if len(points) == 0 {
		return nil
	}
	targets, err := s.planTargets(ctx, p)
	if err != nil {
		return err
	}
	if p.Equipment != "" && len(targets) == 0 {
		return fieldError("equipment", fmt.Sprintf("no equipment %s in the register of site %s", p.Equipment, p.Site))
	}
	for _, eq := range targets {
		if eq.Device == "" {
			return fieldError("usage.point", fmt.Sprintf("%s has no gateway device: its usage and evidence (%s) cannot be read; give its device in the register, or drop the usage trigger and evidence",
				eq.ID, strings.Join(points, ", ")))
		}
		if s.history == nil {
			return apiError(http.StatusUnprocessableEntity, "plans that read telemetry need the desk's InfluxDB", "add an influxdb section to the desk's configuration")
		}
		family, err := s.deviceFamily(ctx, eq.Site, eq.Device)
		if err != nil {
			return fieldError("usage.point", err.Error())
		}
		values, _, err := s.history.Latest(ctx, eq.Site, family, eq.Device)
		if err != nil {
			return apiError(http.StatusBadGateway, "InfluxDB query failed", err.Error())
		}
		var have []string
		for k := range values {
			have = append(have, k)
		}
		sort.Strings(have)
		for _, pt := range points {
			if _, ok := values[pt]; !ok {
				return fieldError("usage.point", fmt.Sprintf("device %s of %s has no point %s (it reports: %s)", eq.Device, eq.ID, pt, strings.Join(have, ", ")))
			}
		}
	}
	return nil
}

func (s *Server) deletePlan(c echo.Context) error {
	pl, err := s.plantOrError()
	if err != nil {
		return err
	}
	site, err := s.siteParam(c)
	if err != nil {
		return err
	}
	if err := pl.maint.DeletePlan(c.Request().Context(), site, c.Param("id")); err != nil {
		return plantError(err)
	}
	return c.NoContent(http.StatusNoContent)
}

// ---- orders ----

func (s *Server) listOrders(c echo.Context) error {
	pl, err := s.plantOrError()
	if err != nil {
		return err
	}
	site, err := s.siteParam(c)
	if err != nil {
		return err
	}
	f := maintenance.OrderFilter{Site: site, Status: c.QueryParam("status"), Equipment: c.QueryParam("equipment"), Plan: c.QueryParam("plan")}
	if f.Status != "" && f.Status != maintenance.Open && f.Status != maintenance.Done {
		return fieldError("status", "open or done")
	}
	orders, err := pl.maint.Orders(c.Request().Context(), f, s.now())
	if err != nil {
		return err
	}
	s.planNames(c.Request().Context(), site, orders)
	return c.JSON(http.StatusOK, map[string]any{"orders": orders})
}

func (s *Server) planNames(ctx context.Context, site string, orders []maintenance.Order) {
	plans, err := s.plant.maint.Plans(ctx, site)
	if err != nil {
		return
	}
	names := map[string]string{}
	for _, p := range plans {
		names[p.ID] = p.Name
	}
	for i := range orders {
		orders[i].PlanName = names[orders[i].Plan]
	}
}

func (s *Server) orderParam(c echo.Context) (*plant, maintenance.Order, error) {
	pl, err := s.plantOrError()
	if err != nil {
		return nil, maintenance.Order{}, err
	}
	site, err := s.siteParam(c)
	if err != nil {
		return nil, maintenance.Order{}, err
	}
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return nil, maintenance.Order{}, apiError(http.StatusNotFound, "no such order", "")
	}
	o, err := pl.maint.Order(c.Request().Context(), site, id, s.now())
	if err != nil {
		return nil, o, plantError(err)
	}
	os := []maintenance.Order{o}
	s.planNames(c.Request().Context(), site, os)
	return pl, os[0], nil
}

func (s *Server) getOrder(c echo.Context) error {
	_, o, err := s.orderParam(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, o)
}

// evidence fills an order's evidence items from telemetry now, keeping the
// results a person gave.
func (s *Server) evidence(ctx context.Context, o maintenance.Order, now time.Time) ([]maintenance.Result, error) {
	eq, err := s.plant.equip.Get(ctx, o.Site, o.Equipment)
	if err != nil {
		return nil, err
	}
	results := map[string]maintenance.Result{}
	for _, r := range o.Results {
		results[r.Item] = r
	}
	for _, it := range o.Checklist {
		if it.Evidence == nil {
			continue
		}
		hours := it.Evidence.Hours
		if hours == 0 {
			hours = 24
		}
		from := now.Add(-time.Duration(hours) * time.Hour)
		samples := map[string][]maintenance.Sample{}
		var failure []string
		for _, pt := range it.Evidence.Points {
			sm, _, err := s.samples(ctx, eq, pt, from, now)
			if err != nil {
				failure = append(failure, pt+": "+err.Error())
				continue
			}
			samples[pt] = sm
		}
		r := maintenance.Evaluate(it, samples, from, now)
		if len(failure) > 0 {
			r.Summary = strings.Join(append(failure, r.Summary), "; ")
		}
		results[it.ID] = r
	}
	out := []maintenance.Result{}
	for _, it := range o.Checklist {
		if r, ok := results[it.ID]; ok {
			out = append(out, r)
		}
	}
	return out, nil
}

// readEvidence is POST /maintenance/{site}/orders/{id}/evidence: the
// telemetry items filled now, with the readings.
func (s *Server) readEvidence(c echo.Context) error {
	pl, o, err := s.orderParam(c)
	if err != nil {
		return err
	}
	if o.Status != maintenance.Open {
		return plantError(maintenance.ErrNotOpen)
	}
	results, err := s.evidence(c.Request().Context(), o, s.now())
	if err != nil {
		return plantError(err)
	}
	if err := pl.maint.SaveResults(c.Request().Context(), o.Site, o.ID, results); err != nil {
		return plantError(err)
	}
	o.Results = results
	return c.JSON(http.StatusOK, o)
}

// completeBody is POST /maintenance/{site}/orders/{id}/complete.
type completeBody struct {
	Results []maintenance.Result `json:"results"`
	// Minutes is the time the work took.
	Minutes int    `json:"minutes"`
	Note    string `json:"note"`
}

func (s *Server) completeOrder(c echo.Context) error {
	pl, o, err := s.orderParam(c)
	if err != nil {
		return err
	}
	if o.Status != maintenance.Open {
		return plantError(maintenance.ErrNotOpen)
	}
	var b completeBody
	if err := decode(c, &b); err != nil {
		return err
	}
	if b.Minutes < 0 || b.Minutes > 100000 {
		return fieldError("minutes", "0 to 100000")
	}
	if len(b.Note) > wire.MaxTextLen {
		return fieldError("note", fmt.Sprintf("at most %d bytes", wire.MaxTextLen))
	}
	ctx := c.Request().Context()
	now := s.now()
	// Evidence items are read from telemetry unless a person gave them.
	auto, err := s.evidence(ctx, o, now)
	if err != nil {
		return plantError(err)
	}
	byItem := map[string]maintenance.Item{}
	for _, it := range o.Checklist {
		byItem[it.ID] = it
	}
	given := map[string]maintenance.Result{}
	var problems []string
	for i, r := range b.Results {
		it, ok := byItem[r.Item]
		if !ok {
			problems = append(problems, fmt.Sprintf("results[%d].item: no item %q on this checklist", i, r.Item))
			continue
		}
		if _, dup := given[r.Item]; dup {
			problems = append(problems, fmt.Sprintf("results[%d].item: %s is given twice", i, r.Item))
			continue
		}
		checked, err := maintenance.Check(it, r)
		if err != nil {
			problems = append(problems, fmt.Sprintf("results[%d]: %v", i, err))
			continue
		}
		given[r.Item] = checked
	}
	for _, r := range auto {
		if _, ok := given[r.Item]; !ok {
			given[r.Item] = r
		}
	}
	var results []maintenance.Result
	failed := 0
	var failedText []string
	for _, it := range o.Checklist {
		r, ok := given[it.ID]
		if !ok {
			if it.Required {
				problems = append(problems, fmt.Sprintf("%s: required (%s)", it.ID, it.Text))
			}
			continue
		}
		if it.Required && it.Kind == maintenance.KindCheck && r.Pass == nil {
			problems = append(problems, fmt.Sprintf("%s: pass or fail is required", it.ID))
		}
		if r.Pass != nil && !*r.Pass {
			failed++
			failedText = append(failedText, it.Text)
		}
		results = append(results, r)
	}
	if len(problems) > 0 {
		return echo.NewHTTPError(http.StatusUnprocessableEntity, apiErr{Error: strings.Join(problems, "; "), Field: "results"})
	}
	by := principal(c).Name
	if err := pl.maint.Complete(ctx, o.Site, o.ID, results, failed, b.Minutes, by, now); err != nil {
		return plantError(err)
	}
	resolution := fmt.Sprintf("保养完成 / maintenance done: %d items, %d failed", len(results), failed)
	if len(failedText) > 0 {
		resolution += " (" + strings.Join(failedText, "; ") + ")"
	}
	if b.Note != "" {
		resolution += "\n" + b.Note
	}
	warning := s.resolveTicket(ctx, o.Ticket, by, truncate(resolution, wire.MaxTextLen), now)
	s.hub.publish()
	done, err := pl.maint.Order(ctx, o.Site, o.ID, now)
	if err != nil {
		return err
	}
	out := map[string]any{"order": done}
	if warning != "" {
		out["warning"] = warning
	}
	return c.JSON(http.StatusOK, out)
}

// resolveTicket takes an order's ticket to resolved (through dispatch and
// arrival when it is not that far yet); it returns what stopped it, if
// anything (a cancelled ticket stays cancelled).
func (s *Server) resolveTicket(ctx context.Context, id int64, by, resolution string, now time.Time) string {
	if id == 0 {
		return "the order has no ticket"
	}
	for range 3 {
		t, err := s.store.GetTicket(ctx, id)
		if err != nil {
			return err.Error()
		}
		var ch ticket.Change
		switch t.Status {
		case wire.New:
			ch = ticket.Change{Action: ticket.Dispatch, Assignee: by}
		case wire.Dispatched:
			ch = ticket.Change{Action: ticket.Arrive}
		case wire.OnSite:
			ch = ticket.Change{Action: ticket.Resolve, Resolution: resolution}
		default:
			return ""
		}
		if _, err := s.store.Transition(ctx, id, ch, by, now); err != nil {
			return fmt.Sprintf("ticket %d: %v", id, err)
		}
	}
	return ""
}

// windows is GET /maintenance/{site}/windows: the devices that open orders
// want in a maintenance window on their gateway, and when.
func (s *Server) windows(c echo.Context) error {
	pl, err := s.plantOrError()
	if err != nil {
		return err
	}
	site, err := s.siteParam(c)
	if err != nil {
		return err
	}
	orders, err := pl.maint.Windows(c.Request().Context(), site, s.now())
	if err != nil {
		return err
	}
	type win struct {
		Order  int64              `json:"order"`
		Ticket int64              `json:"ticket"`
		Window maintenance.Window `json:"window"`
	}
	out := []win{}
	for _, o := range orders {
		if len(o.Window.Devices) > 0 {
			out = append(out, win{o.ID, o.Ticket, o.Window})
		}
	}
	return c.JSON(http.StatusOK, map[string]any{"windows": out})
}

// ---- reports ----

// MaintenanceReport is GET /maintenance/{site}/report.
type MaintenanceReport struct {
	Site string    `json:"site"`
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// DueThisWeek are the orders due this week (Monday to Sunday, site
	// time) and the plans' next occurrences in it; Overdue the open orders
	// past their deadline.
	DueThisWeek  []maintenance.Order `json:"due_this_week"`
	PlansDue     []PlanDue           `json:"plans_due_this_week"`
	Overdue      []maintenance.Order `json:"overdue"`
	ByMonth      []Completion        `json:"by_month"`
	ByContractor []Completion        `json:"by_contractor"`
	Minutes      int                 `json:"minutes"`
	FailedItems  []FailedItems       `json:"failed_items"`
}

// PlanDue is a plan's coming occurrence for one piece of equipment.
type PlanDue struct {
	Plan      string    `json:"plan"`
	Name      string    `json:"name"`
	Equipment string    `json:"equipment"`
	At        time.Time `json:"at"`
	Explain   string    `json:"explain"`
}

// Completion is how many orders fell due in a month (or for a contractor)
// and how many were done, and done by their deadline.
type Completion struct {
	Key     string  `json:"key"`
	Due     int     `json:"due"`
	Done    int     `json:"done"`
	OnTime  int     `json:"on_time"`
	Rate    float64 `json:"rate"`
	Minutes int     `json:"minutes"`
}

// FailedItems counts failed checklist items of one category.
type FailedItems struct {
	Category string `json:"category"`
	Count    int    `json:"count"`
}

func (s *Server) maintenanceReport(c echo.Context) error {
	pl, err := s.plantOrError()
	if err != nil {
		return err
	}
	site, err := s.siteParam(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	loc := s.siteLocation(site)
	now := s.now().In(loc)
	from := time.Date(now.Year(), now.Month()-11, 1, 0, 0, 0, 0, loc)
	to := time.Date(now.Year(), now.Month()+1, 1, 0, 0, 0, 0, loc)
	for _, q := range []struct {
		name string
		dst  *time.Time
	}{{"from", &from}, {"to", &to}} {
		if v := c.QueryParam(q.name); v != "" {
			t, err := time.ParseInLocation(time.DateOnly, v, loc)
			if err != nil {
				return fieldError(q.name, "a date, YYYY-MM-DD")
			}
			*q.dst = t
		}
	}
	if !to.After(from) || to.Sub(from) > 5*366*24*time.Hour {
		return fieldError("to", "after from, and at most five years later")
	}
	orders, err := pl.maint.Orders(ctx, maintenance.OrderFilter{Site: site, DueFrom: from, DueTo: to}, now)
	if err != nil {
		return err
	}
	s.planNames(ctx, site, orders)
	rep := MaintenanceReport{Site: site, From: from, To: to, DueThisWeek: []maintenance.Order{}, PlansDue: []PlanDue{},
		Overdue: []maintenance.Order{}, ByMonth: []Completion{}, ByContractor: []Completion{}, FailedItems: []FailedItems{}}
	weekStart := time.Date(now.Year(), now.Month(), now.Day()-(int(now.Weekday())+6)%7, 0, 0, 0, 0, loc)
	weekEnd := weekStart.AddDate(0, 0, 7)
	open, err := pl.maint.Orders(ctx, maintenance.OrderFilter{Site: site, Status: maintenance.Open}, now)
	if err != nil {
		return err
	}
	s.planNames(ctx, site, open)
	for _, o := range open {
		if o.Overdue {
			rep.Overdue = append(rep.Overdue, o)
		}
		if !o.Due.Before(weekStart) && o.Due.Before(weekEnd) {
			rep.DueThisWeek = append(rep.DueThisWeek, o)
		}
	}
	plans, err := pl.maint.Plans(ctx, site)
	if err != nil {
		return err
	}
	for _, p := range plans {
		if !p.Active {
			continue
		}
		v, err := s.planView(ctx, p)
		if err != nil {
			return err
		}
		for _, t := range v.Targets {
			if !t.Next.At.IsZero() && t.Next.At.Before(weekEnd) && !t.Next.Now {
				rep.PlansDue = append(rep.PlansDue, PlanDue{p.ID, p.Name, t.Equipment, t.Next.At, t.Next.Explain})
			}
		}
	}
	months, contractors := map[string]*Completion{}, map[string]*Completion{}
	failed := map[string]int{}
	add := func(m map[string]*Completion, key string, o maintenance.Order) {
		c := m[key]
		if c == nil {
			c = &Completion{Key: key}
			m[key] = c
		}
		c.Due++
		if o.Status == maintenance.Done {
			c.Done++
			c.Minutes += o.Minutes
			if !o.CompletedAt.After(o.Deadline) {
				c.OnTime++
			}
		}
	}
	for _, o := range orders {
		add(months, o.Due.In(loc).Format("2006-01"), o)
		add(contractors, firstNonEmpty(o.Contractor, o.Assignee, o.Team, "-"), o)
		rep.Minutes += o.Minutes
		cat := map[string]string{}
		for _, it := range o.Checklist {
			cat[it.ID] = firstNonEmpty(it.Category, "other")
		}
		for _, r := range o.Results {
			if r.Pass != nil && !*r.Pass {
				failed[cat[r.Item]]++
			}
		}
	}
	flatten := func(m map[string]*Completion) []Completion {
		out := []Completion{}
		for _, c := range m {
			if c.Due > 0 {
				c.Rate = math.Round(float64(c.Done)/float64(c.Due)*1000) / 10
			}
			out = append(out, *c)
		}
		sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
		return out
	}
	rep.ByMonth, rep.ByContractor = flatten(months), flatten(contractors)
	for k, n := range failed {
		rep.FailedItems = append(rep.FailedItems, FailedItems{k, n})
	}
	sort.Slice(rep.FailedItems, func(i, j int) bool {
		if rep.FailedItems[i].Count != rep.FailedItems[j].Count {
			return rep.FailedItems[i].Count > rep.FailedItems[j].Count
		}
		return rep.FailedItems[i].Category < rep.FailedItems[j].Category
	})
	if f := c.QueryParam("format"); f != "" {
		return writeTable(c, f, "maintenance-"+site, []string{"section", "key", "due", "done", "on_time", "rate", "minutes", "count"}, reportRows(rep, loc))
	}
	return c.JSON(http.StatusOK, rep)
}

// reportRows is the report as one table (its CSV and XLSX).
func reportRows(r MaintenanceReport, loc *time.Location) [][]string {
	var rows [][]string
	itoa := strconv.Itoa
	for _, c := range r.ByMonth {
		rows = append(rows, []string{"month", c.Key, itoa(c.Due), itoa(c.Done), itoa(c.OnTime), strconv.FormatFloat(c.Rate, 'f', 1, 64), itoa(c.Minutes), ""})
	}
	for _, c := range r.ByContractor {
		rows = append(rows, []string{"contractor", c.Key, itoa(c.Due), itoa(c.Done), itoa(c.OnTime), strconv.FormatFloat(c.Rate, 'f', 1, 64), itoa(c.Minutes), ""})
	}
	for _, f := range r.FailedItems {
		rows = append(rows, []string{"failed_items", f.Category, "", "", "", "", "", itoa(f.Count)})
	}
	for _, o := range r.Overdue {
		rows = append(rows, []string{"overdue", fmt.Sprintf("%s %s #%d deadline %s", o.PlanName, o.Equipment, o.Ticket, o.Deadline.In(loc).Format("2006-01-02 15:04")), "", "", "", "", "", ""})
	}
	for _, o := range r.DueThisWeek {
		rows = append(rows, []string{"due_this_week", fmt.Sprintf("%s %s #%d due %s", o.PlanName, o.Equipment, o.Ticket, o.Due.In(loc).Format("2006-01-02 15:04")), "", "", "", "", "", ""})
	}
	for _, p := range r.PlansDue {
		rows = append(rows, []string{"plan_due_this_week", fmt.Sprintf("%s %s %s", p.Name, p.Equipment, p.At.In(loc).Format("2006-01-02 15:04")), "", "", "", "", "", ""})
	}
	rows = append(rows, []string{"total", "minutes", "", "", "", "", strconv.Itoa(r.Minutes), ""})
	return rows
}
