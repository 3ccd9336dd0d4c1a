package mqtt

import (
	"testing"
	"time"
)

func TestPresence(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	type step struct {
		at      int    // seconds after start
		do      string // data, online, offline, resume, or "" to only evaluate
		want    linkState
		changed bool
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"silent from the start goes offline after the limit", []step{
			{5, "", linkUnknown, false}, {10, "", linkUnknown, false}, {11, "", linkOffline, true}}},
		{"publishing keeps it online, silence takes it offline", []step{
			{1, "data", linkOnline, true}, {9, "data", linkOnline, false}, {19, "", linkOnline, false}, {20, "", linkOffline, true},
			{21, "data", linkOnline, true}}},
		{"retained online keeps a quiet device present", []step{
			{1, "online", linkOnline, true}, {100, "", linkOnline, false}}},
		{"last will offline takes it offline at once", []step{
			{1, "data", linkOnline, true}, {2, "offline", linkOffline, true}, {3, "", linkOffline, false}}},
		{"data after a will brings it back", []step{
			{1, "offline", linkOffline, true}, {5, "data", linkOnline, true}, {14, "", linkOnline, false}, {16, "", linkOffline, true}}},
		{"online status after offline", []step{
			{1, "offline", linkOffline, true}, {2, "online", linkOnline, true}}},
		{"a broker outage restarts the silence clock", []step{
			{1, "data", linkOnline, true}, {30, "resume", linkOnline, false}, {35, "", linkOnline, false}, {41, "", linkOffline, true}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newPresence(10*time.Second, t0)
			for i, s := range tc.steps {
				switch s.do {
				case "data":
					p.heardAt(at(s.at))
				case "online":
					p.statusAt(at(s.at), true, "status online")
				case "offline":
					p.statusAt(at(s.at), false, "last will")
				case "resume":
					p.resume(at(s.at))
				}
				got, changed, _ := p.evaluate(at(s.at))
				if got != s.want || changed != s.changed {
					t.Fatalf("step %d (%ds %s): %s changed=%v, want %s changed=%v", i, s.at, s.do, got, changed, s.want, s.changed)
				}
			}
		})
	}
}

func TestParseStatus(t *testing.T) {
	pr := Presence{Online: []string{"online", "1"}, Offline: []string{"offline", "0"}}
	for payload, want := range map[string]int{"online": 1, " ONLINE\n": 1, "0": 0, "offline": 0, "maybe": -1, "": -1} {
		online, ok := pr.parseStatus([]byte(payload))
		got := -1
		if ok {
			got = 0
			if online {
				got = 1
			}
		}
		if got != want {
			t.Errorf("%q: %d, want %d", payload, got, want)
		}
	}
	pj := Presence{StatusPath: "state", Online: []string{"online"}, Offline: []string{"offline"}}
	if online, ok := pj.parseStatus([]byte(`{"state":"offline","at":1}`)); !ok || online {
		t.Error("JSON offline status not understood")
	}
	if _, ok := pj.parseStatus([]byte(`{"state":`)); ok {
		t.Error("malformed JSON status accepted")
	}
}
