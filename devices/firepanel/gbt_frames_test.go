package firepanel

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/estatehq/estate/devices"
	"github.com/estatehq/estate/devices/serial"
	"github.com/estatehq/estate/internal/config"
)

// Frames of these tests are written by hand from GB/T 26875.3-2011 (5 协议结构,
// table 2 命令字节, table 3 类型标志, 8.2 信息对象), each field named, the
// checksum the sum of bytes 3–27 and the application data unit modulo 256.
// None is made by the package's encoder: they check it against the standard.
//
// Addresses: the transmission device 01 00 00 00 00 00, the centre all zeros.
// The centre's clock is 2026-12-03 21:30:05 in Asia/Shanghai, its time tag
// 05 1E 15 03 0C 1A (秒 分 时 日 月 年, binary); the device's frames carry
// 0A 1E 15 03 0C 1A (21:30:10) unless said otherwise.

// hexBytes reads "40 40 03 …" (comments after # on a line are ignored).
func hexBytes(t testing.TB, s string) []byte {
	t.Helper()
	var out []byte
	for _, line := range strings.Split(s, "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		for _, f := range strings.Fields(line) {
			var b byte
			if _, err := fmt.Sscanf(f, "%02X", &b); err != nil || len(f) != 2 {
				t.Fatalf("bad hex %q", f)
			}
			out = append(out, b)
		}
	}
	return out
}

// The frame: a device whose clock was never set sends a fire alarm.
const frameZeroTag = `
40 40                   # 启动符 @@
03 01                   # 业务流水号 0x0103 (low byte first)
01 00                   # 协议版本号 1.0
00 00 00 00 00 00       # 时间标签: all zeros, the clock never set
01 00 00 00 00 00       # 源地址: the transmission device
00 00 00 00 00 00       # 目的地址: the centre
30 00                   # 应用数据单元长度 48
02                      # 命令字节 2 发送数据
02 01                   # 类型标志 2 (部件运行状态), 1 object
01 01                   # 系统类型 1 (火灾报警系统), 系统地址 1
2A                      # 部件类型 42 (点型感烟火灾探测器)
FF 03 00 00             # 部件地址 1023
03 00                   # 部件状态: bit 0 正常运行, bit 1 火警
33 B2 E3 B6 AB D7 DF C0 C8 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 # 部件说明 "3层东走廊" GB 18030, 31 bytes
00 00 00 00 00 00       # 时间标签 of the object: all zeros
D3                      # 校验和
23 23                   # 结束符 ##
`

// The centre's 确认 of it: same serial and version, its own time, addresses swapped.
const confirmZeroTag = `
40 40 03 01 01 00
05 1E 15 03 0C 1A       # the centre's time 2026-12-03 21:30:05
00 00 00 00 00 00       # 源地址: the centre
01 00 00 00 00 00       # 目的地址: the device
00 00 03                # no data, 命令 3 确认
6A 23 23`

// A request (请求 4) of the device: 读用户信息传输装置运行状态 (type 81, one reserved byte).
const frameRequest = `
40 40 04 00 01 00 0A 1E 15 03 0C 1A 01 00 00 00 00 00 00 00 00 00 00 00
03 00 04                # length 3, 命令 4 请求
51 01 00                # 类型标志 81, 1 object, 预留 byte
C5 23 23`

// Its answer is 应答 (5), not 确认 (3); the centre has none of the objects to give.
const responseRequest = `
40 40 04 00 01 00 05 1E 15 03 0C 1A 00 00 00 00 00 00 01 00 00 00 00 00
00 00 05                # no data, 命令 5 应答
6C 23 23`

// A control command (1) with type 90 from the device: decoded, confirmed.
const frameControl90 = `
40 40 05 00 01 00 0A 1E 15 03 0C 1A 01 00 00 00 00 00 00 00 00 00 00 00
08 00 01                # length 8, 命令 1 控制命令
5A 01                   # 类型标志 90 同步用户信息传输装置时钟, 1 object
0A 1E 15 03 0C 1A       # the time: 2026-12-03 21:30:10
37 23 23`

const confirmControl90 = `
40 40 05 00 01 00 05 1E 15 03 0C 1A 00 00 00 00 00 00 01 00 00 00 00 00 00 00 03 6B 23 23`

// Send data with type flag 9 (预留): whole, but unusable: 否认 (6).
const frameReservedType = `
40 40 06 00 01 00 0A 1E 15 03 0C 1A 01 00 00 00 00 00 00 00 00 00 00 00
04 00 02                # length 4, 发送数据
09 01 00 00             # 类型标志 9 (预留), 1 object
7E 23 23`

const denyReservedType = `
40 40 06 00 01 00 05 1E 15 03 0C 1A 00 00 00 00 00 00 01 00 00 00 00 00 00 00 06 6F 23 23`

// Type 2 announcing 2 objects with the bytes of one: denied, the whole one reported.
const frameCutShort = `
40 40 07 00 01 00 0A 1E 15 03 0C 1A 01 00 00 00 00 00 00 00 00 00 00 00
30 00 02                # length 48, 发送数据
02 02                   # 类型标志 2, 2 objects announced
01 01 2A FF 03 00 00 03 00 # system 1/1, type 42, address 1023, 火警
33 B2 E3 B6 AB D7 DF C0 C8 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
0A 1E 15 03 0C 1A       # the object's time tag (right)
A3 23 23`

const denyCutShort = `
40 40 07 00 01 00 05 1E 15 03 0C 1A 00 00 00 00 00 00 01 00 00 00 00 00 00 00 06 70 23 23`

// The device's operation (type 24) with bit 5: 查岗应答.
const frameType24 = `
40 40 08 00 01 00 0A 1E 15 03 0C 1A 01 00 00 00 00 00 00 00 00 00 00 00
0A 00 02                # length 10, 发送数据
18 01                   # 类型标志 24 上传用户信息传输装置操作信息, 1 object
20 02                   # 操作标志 bit 5 (查岗应答), 操作员编号 2
0A 1E 15 03 0C 1A
1D 23 23`

const confirmType24 = `
40 40 08 00 01 00 05 1E 15 03 0C 1A 00 00 00 00 00 00 01 00 00 00 00 00 00 00 03 6E 23 23`

// A panel's operation (type 4) with bit 5: 确认.
const frameType4 = `
40 40 09 00 01 00 0A 1E 15 03 0C 1A 01 00 00 00 00 00 00 00 00 00 00 00
0C 00 02
04 01                   # 类型标志 4 上传建筑消防设施操作信息
01 01 20 03             # system 1/1, 操作标志 bit 5 (确认), operator 3
0A 1E 15 03 0C 1A
0F 23 23`

// The device's status (type 21) 0x61: bit 0 正常监视, bit 5 与监控中心通信信道故障, bit 6 监测连接线路故障.
const frameType21 = `
40 40 0A 00 01 00 0A 1E 15 03 0C 1A 01 00 00 00 00 00 00 00 00 00 00 00
09 00 02 15 01 61 0A 1E 15 03 0C 1A
5A 23 23`

// A system's status (type 1) 0x0861: bits 0 正常运行, 5 启动, 6 反馈, 11 手动状态.
const frameType1 = `
40 40 0B 00 01 00 0A 1E 15 03 0C 1A 01 00 00 00 00 00 00 00 00 00 00 00
0C 00 02 01 01          # 类型标志 1, 1 object
01 01 61 08             # system 1/1, 系统状态 0x0861
0A 1E 15 03 0C 1A
54 23 23`

// The device's software version 2.3 (type 25), configuration "联网" (type 26)
// and a system time of zeros (type 28: its clock never set).
const frameType25 = `
40 40 0C 00 01 00 0A 1E 15 03 0C 1A 01 00 00 00 00 00 00 00 00 00 00 00
04 00 02 19 01 02 03 99 23 23`

const frameType26 = `
40 40 0D 00 01 00 0A 1E 15 03 0C 1A 01 00 00 00 00 00 00 00 00 00 00 00
07 00 02 1A 01          # 类型标志 26, 1 object
04 C1 AA CD F8          # 配置说明长度 4, "联网" in GB 18030
CD 23 23`

const frameType28 = `
40 40 0E 00 01 00 0A 1E 15 03 0C 1A 01 00 00 00 00 00 00 00 00 00 00 00
08 00 02 1C 01 00 00 00 00 00 00 9D 23 23`

// A reserved command (7): denied.
const frameCommand7 = `
40 40 0F 00 01 00 0A 1E 15 03 0C 1A 01 00 00 00 00 00 00 00 00 00 00 00 00 00 07 7E 23 23`

const denyCommand7 = `
40 40 0F 00 01 00 05 1E 15 03 0C 1A 00 00 00 00 00 00 01 00 00 00 00 00 00 00 06 78 23 23`

// The centre's clock synchronisations (serials 1 and 2 of its own), and the
// device's confirm and deny of them.
const frameTimeSync1 = `
40 40 01 00 01 00 05 1E 15 03 0C 1A 00 00 00 00 00 00 01 00 00 00 00 00
08 00 01                # length 8, 命令 1 控制命令
5A 01 05 1E 15 03 0C 1A # 类型 90, 1 object: the centre's time 21:30:05
29 23 23`

const frameTimeSync2 = `
40 40 02 00 01 00 05 1E 15 03 0C 1A 00 00 00 00 00 00 01 00 00 00 00 00 08 00 01 5A 01 05 1E 15 03 0C 1A 2A 23 23`

const deviceConfirmsSync1 = `
40 40 01 00 01 00 0A 1E 15 03 0C 1A 01 00 00 00 00 00 00 00 00 00 00 00 00 00 03 6C 23 23`

const deviceDeniesSync2 = `
40 40 02 00 01 00 0A 1E 15 03 0C 1A 01 00 00 00 00 00 00 00 00 00 00 00 00 00 06 70 23 23`

var shanghai = func() *time.Location {
	l, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		panic(err)
	}
	return l
}()

// receipt is the centre's clock in these tests.
var receipt = time.Date(2026, 12, 3, 21, 30, 5, 0, shanghai)

// link is the device's end of a connection to a receiver.
type deviceEnd struct {
	conn net.Conn
	st   *Streamer
	sink *recordingSink
	reg  *prometheus.Registry
	mu   sync.Mutex
	got  []byte
}

// newDeviceEnd runs a receiver for one transmission device (site time
// Asia/Shanghai, the centre's clock fixed at receipt) on one end of a pipe.
func newDeviceEnd(t *testing.T, opts Options, timeout time.Duration) *deviceEnd {
	t.Helper()
	cfg := &config.Config{Site: config.Site{Timezone: "Asia/Shanghai"}}
	dev := Device{Device: config.Device{ID: "fp-1", Family: "fire", Protocol: ProtocolGBT26875, Timeout: timeout}, Options: opts}.Config()
	reg := prometheus.NewRegistry()
	st, err := openGBT(devices.Env{Config: cfg, Metrics: reg}, []config.Device{dev}, []*devices.Info{devices.NewInfo("s", dev)})
	if err != nil {
		t.Fatal(err)
	}
	p := st.(*Streamer).panels[0]
	p.now = func() time.Time { return receipt }
	centre, device := net.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	d := &deviceEnd{conn: device, st: st.(*Streamer), sink: &recordingSink{}, reg: reg}
	done := make(chan struct{})
	go func() { defer close(done); _ = p.readFrames(ctx, centre, d.sink) }()
	read := make(chan struct{})
	go func() {
		defer close(read)
		buf := make([]byte, 1024)
		for {
			n, err := device.Read(buf)
			d.mu.Lock()
			d.got = append(d.got, buf[:n]...)
			d.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		_ = centre.Close()
		_ = device.Close()
		<-done
		<-read
	})
	return d
}

func (d *deviceEnd) send(t *testing.T, frame string) {
	t.Helper()
	if _, err := d.conn.Write(hexBytes(t, frame)); err != nil {
		t.Fatal(err)
	}
}

// expect waits for the next bytes from the centre to be want.
func (d *deviceEnd) expect(t *testing.T, what, want string) {
	t.Helper()
	w := hexBytes(t, want)
	deadline := time.Now().Add(10 * time.Second)
	for {
		d.mu.Lock()
		got := append([]byte(nil), d.got...)
		if len(got) >= len(w) {
			d.got = d.got[len(w):]
		}
		d.mu.Unlock()
		if len(got) >= len(w) {
			if !bytes.Equal(got[:len(w)], w) {
				t.Fatalf("%s:\n got % X\nwant % X", what, got[:len(w)], w)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: timed out; got % X, want % X", what, got, w)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (d *deviceEnd) events() []devices.Event {
	d.sink.mu.Lock()
	defer d.sink.mu.Unlock()
	return append([]devices.Event(nil), d.sink.events...)
}

// A frame whose time tags are all zeros keeps its fire alarm, with the time
// of receipt and the problem in its text and attributes, and is confirmed;
// one with a bad checksum is not answered (the next frame's answer is the
// first thing back), and the same frame resent whole is confirmed.
func TestZeroTimeTagConfirmedAndKept(t *testing.T) {
	d := newDeviceEnd(t, Options{}, 0)
	bad := hexBytes(t, frameZeroTag)
	bad[len(bad)-3]++ // the checksum
	if _, err := d.conn.Write(bad); err != nil {
		t.Fatal(err)
	}
	d.send(t, frameZeroTag)
	d.expect(t, "confirm of the frame of zeros (and nothing for the broken one)", confirmZeroTag)
	waitFor(t, "the fire alarm", func() bool { return len(d.events()) > 0 })
	e := d.events()[0]
	if e.Type != EventFireAlarm || !e.Active || e.Source != "system 1 component 1023" || !e.Time.Equal(receipt) {
		t.Fatalf("event %+v", e)
	}
	if !strings.Contains(e.Text, "3层东走廊") || !strings.Contains(e.Text, "时间标签无效(00 00 00 00 00 00)") ||
		!strings.Contains(e.Attrs["time_problem"], "time of receipt used") {
		t.Fatalf("the time problem is not noted: text %q attrs %v", e.Text, e.Attrs)
	}
	if got := testutil.ToFloat64(d.st.panels[0].m.frameErrors.WithLabelValues("checksum")); got != 1 {
		t.Errorf("checksum errors %v, want 1", got)
	}
	if got := testutil.ToFloat64(d.st.panels[0].m.badTimeTags.WithLabelValues("fp-1")); got != 2 {
		t.Errorf("bad time tags %v, want 2 (the frame's and the object's)", got)
	}
}

// Each command gets the standard's answer: a request 应答 (5), a clock
// synchronisation from the device 确认, an unusable unit or a reserved
// command 否认 (6), a unit cut short 否认 with its whole object still reported.
func TestAnswers(t *testing.T) {
	d := newDeviceEnd(t, Options{}, 0)
	d.send(t, frameRequest)
	d.expect(t, "应答 to a request", responseRequest)
	d.send(t, frameControl90)
	d.expect(t, "确认 of a clock synchronisation", confirmControl90)
	d.send(t, frameReservedType)
	d.expect(t, "否认 of type 9", denyReservedType)
	d.send(t, frameCommand7)
	d.expect(t, "否认 of command 7", denyCommand7)
	d.send(t, frameCutShort)
	d.expect(t, "否认 of a unit cut short", denyCutShort)
	waitFor(t, "the whole object's event", func() bool { return len(d.events()) > 0 })
	e := d.events()[0]
	want := time.Date(2026, 12, 3, 21, 30, 10, 0, shanghai) // its own tag, right
	if e.Type != EventFireAlarm || !e.Time.Equal(want) || e.Attrs["time_problem"] != "" {
		t.Fatalf("event %+v", e)
	}
	m := d.st.panels[0].m
	for cmd, n := range map[string]float64{"response": 1, "confirm": 1, "deny": 3} {
		if got := testutil.ToFloat64(m.replies.WithLabelValues(cmd)); got != n {
			t.Errorf("replies{command=%s} = %v, want %v", cmd, got, n)
		}
	}
}

// Bit names as in the standard's tables: type 24 bit 5 is 查岗应答, type 4
// bit 5 确认; type 21 bits 5 and 6 the centre's channel and the monitoring
// line; type 1 bits 5, 6, 11; types 25, 26 and 28 what the device says of itself.
func TestBitNamesFromTheStandard(t *testing.T) {
	d := newDeviceEnd(t, Options{}, 0)
	d.send(t, frameType24)
	d.expect(t, "confirm of type 24", confirmType24)
	for _, f := range []string{frameType4, frameType21, frameType1, frameType25, frameType26, frameType28} {
		d.send(t, f)
	}
	var got []string
	waitFor(t, "events", func() bool {
		got = got[:0]
		for _, e := range d.events() {
			got = append(got, fmt.Sprintf("%s:%s:%s:%s", e.Type, e.Source, e.Attrs["operation"], e.Attrs["version"]+e.Attrs["configuration"]+e.Attrs["clock"]))
		}
		return len(got) >= 10
	})
	want := []string{
		"inspection_answered:transmission device operator 2:查岗应答:",
		"acknowledge:system 1 operator 3:确认:",
		"centre_link_fault:transmission device::",
		"facility_link_fault:transmission device::",
		"started:system 1::",
		"feedback:system 1::",
		"manual_mode:system 1::",
		"software_version:transmission device::2.3",
		"configuration:transmission device::联网",
		"device_clock:transmission device::not a date: 00 00 00 00 00 00",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("events\n got %s\nwant %s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if e := d.events()[0]; e.Text != "查岗应答" {
		t.Errorf("type 24 text %q", e.Text)
	}
}

// The centre's clock synchronisation, on demand: type 90 in a control command
// to the address the device's frames came from; the device's confirm returns
// the time sent, its deny ErrDenied, silence ErrNoAnswer; a device not
// connected and one of another driver are told apart.
func TestTimeSyncOnDemand(t *testing.T) {
	if _, err := (&Streamer{}).SyncClock(context.Background(), "elsewhere"); !errors.Is(err, devices.ErrNotServed) {
		t.Fatalf("another driver's device: %v", err)
	}
	d := newDeviceEnd(t, Options{}, 300*time.Millisecond)
	d.send(t, frameType24) // the device is heard: its address is known
	d.expect(t, "confirm", confirmType24)

	type result struct {
		at  time.Time
		err error
	}
	sync := func() <-chan result {
		ch := make(chan result, 1)
		go func() {
			at, err := d.st.SyncClock(context.Background(), "fp-1")
			ch <- result{at, err}
		}()
		return ch
	}
	r := sync()
	d.expect(t, "the first clock synchronisation", frameTimeSync1)
	d.send(t, deviceConfirmsSync1)
	if res := <-r; res.err != nil || !res.at.Equal(receipt) {
		t.Fatalf("confirmed: %v %v", res.at, res.err)
	}
	r = sync()
	d.expect(t, "the second", frameTimeSync2)
	d.send(t, deviceDeniesSync2)
	if res := <-r; !errors.Is(res.err, ErrDenied) {
		t.Fatalf("denied: %v", res.err)
	}
	r = sync()
	if res := <-r; !errors.Is(res.err, ErrNoAnswer) {
		t.Fatalf("no answer: %v", res.err)
	}
	m := d.st.panels[0].m
	for result, n := range map[string]float64{"confirmed": 1, "denied": 1, "no_answer": 1} {
		if got := testutil.ToFloat64(m.timeSyncs.WithLabelValues(result)); got != n {
			t.Errorf("time syncs{result=%s} = %v, want %v", result, got, n)
		}
	}

	// Not connected: no link at all.
	cfg := &config.Config{Site: config.Site{Timezone: "UTC"}}
	dev := Device{Device: config.Device{ID: "fp-2", Protocol: ProtocolGBT26875}, Options: Options{Address: "127.0.0.1:0"}}.Config()
	st, _ := openGBT(devices.Env{Config: cfg}, []config.Device{dev}, []*devices.Info{devices.NewInfo("s", dev)})
	if _, err := st.(*Streamer).SyncClock(context.Background(), "fp-2"); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("not connected: %v", err)
	}
}

// On a schedule (time_sync_interval): once the device is heard, then every
// interval; a frame with a wrong time tag asks for one sooner, but not within
// a minute of the last. Virtual time (testing/synctest), the link a pipe.
func TestTimeSyncScheduled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := &config.Config{Site: config.Site{Timezone: "UTC"}}
		dev := Device{Device: config.Device{ID: "fp-1", Protocol: ProtocolGBT26875, Timeout: time.Second},
			Options: Options{Address: "127.0.0.1:0", TimeSyncInterval: time.Hour}}.Config()
		st, _ := openGBT(devices.Env{Config: cfg}, []config.Device{dev}, []*devices.Info{devices.NewInfo("s", dev)})
		p := st.(*Streamer).panels[0]
		centre, device := net.Pipe()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = p.readFrames(ctx, centre, &recordingSink{}) }()

		// The device: one writer, and a reader that confirms each synchronisation.
		out := make(chan []byte, 8)
		syncs := make(chan Frame, 8)
		var wg sync.WaitGroup
		wg.Go(func() {
			for b := range out {
				if _, err := device.Write(b); err != nil {
					return
				}
			}
		})
		wg.Go(func() {
			sc := Scanner{Loc: time.UTC}
			buf := make([]byte, 512)
			for {
				n, err := device.Read(buf)
				sc.Write(buf[:n])
				for f, ok := sc.Next(); ok; f, ok = sc.Next() {
					if f.Command == CmdControl {
						syncs <- f
						b, _ := AppendEncode(nil, Reply(f, CmdConfirm, time.Now(), nil))
						out <- b
					}
				}
				if err != nil {
					return
				}
			}
		})
		none := func(what string) {
			t.Helper()
			synctest.Wait()
			select {
			case f := <-syncs:
				t.Fatalf("%s: a synchronisation at %v", what, f.Time)
			default:
			}
		}
		next := func(what string) Frame {
			t.Helper()
			synctest.Wait()
			select {
			case f := <-syncs:
				if len(f.Data) != 8 || f.Data[0] != TypeTimeSync || f.Data[1] != 1 {
					t.Fatalf("%s: not type 90 with one object: % X", what, f.Data)
				}
				// 秒 分 时 日 月 年 of the centre's clock when it was sent (within the last sleep).
				d := f.Data[2:]
				at := time.Date(2000+int(d[5]), time.Month(d[4]), int(d[3]), int(d[2]), int(d[1]), int(d[0]), 0, time.UTC)
				if now := time.Now(); at.After(now) || now.Sub(at) > 2*time.Minute {
					t.Fatalf("%s: carries % X (%v), the centre's time is %v", what, d, at, now)
				}
				return f
			default:
				t.Fatalf("%s: no synchronisation", what)
			}
			return Frame{}
		}
		none("before the device is heard")
		out <- hexBytes(t, frameType24) // its tag (2026) is years from the bubble's clock: it asks for one too
		next("once heard")
		none("the wrong tag right after the first")
		time.Sleep(59 * time.Minute)
		none("within the interval")
		time.Sleep(2 * time.Minute)
		next("after the interval")
		time.Sleep(5 * time.Minute)
		out <- hexBytes(t, frameZeroTag)
		next("a frame of zeros, five minutes after the last")
		cancel()
		_ = centre.Close()
		_ = device.Close()
		close(out)
		<-done
		wg.Wait()
	})
}

// Over TCP with the simulator: a device whose clock was never set sends tags
// of zeros; the receiver (time_sync_interval set) synchronises it once it is
// heard, after which its frames carry its (now right) clock.
func TestSimulatedDeviceClockSetOverTCP(t *testing.T) {
	cfg := &config.Config{Site: config.Site{Timezone: "UTC"}}
	dev := Device{Device: config.Device{ID: "fp-1", Family: "fire", Protocol: ProtocolGBT26875, Timeout: 5 * time.Second},
		Options: Options{Address: "127.0.0.1:0", TimeSyncInterval: time.Hour}}.Config()
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
	u := &UITD{Source: [6]byte{9, 9}, Script: DemoScript(50 * time.Millisecond), Repeat: true, ResendAfter: time.Second,
		Loc: time.UTC, UnsetClock: true}
	go func() { _ = u.DialAndServe(ctx, <-addr) }()
	waitFor(t, "the simulator's clock set", func() bool { set, n := u.ClockSet(); return n > 0 && !set.IsZero() })
	set, _ := u.ClockSet()
	if d := time.Since(set); d < -2*time.Second || d > 10*time.Second {
		t.Fatalf("clock set to %v, now %v", set, time.Now())
	}
	var first, later devices.Event
	waitFor(t, "an event with the device's own time", func() bool {
		sink.mu.Lock()
		defer sink.mu.Unlock()
		if len(sink.events) == 0 {
			return false
		}
		first, later = sink.events[0], sink.events[len(sink.events)-1]
		return later.Attrs["time_problem"] == "" && len(sink.events) > 1
	})
	if first.Attrs["time_problem"] == "" || !strings.Contains(first.Text, "时间标签无效") {
		t.Fatalf("the first event (tags of zeros) does not say so: %+v", first)
	}
	if c, _ := u.Counts(); c == 0 || u.Denies() != 0 {
		t.Fatalf("confirms %d denies %d", c, u.Denies())
	}
	cancel()
	<-done
}

// time_sync_interval is checked: at least a minute, and only for a
// transmission device (a CRT port only prints).
func TestTimeSyncIntervalValidated(t *testing.T) {
	cfg := &config.Config{}
	dev := Device{Device: config.Device{ID: "fp", Protocol: ProtocolGBT26875},
		Options: Options{Address: "127.0.0.1:9030", TimeSyncInterval: time.Second}}.Config()
	if ps := validateGBT(cfg, dev, "devices[0]"); len(ps) != 1 || !strings.Contains(ps[0].String(), "devices[0].time_sync_interval: must be at least 1m") {
		t.Fatalf("%v", ps)
	}
	crt := Device{Device: config.Device{ID: "crt", Protocol: ProtocolCRT, Profile: "crt-loop-address"},
		Options: Options{Serial: &serial.Config{Port: "/dev/null"}, TimeSyncInterval: time.Hour}}.Config()
	ps := validateCRT(cfg, crt, "devices[1]")
	found := false
	for _, p := range ps {
		found = found || strings.Contains(p.String(), "devices[1].time_sync_interval: only for protocol gbt26875")
	}
	if !found {
		t.Fatalf("%v", ps)
	}
}
