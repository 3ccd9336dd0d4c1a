package devicecsv

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/estatehq/estate/internal/app"
	"github.com/estatehq/estate/internal/config"
	"github.com/estatehq/estate/internal/tabular"
)

func check(path string, data []byte) error {
	_, err := app.CheckConfig(path, data)
	return err
}

// siteConfig is a configuration in the configs folder (so that its profiles
// are found), written to a temporary file beside them.
func siteConfig(t *testing.T, text string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Symlink(mustAbs(t, "../../configs/profiles"), filepath.Join(dir, "profiles")); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "site.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func mustAbs(t *testing.T, p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

const siteHead = `# The estate's gateway. Comments and layout must survive add-devices.
site:
  id: site-a            # required
  timezone: Asia/Shanghai
gateway:
  id: gw-a
  profiles_dir: profiles
  desk_url: http://127.0.0.1:8080
  desk_token: gateway-token-of-site-a-0123
influxdb:
  url: http://127.0.0.1:8086
  bucket: estate/autogen
`

const oneDevice = `
devices:
    # the first meter, indented by four
    -   id: meter-1
        family: meter
        protocol: modbus_tcp
        profile: demo-prepaid-meter
        address: 127.0.0.1:15020   # the simulator
        building: "1"
        description: |
          two lines
          of text
    # a device left out for now:
    # - id: meter-0

rules:   # after the devices
  - name: prepaid_low_balance
    family: meter
    point: balance
    below: 10
    severity: warning
    ticket: top_up
    title: "{unit} low"
`

const devicesCSV = "id,family,protocol,profile,building,floor,unit,tags,address,slave_id,poll_interval,serial.port\n" +
	"meter-2,meter,modbus_tcp,demo-prepaid-meter,2,03,2-301,prepaid;residential,127.0.0.1:15020,2,2s,\n" +
	"meter-3,meter,modbus_tcp,demo-prepaid-meter,2,03,2-302,,127.0.0.1:15020,3,,\n"

// The devices go after the last one, in its indentation; every other byte
// of the file stays as it was, and the result passes estate check.
func TestAddKeepsTheFile(t *testing.T) {
	// "description" is not a key of the device: drop it from this case.
	text := siteHead + strings.Replace(oneDevice, "        description: |\n          two lines\n          of text\n", "", 1)
	path := siteConfig(t, text)
	csv := strings.ReplaceAll(devicesCSV, ",serial.port", "")
	csv = strings.ReplaceAll(csv, "2s,\n", "2s\n")
	csv = strings.ReplaceAll(csv, ",,\n", ",\n")
	out, n, ps, err := Add(path, []byte(text), "devices.csv", []byte(csv), check)
	if err != nil || len(ps) > 0 || n != 2 {
		t.Fatalf("add: %d %v %v", n, ps, err)
	}
	cut := strings.Index(string(out), "    -   id: meter-2\n        family: meter\n")
	if cut < 0 {
		t.Fatalf("new devices not in the list's indentation:\n%s", out)
	}
	end := strings.Index(string(out), "    # a device left out for now:")
	if end < cut || string(out[:cut])+string(out[end:]) != text {
		t.Fatalf("the rest of the file changed:\n%s", out)
	}
	cfg, err := app.CheckConfig(path, out)
	if err != nil {
		t.Fatalf("result does not check: %v\n%s", err, out)
	}
	if len(cfg.Devices) != 3 {
		t.Fatalf("%d devices", len(cfg.Devices))
	}
	d := cfg.Devices[1]
	if d.ID != "meter-2" || d.Building != "2" || d.Floor != "03" || d.Unit != "2-301" || !reflect.DeepEqual(d.Tags, []string{"prepaid", "residential"}) || d.PollInterval.String() != "2s" {
		t.Errorf("meter-2: %+v", d)
	}
	if !strings.Contains(string(out), `floor: "03"`) {
		t.Errorf("a floor that looks like a number is not kept as text:\n%s", out)
	}
}

// A configuration without devices, or with "devices: []", gets a list; a
// flow list is refused rather than rewritten.
func TestAddToOtherShapes(t *testing.T) {
	csv := "id,family,protocol,profile,address\nmeter-2,meter,modbus_tcp,demo-prepaid-meter,127.0.0.1:15020\n"
	for name, text := range map[string]string{
		"no devices":   siteHead,
		"empty list":   siteHead + "devices: []   # none yet\n",
		"empty key":    siteHead + "devices:\n# none yet\n",
		"no last line": strings.TrimSuffix(siteHead, "\n"),
	} {
		path := siteConfig(t, text)
		out, n, ps, err := Add(path, []byte(text), "d.csv", []byte(csv), check)
		if err != nil || len(ps) > 0 || n != 1 {
			t.Errorf("%s: %v %v", name, ps, err)
			continue
		}
		cfg, err := app.CheckConfig(path, out)
		if err != nil || len(cfg.Devices) != 1 || cfg.Devices[0].ID != "meter-2" {
			t.Errorf("%s: %v\n%s", name, err, out)
		}
		if strings.Contains(text, "# none yet") && !strings.Contains(string(out), "# none yet") {
			t.Errorf("%s: comment lost:\n%s", name, out)
		}
	}
	text := siteHead + "devices: [{id: m, family: meter, protocol: modbus_tcp}]\n"
	if _, _, _, err := Add(siteConfig(t, text), []byte(text), "d.csv", []byte(csv), check); err == nil || !strings.Contains(err.Error(), "flow") {
		t.Errorf("flow list: %v", err)
	}
}

// Every bad row is reported at its row and column, whether the table says
// so (no id, a repeated id) or the configuration's checks do (an unknown
// protocol, a profile that does not exist, a duration that is not one).
func TestAddReportsEveryBadRow(t *testing.T) {
	text := siteHead + strings.Replace(oneDevice, "        description: |\n          two lines\n          of text\n", "", 1)
	path := siteConfig(t, text)
	csv := "id,family,protocol,profile,address,slave_id,poll_interval,colour\n" +
		"meter-2,meter,modbus_tcp,demo-prepaid-meter,127.0.0.1:15020,2,1s,\n" +
		"meter-1,meter,modbus_tcp,demo-prepaid-meter,127.0.0.1:15020,3,1s,\n" +
		",meter,modbus_tcp,demo-prepaid-meter,127.0.0.1:15020,4,1s,\n" +
		"meter-4,meter,modbus_tcpp,demo-prepaid-meter,127.0.0.1:15020,5,1s,\n" +
		"meter-5,meter,modbus_tcp,nope,127.0.0.1:15020,6,1s,\n" +
		"meter-6,meter,modbus_tcp,demo-prepaid-meter,nowhere,7,1s,\n" +
		"meter-7,meter,modbus_tcp,demo-prepaid-meter,127.0.0.1:15020,8,1x,\n" +
		"meter-8,meter,modbus_tcp,demo-prepaid-meter,127.0.0.1:15020,9,1s,red\n" +
		"meter-2,meter,modbus_tcp,demo-prepaid-meter,127.0.0.1:15020,10,1s,\n"
	_, _, ps, err := Add(path, []byte(text), "devices.csv", []byte(csv), check)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`devices.csv:3: id: "meter-1" is already a device of the configuration`,
		`devices.csv:4: id: required`,
		`devices.csv:5: protocol: unknown protocol "modbus_tcpp"`,
		`devices.csv:6: profile: no profile "nope"`,
		`devices.csv:7: address: "nowhere" is not host:port`,
		"devices.csv:8: poll_interval: expected a duration with its unit, such as 500ms, 30s, 5m or 1h, got \"1x\"",
		`devices.csv:9: colour: unknown key`,
		`devices.csv:10: id: "meter-2" is also the id of row 2`,
	}
	var got []string
	for _, p := range ps {
		got = append(got, p.String())
	}
	if len(got) != len(want) {
		t.Errorf("%d problems, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i, w := range want {
		if i >= len(got) || !strings.HasPrefix(got[i], w) {
			t.Errorf("problem %d: want %q…, got:\n%s", i, w, strings.Join(got, "\n"))
			break
		}
	}
}

// What export-devices writes, added to the same configuration without its
// devices, gives the same devices (CSV and XLSX).
func TestExportRoundTrip(t *testing.T) {
	orig, err := os.ReadFile("../../configs/demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(orig, &doc); err != nil {
		t.Fatal(err)
	}
	root := doc.Content[0]
	var start, end int
	var count int // the demo's devices, however many it has
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "devices" {
			count = len(root.Content[i+1].Content)
			start = root.Content[i].Line
			end = root.Content[i+2].Line // the next section
		}
	}
	lines := strings.SplitAfter(string(orig), "\n")
	without := strings.Join(lines[:start-1], "") + "devices: []\n\n" + strings.Join(lines[end-1:], "")
	// Simulators name devices: they come back with them, so leave them out of both.
	dir := filepath.Dir(mustAbs(t, "../../configs/demo.yaml"))
	path := filepath.Join(dir, "demo.yaml") // profiles are found beside it; nothing is written
	for _, format := range []string{"csv", "xlsx"} {
		var buf bytes.Buffer
		n, err := Export(&buf, format, path, orig)
		if err != nil || n != count || n == 0 {
			t.Fatalf("%s export: %d %v", format, n, err)
		}
		rows, err := tabular.Read("devices."+format, buf.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		devs, ps := ParseRows("devices."+format, rows, nil)
		if len(ps) > 0 {
			t.Fatal(ps)
		}
		out, err := Insert(path, []byte(without), devs)
		if err != nil {
			t.Fatal(err)
		}
		want, err := app.CheckConfig(path, orig)
		if err != nil {
			t.Fatal(err)
		}
		got, err := app.CheckConfig(path, out)
		if err != nil {
			t.Fatalf("%s: %v\n%s", format, err, out)
		}
		if len(got.Devices) != len(want.Devices) {
			t.Fatalf("%s: %d devices", format, len(got.Devices))
		}
		for i := range want.Devices {
			w, g := want.Devices[i], got.Devices[i]
			if !sameDevice(w, g) {
				t.Errorf("%s: device %d:\n%+v\nwant\n%+v", format, i, g, w)
			}
		}
		var again bytes.Buffer
		if _, err := Export(&again, "csv", path, out); err != nil {
			t.Fatal(err)
		}
		var first bytes.Buffer
		Export(&first, "csv", path, orig)
		if again.String() != first.String() {
			t.Errorf("%s: export of the result differs:\n%s\nwant\n%s", format, again.String(), first.String())
		}
	}
}

func sameDevice(a, b config.Device) bool {
	a.Node, b.Node = nil, nil
	return reflect.DeepEqual(a.ID, b.ID) && a.Family == b.Family && a.Protocol == b.Protocol && a.Profile == b.Profile &&
		a.Building == b.Building && a.Floor == b.Floor && a.Unit == b.Unit && reflect.DeepEqual(a.Tags, b.Tags) &&
		a.PollInterval == b.PollInterval && a.Timeout == b.Timeout && reflect.DeepEqual(a.ProtocolOptions, b.ProtocolOptions)
}

// FuzzParseDeviceRows: no table makes the parser or the YAML it writes
// panic, and every accepted device reads back from that YAML as its row.
func FuzzParseDeviceRows(f *testing.F) {
	f.Add([]byte(devicesCSV))
	f.Add([]byte("id,family,protocol,serial.port,serial\nm,meter,x,/dev/ttyUSB0,1\n"))
	f.Add([]byte("id,family,protocol,slave_id,flag\nm,meter,x,0123,yes\nn,meter,x,1e3,~\n"))
	f.Add([]byte("id,family,protocol,tags\n\"a b\",m,\"p:q\",\"x;;y\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, err := tabular.ReadCSV("f.csv", data)
		if err != nil {
			return
		}
		devs, _ := ParseRows("f.csv", rows, map[string]bool{"taken": true})
		if len(devs) == 0 {
			return
		}
		text, err := renderItems(devs, "")
		if err != nil {
			t.Fatal(err)
		}
		var back []map[string]any
		if err := yaml.Unmarshal([]byte(text), &back); err != nil || len(back) != len(devs) {
			t.Fatalf("rendered YAML does not parse back: %v\n%s", err, text)
		}
		for i, d := range devs {
			if d.Get("id") == "taken" {
				t.Fatalf("an id of the configuration was accepted")
			}
			for j, k := range d.Keys {
				if k == "tags" {
					continue
				}
				var v any = back[i]
				for _, part := range strings.Split(k, ".") {
					m, ok := v.(map[string]any)
					if !ok {
						t.Fatalf("%s: not a mapping in\n%s", k, text)
					}
					v = m[part]
				}
				if got := yamlString(v); got != d.Values[j] && !sameNumber(got, d.Values[j]) {
					t.Fatalf("%s: %q reads back as %q from\n%s", k, d.Values[j], got, text)
				}
			}
		}
	})
}

func yamlString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	default:
		b, _ := yaml.Marshal(x)
		return strings.TrimSpace(string(b))
	}
}

// sameNumber: a float cell ("1.50") reads back as its value (1.5).
func sameNumber(a, b string) bool {
	var x, y float64
	if _, err := fmtSscan(a, &x); err != nil {
		return false
	}
	if _, err := fmtSscan(b, &y); err != nil {
		return false
	}
	return x == y
}

func fmtSscan(s string, f *float64) (int, error) {
	v, err := strconv.ParseFloat(s, 64)
	*f = v
	return 1, err
}
