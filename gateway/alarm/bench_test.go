package alarm

import (
	"fmt"
	"testing"
	"time"

	"github.com/estatehq/estate/devices"
	"github.com/estatehq/estate/internal/config"
)

// benchConfig is 10,000 threshold rules: perDevice rules on each of
// 10000/perDevice meters with 40 points (rules select their device by id).
func benchConfig(perDevice int) *config.Config {
	cfg := &config.Config{Site: config.Site{ID: "s1"}}
	nDev := 10000 / perDevice
	for d := range nDev {
		cfg.Devices = append(cfg.Devices, config.Device{ID: fmt.Sprintf("m%05d", d), Family: "meter", Building: "1"})
	}
	for i := range 10000 {
		above, clear := 250.0, 245.0
		r := config.Rule{Name: fmt.Sprintf("r%05d", i), Type: config.RuleThreshold, Family: "meter",
			Point: fmt.Sprintf("p%02d", i%40), Above: &above, Clear: &clear, Ticket: "repair", Severity: "warning"}
		if perDevice < 10000 {
			r.Devices = []string{cfg.Devices[i/perDevice].ID}
		}
		cfg.Rules = append(cfg.Rules, r)
	}
	return cfg
}

// BenchmarkEvaluate is rule evaluation per reading (40 points, no state
// change) with 10,000 rules loaded: the engine finds the device's rules by
// index, so what a reading costs depends on how many rules select its device.
func BenchmarkEvaluate(b *testing.B) {
	for _, perDevice := range []int{10, 100, 10000} {
		b.Run(fmt.Sprintf("10000rules_%dperdevice", perDevice), func(b *testing.B) {
			cfg := benchConfig(perDevice)
			eng, err := NewEngine(Options{Config: cfg})
			if err != nil {
				b.Fatal(err)
			}
			readings := make([]devices.Reading, len(cfg.Devices))
			for i, d := range cfg.Devices {
				r := devices.Reading{Device: devices.NewInfo("s1", d), Time: t0}
				for p := range 40 {
					r.Values = append(r.Values, devices.Value{Point: fmt.Sprintf("p%02d", p), Value: 230})
				}
				readings[i] = r
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				r := &readings[i%len(readings)]
				r.Time = t0.Add(time.Duration(i) * time.Millisecond)
				eng.Evaluate(*r)
			}
			b.ReportMetric(float64(perDevice), "rules/reading")
		})
	}
}
