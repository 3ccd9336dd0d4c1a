package mqtt

import (
	"math"
	"os"
	"strings"
	"testing"

	"github.com/estatehq/estate/devices"
)

func testProfile(t testing.TB, name string) *Profile {
	t.Helper()
	p, err := LoadProfile(ProfilePath("../../configs/profiles", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDecodeElevatorJSON(t *testing.T) {
	p := testProfile(t, "mqtt-elevator-gbt24476")
	sub := &p.Subscriptions[0]
	tests := []struct {
		name    string
		payload string
		want    map[string]float64 // good values
		bad     []string           // points with bad quality
		reasons []string
		signals []string // kind:code
	}{
		{"full state", `{"floor":7,"direction":"up","running":true,"door":"closed","door_zone":false,"passenger":true,"alarm_button":false,"mode":"normal","entrapment":false,"fault_code":"0"}`,
			map[string]float64{"floor": 7, "direction": 1, "running": 1, "door_open": 0, "door_zone": 0, "passenger": 1, "alarm_button": 0, "service_mode": 0, "entrapment": 0, "fault_code": 0},
			nil, nil, []string{"fault_clear:0"}},
		{"partial update", `{"floor":-2}`, map[string]float64{"floor": -2}, nil, nil, nil},
		{"numeric strings and 0/1 bools", `{"floor":"12","running":1,"passenger":"on"}`, map[string]float64{"floor": 12, "running": 1, "passenger": 1}, nil, nil, nil},
		{"null is absent", `{"floor":null,"running":false}`, map[string]float64{"running": 0}, nil, nil, nil},
		{"wrong types keep the rest", `{"floor":"seven","running":"maybe","direction":"sideways","passenger":true}`,
			map[string]float64{"passenger": 1}, []string{"floor", "direction", "running"}, []string{reasonWrongType, reasonWrongType, reasonWrongType}, nil},
		{"fault code named", `{"fault_code":"Err41"}`, map[string]float64{"fault_code": 41}, nil, nil, []string{"fault:Err41"}},
		{"unknown fault code", `{"fault_code":"Err99"}`, map[string]float64{"fault_code": 99}, nil, []string{reasonUnknownCode}, []string{"unknown:Err99"}},
		{"fault code of wrong type", `{"fault_code":{"x":1}}`, map[string]float64{}, nil, []string{reasonWrongType}, nil},
		{"malformed", `{"floor":7,`, map[string]float64{}, nil, []string{reasonMalformed}, nil},
		{"not json", `floor=7`, map[string]float64{}, nil, []string{reasonMalformed}, nil},
		{"array root", `[1,2]`, map[string]float64{}, nil, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var d decoded
			problems := sub.decode([]byte(tc.payload), p.tables, &d)
			good := map[string]float64{}
			var bad []string
			for _, v := range d.values {
				if v.Quality == devices.Good {
					good[v.Point] = v.Value
				} else {
					bad = append(bad, v.Point)
				}
			}
			if len(good) != len(tc.want) {
				t.Errorf("values %v, want %v", good, tc.want)
			}
			for k, v := range tc.want {
				if g, ok := good[k]; !ok || g != v {
					t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
				}
			}
			if strings.Join(bad, ",") != strings.Join(tc.bad, ",") {
				t.Errorf("bad points %v, want %v", bad, tc.bad)
			}
			var reasons []string
			for _, p := range problems {
				reasons = append(reasons, p.reason)
			}
			if strings.Join(reasons, ",") != strings.Join(tc.reasons, ",") {
				t.Errorf("problems %+v, want reasons %v", problems, tc.reasons)
			}
			var sigs []string
			for _, s := range d.signals {
				sigs = append(sigs, s.kind+":"+s.code)
			}
			if strings.Join(sigs, ",") != strings.Join(tc.signals, ",") {
				t.Errorf("signals %v, want %v", sigs, tc.signals)
			}
		})
	}
}

func TestDecodeText(t *testing.T) {
	p := testProfile(t, "mqtt-elevator-gbt24476")
	sub := &p.Subscriptions[1] // floor as plain text
	var d decoded
	if ps := sub.decode([]byte(" 15\n"), p.tables, &d); ps != nil || len(d.values) != 1 || d.values[0].Value != 15 {
		t.Fatalf("text 15: %+v %+v", d.values, ps)
	}
	d.reset()
	ps := sub.decode([]byte("fifteen"), p.tables, &d)
	if len(ps) != 1 || ps[0].reason != reasonWrongType || d.values[0].Quality != devices.Bad {
		t.Fatalf("text fifteen: %+v %+v", d.values, ps)
	}
	d.reset()
	if ps := sub.decode([]byte{0xff, 0xfe}, p.tables, &d); len(ps) != 1 || ps[0].reason != reasonMalformed {
		t.Fatalf("binary: %+v", ps)
	}
}

func TestDecodeAccessCodes(t *testing.T) {
	p := testProfile(t, "mqtt-access-uhppote")
	sub := &p.Subscriptions[1]
	var d decoded
	if ps := sub.decode([]byte(`{"event":{"reason":38,"door":2,"card":0}}`), p.tables, &d); ps != nil {
		t.Fatal(ps)
	}
	if len(d.signals) != 1 || d.signals[0].kind != "door_forced" || d.signals[0].source != "2" || d.signals[0].text != "Forced open" {
		t.Fatalf("signals %+v", d.signals)
	}
	z := testProfile(t, "mqtt-access-zkteco")
	d.reset()
	if ps := z.Subscriptions[0].decode([]byte(`{"event":"102","door":1}`), z.tables, &d); ps != nil || d.signals[0].kind != "door_forced" {
		t.Fatalf("zkteco: %+v %+v", d.signals, ps)
	}
}

func TestProfileErrors(t *testing.T) {
	tests := map[string]string{
		"no name":          "protocol: mqtt\nsubscriptions: [{topic: a/{device}, points: [{name: x, path: x}]}]\n",
		"wrong protocol":   "name: p\nprotocol: modbus\nsubscriptions: [{topic: a/{device}, points: [{name: x, path: x}]}]\n",
		"unknown key":      "name: p\nprotocol: mqtt\nsubscription: []\n",
		"bad type":         "name: p\nprotocol: mqtt\nsubscriptions: [{topic: a/{device}, points: [{name: x, path: x, type: text}]}]\n",
		"enum no values":   "name: p\nprotocol: mqtt\nsubscriptions: [{topic: a/{device}, points: [{name: x, path: x, type: enum}]}]\n",
		"json no path":     "name: p\nprotocol: mqtt\nsubscriptions: [{topic: a/{device}, points: [{name: x}]}]\n",
		"text two points":  "name: p\nprotocol: mqtt\nsubscriptions: [{topic: a/{device}, format: text, points: [{name: x}, {name: y}]}]\n",
		"bad topic":        "name: p\nprotocol: mqtt\nsubscriptions: [{topic: 'a/#/b', points: [{name: x, path: x}]}]\n",
		"bad qos":          "name: p\nprotocol: mqtt\nsubscriptions: [{topic: a/{device}, qos: 3, points: [{name: x, path: x}]}]\n",
		"birth sans death": "name: p\nprotocol: mqtt\npresence: {birth_topic: 'b/{device}'}\nsubscriptions: [{topic: a/{device}, points: [{name: x, path: x}]}]\n",
	}
	for name, text := range tests {
		if _, err := ParseProfile(name, []byte(text)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// FuzzDecode feeds arbitrary payloads through every subscription of the
// shipped profiles: nothing may panic, every value is finite, and a bad point
// is reported as a problem.
func FuzzDecode(f *testing.F) {
	for _, seed := range []string{
		`{"floor":7,"direction":"up","running":true,"door":"closed","door_zone":false,"passenger":true,"alarm_button":false,"mode":"normal","entrapment":false,"fault_code":"0"}`,
		`{"floor":"1e308","running":2}`, `{"floor":1e400}`, `{"fault_code":123456789012345678901234}`,
		`{"event":{"reason":38,"door":2}}`, `{"event":"102","door":"x"}`, `{"door_open":true,"locked":"yes"}`,
		`{"a":{"b":[1,2,{"c":null}]}}`, `[`, `"`, `12`, ` 15 `, "\x00\xff", `{"floor":7,,}`, "",
	} {
		f.Add([]byte(seed))
	}
	var profiles []*Profile
	for _, n := range []string{"mqtt-elevator-gbt24476", "mqtt-access-uhppote", "mqtt-access-zkteco"} {
		profiles = append(profiles, testProfile(f, n))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		var d decoded
		for _, p := range profiles {
			for i := range p.Subscriptions {
				d.reset()
				problems := p.Subscriptions[i].decode(payload, p.tables, &d)
				badPoints := 0
				for _, v := range d.values {
					if v.Quality != devices.Good {
						badPoints++
						continue
					}
					if math.IsNaN(v.Value) || math.IsInf(v.Value, 0) {
						t.Fatalf("non-finite value %v for %s", v.Value, v.Point)
					}
				}
				if badPoints > len(problems) {
					t.Fatalf("%d bad points but %d problems", badPoints, len(problems))
				}
			}
		}
	})
}

func BenchmarkDecodeElevatorState(b *testing.B) {
	p := testProfile(b, "mqtt-elevator-gbt24476")
	sub := &p.Subscriptions[0]
	payload := []byte(`{"floor":7,"direction":"up","running":true,"door":"closed","door_zone":false,"passenger":true,"alarm_button":false,"mode":"normal","entrapment":false,"fault_code":"0"}`)
	var d decoded
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	for b.Loop() {
		d.reset()
		if ps := sub.decode(payload, p.tables, &d); ps != nil {
			b.Fatal(ps)
		}
	}
}

// FuzzParseProfile: any profile text is either refused with an error or gives
// a profile whose topics compile; nothing panics.
func FuzzParseProfile(f *testing.F) {
	for _, n := range []string{"mqtt-elevator-gbt24476", "mqtt-access-uhppote", "mqtt-access-zkteco"} {
		data, err := os.ReadFile(ProfilePath("../../configs/profiles", n))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("name: p\nprotocol: mqtt\nsubscriptions: [{topic: 'a/{device}/#', format: text, points: [{name: x}]}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseProfile("fuzz", data)
		if err != nil {
			return
		}
		for _, s := range p.Subscriptions {
			if s.topic == nil {
				t.Fatalf("accepted subscription %q without a compiled topic", s.Topic)
			}
			_ = s.topic.filter()
		}
	})
}
