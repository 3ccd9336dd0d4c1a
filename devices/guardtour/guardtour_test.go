package guardtour

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/estatehq/estate/devices"
	"github.com/estatehq/estate/internal/config"
	"github.com/estatehq/estate/internal/testenv"
	"github.com/estatehq/estate/internal/wire"
)

type sink struct {
	mu     sync.Mutex
	events []devices.Event
	heard  map[string]int
}

func (s *sink) Reading(devices.Reading) {}
func (s *sink) Event(e devices.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, e)
}
func (s *sink) Health(dev string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil {
		s.heard[dev]++
	}
}
func (s *sink) visits() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, e := range s.events {
		out = append(out, e.Attrs["reader"]+"@"+e.Attrs["checkpoint"])
	}
	return out
}

func randomID(t *testing.T) string {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// siteConfig is a gateway configuration with two patrol readers on the
// test broker, under a site of its own (its own topics).
func siteConfig(t *testing.T, broker string) *config.Config {
	t.Helper()
	profiles, _ := filepath.Abs("../../configs/profiles")
	site := "gt-" + randomID(t)
	text := fmt.Sprintf(`site: {id: %s}
gateway: {id: gw, profiles_dir: %s, desk_url: "http://127.0.0.1:1", desk_token: 0123456789abcdef}
influxdb: {url: "http://127.0.0.1:1", bucket: b}
mqtt: {broker: %q}
devices:
  - {id: patrol-1, family: guardtour, protocol: guardtour, profile: guardtour-json}
  - {id: patrol-2, family: guardtour, protocol: guardtour, profile: guardtour-json, guardtour: {reader: R-0002}}
`, site, profiles, broker)
	path := filepath.Join(t.TempDir(), "site.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, devices.Validate)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// Patrol readers against the real mosquitto: scans become visits; a reader
// that is not configured, a repeat within a minute, a scan that does not
// parse and a payload that is not JSON are counted and dropped, and the
// good scans of the same messages are kept.
func TestReadersOverMosquitto(t *testing.T) {
	broker := testenv.MQTT(t)
	cfg := siteConfig(t, broker)
	var devs []config.Device
	var infos []*devices.Info
	for _, d := range cfg.Devices {
		devs = append(devs, d)
		infos = append(infos, devices.NewInfo(cfg.Site.ID, d))
	}
	reg := prometheus.NewRegistry()
	s, err := New(cfg, devs, infos, testLog(t), reg)
	if err != nil {
		t.Fatal(err)
	}
	out := &sink{heard: map[string]int{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, out) }()
	defer func() { cancel(); <-done }()

	pub := paho.NewClient(paho.NewClientOptions().AddBroker(broker).SetClientID("gt-pub-" + randomID(t)))
	if tok := pub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer pub.Disconnect(100)
	topic1 := "estate/" + cfg.Site.ID + "/guardtour/patrol-1/scans"
	topic2 := "estate/" + cfg.Site.ID + "/guardtour/R-0002/scans"
	t0 := time.Date(2026, 12, 3, 0, 30, 0, 0, time.UTC)
	scan := func(reader, cp string, at time.Time) string {
		return fmt.Sprintf(`{"reader":%q,"checkpoint":%q,"time":%q}`, reader, cp, at.Format(time.RFC3339))
	}
	publish := func(topic, payload string) {
		t.Helper()
		if tok := pub.Publish(topic, 1, false, payload); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("publish: %v", tok.Error())
		}
	}
	// Subscribed once the first scan of a probe goes through.
	deadline := time.Now().Add(20 * time.Second)
	for len(out.visits()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no scan received within 20 s")
		}
		publish(topic1, scan("patrol-1", "DR-1", t0))
		time.Sleep(200 * time.Millisecond) // between probes while the subscription is made
	}
	publish(topic1, scan("patrol-1", "DR-1", t0.Add(20*time.Second))) // repeat within a minute
	publish(topic1, scan("intruder", "DR-2", t0.Add(30*time.Second))) // unknown reader
	publish(topic2, scan("patrol-1", "DR-2", t0.Add(30*time.Second))) // a reader on another's topic
	publish(topic1, `not json`)                                       // bad payload
	publish(topic2, `{"records":[`+scan("R-0002", "B1-FIRE", t0)+`,{"reader":"R-0002","checkpoint":"B1 DOORS","time":"x"},`+
		scan("R-0002", "B1-METERS", t0.Add(2*time.Minute))+`]}`) // a batch with one bad scan
	publish(topic1, scan("patrol-1", "DR-1", t0.Add(2*time.Minute))) // a new visit of DR-1
	want := "patrol-1@DR-1 R-0002@B1-FIRE R-0002@B1-METERS patrol-1@DR-1"
	deadline = time.Now().Add(20 * time.Second)
	for {
		v := out.visits()
		// The probe may have been received more than once: repeats.
		if got := strings.Join(v, " "); got == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("visits %v, want %s", v, want)
		}
		time.Sleep(50 * time.Millisecond) // polling the sink
	}
	for _, e := range out.events {
		if e.Type != wire.EventCheckpointVisit || e.Device == nil || e.Time.IsZero() {
			t.Errorf("event %+v", e)
		}
	}
	if !out.events[3].Time.Equal(t0.Add(2 * time.Minute)) {
		t.Errorf("the scan's own time is kept: %s", out.events[3].Time)
	}
	for result, min := range map[string]float64{ResultRepeat: 1, ResultUnknownReader: 2, ResultBadPayload: 1, ResultBadScan: 1, ResultVisit: 4} {
		if got := testutil.ToFloat64(s.scans.WithLabelValues(result)); got < min || (result != ResultRepeat && got != min) {
			t.Errorf("%s counted %v, want %v", result, got, min)
		}
	}
	if out.heard["patrol-2"] == 0 {
		t.Error("patrol-2 was not reported heard from")
	}
}

// Configurations of readers are checked with file and line.
func TestReaderConfigChecked(t *testing.T) {
	profiles, _ := filepath.Abs("../../configs/profiles")
	base := `site: {id: s}
gateway: {id: gw, profiles_dir: ` + profiles + `, desk_url: "http://127.0.0.1:1", desk_token: 0123456789abcdef}
influxdb: {url: "http://127.0.0.1:1", bucket: b}
mqtt: {broker: "tcp://127.0.0.1:1883"}
devices:
`
	for _, tc := range []struct{ devs, want string }{
		{"  - {id: p1, family: guardtour, protocol: guardtour, profile: guardtour-json}\n", ""},
		{"  - {id: p1, family: access, protocol: guardtour, profile: guardtour-json}\n", "family guardtour"},
		{"  - {id: p1, family: guardtour, protocol: guardtour, profile: guardtour-json, guardtour: {reader: \"bad id\"}}\n", "is not a reader id"},
		{"  - {id: p1, family: guardtour, protocol: guardtour, profile: guardtour-json}\n  - {id: p2, family: guardtour, protocol: guardtour, profile: guardtour-json, guardtour: {reader: p1}}\n", `reader "p1" is also device p1`},
		{"  - {id: p1, family: guardtour, protocol: guardtour, profile: guardtour-json, guardtour: {topic: \"a/+/b\"}}\n", "no wildcards"},
		{"  - {id: p1, family: guardtour, protocol: guardtour}\n", "required: a guard-tour profile"},
	} {
		path := filepath.Join(t.TempDir(), "site.yaml")
		os.WriteFile(path, []byte(base+tc.devs), 0o600)
		_, err := config.Load(path, devices.Validate)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "site.yaml:")) {
			t.Errorf("%s: %v, want %q", tc.devs, err, tc.want)
		}
	}
}
