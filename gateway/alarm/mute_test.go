package alarm

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/estatehq/estate/internal/config"
)

// The text people read (/api/v1/alarms, heartbeats, the console) is the text
// of the version whose causes were strings; the metric label is by kind.
func TestCauseText(t *testing.T) {
	restored := time.Date(2026, 5, 1, 8, 5, 0, 0, time.UTC)
	cases := []struct {
		cause        Cause
		text, metric string
	}{
		{Cause{}, "", "outage"},
		{Cause{Kind: Maintenance, Until: time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC), Reason: "meter swap"},
			"maintenance until 2026-05-01T09:00:00Z: meter swap", "maintenance"},
		{Cause{Kind: Outage, Feeder: "b1", Evidence: "incomer inc2 reads 0.4 voltage"},
			"power outage on feeder b1: incomer inc2 reads 0.4 voltage", "outage"},
		{Cause{Kind: PowerBack, Feeder: "b1", RestoredAt: restored, Grace: 2 * time.Minute},
			"power back on feeder b1 since 2026-05-01T08:05:00Z; re-evaluated after 2m0s", "outage"},
		{Cause{Kind: SavedText, Text: "power outage on feeder b2: x"}, "power outage on feeder b2: x", "outage"},
	}
	for _, c := range cases {
		if got := c.cause.String(); got != c.text {
			t.Errorf("%v: text %q, want %q", c.cause.Kind, got, c.text)
		}
		if c.cause.Muted() && c.cause.Metric() != c.metric {
			t.Errorf("%v: metric %q, want %q", c.cause.Kind, c.cause.Metric(), c.metric)
		}
		// The persisted form reads back as the same cause.
		data, err := json.Marshal(c.cause)
		if err != nil {
			t.Fatal(err)
		}
		var back Cause
		if err := json.Unmarshal(data, &back); err != nil || !back.Equal(c.cause) {
			t.Errorf("%v: %s read back as %+v (%v)", c.cause.Kind, data, back, err)
		}
	}
}

// State written before causes were typed holds the text: it reads back as a
// SavedText cause ("" as not muted), and an alarm without a cause omits it.
func TestCauseReadsSavedText(t *testing.T) {
	var a Alarm
	if err := json.Unmarshal([]byte(`{"key":"k","suppressed":"maintenance until x: y"}`), &a); err != nil {
		t.Fatal(err)
	}
	if a.Suppressed.Kind != SavedText || a.Suppressed.String() != "maintenance until x: y" {
		t.Fatalf("saved text read as %+v", a.Suppressed)
	}
	if err := json.Unmarshal([]byte(`{"key":"k","suppressed":""}`), &a); err != nil || a.Suppressed.Muted() {
		t.Fatalf("empty text read as %+v %v", a.Suppressed, err)
	}
	data, _ := json.Marshal(Alarm{Key: "k"})
	var m map[string]any
	_ = json.Unmarshal(data, &m)
	if _, ok := m["suppressed"]; ok {
		t.Errorf("an alarm without a cause writes one: %s", data)
	}
}

func TestSilencesMute(t *testing.T) {
	start, end := t0.Add(-time.Hour), t0.Add(time.Hour)
	s := Silences{
		{Devices: []string{"m2"}, Reason: "meter swap", Start: start, End: end},
		{Building: "5", Reason: "switchgear", Start: start, End: end},
	}
	cases := []struct {
		name   string
		target Target
		at     time.Time
		reason string // "" not muted
	}{
		{"a listed device", Target{ID: "m2", Building: "6"}, t0, "meter swap"},
		{"a device of the building", Target{ID: "m9", Building: "5"}, t0, "switchgear"},
		{"a feeder of the building", Target{ID: "f5", Building: "5"}, t0, "switchgear"},
		{"elsewhere", Target{ID: "m9", Building: "6"}, t0, ""},
		{"after the window", Target{ID: "m2"}, end.Add(time.Second), ""},
		{"before the window", Target{ID: "m2"}, start.Add(-time.Second), ""},
	}
	for _, c := range cases {
		got, ok := s.Mutes(c.target, c.at)
		if ok != (c.reason != "") || got.Reason != c.reason || ok && (got.Kind != Maintenance || !got.Until.Equal(end)) {
			t.Errorf("%s: %+v %v, want reason %q", c.name, got, ok, c.reason)
		}
	}
}

func TestInhibitorMutes(t *testing.T) {
	out := &feeder{cfg: config.Feeder{ID: "f1"}, out: true, evidence: "incomer reads 0"}
	back := &feeder{cfg: config.Feeder{ID: "f2"}, restoredAt: t0}
	in := &Inhibitor{grace: 2 * time.Minute, byDevice: map[string][]*feeder{"m1": {out}, "m2": {back}, "m3": {back, out}}}
	cases := []struct {
		name   string
		target Target
		at     time.Time
		want   Cause
	}{
		{"on an out feeder", Target{ID: "m1", OnOutage: true}, t0, Cause{Kind: Outage, Feeder: "f1", Evidence: "incomer reads 0"}},
		{"a rule not suppressed by outages", Target{ID: "m1"}, t0, Cause{}},
		{"power back within the grace", Target{ID: "m2", OnOutage: true}, t0.Add(time.Minute),
			Cause{Kind: PowerBack, Feeder: "f2", RestoredAt: t0, Grace: 2 * time.Minute}},
		{"power back, grace over", Target{ID: "m2", OnOutage: true}, t0.Add(2 * time.Minute), Cause{}},
		{"the first feeder that has a cause", Target{ID: "m3", OnOutage: true}, t0.Add(3 * time.Minute),
			Cause{Kind: Outage, Feeder: "f1", Evidence: "incomer reads 0"}},
		{"on no feeder", Target{ID: "m4", OnOutage: true}, t0, Cause{}},
	}
	for _, c := range cases {
		got, ok := in.Mutes(c.target, c.at)
		if ok != c.want.Muted() || !got.Equal(c.want) {
			t.Errorf("%s: %+v %v, want %+v", c.name, got, ok, c.want)
		}
	}
}

// outageEvidence is the pure decision of outage inference.
func TestOutageEvidence(t *testing.T) {
	below, equals := 50.0, 1.0
	cfg := &config.Feeder{ID: "f", SilentShare: 0.8, SilentWithin: 10 * time.Second,
		Incomer: &config.Probe{Device: "inc", Point: "voltage", Below: &below}, MainsFail: &config.Probe{Device: "mf", Point: "di1", Equals: &equals}}
	silent := func(n, total int, spread time.Duration) []member {
		ms := make([]member, total)
		for i := range n {
			ms[i] = member{offline: true, since: t0.Add(time.Duration(i) * spread / time.Duration(max(n-1, 1)))}
		}
		return ms
	}
	answers := func(map[string]bool) bool { return true }
	nobody := func(map[string]bool) bool { return false }
	cases := []struct {
		name     string
		in       outageInput
		want, zh string
	}{
		{"incomer dead", outageInput{incomerDead: true, incomerValue: 0.4, members: silent(0, 10, 0)}, "incomer inc reads 0.4 voltage", "进线 inc 的 voltage 读数为 0.4"},
		{"mains fail", outageInput{mainsFailed: true, members: silent(0, 10, 0)}, "mains-fail contact mf.di1 is set", "市电失电触点 mf.di1 动作"},
		{"8 of 10 silent together", outageInput{members: silent(8, 10, 5*time.Second), othersAnswer: answers},
			"8 of 10 devices went silent together while other devices answer", "10 台设备中 8 台同时失联，其他设备仍有应答"},
		{"7 of 10: not enough", outageInput{members: silent(7, 10, 0), othersAnswer: answers}, "", ""},
		{"8 of 10 but spread over a minute", outageInput{members: silent(8, 10, time.Minute), othersAnswer: answers}, "", ""},
		{"spread, but already out", outageInput{wasOut: true, members: silent(8, 10, time.Minute), othersAnswer: answers},
			"8 of 10 devices went silent together while other devices answer", "10 台设备中 8 台同时失联，其他设备仍有应答"},
		{"nothing answers anywhere", outageInput{members: silent(10, 10, 0), othersAnswer: nobody}, "", ""},
		{"no devices", outageInput{othersAnswer: answers}, "", ""},
	}
	for _, c := range cases {
		c.in.cfg = cfg
		got := outageEvidence(c.in)
		if got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
		// The same evidence in Chinese, for the outage's Chinese message.
		if zh := outageEvidenceZH(c.in, got); zh != c.zh {
			t.Errorf("%s in Chinese: %q, want %q", c.name, zh, c.zh)
		}
	}
}

// Muters asks in order: a maintenance window wins over an outage.
func TestMutersFirstWins(t *testing.T) {
	f := &feeder{cfg: config.Feeder{ID: "f1"}, out: true, evidence: "e"}
	ms := Muters{Silences{{Devices: []string{"m1"}, Reason: "r", End: t0.Add(time.Hour)}},
		&Inhibitor{byDevice: map[string][]*feeder{"m1": {f}, "m2": {f}}}}
	if c, _ := ms.Mutes(Target{ID: "m1", OnOutage: true}, t0); c.Kind != Maintenance {
		t.Errorf("m1: %+v, want the window", c)
	}
	if c, _ := ms.Mutes(Target{ID: "m2", OnOutage: true}, t0); c.Kind != Outage {
		t.Errorf("m2: %+v, want the outage", c)
	}
	if _, ok := ms.Mutes(Target{ID: "m3", OnOutage: true}, t0); ok {
		t.Error("m3 muted")
	}
}
