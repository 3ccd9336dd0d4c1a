package alarm

import (
	"context"
	"database/sql"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/estatehq/estate/devices"
	"github.com/estatehq/estate/gateway/outbox"
	"github.com/estatehq/estate/gateway/statedb"
)

func countRows(t *testing.T, db *sql.DB) (alarms, actions int) {
	t.Helper()
	if err := db.QueryRow(`SELECT (SELECT count(*) FROM alarms), (SELECT count(*) FROM actions)`).Scan(&alarms, &actions); err != nil {
		t.Fatal(err)
	}
	return alarms, actions
}

// A transition and the outbox entry it produces commit together: when the
// outbox write fails, the alarm's state is not written either, the engine
// keeps the alarm where it was and the next reading fires it (once).
func TestTransitionAndOutboxCommitTogether(t *testing.T) {
	cfg := loadConfig(t, `
devices: [{id: m1, family: meter, protocol: modbus_tcp}]
rules: [{name: low, family: meter, point: balance, below: 10, ticket: top_up}]
`)
	st, err := OpenStore(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	eng, err := NewEngine(Options{Config: cfg, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	info := devices.NewInfo("s1", cfg.Devices[0])
	read := func(at time.Time, v float64) []Transition {
		return eng.Evaluate(devices.Reading{Device: info, Time: at, Values: []devices.Value{{Point: "balance", Value: v}}})
	}
	db := st.DB()
	if _, err := db.Exec(`CREATE TRIGGER full_disk BEFORE INSERT ON actions BEGIN SELECT RAISE(ABORT, 'disk full'); END`); err != nil {
		t.Fatal(err)
	}
	if trs := read(t0, 3); len(trs) != 0 {
		t.Fatalf("a transition whose commit failed was returned: %+v", trs)
	}
	if alarms, actions := countRows(t, db); alarms != 0 || actions != 0 {
		t.Fatalf("after a failed commit: %d alarm rows, %d actions; want none of either", alarms, actions)
	}
	if views, _ := eng.Snapshot(t0, time.UTC); len(views) != 0 {
		t.Fatalf("the alarm fired in memory though its commit failed: %+v", views)
	}

	if _, err := db.Exec(`DROP TRIGGER full_disk`); err != nil {
		t.Fatal(err)
	}
	trs := read(t0.Add(time.Second), 3)
	if len(trs) != 1 || trs[0].State != StateFiring || !trs[0].Ticket {
		t.Fatalf("retry: %+v", trs)
	}
	read(t0.Add(2*time.Second), 3) // still firing: nothing new
	if alarms, actions := countRows(t, db); alarms != 1 || actions != 1 {
		t.Fatalf("after the retry: %d alarm rows, %d actions; want 1 and 1", alarms, actions)
	}
	var idem string
	if err := db.QueryRow(`SELECT idem FROM actions`).Scan(&idem); err != nil || idem != trs[0].Episode+"/open" {
		t.Fatalf("queued %q %v, want the episode's open", idem, err)
	}

	// The clearing and the forgetting of the alarm's state commit together too.
	if trs := read(t0.Add(3*time.Second), 50); len(trs) != 1 || trs[0].State != StateResolved {
		t.Fatalf("resolve: %+v", trs)
	}
	if alarms, actions := countRows(t, db); alarms != 1 || actions != 2 {
		// The alarm keeps its row while its raise counts for damping (an hour).
		t.Fatalf("after resolving: %d alarm rows, %d actions; want 1 and 2", alarms, actions)
	}
}

// An installation of the version with two files, started on this one: the
// alarm state and the outbox move into the state file, the firing alarm is
// restored with the cause it was suppressed for (as the text it had), and the
// next review re-derives its cause.
func TestRestoreMigratedState(t *testing.T) {
	dir := t.TempDir()
	cfg := loadConfig(t, `
devices: [{id: m1, family: meter, protocol: modbus_tcp, building: "5"}]
rules: [{name: gone, family: meter, type: offline, ticket: repair}]
maintenance:
  - {building: "5", reason: "switchgear replacement", start: 2026-05-01T07:00:00Z, end: 2026-05-01T09:00:00Z}
`)
	old := `{"key":"s1/gone/m1","rule":"gone","device":"m1","phase":"firing","fired_at":"2026-05-01T07:30:00Z","value":0,` +
		`"suppressed":"maintenance until 2026-05-01T09:00:00Z: switchgear replacement","raises":["2026-05-01T07:30:00Z"]}`
	for _, f := range []struct{ name, schema, row string }{
		{"alarms-gw.db", `CREATE TABLE alarms (key TEXT PRIMARY KEY, state TEXT NOT NULL, updated INTEGER NOT NULL)`,
			`INSERT INTO alarms VALUES ('s1/gone/m1', '` + old + `', 1)`},
		{"outbox-gw.db", `CREATE TABLE actions (seq INTEGER PRIMARY KEY AUTOINCREMENT, idem TEXT NOT NULL UNIQUE,
			alarm_key TEXT NOT NULL, body TEXT NOT NULL, enqueued INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
			done INTEGER, outcome TEXT)`,
			`INSERT INTO actions (idem, alarm_key, body, enqueued) VALUES ('x@1/note', 'x', '{}', 1)`},
	} {
		db, err := sql.Open("sqlite", filepath.Join(dir, f.name))
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{f.schema, f.row} {
			if _, err := db.Exec(q); err != nil {
				t.Fatal(err)
			}
		}
		db.Close()
	}
	db, err := statedb.OpenGateway(context.Background(), dir, "gw", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if n := outbox.New(db, outbox.Options{}).Pending(); n != 1 {
		t.Fatalf("%d outbox actions pending after the migration, want 1", n)
	}
	eng, err := NewEngine(Options{Config: cfg, Store: NewSQLiteStore(db), Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	views, _ := eng.Snapshot(t0, time.UTC)
	if len(views) != 1 || views[0].Suppressed != "maintenance until 2026-05-01T09:00:00Z: switchgear replacement" || views[0].Ticketed {
		t.Fatalf("restored: %+v", views)
	}
	// The device is still offline and the window still holds: the review
	// replaces the saved text by the typed cause, with the same text; no ticket.
	eng.ObserveHealth("m1", true, "timeout", t0)
	if trs := eng.Tick(t0.Add(time.Second)); len(trs) != 0 {
		t.Fatalf("transitions on review: %+v", trs)
	}
	var state string
	if err := db.QueryRow(`SELECT state FROM alarms`).Scan(&state); err != nil {
		t.Fatal(err)
	}
	var a Alarm
	if err := json.Unmarshal([]byte(state), &a); err != nil || a.Suppressed.Kind != Maintenance {
		t.Fatalf("saved cause after the review: %+v %v (%s)", a.Suppressed, err, state)
	}
	// The window ends while the device is still offline: ticketed then.
	trs := eng.Tick(t0.Add(61 * time.Minute))
	if len(trs) != 1 || !trs[0].Late || !trs[0].Ticket {
		t.Fatalf("after the window: %+v", trs)
	}
}

// Two engines on one registry (a test binary, or a gateway built twice in one
// process) share the collectors instead of panicking.
func TestMetricsTwiceOnOneRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	a, b := NewMetrics(reg), NewMetrics(reg)
	a.evaluations.Inc()
	b.evaluations.Inc()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "estate_alarm_evaluations_total" && mf.GetMetric()[0].GetCounter().GetValue() != 2 {
			t.Fatalf("evaluations %v, want 2 on the shared counter", mf.GetMetric()[0].GetCounter().GetValue())
		}
	}
}
