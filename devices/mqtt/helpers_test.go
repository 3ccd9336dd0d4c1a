package mqtt

import (
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/estatehq/estate/devices"
	"github.com/estatehq/estate/internal/config"
)

// testConfig is a gateway configuration with the given mqtt section and
// devices, using the shipped profiles.
func testConfig(t testing.TB, mqttYAML, devicesYAML string) *config.Config {
	t.Helper()
	return testConfigAt(t, "s1", mqttYAML, devicesYAML)
}

// testConfigAt is testConfig for another site id (tests on a shared broker use
// their own, so that retained messages of other runs do not reach them).
func testConfigAt(t testing.TB, site, mqttYAML, devicesYAML string) *config.Config {
	t.Helper()
	profiles, _ := filepath.Abs("../../configs/profiles")
	text := fmt.Sprintf(`site: {id: `+site+`}
gateway: {id: gw1, profiles_dir: %s, desk_url: "http://127.0.0.1:9", desk_token: test-gateway-token-0123}
influxdb: {url: "http://127.0.0.1:9", bucket: test/autogen}
mqtt:
%s
devices:
%s
`, profiles, indent(mqttYAML), indent(devicesYAML))
	cfg, err := config.ParseWith(filepath.Join(t.TempDir(), "site.yaml"), []byte(text), devices.Validate)
	if err != nil {
		t.Fatalf("config: %v\n%s", err, text)
	}
	for i, d := range cfg.Devices {
		if ps := validateDevice(cfg, d, fmt.Sprintf("devices[%d]", i)); len(ps) > 0 {
			t.Fatalf("device %s: %v", d.ID, ps)
		}
	}
	return cfg
}

func indent(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = "  " + l
	}
	return strings.Join(lines, "\n")
}

// threeDevices is an elevator, a UHPPOTE controller and a ZKTeco panel; each
// test gives them its own ids (prefix) so that per-device counters do not mix.
func threeDevices(prefix string) string {
	return fmt.Sprintf(`- {id: %[1]slift-1, family: elevator, protocol: mqtt, profile: mqtt-elevator-gbt24476, building: "2", mqtt: {entrapment_after: 1s, silence: 3s}}
- {id: %[1]sdoor-1, family: access, protocol: mqtt, profile: mqtt-access-uhppote, mqtt: {held_open_after: 1s, topic_id: %[1]sctl-405419896}}
- {id: %[1]szk-1, family: access, protocol: mqtt, profile: mqtt-access-zkteco}`, prefix)
}

func newTestStreamer(t testing.TB, cfg *config.Config) *Streamer {
	t.Helper()
	infos := make([]*devices.Info, len(cfg.Devices))
	for i, d := range cfg.Devices {
		infos[i] = devices.NewInfo(cfg.Site.ID, d)
	}
	// Metrics of its own (a private registry): each test reads its own counts.
	s, err := New(cfg, cfg.Devices, infos, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// recorder is a devices.Sink that keeps everything and lets tests wait for it.
type recorder struct {
	mu       sync.Mutex
	readings []devices.Reading
	events   []devices.Event
	health   map[string]error
	changed  chan struct{}
}

func newRecorder() *recorder {
	return &recorder{health: map[string]error{}, changed: make(chan struct{}, 1)}
}

func (r *recorder) poke() {
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

func (r *recorder) Reading(x devices.Reading) {
	r.mu.Lock()
	r.readings = append(r.readings, x)
	r.mu.Unlock()
	r.poke()
}

func (r *recorder) Event(e devices.Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
	r.poke()
}

func (r *recorder) Health(device string, err error) {
	r.mu.Lock()
	r.health[device] = err
	r.mu.Unlock()
	r.poke()
}

// waitFor polls cond (under the lock) until it holds or the time is up.
func (r *recorder) waitFor(t testing.TB, what string, within time.Duration, cond func(r *recorder) bool) {
	t.Helper()
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		ok := cond(r)
		r.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-r.changed:
		case <-time.After(50 * time.Millisecond):
		case <-deadline.C:
			r.mu.Lock()
			defer r.mu.Unlock()
			t.Fatalf("timed out after %s waiting for %s; readings %d, events %+v, health %v", within, what, len(r.readings), r.events, r.health)
		}
	}
}

// event finds an event of a device by type and activity.
func (r *recorder) event(device, typ string, active bool) (devices.Event, bool) {
	for _, e := range r.events {
		if e.Device.ID == device && e.Type == typ && e.Active == active {
			return e, true
		}
	}
	return devices.Event{}, false
}

// value finds the last good value of a device's point.
func (r *recorder) value(device, point string) (float64, bool) {
	for i := len(r.readings) - 1; i >= 0; i-- {
		if r.readings[i].Device.ID != device {
			continue
		}
		if v, ok := r.readings[i].Get(point); ok {
			return v, true
		}
	}
	return 0, false
}

func newClient(o *paho.ClientOptions) paho.Client { return paho.NewClient(o) }
