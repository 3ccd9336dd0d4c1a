package rounds

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/estatehq/estate/desk/deskconfig"
	"github.com/estatehq/estate/internal/config"
)

// A year of every schedule, day by day in Shanghai: daily, every 3 days from
// a date, on weekdays; each due day has its window at the site's time.
func TestScheduleOverAYear(t *testing.T) {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		s    deskconfig.RouteSchedule
		due  func(d time.Time) bool
		n    int
	}{
		{"daily", deskconfig.RouteSchedule{Start: "08:30"}, func(time.Time) bool { return true }, 365},
		{"every 3 days", deskconfig.RouteSchedule{EveryDays: 3, From: "2026-01-02", Start: "08:30"},
			func(d time.Time) bool {
				return int(d.Sub(time.Date(2026, 1, 2, 0, 0, 0, 0, loc)).Hours()/24)%3 == 0 && !d.Before(time.Date(2026, 1, 2, 0, 0, 0, 0, loc))
			}, 122},
		{"mon, wed, fri", deskconfig.RouteSchedule{Weekdays: []string{"mon", "wed", "FRI"}, Start: "08:30"}, func(d time.Time) bool {
			return d.Weekday() == time.Monday || d.Weekday() == time.Wednesday || d.Weekday() == time.Friday
		}, 156},
	} {
		r := deskconfig.Route{ID: "r", Schedule: tc.s}
		count := 0
		for day := time.Date(2026, 1, 1, 0, 0, 0, 0, loc); day.Year() == 2026; day = day.AddDate(0, 0, 1) {
			at := day.Add(23 * time.Hour) // late in the site's day: still that day
			w, due, err := DueOn(r, at, loc)
			if err != nil {
				t.Fatal(err)
			}
			if due != tc.due(day) {
				t.Fatalf("%s: %s due %v", tc.name, day.Format("2006-01-02 Mon"), due)
			}
			if !due {
				continue
			}
			count++
			if w.Day != day.Format("2006-01-02") || !w.StartsAt.Equal(day.Add(8*time.Hour+30*time.Minute)) ||
				w.StartBy.Sub(w.StartsAt) != DefaultStartWithin || w.FinishBy.Sub(w.StartsAt) != DefaultFinishWithin {
				t.Fatalf("%s: window %+v", tc.name, w)
			}
		}
		if count != tc.n {
			t.Errorf("%s: %d rounds in 2026, want %d", tc.name, count, tc.n)
		}
		// Next from 09:00 of a due day is the next due day's.
		w, ok, _ := Next(r, time.Date(2026, 3, 2, 9, 0, 0, 0, loc), loc)
		if !ok || !w.StartsAt.After(time.Date(2026, 3, 2, 9, 0, 0, 0, loc)) || !tc.due(time.Date(w.StartsAt.Year(), w.StartsAt.Month(), w.StartsAt.Day(), 0, 0, 0, 0, loc)) {
			t.Errorf("%s: next %+v %v", tc.name, w, ok)
		}
	}
}

// A route that cannot run is refused by `estate check` with file, line and field.
func TestRoutesValidated(t *testing.T) {
	base := `site: {id: s, timezone: Asia/Shanghai}
desk:
  listen: 127.0.0.1:0
  database: x.db
  rounds:
`
	for _, tc := range []struct{ route, want string }{
		{`    - {id: r, site: s, name: n, checkpoints: [{code: A, name: a, items: [{id: i, label: l, type: check}]}]}`, ""},
		{`    - {id: r, site: s, name: n, schedule: {start: "25:00"}, checkpoints: [{code: A, name: a, items: [{id: i, label: l, type: check}]}]}`, `site.yaml:6: desk.rounds[0].schedule: start: "25:00" is not a time of day`},
		{`    - {id: r, site: s, name: n, schedule: {every_days: 2, weekdays: [mon]}, checkpoints: [{code: A, name: a, items: [{id: i, label: l, type: check}]}]}`, "every_days or weekdays, not both"},
		{`    - {id: r, site: s, name: n, schedule: {weekdays: [monday]}, checkpoints: [{code: A, name: a, items: [{id: i, label: l, type: check}]}]}`, `weekdays: "monday" is not one of`},
		{`    - {id: r, site: other, name: n, checkpoints: [{code: A, name: a, items: [{id: i, label: l, type: check}]}]}`, `desk.rounds[0].site: "other" is not a site of the desk`},
		{`    - {id: r, site: s, name: n, checkpoints: [{code: A, name: a, items: [{id: i, label: l, type: gauge}]}]}`, `type: "gauge" is not one of check, reading, note`},
		{`    - {id: r, site: s, name: n, checkpoints: [{code: A, name: a, items: [{id: i, label: l, type: reading, min: 5, max: 1}]}]}`, "min 5 is above max 1"},
		{`    - {id: r, site: s, name: n, checkpoints: [{code: A, name: a, items: [{id: i, label: l, type: check, unit: V}]}]}`, "for items of type reading, not check"},
		{"    - {id: r, site: s, name: n, checkpoints: [{code: A, name: a, items: [{id: i, label: l, type: check}]}]}\n    - {id: q, site: s, name: m, checkpoints: [{code: A, name: b, items: [{id: i, label: l, type: check}]}]}", `checkpoint "A" is already desk.rounds[0].checkpoints[0]`},
		{`    - {id: r, site: s, name: n, checkpoints: []}`, "at least one checkpoint"},
		{`    - {id: r, site: s, name: n, checkpoints: [{code: A, name: a, equipment: [tx-1, "1号 变压器"], items: [{id: i, label: l, type: check}]}]}`, `desk.rounds[0].checkpoints[0].equipment[1]: "1号 变压器" is not a register id`},
		{`    - {id: r, site: s, name: n, checkpoints: [{code: A, name: a, equipment: [tx-1, lv-1], items: [{id: i, label: l, type: check}]}]}`, ""},
	} {
		path := filepath.Join(t.TempDir(), "site.yaml")
		if err := os.WriteFile(path, []byte(base+tc.route+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Load(path)
		var ps []config.Problem
		if err == nil {
			ps = Validate(cfg, cfg.Desk.Rounds, []string{"s"})
		}
		var got []string
		for _, p := range ps {
			got = append(got, p.String())
		}
		text := strings.Join(got, "\n")
		if err != nil {
			text = err.Error()
		}
		if tc.want == "" && text != "" || tc.want != "" && !strings.Contains(text, tc.want) {
			t.Errorf("%s:\n%s\nwant %q", tc.route, text, tc.want)
		}
	}
}
