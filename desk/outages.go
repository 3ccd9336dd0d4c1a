package desk

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/estatehq/estate/desk/store"
	"github.com/estatehq/estate/internal/wire"
)

// Planned outages (issue 15 part 3): an engineer requests one (a feeder or
// buildings, start, end, reason); a manager approves it; on approval the
// desk lists the affected households from the gateways' topology and the
// household register, records that each was told (the notice's text and the
// channel), and hands the site's gateways a maintenance window in the
// heartbeat's answer, so that the outage and offline alarms inside it are
// recorded with "planned outage #N" as their cause instead of ticketed.

// maintenanceStore is what planned outages, windows and commands need of
// the store (desk/store/outages.go, commands.go).
type maintenanceStore interface {
	CreateOutage(ctx context.Context, o store.Outage) (store.Outage, error)
	GetOutage(ctx context.Context, site string, id int64) (store.Outage, error)
	ListOutages(ctx context.Context, site string, limit int) ([]store.Outage, error)
	ApproveOutage(ctx context.Context, site string, id int64, by, note string, now time.Time, notices []store.Notice, w wire.Window) (store.Outage, error)
	DecideOutage(ctx context.Context, site string, id int64, from, to, by, note string, now time.Time) (store.Outage, error)
	OutageNotices(ctx context.Context, site string, id int64) ([]store.Notice, error)
	SiteWindows(ctx context.Context, site string, now time.Time) ([]wire.Window, error)
	ListUnits(ctx context.Context, site string) ([]store.Unit, error)

	CreateCommand(ctx context.Context, c store.DeviceCommand, approver, note string) (store.DeviceCommand, error)
	GetCommand(ctx context.Context, site string, id int64) (store.DeviceCommand, error)
	ListCommands(ctx context.Context, site, device string, limit int) ([]store.DeviceCommand, error)
	CommandAudit(ctx context.Context, id int64) ([]store.CommandStep, error)
	ApproveCommand(ctx context.Context, site string, id int64, by, note string, now time.Time) (store.DeviceCommand, error)
	RejectCommand(ctx context.Context, site string, id int64, by, note string, now time.Time) (store.DeviceCommand, error)
	DeliverCommands(ctx context.Context, site, gateway string, now time.Time) ([]wire.Command, error)
	RecordResults(ctx context.Context, site, gateway string, results []wire.CommandResult, now time.Time) ([]int64, error)
	TopUpClosedSince(ctx context.Context, site, device string, since time.Time) (bool, error)
}

func (s *Server) maint() (maintenanceStore, error) {
	ms, ok := s.store.(maintenanceStore)
	if !ok {
		return nil, apiError(http.StatusServiceUnavailable, "this desk's store keeps no planned outages or commands", "")
	}
	return ms, nil
}

// Bounds of a planned outage.
const (
	maxOutageLength  = 7 * 24 * time.Hour
	maxOutageAhead   = 366 * 24 * time.Hour
	maxReasonLen     = 500
	maxOutageList    = 500
	maxOutageBuildgs = 100
	// clockSlack is how far in the past a start may be: the form was filled
	// in a minute ago, or the caller's clock is a little behind.
	clockSlack = time.Minute
)

// Notice channels: how a household was told. "notice" is the printed
// notice posted at the building's entrance (for households without a
// preferred way of contact).
var noticeChannels = []string{"phone", "sms", "visit", "app", "notice"}

type outageRequest struct {
	Site      string    `json:"site"`
	Feeder    string    `json:"feeder"`
	Buildings []string  `json:"buildings"`
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
	Reason    string    `json:"reason"`
}

// siteOf is the site a call acts on: the caller's own when it is bound to
// one, else the one it names (required).
func siteOf(p Principal, named string) (string, error) {
	if p.Site != "" {
		if named != "" && named != p.Site {
			return "", apiError(http.StatusForbidden, "this account acts on its own site only", "")
		}
		return p.Site, nil
	}
	if named == "" {
		return "", fieldError("site", "required")
	}
	return named, nil
}

// topology is what the site's gateways last reported: their devices and feeders.
type topology struct {
	devices []wire.Device
	feeders map[string]wire.Feeder
	gateway map[string]string // device id → the gateway that polls it
}

func (s *Server) topologyOf(ctx context.Context, site string) (topology, error) {
	gs, err := s.store.GatewayStatuses(ctx, site)
	if err != nil {
		return topology{}, err
	}
	t := topology{feeders: map[string]wire.Feeder{}, gateway: map[string]string{}}
	for _, g := range gs {
		if g.Site != site {
			continue
		}
		t.devices = append(t.devices, g.Devices...)
		for _, d := range g.Devices {
			t.gateway[d.ID] = g.Gateway
		}
		for _, f := range g.Feeders {
			t.feeders[f.ID] = f
		}
	}
	return t, nil
}

// affected lists the households a planned outage cuts off: those of its
// buildings, or those the feeder powers (its buildings and floors, and the
// units of the meters it powers), by building and unit.
func affected(o store.Outage, units []store.Unit, t topology) []store.Unit {
	var out []store.Unit
	f, hasFeeder := t.feeders[o.Feeder]
	powered := map[string]bool{}
	unitsPowered := map[string]bool{}
	if hasFeeder {
		for _, id := range f.Devices {
			powered[id] = true
		}
		for _, d := range t.devices {
			if powered[d.ID] && d.Unit != "" {
				unitsPowered[d.Unit] = true
			}
		}
	}
	for _, u := range units {
		hit := false
		switch {
		case o.Feeder == "":
			hit = slices.Contains(o.Buildings, u.Building)
		case hasFeeder:
			byBuilding := slices.Contains(f.Buildings, u.Building) && (len(f.Floors) == 0 || slices.Contains(f.Floors, u.Floor))
			byFloor := len(f.Buildings) == 0 && len(f.Floors) > 0 && slices.Contains(f.Floors, u.Floor)
			hit = byBuilding || byFloor || unitsPowered[u.Unit] || slices.ContainsFunc(u.Meters, func(m string) bool { return powered[m] })
		}
		if hit {
			out = append(out, u)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Building != out[j].Building {
			return out[i].Building < out[j].Building
		}
		return out[i].Unit < out[j].Unit
	})
	return out
}

// noticeTexts is the notice a household is given, in Chinese and English,
// with the times in the site's zone: ready to print, post or read out.
func (s *Server) noticeTexts(o store.Outage, u store.Unit, now time.Time) (zh, en string) {
	loc := s.siteLocation(o.Site)
	const layout = "2006-01-02 15:04"
	start, end := o.Start.In(loc).Format(layout), o.End.In(loc).Format(layout)
	whereZH, whereEN := u.Unit, "unit "+u.Unit
	if u.Building != "" {
		whereZH, whereEN = u.Building+"栋 "+u.Unit, "building "+u.Building+", unit "+u.Unit
	}
	scopeZH, scopeEN := "", ""
	if o.Feeder != "" {
		scopeZH, scopeEN = fmt.Sprintf("供电线路 %s", o.Feeder), "feeder "+o.Feeder
	} else {
		scopeZH = strings.Join(o.Buildings, "、") + " 栋"
		scopeEN = "building " + strings.Join(o.Buildings, ", ")
	}
	site := s.siteName(o.Site)
	zh = fmt.Sprintf("【停电通知】尊敬的 %s 住户:因%s,定于 %s 至 %s 对%s计划停电(停电编号 #%d)。停电期间电梯、水泵等可能暂停使用,请提前做好准备,关闭用电设备。给您带来不便,敬请谅解。%s 管理处 %s",
		whereZH, o.Reason, start, end, scopeZH, o.ID, site, now.In(loc).Format("2006-01-02"))
	en = fmt.Sprintf("Planned power outage notice: dear residents of %s, because of %s, the power of %s will be off from %s to %s (%s time; outage #%d). Lifts and pumps may stop meanwhile; please prepare and switch off your appliances. We apologise for the inconvenience. %s management office, %s",
		whereEN, o.Reason, scopeEN, start, end, loc.String(), o.ID, site, now.In(loc).Format("2006-01-02"))
	return zh, en
}

// channelOf is how a household is told: its first resident's preferred way
// of contact, else the notice posted at the entrance.
func channelOf(u store.Unit) string {
	for _, r := range u.Residents {
		if slices.Contains(noticeChannels, r.Contact) {
			return r.Contact
		}
		if r.Phone != "" {
			return "phone"
		}
	}
	return "notice"
}

// validateOutage checks a request against the clock and the site's
// buildings and feeders.
func (s *Server) validateOutage(ctx context.Context, ms maintenanceStore, site string, req outageRequest, now time.Time) error {
	req.Reason = strings.TrimSpace(req.Reason)
	switch {
	case req.Reason == "":
		return fieldError("reason", "required: why the power is cut (such as 低压柜年度检修)")
	case len(req.Reason) > maxReasonLen:
		return fieldError("reason", fmt.Sprintf("longer than %d bytes", maxReasonLen))
	case req.Start.IsZero():
		return fieldError("start", "required: an RFC 3339 time")
	case req.End.IsZero():
		return fieldError("end", "required: an RFC 3339 time")
	case !req.End.After(req.Start):
		return fieldError("end", "must be after start")
	case !req.End.After(now):
		return fieldError("end", "the window is in the past: a planned outage is announced before it happens")
	case req.Start.Before(now.Add(-clockSlack)):
		return fieldError("start", "is in the past: a planned outage is announced before it starts (give a start from now on)")
	case req.End.Sub(req.Start) > maxOutageLength:
		return fieldError("end", "a planned outage lasts at most 7 days")
	case req.Start.After(now.Add(maxOutageAhead)):
		return fieldError("start", "more than a year ahead")
	case (req.Feeder == "") == (len(req.Buildings) == 0):
		return fieldError("feeder", "give either a feeder or buildings")
	case len(req.Buildings) > maxOutageBuildgs:
		return fieldError("buildings", fmt.Sprintf("more than %d buildings", maxOutageBuildgs))
	}
	t, err := s.topologyOf(ctx, site)
	if err != nil {
		return err
	}
	if req.Feeder != "" {
		if _, ok := t.feeders[req.Feeder]; !ok {
			known := make([]string, 0, len(t.feeders))
			for id := range t.feeders {
				known = append(known, id)
			}
			sort.Strings(known)
			return echo.NewHTTPError(http.StatusUnprocessableEntity, apiErr{Error: fmt.Sprintf("feeder: %q is not a feeder of site %s", req.Feeder, site),
				Field: "feeder", Hint: "feeders known from the site's gateways: " + strings.Join(known, ", ")})
		}
		return nil
	}
	units, err := ms.ListUnits(ctx, site)
	if err != nil {
		return err
	}
	known := map[string]bool{}
	for _, u := range units {
		known[u.Building] = true
	}
	for _, d := range t.devices {
		known[d.Building] = true
	}
	for _, b := range req.Buildings {
		if b == "" || !known[b] {
			return fieldError("buildings", fmt.Sprintf("%q is not a building of site %s (neither in the household register nor reported by its gateways)", b, site))
		}
	}
	return nil
}

// OutageView is an outage with what the console shows beside it.
type OutageView struct {
	store.Outage
	SiteName     string `json:"site_name"`
	SiteTimezone string `json:"site_timezone"`
	// Affected are the households it cuts off (as they are now, for a
	// requested outage; as they were told, once approved).
	Affected []AffectedHousehold `json:"affected"`
	// Notices: once approved, each household told, with its text and channel.
	Notices []store.Notice `json:"notices,omitempty"`
}

// AffectedHousehold is a household without its residents' details.
type AffectedHousehold struct {
	Unit     string `json:"unit"`
	Building string `json:"building,omitempty"`
	Floor    string `json:"floor,omitempty"`
	Channel  string `json:"channel"`
}

func (s *Server) outageView(ctx context.Context, ms maintenanceStore, o store.Outage, withNotices bool) (OutageView, error) {
	v := OutageView{Outage: o, SiteName: s.siteName(o.Site), SiteTimezone: s.siteLocation(o.Site).String(), Affected: []AffectedHousehold{}}
	if o.Status == store.OutageRequested {
		units, err := ms.ListUnits(ctx, o.Site)
		if err != nil {
			return v, err
		}
		t, err := s.topologyOf(ctx, o.Site)
		if err != nil {
			return v, err
		}
		for _, u := range affected(o, units, t) {
			v.Affected = append(v.Affected, AffectedHousehold{Unit: u.Unit, Building: u.Building, Floor: u.Floor, Channel: channelOf(u)})
		}
		return v, nil
	}
	notices, err := ms.OutageNotices(ctx, o.Site, o.ID)
	if err != nil {
		return v, err
	}
	for _, n := range notices {
		v.Affected = append(v.Affected, AffectedHousehold{Unit: n.Unit, Building: n.Building, Floor: n.Floor, Channel: n.Channel})
	}
	if withNotices {
		v.Notices = notices
	}
	return v, nil
}

func (s *Server) listOutages(c echo.Context) error {
	ms, err := s.maint()
	if err != nil {
		return err
	}
	p := principal(c)
	site := c.QueryParam("site")
	if p.Site != "" {
		site = p.Site
	}
	os, err := ms.ListOutages(c.Request().Context(), site, maxOutageList)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"outages": os})
}

func (s *Server) requestOutage(c echo.Context) error {
	ms, err := s.maint()
	if err != nil {
		return err
	}
	p := principal(c)
	var req outageRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	site, err := siteOf(p, req.Site)
	if err != nil {
		return err
	}
	ctx, now := c.Request().Context(), s.now()
	if err := s.validateOutage(ctx, ms, site, req, now); err != nil {
		return err
	}
	if req.Buildings == nil {
		req.Buildings = []string{}
	}
	o, err := ms.CreateOutage(ctx, store.Outage{Site: site, Feeder: req.Feeder, Buildings: req.Buildings, Start: req.Start, End: req.End,
		Reason: strings.TrimSpace(req.Reason), RequestedBy: p.Name, RequestedAt: now})
	if err != nil {
		return err
	}
	s.log.Info("planned outage requested", "outage", o.ID, "site", site, "by", p.Name, "feeder", o.Feeder, "buildings", o.Buildings)
	v, err := s.outageView(ctx, ms, o, false)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, v)
}

// findOutage is the outage of the path's id that the caller may see.
func (s *Server) findOutage(c echo.Context, ms maintenanceStore) (store.Outage, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return store.Outage{}, fieldError("id", "must be a positive integer")
	}
	o, err := ms.GetOutage(c.Request().Context(), principal(c).Site, id)
	if errors.Is(err, store.ErrNotFound) {
		return o, apiError(http.StatusNotFound, fmt.Sprintf("no outage %d", id), "")
	}
	return o, err
}

func (s *Server) getOutage(c echo.Context) error {
	ms, err := s.maint()
	if err != nil {
		return err
	}
	o, err := s.findOutage(c, ms)
	if err != nil {
		return err
	}
	v, err := s.outageView(c.Request().Context(), ms, o, true)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, v)
}

type decisionRequest struct {
	Note string `json:"note"`
}

func (s *Server) decodeDecision(c echo.Context) (decisionRequest, error) {
	var req decisionRequest
	if c.Request().ContentLength == 0 {
		return req, nil
	}
	if err := decode(c, &req); err != nil {
		return req, err
	}
	if len(req.Note) > maxReasonLen {
		return req, fieldError("note", fmt.Sprintf("longer than %d bytes", maxReasonLen))
	}
	return req, nil
}

// approveOutage is a manager's approval: the households are told and the
// window goes to the site's gateways, in one transaction.
func (s *Server) approveOutage(c echo.Context) error {
	ms, err := s.maint()
	if err != nil {
		return err
	}
	req, err := s.decodeDecision(c)
	if err != nil {
		return err
	}
	o, err := s.findOutage(c, ms)
	if err != nil {
		return err
	}
	p := principal(c)
	ctx, now := c.Request().Context(), s.now()
	if o.Status != store.OutageRequested {
		return apiError(http.StatusConflict, fmt.Sprintf("outage %d is %s: only a requested outage is approved", o.ID, o.Status), "")
	}
	if o.RequestedBy == p.Name {
		return apiError(http.StatusForbidden, "an outage is approved by another person than the one who requested it", "ask another manager")
	}
	if !o.End.After(now) || o.Start.Before(now.Add(-clockSlack)) {
		return apiError(http.StatusConflict, fmt.Sprintf("outage %d was to start at %s: residents can no longer be told in advance", o.ID, o.Start.In(s.siteLocation(o.Site)).Format(time.RFC3339)),
			"reject it and request it again with a new time")
	}
	units, err := ms.ListUnits(ctx, o.Site)
	if err != nil {
		return err
	}
	t, err := s.topologyOf(ctx, o.Site)
	if err != nil {
		return err
	}
	if o.Feeder != "" {
		if _, ok := t.feeders[o.Feeder]; !ok {
			return apiError(http.StatusConflict, fmt.Sprintf("feeder %s is no longer reported by the site's gateways", o.Feeder), "reject the request")
		}
	}
	var notices []store.Notice
	for _, u := range affected(o, units, t) {
		zh, en := s.noticeTexts(o, u, now)
		notices = append(notices, store.Notice{Unit: u.Unit, Building: u.Building, Floor: u.Floor, Channel: channelOf(u), TextZH: zh, TextEN: en})
	}
	w := wire.Window{ID: store.OutageWindowID(o.ID), Start: o.Start, End: o.End, Cause: fmt.Sprintf("planned outage #%d", o.ID), Mutes: wire.MuteOutage}
	if o.Feeder != "" {
		w.Scope, w.Feeder = wire.ScopeFeeder, o.Feeder
	} else {
		w.Scope, w.Buildings = wire.ScopeBuildings, o.Buildings
	}
	if err := w.Validate(); err != nil {
		return err
	}
	o, err = ms.ApproveOutage(ctx, o.Site, o.ID, p.Name, req.Note, now, notices, w)
	if err != nil {
		return err
	}
	s.log.Info("planned outage approved", "outage", o.ID, "site", o.Site, "by", p.Name, "households", len(notices))
	v, err := s.outageView(ctx, ms, o, true)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, v)
}

func (s *Server) decideOutage(from, to string) echo.HandlerFunc {
	return func(c echo.Context) error {
		ms, err := s.maint()
		if err != nil {
			return err
		}
		req, err := s.decodeDecision(c)
		if err != nil {
			return err
		}
		o, err := s.findOutage(c, ms)
		if err != nil {
			return err
		}
		if o.Status != from {
			return apiError(http.StatusConflict, fmt.Sprintf("outage %d is %s, not %s", o.ID, o.Status, from), "")
		}
		p := principal(c)
		o, err = ms.DecideOutage(c.Request().Context(), o.Site, o.ID, from, to, p.Name, req.Note, s.now())
		if err != nil {
			return err
		}
		s.log.Info("planned outage "+to, "outage", o.ID, "site", o.Site, "by", p.Name)
		v, err := s.outageView(c.Request().Context(), ms, o, true)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, v)
	}
}

// heartbeatAnswer is what the desk hands a gateway back: its results
// recorded, its site's windows, its approved commands.
func (s *Server) heartbeatAnswer(ctx context.Context, st wire.GatewayStatus) (wire.HeartbeatAnswer, error) {
	var a wire.HeartbeatAnswer
	ms, ok := s.store.(maintenanceStore)
	if !ok {
		return a, nil
	}
	now := s.now()
	var results []wire.CommandResult
	for _, r := range st.Results {
		if r.Validate() == nil {
			results = append(results, r)
		}
	}
	acked, err := ms.RecordResults(ctx, st.Site, st.Gateway, results, now)
	if err != nil {
		return a, err
	}
	a.Acked = acked
	if a.Windows, err = ms.SiteWindows(ctx, st.Site, now); err != nil {
		return a, err
	}
	// Maintenance orders put their devices in windows the same way, muting
	// every alarm of the devices while the work is done (plant_maintenance.go).
	if s.plant != nil {
		orders, err := s.plant.maint.Windows(ctx, st.Site, now)
		if err != nil {
			return a, err
		}
		for _, o := range orders {
			w := wire.Window{ID: fmt.Sprintf("maintenance:%d", o.ID), Scope: wire.ScopeDevices, Devices: o.Window.Devices,
				Start: o.Window.From, End: o.Window.To, Cause: fmt.Sprintf("maintenance order #%d", o.ID), Mutes: wire.MuteAll}
			if len(w.Devices) > 0 && w.Validate() == nil {
				a.Windows = append(a.Windows, w)
			}
		}
	}
	if a.Commands, err = ms.DeliverCommands(ctx, st.Site, st.Gateway, now); err != nil {
		return a, err
	}
	return a, nil
}

// Bounds of what a heartbeat says of feeders, windows and command results.
const (
	maxHeartbeatFeeders = 1000
	maxHeartbeatResults = 1000
)

func checkHeartbeatMaintenance(st wire.GatewayStatus) error {
	if len(st.Feeders) > maxHeartbeatFeeders {
		return fieldError("feeders", fmt.Sprintf("more than %d feeders", maxHeartbeatFeeders))
	}
	if len(st.Results) > maxHeartbeatResults {
		return fieldError("results", fmt.Sprintf("more than %d command results", maxHeartbeatResults))
	}
	if len(st.Windows) > maxHeartbeatResults {
		return fieldError("windows", fmt.Sprintf("more than %d windows", maxHeartbeatResults))
	}
	for i, f := range st.Feeders {
		if len(f.ID) > maxIDLen || len(f.Name) > maxIDLen || len(f.Building) > 64 || len(f.Devices) > maxHeartbeatDevices ||
			len(f.Buildings) > maxOutageBuildgs || len(f.Floors) > maxOutageBuildgs {
			return fieldError(fmt.Sprintf("feeders[%d]", i), "too long")
		}
	}
	for i, r := range st.Results {
		if err := r.Validate(); err != nil {
			return fieldError(fmt.Sprintf("results[%d]", i), err.Error())
		}
	}
	for i, d := range st.Devices {
		if len(d.Controls) > 100 {
			return fieldError(fmt.Sprintf("devices[%d].controls", i), "more than 100 controls")
		}
	}
	return nil
}
