package desk

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/estatehq/estate/desk/households"
	"github.com/estatehq/estate/desk/store"
	"github.com/estatehq/estate/internal/tabular"
)

// maxImportBody is the largest households file the desk accepts: an XLSX
// of 20,000 households is about 1 MiB, a CSV of them less.
const maxImportBody = 16 << 20

// maxProblemsShown bounds the problems of one answer; the total is given.
const maxProblemsShown = 2000

// HouseholdImporter is what an import and an export of households need of
// the store (Store has it; estate desk import uses it on its own).
type HouseholdImporter interface {
	ImportUnits(ctx context.Context, units []store.Unit) error
	ListUnits(ctx context.Context, site string) ([]store.Unit, error)
	SiteUnits(ctx context.Context, site string) (map[string]bool, error)
}

// ImportReport is the answer of an import, dry run or not.
type ImportReport struct {
	File     string `json:"file"`
	Site     string `json:"site"`
	DryRun   bool   `json:"dry_run"`
	Imported bool   `json:"imported"`
	// Rows read (the header left out), households, residents and meters found.
	Rows       int `json:"rows"`
	Households int `json:"households"`
	Residents  int `json:"residents"`
	Meters     int `json:"meters"`
	// Added are the households the site did not have; Replaced those it had
	// (their residents and meters are replaced by the file's).
	Added    int `json:"added"`
	Replaced int `json:"replaced"`
	// Problems are "file:row: column: problem", every bad row of the file
	// (up to 2,000; ProblemsTotal counts them all).
	Problems      []string `json:"problems"`
	ProblemsTotal int      `json:"problems_total"`
	// Details are the same problems as records (file, row, column, message,
	// and a code with its values for the console to say them in Chinese).
	Details []tabular.Problem `json:"details"`
	Error   string            `json:"error,omitempty"`
}

// ImportHouseholds checks a households file and, unless dryRun or the file
// has problems, imports it into site in one transaction: all or nothing.
func ImportHouseholds(ctx context.Context, st HouseholdImporter, file string, data []byte, site string, dryRun bool) (ImportReport, error) {
	res := households.Parse(file, data, site)
	rep := ImportReport{File: file, Site: site, DryRun: dryRun, Rows: res.Rows, Households: len(res.Units), Problems: []string{}, Details: []tabular.Problem{}, ProblemsTotal: len(res.Problems)}
	for i, p := range res.Problems {
		if i == maxProblemsShown {
			break
		}
		rep.Problems = append(rep.Problems, p.String())
		rep.Details = append(rep.Details, p)
	}
	existing := map[string]map[string]bool{}
	for _, u := range res.Units {
		rep.Residents += len(u.Residents)
		rep.Meters += len(u.Meters)
		if existing[u.Site] == nil {
			have, err := st.SiteUnits(ctx, u.Site)
			if err != nil {
				return rep, err
			}
			existing[u.Site] = have
		}
		if existing[u.Site][u.Unit] {
			rep.Replaced++
		} else {
			rep.Added++
		}
	}
	if len(res.Problems) > 0 {
		rep.Error = fmt.Sprintf("%d problem(s) in %s; nothing was imported", len(res.Problems), file)
		return rep, nil
	}
	if dryRun {
		return rep, nil
	}
	if err := st.ImportUnits(ctx, res.Units); err != nil {
		return rep, err
	}
	rep.Imported = true
	return rep, nil
}

// importHouseholds is POST /households/{site}/import[?dry_run=true&name=FILE]:
// the body is the CSV or XLSX file itself.
func (s *Server) importHouseholds(c echo.Context) error {
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
		name = "households.csv"
		if strings.Contains(c.Request().Header.Get(echo.HeaderContentType), "spreadsheetml") {
			name = "households.xlsx"
		}
	}
	data, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return apiError(http.StatusBadRequest, "cannot read the body", err.Error())
	}
	rep, err := ImportHouseholds(c.Request().Context(), s.store, name, data, site, dryRun)
	if err != nil {
		return err
	}
	code := http.StatusOK
	if rep.ProblemsTotal > 0 {
		code = http.StatusUnprocessableEntity
	}
	if rep.Imported {
		s.log.Info("households imported", "site", site, "file", name, "households", rep.Households, "by", principal(c).Name, "request_id", requestID(c))
	}
	return c.JSON(code, rep)
}

// exportHouseholds is GET /households/{site}[?format=csv|xlsx]: every
// household of the site as a file that imports back.
func (s *Server) exportHouseholds(c echo.Context) error {
	site, err := s.siteParam(c)
	if err != nil {
		return err
	}
	format := c.QueryParam("format")
	if format == "" {
		format = "csv"
	}
	ct := map[string]string{"csv": "text/csv; charset=utf-8", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}[format]
	if ct == "" {
		return echo.NewHTTPError(http.StatusBadRequest, apiErr{Error: "format: csv or xlsx", Field: "format"})
	}
	units, err := s.store.ListUnits(c.Request().Context(), site)
	if err != nil {
		return err
	}
	// The export is a view of every household record of the site: logged
	// once, with how many it holds (privacy.go).
	a := s.access(c, site, "households", site, "", "household export", "households export")
	a.SubjectID = fmt.Sprintf("%s (%d households, %s)", site, len(units), format)
	if err := s.store.LogAccess(c.Request().Context(), []store.Access{a}); err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, ct)
	h.Set(echo.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="households-%s.%s"`, site, format))
	c.Response().WriteHeader(http.StatusOK)
	return households.Write(c.Response(), format, units)
}
