package firepanel

import (
	"testing"
	"time"

	"golang.org/x/text/encoding/simplifiedchinese"
)

// BenchmarkDecodeFrame decodes a GB/T 26875.3 frame with one component
// status record and turns it into events.
func BenchmarkDecodeFrame(b *testing.B) {
	data, _ := AppendUnit(nil, TypeComponentStatus, []Record{{SystemType: 1, SystemAddr: 1, ComponentType: 42,
		ComponentAddr: 1023, Status: 3, Description: "3层东走廊 感烟", Time: testTime}})
	wire, _ := AppendEncode(nil, Frame{Serial: 1, Time: testTime, Command: CmdSendData, Data: data})
	b.SetBytes(int64(len(wire)))
	b.ReportAllocs()
	for b.Loop() {
		f, _, err := Decode(wire, time.UTC)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := DecodeUnit(f.Data, time.UTC); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "frames/s")
}

// BenchmarkParseLine parses one GB 18030 CRT line with the shipped template.
func BenchmarkParseLine(b *testing.B) {
	p := NewLineParser(loadShipped(b, "crt-loop-address"), nil, time.UTC)
	line, _ := simplifiedchinese.GB18030.NewEncoder().Bytes([]byte("2024-05-01 14:23:05 火警 01回路023号 感烟探测器 3层东走廊"))
	b.ReportAllocs()
	for b.Loop() {
		if e := p.Parse(line, testTime); e.Type != EventFireAlarm {
			b.Fatal(e.Type)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}
