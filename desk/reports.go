package desk

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/estatehq/estate/desk/store"
)

// monthlyReport is GET /reports/monthly?site=…&month=2026-11[&format=csv]: the
// month is taken in the site's time zone.
func (s *Server) monthlyReport(c echo.Context) error {
	p := principal(c)
	site := c.QueryParam("site")
	if site == "" {
		return echo.NewHTTPError(http.StatusBadRequest, apiErr{Error: "site: required", Field: "site"})
	}
	if !p.SiteAllowed(site) {
		return apiError(http.StatusForbidden, "this account may report on its own site only", "")
	}
	loc := s.cfg.Location(site, time.UTC)
	if s.location != nil {
		loc = s.location(site)
	}
	month, err := time.ParseInLocation("2006-01", c.QueryParam("month"), loc)
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, apiErr{Error: "month: use YYYY-MM, such as 2026-11", Field: "month"})
	}
	r, err := s.store.MonthlyReport(c.Request().Context(), site, month, month.AddDate(0, 1, 0))
	if err != nil {
		return err
	}
	switch c.QueryParam("format") {
	case "", "json":
		return c.JSON(http.StatusOK, r)
	case "csv":
		c.Response().Header().Set(echo.HeaderContentType, "text/csv; charset=utf-8")
		c.Response().Header().Set(echo.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="estate-%s-%s.csv"`, site, month.Format("2006-01")))
		c.Response().WriteHeader(http.StatusOK)
		return writeReportCSV(c.Response(), r)
	}
	return echo.NewHTTPError(http.StatusBadRequest, apiErr{Error: "format: json or csv", Field: "format"})
}

// writeReportCSV writes the report as rows of section, item, value.
func writeReportCSV(w http.ResponseWriter, r store.Report) error {
	cw := csv.NewWriter(w)
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }
	// A rate with nothing to count is empty, not 0 or 1 (a green "100 %" of
	// nothing misleads a manager as much as a red 0 %).
	rate := func(v float64, of int) string {
		if of == 0 {
			return ""
		}
		return f(v)
	}
	rows := [][]string{{"section", "item", "value"},
		{"period", "site", r.Site}, {"period", "from", r.From.Format(time.RFC3339)}, {"period", "to", r.To.Format(time.RFC3339)},
		{"tickets", "total", strconv.Itoa(r.Tickets)}, {"tickets", "complaints", strconv.Itoa(r.Complaints)}}
	for _, group := range []struct {
		name string
		m    map[string]int
	}{{"by_kind", r.ByKind}, {"by_category", r.ByCategory}, {"by_cause", r.ByCause}} {
		keys := make([]string, 0, len(group.m))
		for k := range group.m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			rows = append(rows, []string{group.name, k, strconv.Itoa(group.m[k])})
		}
	}
	for _, d := range r.Deadlines {
		rows = append(rows, []string{"deadline_met_share", string(d.Step), rate(d.Share, d.Met+d.Missed)},
			[]string{"deadline_met", string(d.Step), strconv.Itoa(d.Met)}, []string{"deadline_missed", string(d.Step), strconv.Itoa(d.Missed)})
	}
	for _, t := range []struct {
		name string
		d    store.Durations
	}{{"to_dispatch", r.ToDispatch}, {"to_on_site", r.ToOnSite}, {"to_resolve", r.ToResolve}} {
		rows = append(rows, []string{t.name, "count", strconv.Itoa(t.d.Count)}, []string{t.name, "p50_seconds", f(t.d.P50)},
			[]string{t.name, "p95_seconds", f(t.d.P95)})
	}
	rows = append(rows, []string{"follow_up", "resolved", strconv.Itoa(r.Resolved)}, []string{"follow_up", "followed_up", strconv.Itoa(r.FollowedUp)},
		[]string{"follow_up", "rate", rate(r.FollowUpRate, r.Resolved)}, []string{"follow_up", "complaint_rate", rate(r.ComplaintFollowUpRate, r.Complaints)},
		[]string{"satisfaction", "count", strconv.Itoa(r.SatisfactionCount)}, []string{"satisfaction", "mean", rate(r.SatisfactionMean, r.SatisfactionCount)})
	rows = append(rows, targetRows(r)...)
	if err := cw.WriteAll(rows); err != nil {
		return err
	}
	return cw.Error()
}
