package modbus

import (
	"context"
	"fmt"
	pointnames "github.com/estatehq/estate/devices/points"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/estatehq/estate/devices"
	"github.com/estatehq/estate/internal/config"
)

const profilesDir = "../../configs/profiles"

func shippedProfiles(t testing.TB) map[string]*Profile {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(profilesDir, "*.yaml"))
	if err != nil || len(files) < 5 {
		t.Fatalf("shipped profiles: %v %v", files, err)
	}
	out := map[string]*Profile{}
	for _, f := range files {
		if !isModbusProfile(t, f) {
			continue // the folder also holds DL/T 645, MQTT and fire-panel profiles
		}
		p, err := LoadProfile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[p.Name] = p
	}
	return out
}

// isModbusProfile tells Modbus register maps from the other protocols'
// profiles in the same folder, which name their protocol.
func isModbusProfile(t testing.TB, path string) bool {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var head struct {
		Protocol string `yaml:"protocol"`
	}
	_ = yaml.Unmarshal(data, &head)
	return head.Protocol == "" || strings.HasPrefix(head.Protocol, "modbus")
}

// Every shipped profile cites its register map, plans within its limits, and
// reads back, point for point, what its simulator serves.
func TestShippedProfilesReadBack(t *testing.T) {
	for name, p := range shippedProfiles(t) {
		t.Run(name, func(t *testing.T) {
			if len(strings.TrimSpace(p.Source)) < 20 {
				t.Errorf("profile %s does not cite the register map it comes from", name)
			}
			checkPlan(t, p, planReads(p, p.Limits.MaxGap), p.Limits.MaxGap)
			sim := NewSimulator(p, "127.0.0.1:0")
			if err := sim.Start(); err != nil {
				t.Fatal(err)
			}
			defer sim.Stop()
			want := map[string]float64{}
			for i, pt := range p.Points {
				v := float64(i % 2) // bits
				if !IsBitTable(pt.Table) {
					v = math.Round(float64(i%7+1)*1.5/pt.Scale) * pt.Scale
				}
				want[pt.Name] = v
				if err := sim.Set(pt.Name, v); err != nil {
					t.Fatal(err)
				}
			}
			dev := NewDevice(config.Device{ID: name, Protocol: ProtocolTCP, PollInterval: time.Second, Timeout: time.Second}, Options{Address: sim.Addr()})
			d := NewDriver(dev, p, &devices.Info{Units: map[string]string{}})
			defer d.Close()
			r, err := d.Poll(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for n, w := range want {
				if got, ok := r.Get(n); !ok || math.Abs(got-w) > 1e-6*math.Max(1, math.Abs(w)) {
					t.Errorf("%s = %v (%v), want %v", n, got, ok, w)
				}
			}
			if got := sim.Requests(); got != uint64(d.Requests()) {
				t.Errorf("one poll sent %d requests, the plan says %d", got, d.Requests())
			}
		})
	}
}

// BenchmarkRequestsPerPoll reports, for each shipped profile, the requests
// one poll of all its groups makes with merging against one read per point.
func BenchmarkRequestsPerPoll(b *testing.B) {
	for name, p := range shippedProfiles(b) {
		b.Run(name, func(b *testing.B) {
			var st PlanStats
			for b.Loop() {
				st = p.Plan(-1)
			}
			b.ReportMetric(float64(st.Requests), "merged-req/poll")
			b.ReportMetric(float64(st.Points), "per-point-req/poll")
			b.ReportMetric(float64(st.Registers+st.Bits), "words-or-bits/poll")
		})
	}
}

// BenchmarkDecode measures decoding one full reading of each shipped profile
// from the registers of its merged reads.
func BenchmarkDecode(b *testing.B) {
	for name, p := range shippedProfiles(b) {
		b.Run(name, func(b *testing.B) {
			s := NewSlave(p)
			for _, pt := range p.Points {
				_ = s.Set(pt.Name, 1)
			}
			reads := planReads(p, p.Limits.MaxGap)
			data := make([][]byte, len(reads))
			for i, r := range reads {
				fc := map[string]byte{TableCoil: 1, TableDiscrete: 2, TableHolding: 3, TableInput: 4}[r.table]
				resp := s.Handle([]byte{fc, byte(r.start >> 8), byte(r.start), byte(r.quantity >> 8), byte(r.quantity)})
				if resp[0] != fc {
					b.Fatalf("read %v: exception % x", r, resp)
				}
				data[i] = resp[2:]
			}
			values := make([]devices.Value, 0, len(p.Points))
			onErr := func(pt *Point, err error) { b.Fatal(err) }
			b.ReportAllocs()
			for b.Loop() {
				values = values[:0]
				for i, r := range reads {
					values = decodeRead(values, r, data[i], onErr, nil)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(p.Points)), "ns/point")
			if len(values) != len(p.Points) {
				b.Fatal(fmt.Sprint(len(values), " values"))
			}
		})
	}
}

// A profile may name its points itself (label, label_en, states), over the
// console's catalogue; a state that is not a value is refused with the point.
func TestProfilePointNames(t *testing.T) {
	p, err := ParseProfile("t", []byte(`name: t
points:
  - {name: breaker, table: coil, address: 0, type: bool, label: 进线开关, label_en: Incomer breaker, states: {"0": {zh: 分闸, en: Open}, "1": {zh: 合闸, en: Closed}}}
  - {name: voltage, table: input, address: 0, type: float32, unit: V}
`))
	if err != nil {
		t.Fatal(err)
	}
	names := pointnames.NamesOf(p.Points, func(pt Point) string { return pt.Name }, func(pt Point) pointnames.Names { return pt.Names })
	if len(names) != 1 || names["breaker"].Label != "进线开关" || names["breaker"].States["0"].EN != "Open" {
		t.Errorf("names: %+v", names)
	}
	_, err = ParseProfile("t", []byte(`name: t
points:
  - {name: breaker, table: coil, address: 0, type: bool, states: {open: {zh: 分闸, en: Open}}}
`))
	if err == nil || !strings.Contains(err.Error(), `points[0] (breaker): states: "open" is not a value`) {
		t.Errorf("a bad state: %v", err)
	}
}
