package dlt645

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/estatehq/estate/devices"
	"github.com/estatehq/estate/devices/serial"
	"github.com/estatehq/estate/internal/config"
)

// BenchmarkDecode is frame decoding (the reply to a read of the remaining amount).
func BenchmarkDecode(b *testing.B) {
	wire, _ := AppendEncode(nil, Frame{Addr: Address{1}, Control: 0x91, Data: []byte{0x00, 0x02, 0x90, 0x00, 0x76, 0x17, 0x03, 0x00}}, true)
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

// BenchmarkScanAndDecodeValue is the whole receive path of one reply: scan
// the stream, decode the frame, check the identifier and decode the BCD value.
func BenchmarkScanAndDecodeValue(b *testing.B) {
	wire, _ := AppendEncode(nil, Frame{Addr: Address{1}, Control: 0x91, Data: []byte{0x00, 0x02, 0x90, 0x00, 0x76, 0x17, 0x03, 0x00}}, true)
	var s Scanner
	format := Items[0x00900200].Format
	b.ReportAllocs()
	for b.Loop() {
		s.Write(wire)
		f, ok := s.Next()
		if !ok {
			b.Fatal("no frame")
		}
		r, err := ParseReadReply(f, 0x00900200)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := format.Decode(r.Value); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "frames/s")
}

// BenchmarkSweep60At2400 sweeps 60 simulated meters on one line through a
// pseudo-terminal, the simulator pacing each reply at 2400 baud 8E1 plus a
// 20 ms meter turnaround (the wire-time limit). Each meter is read for its
// remaining amount (one frame each way). wire-s/sweep is that limit;
// %wire is limit / measured.
func BenchmarkSweep60At2400(b *testing.B) {
	const meters = 60
	settings := serial.Settings{Baud: 2400, DataBits: 8, Parity: 'E', StopBits: 1}
	bus, err := NewSimBus("")
	if err != nil {
		b.Fatal(err)
	}
	bus.Settings = settings
	bus.Turnaround = 20 * time.Millisecond
	p, err := ParseProfile("bench", []byte("name: bench\nprotocol: dlt645\npoints: [{name: balance, di: '00 90 02 00'}]\n"))
	if err != nil {
		b.Fatal(err)
	}
	var ds []*Driver
	for i := range meters {
		addr, _ := ParseAddress(fmt.Sprint(1000 + i))
		bus.Add(&SimMeter{Addr: addr, Balance: 50})
		// A generous timeout: on a loaded machine a reply is sometimes late, and
		// a timeout would cost the sweep its full length.
		cdev := config.Device{ID: fmt.Sprint("m", i), Timeout: 2 * time.Second, PollInterval: time.Second}
		dev := Device{Device: cdev, Options: Options{Serial: &serial.Config{Port: bus.Path(), Baud: 2400, Parity: "E"}}}
		m := newMeter(dev, devices.NewInfo("s", cdev), addr, p)
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

	// Wire time of one read: FE×4 + 16-byte request, 20-byte reply, turnaround.
	req, _ := AppendEncode(nil, ReadRequest(Address{}, 0x00900200), true)
	reply, _ := AppendEncode(nil, Frame{Control: 0x91, Data: make([]byte, 8)}, false)
	perRead := time.Duration(len(req)+len(reply))*settings.ByteTime() + bus.Turnaround
	limit := time.Duration(meters) * perRead

	sink := &recordingSink{}
	var total time.Duration
	for b.Loop() {
		start := time.Now()
		for _, d := range ds {
			_ = pollInto(ctx, d, sink)
		}
		total += time.Since(start)
	}
	for _, d := range ds {
		if err := sink.health[d.m.cfg.ID]; err != nil {
			b.Errorf("meter %s: %v", d.m.cfg.ID, err)
		}
	}
	sweep := total / time.Duration(b.N)
	b.ReportMetric(sweep.Seconds(), "s/sweep")
	b.ReportMetric(limit.Seconds(), "wire-s/sweep")
	b.ReportMetric(100*limit.Seconds()/sweep.Seconds(), "%wire")
	b.ReportMetric(perRead.Seconds()*1000, "wire-ms/read")
}
