package guardtour

import (
	"strings"
	"testing"
	"time"
)

func TestParseScans(t *testing.T) {
	f := DefaultFields
	scans, bad, err := f.Parse([]byte(`{"reader":"R-01","checkpoint":"DR-1","time":"2026-12-03T08:31:00+08:00"}`))
	if err != nil || len(bad) > 0 || len(scans) != 1 || scans[0].Reader != "R-01" || scans[0].Checkpoint != "DR-1" ||
		!scans[0].At.Equal(time.Date(2026, 12, 3, 0, 31, 0, 0, time.UTC)) {
		t.Fatalf("one scan: %+v %v %v", scans, bad, err)
	}
	// A docked reader's batch: the good scans are kept beside the bad ones.
	scans, bad, err = f.Parse([]byte(`{"records":[{"reader":"R-01","checkpoint":"DR-1","time":"2026-12-03T08:31:00+08:00"},
		{"reader":"R-01","checkpoint":"DR 2","time":"2026-12-03T08:35:00+08:00"},
		{"reader":7,"checkpoint":12,"time":"2026-12-03T08:36:00Z"},
		{"reader":"R-01","checkpoint":"DR-3","time":"yesterday"}]}`))
	if err != nil || len(scans) != 2 || len(bad) != 2 || scans[1].Reader != "7" || scans[1].Checkpoint != "12" ||
		!strings.Contains(bad[0].Error(), `scan 1: checkpoint: "DR 2" is not an id`) || !strings.Contains(bad[1].Error(), "scan 3: time:") {
		t.Fatalf("batch: %+v %v %v", scans, bad, err)
	}
	unix := Fields{Reader: "dev", Checkpoint: "tag", Time: "ts", TimeFormat: "unix_ms"}
	if scans, _, err := unix.Parse([]byte(`[{"dev":"A","tag":"B","ts":1764721860000}]`)); err != nil || len(scans) != 1 || scans[0].At.UnixMilli() != 1764721860000 {
		t.Errorf("unix_ms: %+v %v", scans, err)
	}
	for _, p := range []string{``, `garbage`, `{"records":3}`, `[1,2`, `"x"`} {
		if _, _, err := f.Parse([]byte(p)); err == nil {
			t.Errorf("%q parsed", p)
		}
	}
	if _, bad, _ := f.Parse([]byte(`{"checkpoint":"DR-1","time":"2026-12-03T08:31:00Z"}`)); len(bad) != 1 || bad[0].Msg != "reader: missing" {
		t.Errorf("no reader: %v", bad)
	}
}

// Whatever a reader publishes, parsing never panics, and every scan it
// returns has ids that the desk accepts and a time.
func FuzzParseScans(f *testing.F) {
	for _, s := range []string{
		`{"reader":"R-01","checkpoint":"DR-1","time":"2026-12-03T08:31:00+08:00"}`,
		`{"records":[{"reader":"R-01","checkpoint":"DR-1","time":"2026-12-03T08:31:00Z"},{"reader":1}]}`,
		`[{"reader":7,"checkpoint":12,"time":"2026-12-03T08:36:00Z"}]`, `[]`, `{}`, `null`, `[[]]`, `{"records":null}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		scans, bad, err := DefaultFields.Parse(payload)
		if err != nil && (len(scans) > 0 || len(bad) > 0) {
			t.Fatal("an error with scans")
		}
		for _, s := range scans {
			if !idPattern.MatchString(s.Reader) || !idPattern.MatchString(s.Checkpoint) || s.At.IsZero() {
				t.Fatalf("bad scan %+v", s)
			}
		}
	})
}
