package guardtour

import (
	"testing"
	"time"
)

// The simulated guard scans the checkpoints in order, round after round, in
// the payload the shipped profile reads.
func TestSimulatorWalksTheRoute(t *testing.T) {
	s := &Simulator{Reader: "patrol-1", Checkpoints: []string{"A", "B", "C"}, Every: time.Second}
	t0 := time.Date(2026, 12, 3, 1, 0, 0, 0, time.UTC)
	var got []string
	for i := range 5 {
		scans, bad, err := DefaultFields.Parse(s.Next(t0.Add(time.Duration(i) * time.Second)))
		if err != nil || len(bad) > 0 || len(scans) != 1 || scans[0].Reader != "patrol-1" || !scans[0].At.Equal(t0.Add(time.Duration(i)*time.Second)) {
			t.Fatalf("scan %d: %+v %v %v", i, scans, bad, err)
		}
		got = append(got, scans[0].Checkpoint)
	}
	if want := "A B C A B"; join(got) != want {
		t.Errorf("walk %s, want %s", join(got), want)
	}
}

func join(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += " "
		}
		out += x
	}
	return out
}
