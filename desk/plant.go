package desk

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/estatehq/estate/desk/calendar"
	"github.com/estatehq/estate/desk/equipment"
	"github.com/estatehq/estate/desk/maintenance"
	"github.com/estatehq/estate/desk/store"
	"github.com/estatehq/estate/internal/config"
	"github.com/estatehq/estate/internal/promreg"
	"github.com/estatehq/estate/internal/tabular"
	"github.com/estatehq/estate/internal/wire"
)

// plant is the equipment register and preventive maintenance on the desk:
// their stores (tables of migration 017 in the desk's database) and the
// site calendar of working days.
type plant struct {
	equip *equipment.Store
	maint *maintenance.Store
	// opened counts the tickets the plant opens: maintenance orders by
	// trigger (calendar, usage) and warranty reminders (warranty).
	opened *prometheus.CounterVec
	// stepErrors counts scheduler steps that failed.
	stepErrors prometheus.Counter
}

// registerMetrics puts the plant's series on the desk's registry (docs/metrics.md).
func (pl *plant) registerMetrics(reg prometheus.Registerer) {
	pl.opened = promreg.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "estate_desk_maintenance_opened_total",
		Help: "Tickets opened by the equipment register and maintenance plans, by trigger (calendar, usage, warranty).",
	}, []string{"trigger"}))
	pl.stepErrors = promreg.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{
		Name: "estate_desk_maintenance_step_errors_total",
		Help: "Maintenance scheduler steps that failed (logged with the plan and equipment).",
	}))
}

// WithWorkingDays gives each site's working-day calendar to maintenance
// plans that fall on working days only (default: Saturday and Sunday off).
func WithWorkingDays(wd func(site string) maintenance.WorkingDays) Option {
	return func(s *Server) { s.workingDays = wd }
}

// newPlant is the register on the store's database, when it has one (a
// store.Store; desks built on other stores in tests have none).
func newPlant(st Store) *plant {
	db, ok := st.(interface {
		DB() *sql.DB
		Dialect() string
	})
	if !ok {
		return nil
	}
	d := equipment.DB{SQL: db.DB(), Dialect: db.Dialect()}
	return &plant{equip: equipment.NewStore(d), maint: maintenance.NewStore(d)}
}

func (s *Server) plantOrError() (*plant, error) {
	if s.plant == nil {
		return nil, apiError(http.StatusServiceUnavailable, "this desk's store keeps no equipment register", "")
	}
	return s.plant, nil
}

func (s *Server) siteWorkingDays(site string) maintenance.WorkingDays {
	if s.workingDays != nil {
		if wd := s.workingDays(site); wd != nil {
			return wd
		}
	}
	return maintenance.Weekends{}
}

// WorkingDaysOf is each site's holiday calendar (desk.calendar,
// desk.sites[].calendar) as the maintenance plans ask it, the calendar the
// tickets' deadlines count working days on; the composition root passes it
// with WithWorkingDays.
func WorkingDaysOf(cfg *config.Config) func(site string) maintenance.WorkingDays {
	cals := loadCalendars(cfg)
	return func(site string) maintenance.WorkingDays {
		if c, ok := cals(site).(*calendar.Calendar); ok && c != nil {
			return calendarDays{c}
		}
		return nil
	}
}

// calendarDays is a site's calendar as the maintenance plans ask it; a day
// of a year the calendar lacks counts as the weekends do (estate check and
// the tickets' audit name the missing year).
type calendarDays struct{ c *calendar.Calendar }

func (d calendarDays) IsWorkingDay(day time.Time) bool {
	ok, err := d.c.Working(calendar.DateOf(day))
	if err != nil {
		return maintenance.Weekends{}.IsWorkingDay(day)
	}
	return ok
}

// plantError turns the register's errors into answers.
func plantError(err error) error {
	switch {
	case errors.Is(err, equipment.ErrNotFound):
		return apiError(http.StatusNotFound, err.Error(), "")
	case errors.Is(err, equipment.ErrSerialTaken):
		return echo.NewHTTPError(http.StatusConflict, apiErr{Error: err.Error(), Field: "serial"})
	case errors.Is(err, maintenance.ErrNotOpen):
		return apiError(http.StatusConflict, err.Error(), "")
	}
	return err
}

// RegisterEntry is one line of the register as the console shows it: the
// entry, or a device a gateway reports that is not registered yet, with
// the gateway's view of it when there is one.
type RegisterEntry struct {
	equipment.Item
	Registered bool `json:"registered"`
	// Reported is the device as its gateway last reported it.
	Reported *DeviceView `json:"reported,omitempty"`
	// WarrantyEnding is set when the warranty ends within 30 days.
	WarrantyEnding bool `json:"warranty_ending,omitempty"`
}

// listEquipment is GET /equipment[?site=]: the register of the caller's
// sites, with every device the gateways report (registered or not).
func (s *Server) listEquipment(c echo.Context) error {
	pl, err := s.plantOrError()
	if err != nil {
		return err
	}
	site := c.QueryParam("site")
	if p := principal(c); p.Site != "" {
		site = p.Site
	}
	items, err := pl.equip.List(c.Request().Context(), site)
	if err != nil {
		return err
	}
	devs, err := s.devices(c)
	if err != nil {
		return err
	}
	out := []RegisterEntry{}
	byDevice := map[string]int{}
	for _, it := range items {
		today := s.now().In(s.siteLocation(it.Site)).Format(time.DateOnly)
		out = append(out, RegisterEntry{Item: it, Registered: true, WarrantyEnding: it.WarrantyEnding(today)})
		if it.Device != "" {
			byDevice[it.Site+"\x00"+it.Device] = len(out) - 1
		}
	}
	for _, d := range devs {
		d := d
		if i, ok := byDevice[d.Site+"\x00"+d.ID]; ok {
			out[i].Reported = &d
			continue
		}
		out = append(out, RegisterEntry{Item: equipment.Item{Site: d.Site, ID: d.ID, Name: d.ID, Class: equipment.ClassOfFamily(d.Family),
			Device: d.ID, Building: d.Building, Floor: d.Floor, Model: d.Model}, Reported: &d})
	}
	return c.JSON(http.StatusOK, map[string]any{"equipment": out, "classes": equipment.Classes})
}

// getEquipment is GET /equipment/{site}/{id}: an entry with its history:
// tickets, maintenance orders, the rounds' visits of the checkpoints that
// check it (90 days) and (from InfluxDB) alarms.
func (s *Server) getEquipment(c echo.Context) error {
	pl, err := s.plantOrError()
	if err != nil {
		return err
	}
	site, err := s.siteParam(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	it, err := pl.equip.Get(ctx, site, c.Param("id"))
	if err != nil {
		return plantError(err)
	}
	// Tickets name the device a gateway reports, or the register id.
	var tickets []wire.Ticket
	for _, dev := range slices.Compact([]string{it.Device, it.ID}) {
		if dev == "" {
			continue
		}
		ts, err := s.store.ListTickets(ctx, store.Filter{Site: site, Device: dev, Limit: 200})
		if err != nil {
			return err
		}
		tickets = append(tickets, ts...)
	}
	p := principal(c)
	for i := range tickets {
		tickets[i] = p.ticketView(tickets[i])
	}
	orders, err := pl.maint.Orders(ctx, maintenance.OrderFilter{Site: site, Equipment: it.ID, Limit: 200}, s.now())
	if err != nil {
		return err
	}
	out := map[string]any{"equipment": it, "tickets": orEmptyT(tickets), "maintenance": orders}
	// The rounds' visits of the checkpoints that check it, and what they found.
	if s.rounds != nil {
		rs, err := s.rounds.EquipmentHistory(ctx, site, it.ID, s.now().AddDate(0, 0, -90), 200)
		if err != nil {
			return err
		}
		out["rounds"] = rs
	}
	if s.history != nil && it.Device != "" {
		alarms, err := s.history.Alarms(ctx, site, it.Device, 90)
		if err != nil {
			out["alarms_error"] = err.Error()
		} else {
			out["alarms"] = alarms
		}
	}
	return c.JSON(http.StatusOK, out)
}

func orEmptyT(t []wire.Ticket) []wire.Ticket {
	if t == nil {
		return []wire.Ticket{}
	}
	return t
}

// putEquipment is PUT /equipment/{site}/{id}: one entry, created or replaced.
func (s *Server) putEquipment(c echo.Context) error {
	pl, err := s.plantOrError()
	if err != nil {
		return err
	}
	site, err := s.siteParam(c)
	if err != nil {
		return err
	}
	var it equipment.Item
	if err := decode(c, &it); err != nil {
		return err
	}
	it.Site, it.ID = site, c.Param("id")
	if err := it.Validate(); err != nil {
		field, _, _ := strings.Cut(err.Error(), ":")
		return fieldError(field, strings.TrimSpace(strings.TrimPrefix(err.Error(), field+":")))
	}
	if err := pl.equip.Put(c.Request().Context(), []equipment.Item{it}, s.now()); err != nil {
		return plantError(err)
	}
	saved, err := pl.equip.Get(c.Request().Context(), site, it.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, saved)
}

func (s *Server) deleteEquipment(c echo.Context) error {
	pl, err := s.plantOrError()
	if err != nil {
		return err
	}
	site, err := s.siteParam(c)
	if err != nil {
		return err
	}
	if err := pl.equip.Delete(c.Request().Context(), site, c.Param("id")); err != nil {
		return plantError(err)
	}
	return c.NoContent(http.StatusNoContent)
}

// EquipmentImport is what an import of a register table did or would do.
type EquipmentImport struct {
	File     string           `json:"file"`
	Rows     int              `json:"rows"`
	Items    int              `json:"items"`
	Imported bool             `json:"imported"`
	DryRun   bool             `json:"dry_run"`
	Problems tabular.Problems `json:"problems"`
}

// ImportEquipment checks a register table and, when it has no problems and
// dryRun is false, saves every row (all or none).
func ImportEquipment(ctx context.Context, st *equipment.Store, file string, data []byte, site string, dryRun bool, now time.Time) (EquipmentImport, error) {
	existing, err := st.Serials(ctx, site)
	if err != nil {
		return EquipmentImport{}, err
	}
	res := equipment.Parse(file, data, site, existing)
	rep := EquipmentImport{File: file, Rows: res.Rows, Items: len(res.Items), DryRun: dryRun, Problems: res.Problems}
	if rep.Problems == nil {
		rep.Problems = tabular.Problems{}
	}
	if len(res.Problems) > 0 || dryRun {
		return rep, nil
	}
	if err := st.Put(ctx, res.Items, now); err != nil {
		return rep, err
	}
	rep.Imported = true
	return rep, nil
}

// importEquipment is POST /equipment/{site}/import[?dry_run=true&name=FILE]:
// the body is the CSV or XLSX file.
func (s *Server) importEquipment(c echo.Context) error {
	pl, err := s.plantOrError()
	if err != nil {
		return err
	}
	site, err := s.siteParam(c)
	if err != nil {
		return err
	}
	dryRun := false
	if v := c.QueryParam("dry_run"); v != "" {
		if dryRun, err = strconv.ParseBool(v); err != nil {
			return echo.NewHTTPError(http.StatusBadRequest, apiErr{Error: "dry_run: true or false", Field: "dry_run"})
		}
	}
	name := filepath.Base(c.QueryParam("name"))
	if name == "." || name == "/" || len(name) > 200 {
		name = "equipment.csv"
		if strings.Contains(c.Request().Header.Get(echo.HeaderContentType), "spreadsheetml") {
			name = "equipment.xlsx"
		}
	}
	data, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return apiError(http.StatusBadRequest, "cannot read the body", err.Error())
	}
	rep, err := ImportEquipment(c.Request().Context(), pl.equip, name, data, site, dryRun, s.now())
	if err != nil {
		return plantError(err)
	}
	code := http.StatusOK
	if len(rep.Problems) > 0 {
		code = http.StatusUnprocessableEntity
	}
	if rep.Imported {
		s.log.Info("equipment imported", "site", site, "file", name, "items", rep.Items, "by", principal(c).Name, "request_id", requestID(c))
	}
	return c.JSON(code, rep)
}

// exportEquipment is GET /equipment/{site}/export[?format=csv|xlsx]: the
// register as a file that imports back.
func (s *Server) exportEquipment(c echo.Context) error {
	pl, err := s.plantOrError()
	if err != nil {
		return err
	}
	site, err := s.siteParam(c)
	if err != nil {
		return err
	}
	items, err := pl.equip.List(c.Request().Context(), site)
	if err != nil {
		return err
	}
	return writeTable(c, c.QueryParam("format"), "equipment-"+site, equipment.Columns, equipment.Rows(items))
}

// writeTable answers with a CSV or XLSX file.
func writeTable(c echo.Context, format, name string, header []string, rows [][]string) error {
	if format == "" {
		format = "csv"
	}
	ct := map[string]string{"csv": "text/csv; charset=utf-8", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}[format]
	if ct == "" {
		return echo.NewHTTPError(http.StatusBadRequest, apiErr{Error: "format: csv or xlsx", Field: "format"})
	}
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, ct)
	h.Set(echo.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="%s.%s"`, name, format))
	c.Response().WriteHeader(http.StatusOK)
	return tabular.Write(c.Response(), format, header, rows)
}
