package mqtt

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/estatehq/estate/devices"
	"github.com/estatehq/estate/internal/config"
)

const timedProfile = `name: timed
family: meter
protocol: mqtt
subscriptions:
  - topic: estate/{site}/x/{device}/state
    format: json
    time: {path: %s}
    points:
      - {name: v, path: v, type: number}
`

func timedSub(t testing.TB, timeMap string) *Subscription {
	t.Helper()
	p, err := ParseProfile("timed", []byte(strings.Replace(timedProfile, "%s", timeMap, 1)))
	if err != nil {
		t.Fatal(err)
	}
	return &p.Subscriptions[0]
}

// A payload's own time stamps its reading, in each format; a time that is
// not one is a problem (the reading keeps the time of arrival) and never a
// made-up instant.
func TestDecodeTime(t *testing.T) {
	at := time.Date(2026, 12, 3, 8, 30, 15, 250_000_000, time.UTC)
	tests := []struct {
		timeMap, payload string
		want             time.Time
		problem          bool
	}{
		{"ts", `{"v":1,"ts":1796286615250}`, at, false},
		{"ts, format: unix_ms", `{"v":1,"ts":"1796286615250"}`, at, false},
		{"ts, format: unix", `{"v":1,"ts":1796286615.25}`, at, false},
		{"meta.at, format: rfc3339", `{"v":1,"meta":{"at":"2026-12-03T16:30:15.25+08:00"}}`, at, false},
		{"ts", `{"v":1}`, time.Time{}, false}, // no time: arrival
		{"ts", `{"v":1,"ts":null}`, time.Time{}, false},
		{"ts", `{"v":1,"ts":"soon"}`, time.Time{}, true},
		{"ts", `{"v":1,"ts":-5}`, time.Time{}, true},
		{"ts", `{"v":1,"ts":12}`, time.Time{}, true},    // 1970: a clock never set
		{"ts", `{"v":1,"ts":1e300}`, time.Time{}, true}, // no instant
		{"ts, format: rfc3339", `{"v":1,"ts":1796286615250}`, time.Time{}, true},
		{"ts, format: rfc3339", `{"v":1,"ts":"2026-12-03 08:30"}`, time.Time{}, true},
	}
	for _, tc := range tests {
		s := timedSub(t, tc.timeMap)
		var d decoded
		problems := s.decode([]byte(tc.payload), nil, &d)
		if !d.at.Equal(tc.want) {
			t.Errorf("%s %s: time %v, want %v", tc.timeMap, tc.payload, d.at, tc.want)
		}
		if got := len(problems) > 0; got != tc.problem {
			t.Errorf("%s %s: problems %v, want a problem: %v", tc.timeMap, tc.payload, problems, tc.problem)
		}
		if len(d.values) != 1 || d.values[0].Value != 1 {
			t.Errorf("%s %s: values %v, want v=1 whatever the time", tc.timeMap, tc.payload, d.values)
		}
	}
}

func TestTimeMapChecked(t *testing.T) {
	for _, bad := range []string{
		"{path: ts, format: ms}",
		"{format: unix}",
	} {
		_, err := ParseProfile("timed", []byte(strings.Replace(strings.Replace(timedProfile, "time: {path: %s}", "time: "+bad, 1), "%s", "", 1)))
		if err == nil {
			t.Errorf("time: %s accepted", bad)
		}
	}
	text := strings.Replace(timedProfile, "format: json", "format: text", 1)
	text = strings.Replace(text, "path: v, ", "", 1)
	if _, err := ParseProfile("timed", []byte(strings.Replace(text, "%s", "ts", 1))); err == nil || !strings.Contains(err.Error(), "only a JSON payload") {
		t.Errorf("a text subscription with a time: %v", err)
	}
}

// FuzzDecodeTime: any bytes as the time of a payload, in every format: no
// panic, and a time is either refused or within the believable span.
func FuzzDecodeTime(f *testing.F) {
	for _, seed := range []string{`1796286615250`, `"1796286615250"`, `1796286615.25`, `"2026-12-03T16:30:15.25+08:00"`,
		`-1`, `1e400`, `"x"`, `null`, `{}`, `[1]`, `""`, `9007199254740993`, `"2199-12-31T23:59:59Z"`} {
		f.Add(seed)
	}
	subs := []*Subscription{timedSub(f, "ts"), timedSub(f, "ts, format: unix"), timedSub(f, "ts, format: rfc3339")}
	f.Fuzz(func(t *testing.T, ts string) {
		payload := []byte(`{"v":1,"ts":` + ts + `}`)
		for _, s := range subs {
			var d decoded
			_ = s.decode(payload, nil, &d)
			if !d.at.IsZero() && (d.at.Before(earliestTime) || !d.at.Before(latestTime)) {
				t.Fatalf("%s: time %v outside the believable span", payload, d.at)
			}
		}
	})
}

// A message the broker delivers twice (QoS 1 after a lost PUBACK) is one
// point: both readings carry the payload's time; a payload whose time is far
// ahead of the gateway's clock keeps its time of arrival.
func TestStreamerStampsDeviceTime(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "timed.yaml"), []byte(strings.Replace(timedProfile, "%s", "ts", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	text := `site: {id: s1}
gateway: {id: gw1, profiles_dir: ` + dir + `, desk_url: "http://127.0.0.1:9", desk_token: test-gateway-token-0123}
influxdb: {url: "http://127.0.0.1:9", bucket: test/autogen}
mqtt: {broker: "tcp://127.0.0.1:1"}
devices:
  - {id: t1, family: meter, protocol: mqtt, profile: timed}
`
	cfg, err := config.ParseWith(filepath.Join(dir, "site.yaml"), []byte(text), devices.Validate)
	if err != nil {
		t.Fatal(err)
	}
	s := newTestStreamer(t, cfg)
	sink := newRecorder()
	sent := time.Now().Add(-30 * time.Second).Truncate(time.Millisecond)
	payload := []byte(fmt.Sprintf(`{"v":1,"ts":%d}`, sent.UnixMilli()))
	first := time.Now()
	s.receive(first, "estate/s1/x/t1/state", payload)
	s.receive(first.Add(40*time.Second), "estate/s1/x/t1/state", payload) // the resend
	ahead := time.Now().Add(time.Hour)
	late := first.Add(41 * time.Second)
	s.receive(late, "estate/s1/x/t1/state", []byte(fmt.Sprintf(`{"v":2,"ts":%d}`, ahead.UnixMilli())))
	drain(s, sink)
	if len(sink.readings) != 3 {
		t.Fatalf("%d readings, want 3", len(sink.readings))
	}
	for i, r := range sink.readings[:2] {
		if !r.Time.Equal(sent) {
			t.Errorf("reading %d at %v, want the payload's time %v", i, r.Time, sent)
		}
	}
	if got := sink.readings[2].Time; !got.Equal(late) {
		t.Errorf("a time an hour ahead stamped the reading %v, want its arrival %v", got, late)
	}
}
