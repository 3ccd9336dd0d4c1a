package health

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

type kindErr struct{ kind string }

func (e kindErr) Error() string     { return e.kind + " happened" }
func (e kindErr) ErrorKind() string { return e.kind }

type partial map[string]error

func (p partial) Error() string                  { return "some points failed" }
func (p partial) FailedPoints() map[string]error { return p }

func TestStatesAndCounters(t *testing.T) {
	reg := prometheus.NewRegistry()
	tr := NewTracker(3, reg)
	at := time.Unix(1700000000, 0)
	if s, changed := tr.Observe("m1", nil, at); s != Online || changed {
		t.Fatalf("first good poll: %s changed=%v", s, changed)
	}
	c := tr.ObservePoll("m1", partial{"voltage": kindErr{"exception_illegal_data_address"}}, at.Add(time.Second), []string{"current"})
	if c.State != Degraded || !c.StateChanged || len(c.NewlyFailing) != 1 || c.NewlyFailing[0].Point != "voltage" {
		t.Fatalf("partial poll: %+v", c)
	}
	// The same failure again is not news; a poll of other points keeps it degraded.
	c = tr.ObservePoll("m1", partial{"voltage": kindErr{"exception_illegal_data_address"}}, at.Add(2*time.Second), nil)
	if len(c.NewlyFailing) != 0 || c.StateChanged {
		t.Fatalf("repeat: %+v", c)
	}
	c = tr.ObservePoll("m1", nil, at.Add(3*time.Second), []string{"current"})
	if c.State != Degraded {
		t.Fatalf("a good poll of other points cleared voltage: %+v", c)
	}
	c = tr.ObservePoll("m1", nil, at.Add(4*time.Second), []string{"voltage", "current"})
	if c.State != Online || !c.StateChanged || len(c.Recovered) != 1 {
		t.Fatalf("recovery: %+v", c)
	}
	for i := range 3 {
		s, changed := tr.Observe("m1", kindErr{"timeout"}, at.Add(time.Duration(5+i)*time.Second))
		if want := i == 2; changed != want || (s == Offline) != want {
			t.Fatalf("failure %d: %s changed=%v", i+1, s, changed)
		}
	}
	d, _ := tr.Get("m1")
	if d.ErrorsByKind["timeout"] != 3 || d.ErrorsByKind["exception_illegal_data_address"] != 2 ||
		!d.LastSeen.Equal(at.Add(4*time.Second)) || d.ConsecutiveFailures != 3 {
		t.Errorf("device: %+v", d)
	}
	if got := testutil.ToFloat64(tr.m.state.WithLabelValues("m1", "offline")); got != 1 {
		t.Errorf("offline gauge %v", got)
	}
	if got := testutil.ToFloat64(tr.m.errors.WithLabelValues("m1", "timeout")); got != 3 {
		t.Errorf("timeout counter %v", got)
	}
	if n, err := testutil.GatherAndCount(reg, "estate_device_last_success_timestamp_seconds"); err != nil || n == 0 {
		t.Errorf("last success not exported: %d %v", n, err)
	}
}

func TestKind(t *testing.T) {
	if k := Kind(errors.New("x")); k != "error" {
		t.Errorf("plain error: %s", k)
	}
	if k := Kind(kindErr{"crc"}); k != "crc" {
		t.Errorf("kind error: %s", k)
	}
	if !strings.Contains(partial{}.Error(), "failed") {
		t.Error()
	}
}

// Two trackers on one registry (two gateways in one test process) share the
// series instead of panicking on the second registration.
func TestTwoTrackersOneRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	a, b := NewTracker(1, reg), NewTracker(1, reg)
	at := time.Unix(1700000000, 0)
	a.Observe("m1", kindErr{"crc"}, at)
	b.Observe("m1", kindErr{"crc"}, at)
	if got := testutil.ToFloat64(a.m.errors.WithLabelValues("m1", "crc")); got != 2 {
		t.Fatalf("crc errors %v, want 2 (both trackers count into the registered series)", got)
	}
	if NewTracker(1, nil).m == nil {
		t.Fatal("a nil registerer must still give metrics")
	}
}
