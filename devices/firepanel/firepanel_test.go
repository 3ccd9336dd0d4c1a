package firepanel

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/estatehq/estate/devices"
	"github.com/estatehq/estate/devices/serial"
	"github.com/estatehq/estate/internal/config"
)

var testTime = time.Date(2024, 5, 1, 14, 23, 5, 0, time.UTC)

func sampleFrame() Frame {
	data, _ := AppendUnit(nil, TypeSystemStatus, []Record{{SystemType: 1, SystemAddr: 1, Status: 1 | 1<<1, Time: testTime}})
	return Frame{Serial: 0x0102, Version: [2]byte{1, 0}, Time: testTime, Source: [6]byte{1, 2, 3, 4, 5, 6}, Command: CmdSendData, Data: data}
}

func TestFrameLayout(t *testing.T) {
	wire, err := AppendEncode(nil, sampleFrame())
	if err != nil {
		t.Fatal(err)
	}
	// @@, serial 02 01 (low first), version 01 00, time 05 17 0E 01 05 18, source, dest, length 0C 00, command 02.
	head := []byte{0x40, 0x40, 0x02, 0x01, 0x01, 0x00, 0x05, 0x17, 0x0E, 0x01, 0x05, 0x18, 1, 2, 3, 4, 5, 6, 0, 0, 0, 0, 0, 0, 12, 0, 2}
	if !bytes.Equal(wire[:27], head) {
		t.Fatalf("header\n got % X\nwant % X", wire[:27], head)
	}
	if len(wire) != 27+12+3 || !bytes.HasSuffix(wire, []byte{0x23, 0x23}) {
		t.Fatalf("frame % X", wire)
	}
	var sum byte
	for _, b := range wire[2 : len(wire)-3] {
		sum += b
	}
	if wire[len(wire)-3] != sum {
		t.Fatal("checksum is the sum of the control and data units")
	}
	f, n, err := Decode(wire, time.UTC)
	if err != nil || n != len(wire) {
		t.Fatal(n, err)
	}
	if f.Serial != 0x0102 || !f.Time.Equal(testTime) || f.Command != CmdSendData {
		t.Fatalf("%+v", f)
	}
	recs, err := DecodeUnit(f.Data, time.UTC)
	if err != nil || len(recs) != 1 || recs[0].Status != 3 || !recs[0].Time.Equal(testTime) {
		t.Fatalf("%+v %v", recs, err)
	}
	c := Confirm(f, testTime)
	if c.Serial != f.Serial || c.Dest != f.Source || c.Command != CmdConfirm || len(c.Data) != 0 {
		t.Fatalf("confirm %+v", c)
	}
}

func TestDecodeErrors(t *testing.T) {
	good, _ := AppendEncode(nil, sampleFrame())
	badSum := bytes.Clone(good)
	badSum[len(badSum)-3]++
	badEnd := bytes.Clone(good)
	badEnd[len(badEnd)-1] = 0
	badTime := bytes.Clone(good)
	badTime[8] = 25 // hour 25
	sum := byte(0)
	for _, b := range badTime[2 : len(badTime)-3] {
		sum += b
	}
	badTime[len(badTime)-3] = sum
	long := bytes.Clone(good)
	long[24], long[25] = 0x01, 0x04 // 1025
	for name, c := range map[string]struct {
		in   []byte
		want error
	}{
		"truncated": {good[:len(good)-1], ErrTruncated},
		"checksum":  {badSum, ErrChecksum},
		"end":       {badEnd, ErrFraming},
		"length":    {long, ErrLength},
		"start":     {[]byte("#@abc"), ErrFraming},
	} {
		if _, _, err := Decode(c.in, time.UTC); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
	// A time tag that is no date does not make the frame unusable.
	f, _, err := Decode(badTime, time.UTC)
	if err != nil || !errors.Is(f.TimeErr, ErrTime) || !f.Time.IsZero() || f.TimeTag[2] != 25 {
		t.Fatalf("hour 25: %+v %v", f, err)
	}
}

func TestScannerResynchronises(t *testing.T) {
	good, _ := AppendEncode(nil, sampleFrame())
	bad := bytes.Clone(good)
	bad[len(bad)-3] ^= 0xFF
	stream := append(append(append([]byte("noise@"), bad...), 0x00, 0x40), good...)
	sc := Scanner{Loc: time.UTC}
	var got []Frame
	for i := 0; i < len(stream); i += 5 {
		sc.Write(stream[i:min(i+5, len(stream))])
		for {
			f, ok := sc.Next()
			if !ok {
				break
			}
			got = append(got, f)
		}
	}
	if len(got) != 1 || sc.Errors[ErrChecksum] != 1 || sc.Discarded == 0 {
		t.Fatalf("frames %d errors %v discarded %d", len(got), sc.Errors, sc.Discarded)
	}
}

func TestComponentRecordGB18030(t *testing.T) {
	rec := Record{SystemType: 1, SystemAddr: 2, ComponentType: 42, ComponentAddr: 1023, Status: 1 << 1, Description: "3层东走廊 感烟", Time: testTime}
	data, err := AppendUnit(nil, TypeComponentStatus, []Record{rec})
	if err != nil || len(data) != 2+46 {
		t.Fatalf("%d %v", len(data), err)
	}
	gb, _ := simplifiedchinese.GB18030.NewEncoder().Bytes([]byte("3层东走廊"))
	if !bytes.Contains(data, gb) {
		t.Fatal("the description travels in GB 18030")
	}
	recs, err := DecodeUnit(data, time.UTC)
	if err != nil || recs[0].Description != rec.Description || recs[0].ComponentAddr != 1023 {
		t.Fatalf("%+v %v", recs, err)
	}
	if _, err := DecodeUnit([]byte{2, 2}, time.UTC); err == nil {
		t.Fatal("two objects announced, none given")
	}
	if _, err := DecodeUnit([]byte{99, 0}, time.UTC); err == nil {
		t.Fatal("reserved type")
	}
}

// State machine of a panel's conditions, table-driven: a status that clears is
// a clearing event, a repeated status is nothing new, a reset clears all.
func TestPanelStateTable(t *testing.T) {
	dev := &devices.Info{ID: "fp"}
	// Bit 0 of a status word is 1 in normal operation (0: test state).
	comp := func(addr uint32, status uint16) Record {
		return Record{Type: TypeComponentStatus, SystemAddr: 1, ComponentAddr: addr, Status: 1 | status, Time: testTime}
	}
	st := newPanelState()
	steps := []struct {
		rec  Record
		want []string // type:active:source
	}{
		{comp(1023, 1<<1), []string{"fire_alarm:true:system 1 component 1023"}},
		{comp(1023, 1<<1), nil},
		{comp(2011, 1<<2), []string{"fault:true:system 1 component 2011"}},
		{comp(2011, 0), []string{"fault:false:system 1 component 2011"}},
		{Record{Type: TypeSystemStatus, SystemAddr: 1, Status: 1<<8 | 1, Time: testTime}, []string{"main_power_fault:true:system 1"}},
		{Record{Type: TypeOperation, SystemAddr: 1, Operation: 1, Operator: 3, Time: testTime}, []string{
			"reset:true:system 1 operator 3", "fire_alarm:false:system 1 component 1023", "main_power_fault:false:system 1"}},
		{Record{Type: TypeOperation, SystemAddr: 1, Operation: 1 << 1, Time: testTime}, []string{"mute:true:system 1 operator 0"}},
	}
	for i, s := range steps {
		var got []string
		for _, e := range eventsFromRecord(st, dev, s.rec, "") {
			got = append(got, fmt.Sprintf("%s:%v:%s", e.Type, e.Active, e.Source))
		}
		if strings.Join(got, "|") != strings.Join(s.want, "|") {
			t.Errorf("step %d: got %v, want %v", i, got, s.want)
		}
	}
}

func loadShipped(t testing.TB, name string) *Template {
	t.Helper()
	tm, err := LoadTemplate(filepath.Join("../../configs/profiles", name+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

func TestShippedTemplates(t *testing.T) {
	for _, name := range []string{"crt-loop-address", "crt-printer-compact"} {
		tm := loadShipped(t, name) // loading checks every sample line
		if len(tm.Samples) < 4 {
			t.Errorf("%s: document the format with samples", name)
		}
	}
	p := NewLineParser(loadShipped(t, "crt-loop-address"), &devices.Info{ID: "fp"}, time.UTC)
	gb, _ := simplifiedchinese.GB18030.NewEncoder().Bytes([]byte("2024-05-01 14:23:05 火警 01回路023号 感烟探测器 3层东走廊"))
	e := p.Parse(gb, time.Now())
	if e.Type != EventFireAlarm || !e.Time.Equal(testTime) || e.Attrs["zone"] != "3层东走廊" || e.Attrs["device_type"] != "感烟探测器" {
		t.Fatalf("%+v", e)
	}
	raw, _ := simplifiedchinese.GB18030.NewEncoder().Bytes([]byte("*** PRINTER TEST 打印测试 ***"))
	u := p.Parse(raw, testTime)
	if u.Type != EventUnknownLine || u.Text != "*** PRINTER TEST 打印测试 ***" {
		t.Fatalf("unknown line: %+v", u)
	}
	c := NewLineParser(loadShipped(t, "crt-printer-compact"), nil, time.UTC)
	e = c.ParseText("火警 1-023 3F东走廊 感烟 12-31 23:50", time.Date(2025, 1, 1, 0, 5, 0, 0, time.UTC))
	if e.Time.Year() != 2024 {
		t.Fatalf("a December line read in January: %v", e.Time)
	}
}

func TestTemplateErrors(t *testing.T) {
	for _, bad := range []string{
		"name: x\nprotocol: fire_crt\nlines: [{pattern: '(', event: fire_alarm}]",
		"name: x\nprotocol: fire_crt\nlines: [{pattern: 'a', event: burning}]",
		"name: x\nprotocol: fire_crt\nlines: [{pattern: '(?P<kind>a)'}]",
		"name: x\nprotocol: fire_crt\nlines: [{pattern: 'a', event: fault}]\nsamples: [{line: b, event: fault, active: true}]",
		"name: x\nprotocol: fire_crt\nencoding: big5\nlines: [{pattern: 'a', event: fault}]",
		"name: x\nprotocol: fire_crt\nlines: [{pattern: 'a', event: fault, colour: red}]",
	} {
		if _, err := ParseTemplate("t", []byte(bad)); err == nil {
			t.Errorf("want an error for %q", bad)
		}
	}
}

type recordingSink struct {
	mu     sync.Mutex
	events []devices.Event
	health map[string]error
}

func (s *recordingSink) Reading(devices.Reading) {}
func (s *recordingSink) Event(e devices.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, e)
}
func (s *recordingSink) Health(d string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.health == nil {
		s.health = map[string]error{}
	}
	s.health[d] = err
}
func (s *recordingSink) summary() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, e := range s.events {
		out = append(out, fmt.Sprintf("%s:%v:%s", e.Type, e.Active, e.Source))
	}
	return out
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The receiver, listening on loopback TCP as the centre, confirms every frame
// of a simulated transmission device (which would otherwise resend) and turns
// the demo script into events.
func TestReceiverOverTCP(t *testing.T) {
	cfg := &config.Config{Site: config.Site{Timezone: "UTC"}}
	dev := Device{Device: config.Device{ID: "fp-1", Family: "fire", Protocol: ProtocolGBT26875}, Options: Options{Address: "127.0.0.1:0"}}.Config()
	if ps := validateGBT(cfg, dev, "devices[0]"); len(ps) > 0 {
		t.Fatal(ps)
	}
	st, _ := openGBT(devices.Env{Config: cfg}, []config.Device{dev}, []*devices.Info{devices.NewInfo("s", dev)})
	addr := make(chan string, 1)
	st.(*Streamer).ready = func(_, a string) { addr <- a }
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sink := &recordingSink{}
	done := make(chan error, 1)
	go func() { done <- st.Run(ctx, sink) }()

	u := &UITD{Source: [6]byte{9, 9}, Script: DemoScript(10 * time.Millisecond), ResendAfter: 500 * time.Millisecond, Loc: time.UTC}
	simDone := make(chan error, 1)
	go func() { simDone <- u.DialAndServe(ctx, <-addr) }()
	if err := <-simDone; err != nil {
		t.Fatal(err)
	}
	want := []string{
		"fire_alarm:true:system 1 component 1023",
		"fault:true:system 1 component 2011",
		"fault:false:system 1 component 2011",
		"reset:true:system 1 operator 1",
		"fire_alarm:false:system 1 component 1023",
	}
	waitFor(t, "events", func() bool { return len(sink.summary()) >= len(want) })
	if got := sink.summary(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("events\n got %v\nwant %v", got, want)
	}
	if c, r := u.Counts(); c != 4 || r != 0 {
		t.Fatalf("confirms %d resends %d", c, r)
	}
	cancel()
	<-done
}

// A CRT panel on a pseudo-terminal: GB 18030 lines through devices/serial, the
// unknown one kept raw.
func TestCRTThroughPTY(t *testing.T) {
	panel, err := NewCRTPanel("")
	if err != nil {
		t.Fatal(err)
	}
	panel.Script = append(DemoScript(20*time.Millisecond), ScriptStep{After: 20 * time.Millisecond, Line: "%s 打印机缺纸"})
	dir := t.TempDir()
	if err := os.Symlink(mustAbs(t, "../../configs/profiles"), filepath.Join(dir, "profiles")); err != nil {
		t.Fatal(err)
	}
	cfg := &config.Config{File: filepath.Join(dir, "site.yaml"), Gateway: config.Gateway{ProfilesDir: "profiles"}, Site: config.Site{Timezone: "Asia/Shanghai"}}
	dev := Device{Device: config.Device{ID: "fp-crt", Family: "fire", Protocol: ProtocolCRT, Profile: "crt-loop-address"},
		Options: Options{Serial: &serial.Config{Port: panel.Path()}}}.Config()
	if ps := validateCRT(cfg, dev, "devices[0]"); len(ps) > 0 {
		t.Fatal(ps)
	}
	reg := prometheus.NewRegistry()
	st, err := openCRT(devices.Env{Config: cfg, Metrics: reg}, []config.Device{dev}, []*devices.Info{devices.NewInfo("s", dev)})
	if err != nil {
		t.Fatal(err)
	}
	opened := make(chan string, 1)
	st.(*Streamer).ready = func(_, port string) {
		select {
		case opened <- port:
		default:
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sink := &recordingSink{}
	done := make(chan error, 1)
	go func() { done <- st.Run(ctx, sink) }()
	// The panel prints once the driver has the line open.
	select {
	case port := <-opened:
		if port != panel.Path() {
			t.Fatalf("the driver opened %s, the panel is on %s", port, panel.Path())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the driver did not open the panel's line")
	}
	go func() { _ = panel.Run(ctx) }()
	want := []string{
		"fire_alarm:true:loop 1 address 23",
		"fault:true:loop 2 address 11",
		"fault:false:loop 2 address 11",
		"reset:true:panel",
		"fire_alarm:false:loop 1 address 23",
		"unknown_line:false:",
	}
	waitFor(t, "events", func() bool { return len(sink.summary()) >= len(want) })
	if got := sink.summary(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("events\n got %v\nwant %v", got, want)
	}
	// The counts are on the registry the gateway passed, not on a global one.
	if n, err := testutil.GatherAndCount(reg, "estate_firepanel_unknown_lines_total", "estate_firepanel_events_total"); err != nil || n < 2 {
		t.Errorf("fire panel metrics on the injected registry: %d series, %v", n, err)
	}
	if got := testutil.ToFloat64(st.(*Streamer).panels[0].m.unknownLines.WithLabelValues("fp-crt")); got != 1 {
		t.Errorf("estate_firepanel_unknown_lines_total{device=fp-crt} = %v, want 1", got)
	}
	if got := testutil.ToFloat64(st.(*Streamer).panels[0].m.panelEvents.WithLabelValues(EventFireAlarm)); got != 2 {
		t.Errorf("estate_firepanel_events_total{type=fire_alarm} = %v, want 2 (raised and cleared)", got)
	}
	sink.mu.Lock()
	last := sink.events[len(sink.events)-1]
	sink.mu.Unlock()
	if !strings.HasSuffix(last.Text, "打印机缺纸") {
		t.Fatalf("unknown line text %q", last.Text)
	}
	cancel()
	<-done
}

func mustAbs(t *testing.T, p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func FuzzDecodeFrame(f *testing.F) {
	good, _ := AppendEncode(nil, sampleFrame())
	f.Add(good)
	comp, _ := AppendUnit(nil, TypeComponentStatus, []Record{{ComponentAddr: 7, Description: "感烟", Time: testTime}})
	f.Add(comp)
	f.Add([]byte("@@\x00"))
	// The hand-built frames of gbt_frames_test.go: every command, the
	// issue's frame of zeros, type 90 both ways, units cut short, reserved types.
	for _, s := range []string{frameZeroTag, confirmZeroTag, frameRequest, responseRequest, frameControl90,
		frameReservedType, frameCutShort, frameType24, frameType4, frameType21, frameType1, frameType25,
		frameType26, frameType28, frameCommand7, frameTimeSync1, deviceConfirmsSync1, deviceDeniesSync2} {
		b := hexBytes(f, s)
		f.Add(b)
		f.Add(b[headerLen : len(b)-3]) // the application data unit alone
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		fr, n, err := Decode(in, time.UTC)
		if err == nil {
			if n > len(in) {
				t.Fatal("used more than given")
			}
			out, err := AppendEncode(nil, fr)
			if err != nil || !bytes.Equal(out, in[:n]) {
				t.Fatalf("round trip\n in % X\nout % X %v", in[:n], out, err)
			}
			// Every whole frame is answered (or is itself an answer), never dropped.
			reply, recs, problem := answer(fr, time.UTC)
			answers := fr.Command == CmdResponse || fr.Command == CmdConfirm || fr.Command == CmdDeny
			if reply == nil && !answers {
				t.Fatalf("command %d left without an answer (%v)", fr.Command, problem)
			}
			if reply != nil && reply.command == CmdDeny && problem == nil {
				t.Fatal("denied without saying why")
			}
			st := newPanelState()
			for _, r := range recs {
				eventsFromRecord(st, &devices.Info{}, r, timeProblem(r.Time, r.TimeTag, r.TimeErr, testTime))
			}
		}
		_, _ = DecodeUnit(in, time.UTC)
		st := newPanelState()
		if recs, err := DecodeUnit(in, time.UTC); err == nil {
			for _, r := range recs {
				eventsFromRecord(st, &devices.Info{}, r, "note")
			}
		}
		sc := Scanner{Loc: time.UTC}
		sc.Write(in)
		for {
			if _, ok := sc.Next(); !ok {
				break
			}
		}
	})
}

func FuzzParseLine(f *testing.F) {
	tm := loadShipped(f, "crt-loop-address")
	tc := loadShipped(f, "crt-printer-compact")
	for _, s := range append(tm.Samples, tc.Samples...) {
		gb, _ := simplifiedchinese.GB18030.NewEncoder().Bytes([]byte(s.Line))
		f.Add(gb)
		f.Add([]byte(s.Line))
	}
	f.Add([]byte{0x81, 0x30, 0xFF, 0x00})
	pa := NewLineParser(tm, nil, time.UTC)
	pc := NewLineParser(tc, nil, time.UTC)
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, p := range []*LineParser{pa, pc} {
			e := p.Parse(in, testTime)
			if e.Type == "" {
				t.Fatal("every line gives an event")
			}
			if e.Type == EventUnknownLine && strings.TrimSpace(p.decode(in)) != "" && e.Text == "" {
				t.Fatalf("unknown line %q lost its text", in)
			}
		}
	})
}
