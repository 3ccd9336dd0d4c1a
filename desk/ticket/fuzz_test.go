package ticket

import (
	"testing"
	"time"
)

// ParseLimit reads configuration text: it must never panic, and what it
// accepts must print back to something it accepts the same way.
func FuzzParseLimit(f *testing.F) {
	for _, s := range []string{"15m", "same_day", "3d", "1h30m", "0d", "-1s", "999d", "d", "1.5h", "", "2wd", "0wd", "366wd", "+2wd", "wd"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := ParseLimit(s)
		if err != nil {
			return
		}
		if !l.SameDay && l.WorkingDays == 0 && l.After <= 0 {
			t.Fatalf("%q accepted as %v", s, l)
		}
		back, err := ParseLimit(l.String())
		if err != nil || back != l {
			t.Fatalf("%q → %v → %q → %v, %v", s, l, l.String(), back, err)
		}
		start := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
		if !l.Due(start, time.UTC).After(start) {
			t.Fatalf("%q: due not after start", s)
		}
	})
}
