package outbox_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/estatehq/estate/devices"
	"github.com/estatehq/estate/gateway/alarm"
	"github.com/estatehq/estate/gateway/deskclient"
	"github.com/estatehq/estate/gateway/outbox"
	"github.com/estatehq/estate/internal/config"
	"github.com/estatehq/estate/internal/testenv"
	"github.com/estatehq/estate/internal/wire"
)

// BenchmarkAlarmToTicket is the latency from a reading entering the alarm
// engine to its ticket row committed on the desk (the desk's 201 answer comes
// after the commit): engine, persisted alarm state, outbox (SQLite, synchronous
// FULL, one transaction with the alarm state), HTTP to a real desk on loopback, desk SQLite. One alarm at a time;
// p50 and p99 are reported.
func BenchmarkAlarmToTicket(b *testing.B) { alarmToTicket(b) }

// alarmToTicket measures BenchmarkAlarmToTicket's path, with whatever load
// the caller started beside it.
func alarmToTicket(b *testing.B) {
	dir := b.TempDir()
	addr := testenv.FreeAddr(b)
	startDesk(b, addr, filepath.Join(dir, "desk.db"))
	cfg, err := config.Parse("bench.yaml", []byte(`site: {id: s1}
gateway: {id: gw, desk_url: "http://`+addr+`", desk_token: "`+gatewayToken+`"}
influxdb: {url: "http://127.0.0.1:1", bucket: "b/autogen"}
rules: [{name: low_balance, family: meter, point: balance, below: 10, ticket: top_up}]
`))
	if err != nil {
		b.Fatal(err)
	}
	st, err := alarm.OpenStore(filepath.Join(dir, "state.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ob := outbox.New(st.DB(), outbox.Options{Sender: deskclient.New("http://"+addr, gatewayToken), Log: quiet})
	eng, err := alarm.NewEngine(alarm.Options{Config: cfg, Store: st})
	if err != nil {
		b.Fatal(err)
	}
	committed := make(chan wire.AlarmActionResult, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		ob.Run(ctx, func(_ wire.AlarmAction, res wire.AlarmActionResult) { committed <- res })
	}()
	defer func() { cancel(); <-done }()

	var lat []time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		info := &devices.Info{ID: fmt.Sprintf("m%06d", i), Site: "s1", Family: "meter", Units: map[string]string{}}
		start := time.Now()
		eng.Evaluate(devices.Reading{Device: info, Time: start, Values: []devices.Value{{Point: "balance", Value: 3}}})
		ob.Wake() // as the gateway's dispatch does
		res := <-committed
		lat = append(lat, time.Since(start))
		if !res.Created {
			b.Fatalf("ticket not created: %+v", res)
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}
