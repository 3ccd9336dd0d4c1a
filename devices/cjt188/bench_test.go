package cjt188

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/estatehq/estate/devices"
	"github.com/estatehq/estate/devices/serial"
	"github.com/estatehq/estate/internal/config"
)

// BenchmarkDecode is frame decoding (a meter's reply to 901F) into a reused buffer.
func BenchmarkDecode(b *testing.B) {
	m := &SimMeter{Addr: Address{1}, Volume: 1234.5}
	d, _ := m.data(DIMeterData, testTime)
	wire, _ := AppendEncode(nil, Request(TypeColdWater, m.Addr, FuncReadData|ctrlReply, DIMeterData, LowFirst, 1, d...), true)
	data := make([]byte, MaxDataLen)
	b.SetBytes(int64(len(wire)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := decodeInto(wire, data); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "frames/s")
}

// BenchmarkScanAndDecodeValues is the whole receive path of one reply: scan
// the stream, decode the frame, check the identifier and decode the points.
func BenchmarkScanAndDecodeValues(b *testing.B) {
	m := &SimMeter{Addr: Address{1}, Volume: 1234.5, SettlementVolume: 1200}
	d, _ := m.data(DIMeterData, testTime)
	wire, _ := AppendEncode(nil, Request(TypeColdWater, m.Addr, FuncReadData|ctrlReply, DIMeterData, LowFirst, 1, d...), true)
	p := mustProfile(b, prepaidProfile)
	s := Scanner{Reuse: true}
	b.ReportAllocs()
	for b.Loop() {
		s.Write(wire)
		f, ok := s.Next()
		if !ok {
			b.Fatal("no frame")
		}
		r, err := ParseReply(f, FuncReadData, DIMeterData)
		if err != nil {
			b.Fatal(err)
		}
		for i := range p.Points {
			if p.Points[i].di == DIMeterData {
				if _, err := p.Points[i].value(r.Value); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "frames/s")
}

// BenchmarkSweep60At2400 sweeps 60 simulated water meters on one line
// through a pseudo-terminal, the simulator pacing each reply at 2400 baud
// 8E1 plus a 20 ms meter turnaround (the wire-time limit). Each meter is read
// for 901F and 8105 (the prepaid profile: two frames each way). wire-s/sweep
// is that limit; %wire is limit / measured; readings/s is meters read per
// second of line time.
func BenchmarkSweep60At2400(b *testing.B) {
	const meters = 60
	settings := serial.Settings{Baud: 2400, DataBits: 8, Parity: 'E', StopBits: 1}
	bus, err := NewSimBus("")
	if err != nil {
		b.Fatal(err)
	}
	bus.Settings = settings
	bus.Turnaround = 20 * time.Millisecond
	p := mustProfile(b, prepaidProfile)
	var ds []*Driver
	for i := range meters {
		addr, _ := ParseAddress(fmt.Sprint(1000 + i))
		bus.Add(&SimMeter{Addr: addr, Balance: 50, Volume: 10})
		// A generous timeout: on a loaded machine a reply is sometimes late.
		cdev := config.Device{ID: fmt.Sprint("w", i), Timeout: 2 * time.Second, PollInterval: time.Second}
		dev := Device{Device: cdev, Options: Options{Serial: &serial.Config{Port: bus.Path(), Baud: 2400, Parity: "E"}}}
		m := newMeter(dev, devices.NewInfo("s", cdev), addr, p, time.UTC)
		ds = append(ds, &Driver{line: attach(devices.Env{}, m), m: m})
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = bus.Run(ctx) }()
	defer func() {
		for _, d := range ds {
			_ = d.Close()
		}
	}()

	// Wire time of one meter: for 901F and 8105, the request (FE×4 + 16) and
	// the reply (13 + 22, 13 + 18), each with the turnaround.
	var perMeter time.Duration
	sim := &SimMeter{}
	for _, di := range []DI{DIMeterData, DIPurchase} {
		req, _ := AppendEncode(nil, Request(TypeColdWater, Address{}, FuncReadData, di, LowFirst, 0), true)
		d, _ := sim.data(di, testTime)
		reply, _ := AppendEncode(nil, Request(TypeColdWater, Address{}, 0x81, di, LowFirst, 0, d...), false)
		perMeter += time.Duration(len(req)+len(reply))*settings.ByteTime() + bus.Turnaround
	}
	limit := time.Duration(meters) * perMeter

	var total time.Duration
	for b.Loop() {
		start := time.Now()
		for _, d := range ds {
			if _, err := d.Poll(ctx); err != nil {
				b.Fatal(err)
			}
		}
		total += time.Since(start)
	}
	sweep := total / time.Duration(b.N)
	b.ReportMetric(sweep.Seconds(), "s/sweep")
	b.ReportMetric(limit.Seconds(), "wire-s/sweep")
	b.ReportMetric(100*limit.Seconds()/sweep.Seconds(), "%wire")
	b.ReportMetric(float64(meters)/sweep.Seconds(), "readings/s")
	b.ReportMetric(float64(meters)/limit.Seconds(), "wire-readings/s")
}
