package alarm

import (
	"testing"
	"time"
)

func TestLifecycleStep(t *testing.T) {
	t0 := time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	type obs struct {
		at     time.Duration
		active bool
		want   Change
		phase  Phase
	}
	cases := []struct {
		name   string
		timing Timing
		steps  []obs
	}{
		{"fires at once without for", Timing{}, []obs{
			{0, false, NoChange, Inactive},
			{time.Second, true, FiredNow, Firing},
			{2 * time.Second, true, NoChange, Firing},
			{3 * time.Second, false, ResolvedNow, Inactive},
		}},
		{"for: pending until the condition held long enough", Timing{For: 5 * time.Minute}, []obs{
			{0, true, PendingStarted, Pending},
			{4 * time.Minute, true, NoChange, Pending},
			{5 * time.Minute, true, FiredNow, Firing},
		}},
		{"for: a gap drops the pending alarm and restarts the clock", Timing{For: 5 * time.Minute}, []obs{
			{0, true, PendingStarted, Pending},
			{3 * time.Minute, false, PendingDropped, Inactive},
			{4 * time.Minute, true, PendingStarted, Pending},
			{8 * time.Minute, true, NoChange, Pending},
			{9 * time.Minute, true, FiredNow, Firing},
		}},
		{"keep_for: resolves only after clear long enough", Timing{KeepFor: time.Minute}, []obs{
			{0, true, FiredNow, Firing},
			{10 * time.Second, false, ClearStarted, Firing},
			{40 * time.Second, true, ClearDropped, Firing},
			{50 * time.Second, false, ClearStarted, Firing},
			{100 * time.Second, false, NoChange, Firing},
			{110 * time.Second, false, ResolvedNow, Inactive},
		}},
		{"min_hold keeps a short blip firing", Timing{MinHold: 2 * time.Minute}, []obs{
			{0, true, FiredNow, Firing},
			{time.Second, false, ClearStarted, Firing},
			{time.Minute, false, NoChange, Firing},
			{2 * time.Minute, false, ResolvedNow, Inactive},
		}},
		{"raise cap: the third raise in an hour stays firing until the first ages out", Timing{MaxRaisesPerHour: 3}, []obs{
			{0, true, FiredNow, Firing},
			{time.Minute, false, ResolvedNow, Inactive},
			{2 * time.Minute, true, FiredNow, Firing},
			{3 * time.Minute, false, ResolvedNow, Inactive},
			{4 * time.Minute, true, FiredNow, Firing},
			{5 * time.Minute, false, ClearStarted, Firing},
			{30 * time.Minute, true, ClearDropped, Firing},
			{31 * time.Minute, false, ClearStarted, Firing},
			{59 * time.Minute, false, NoChange, Firing},
			{61 * time.Minute, false, ResolvedNow, Inactive},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var l Lifecycle
			for i, o := range tc.steps {
				got := l.Step(o.active, at(o.at), tc.timing)
				if got != o.want || l.Phase != o.phase {
					t.Fatalf("step %d (t+%s, active %v): got %s/%q, want %s/%q", i, o.at, o.active, got, l.Phase, o.want, o.phase)
				}
			}
		})
	}
}

func TestStepLeavesCopiesIntact(t *testing.T) {
	t0 := time.Now()
	var l Lifecycle
	l.Step(true, t0, Timing{})
	l.Step(false, t0.Add(time.Second), Timing{})
	before := l
	l.Step(true, t0.Add(2*time.Second), Timing{})
	if len(before.Raises) != 1 || len(l.Raises) != 2 {
		t.Fatalf("a copy taken before Step changed: before %v after %v", before.Raises, l.Raises)
	}
}
