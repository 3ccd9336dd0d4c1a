package soak

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/estatehq/estate/devices/dlt645"
	"github.com/estatehq/estate/devices/firepanel"
	"github.com/estatehq/estate/devices/modbus"
)

// The fleet is every simulated device of a soak, served from the soak's own
// process so that it keeps its records while the gateway is killed: each
// Modbus slave counts the reads it answered (modbus.Slave.CountReads, the
// point seq), each MQTT device numbers what the broker acknowledged, and each
// incident (a meter fault, a fire alarm) is written down when it was raised.

// meterProfile is the register map of a soak meter: the read counter seq,
// two moving values, and fault, which an incident sets to 1.
const meterProfile = `name: soak-meter
description: Estate soak meter (simulated; seq counts the reads answered)
manufacturer: Estate
model: SOAK-1
family: meter
source: Estate's soak (internal/soak); not a vendor's map.
limits:
  max_registers_per_read: 64
points:
  - {name: seq,     table: holding, address: 0, type: uint32}
  - {name: voltage, table: holding, address: 2, type: float32, unit: V}
  - {name: energy,  table: holding, address: 4, type: float32, unit: kWh}
  - {name: fault,   table: holding, address: 6, type: uint16}
`

// sensorProfile is an MQTT device publishing its own sequence number.
const sensorProfile = `name: soak-sensor
description: Estate soak sensor publishing JSON over MQTT (seq numbers what it published)
manufacturer: Estate
model: SOAK-MQ
family: power
protocol: mqtt
source: Estate's soak (internal/soak).
silence: 10m
subscriptions:
  - topic: estate/{site}/soak/{device}/state
    qos: 1
    format: json
    time: {path: ts, format: unix_ms}   # the device's time: a message delivered twice is one point
    points:
      - {name: seq, path: seq, type: number}
      - {name: voltage, path: voltage, type: number}
`

// device is one simulated device and its own record of what it produced.
type device struct {
	ID       string
	Protocol string // modbus_tcp, modbus_rtu_over_tcp, dlt645, mqtt, gbt26875
	// Endpoint is the address the gateway reaches it on (a proxy's for the
	// proxied endpoint); Serves is where the simulator listens.
	Endpoint, Serves string
	Unit             int
	Proxied          bool // behind the Modbus proxy
	Building         string

	slave *modbus.Slave

	mu sync.Mutex
	// produced[n-1] is when reading n was answered (Modbus) or acknowledged
	// by the broker (MQTT), in Unix nanoseconds.
	produced []int64
}

func (d *device) record(n uint64) {
	now := time.Now().UnixNano()
	d.mu.Lock()
	defer d.mu.Unlock()
	for uint64(len(d.produced)) < n-1 {
		d.produced = append(d.produced, 0) // not expected: counts are consecutive
	}
	d.produced = append(d.produced, now)
}

func (d *device) producedCopy() []int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]int64(nil), d.produced...)
}

// counted says whether the device keeps a record of its readings.
func (d *device) counted() bool {
	return d.Protocol == "modbus_tcp" || d.Protocol == "modbus_rtu_over_tcp" || d.Protocol == "mqtt"
}

// fleet is the simulated estate.
type fleet struct {
	opts    Options
	log     *slog.Logger
	devices []*device
	byID    map[string]*device
	// endpoints by listen address; the first TCP one is proxied.
	listeners []*modbus.Listener
	bus       *dlt645.SimBus
	busLink   string
	fire      []*device
	mqttDevs  []*device

	profile *modbus.Profile
	wg      sync.WaitGroup
}

// newFleet lays out the devices; start serves them.
func newFleet(o Options, dir string, ports *portPool, modbusProxy string, log *slog.Logger) (*fleet, error) {
	if err := os.WriteFile(filepath.Join(dir, "profiles", "soak-meter.yaml"), []byte(meterProfile), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "profiles", "soak-sensor.yaml"), []byte(sensorProfile), 0o644); err != nil {
		return nil, err
	}
	// The DL/T 645 meters use the shipped profile.
	dl, err := os.ReadFile(filepath.Join(o.Root, "configs", "profiles", "dlt645-prepaid-single-phase.yaml"))
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "profiles", "dlt645-prepaid-single-phase.yaml"), dl, 0o644); err != nil {
		return nil, err
	}
	p, err := modbus.LoadProfile(filepath.Join(dir, "profiles", "soak-meter.yaml"))
	if err != nil {
		return nil, err
	}
	f := &fleet{opts: o, log: log, byID: map[string]*device{}, profile: p}
	add := func(d *device) {
		f.devices = append(f.devices, d)
		f.byID[d.ID] = d
	}
	for e := range o.TCPEndpoints + o.RTUEndpoints {
		proto, b := "modbus_tcp", fmt.Sprint(e/10+1)
		if e >= o.TCPEndpoints {
			proto = "modbus_rtu_over_tcp"
		}
		serves := ports.next()
		endpoint := serves
		proxied := e == 0 && modbusProxy != ""
		if proxied {
			endpoint = modbusProxy
		}
		for u := 1; u <= o.UnitsPerEndpoint; u++ {
			add(&device{ID: fmt.Sprintf("m-%02d-%02d", e, u), Protocol: proto, Endpoint: endpoint, Serves: serves,
				Unit: u, Proxied: proxied, Building: b})
		}
	}
	if o.DLT645Meters > 0 {
		f.busLink = filepath.Join(dir, "dlt645-bus")
		for i := range o.DLT645Meters {
			add(&device{ID: fmt.Sprintf("dl-%02d", i), Protocol: "dlt645", Endpoint: fmt.Sprintf("%012d", 101+i), Building: "90"})
		}
	}
	for i := range o.MQTTDevices {
		d := &device{ID: fmt.Sprintf("mq-%02d", i), Protocol: "mqtt", Building: "91"}
		add(d)
		f.mqttDevs = append(f.mqttDevs, d)
	}
	for i := range o.FirePanels {
		d := &device{ID: fmt.Sprintf("fire-%02d", i), Protocol: "gbt26875", Endpoint: ports.next(), Building: "92"}
		add(d)
		f.fire = append(f.fire, d)
	}
	return f, nil
}

// startModbus serves every Modbus endpoint, each slave counting its reads.
func (f *fleet) startModbus() error {
	byServes := map[string]map[byte]*modbus.Slave{}
	rtu := map[string]bool{}
	var order []string
	for _, d := range f.devices {
		if d.Protocol != "modbus_tcp" && d.Protocol != "modbus_rtu_over_tcp" {
			continue
		}
		s := modbus.NewSlave(f.profile)
		_ = s.Set("voltage", 220+float64(d.Unit%10))
		_ = s.Set("energy", 1000+float64(d.Unit))
		if err := s.CountReads("seq", d.record); err != nil {
			return err
		}
		d.slave = s
		if byServes[d.Serves] == nil {
			byServes[d.Serves] = map[byte]*modbus.Slave{}
			order = append(order, d.Serves)
		}
		byServes[d.Serves][byte(d.Unit)] = s
		rtu[d.Serves] = d.Protocol == "modbus_rtu_over_tcp"
	}
	for _, addr := range order {
		ln, err := (&modbus.Server{RTU: rtu[addr], Slaves: byServes[addr]}).Listen(addr)
		if err != nil {
			return fmt.Errorf("modbus endpoint %s: %w", addr, err)
		}
		f.listeners = append(f.listeners, ln)
	}
	return nil
}

// startDLT645 puts the DL/T 645 meters on a pseudo-terminal; their balance
// does not move, so that they raise nothing but readings.
func (f *fleet) startDLT645(ctx context.Context) error {
	if f.busLink == "" {
		return nil
	}
	bus, err := dlt645.NewSimBus(f.busLink)
	if err != nil {
		return err
	}
	for _, d := range f.devices {
		if d.Protocol != "dlt645" {
			continue
		}
		a, err := dlt645.ParseAddress(d.Endpoint)
		if err != nil {
			return err
		}
		bus.Add(&dlt645.SimMeter{Addr: a, Balance: 500, Alarm1: 10, Alarm2: 5, OverdraftLimit: 5, EnergyKWh: 1200})
	}
	f.bus = bus
	f.wg.Go(func() { _ = bus.Run(ctx) })
	return nil
}

// runMQTT publishes every device's state at the poll interval, at QoS 1
// straight to the broker (the gateway's side is the proxied one); a message
// counts as produced once the broker acknowledged it.
func (f *fleet) runMQTT(ctx context.Context, broker string) error {
	if len(f.mqttDevs) == 0 {
		return nil
	}
	opts := paho.NewClientOptions().AddBroker(broker).SetClientID("estate-soak-devices").
		SetAutoReconnect(true).SetConnectRetry(true).SetConnectTimeout(5 * time.Second)
	c := paho.NewClient(opts)
	if t := c.Connect(); !t.WaitTimeout(10*time.Second) || t.Error() != nil {
		return fmt.Errorf("soak devices: connect to %s: %v", broker, t.Error())
	}
	f.wg.Go(func() {
		defer c.Disconnect(250)
		tick := time.NewTicker(f.opts.PollInterval)
		defer tick.Stop()
		seq := make([]uint64, len(f.mqttDevs))
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			for i, d := range f.mqttDevs {
				n := seq[i] + 1
				body, _ := json.Marshal(map[string]any{"seq": n, "voltage": 230 + float64(n%7), "ts": time.Now().UnixMilli()})
				t := c.Publish(fmt.Sprintf("estate/%s/soak/%s/state", siteID, d.ID), 1, false, body)
				if !t.WaitTimeout(5*time.Second) || t.Error() != nil {
					// Not acknowledged: not produced; the same number goes out next time.
					continue
				}
				seq[i] = n
				d.record(n)
			}
		}
	})
	return nil
}

// raiseFault sets a meter's fault point: the gateway's soak_fault rule
// opens a repair ticket for it.
func (f *fleet) setFault(d *device, on bool) {
	v := 0.0
	if on {
		v = 1
	}
	_ = d.slave.Set("fault", v)
}

// fireAlarm reports a fire alarm (or, with reset, the panel's reset) from a
// transmission device and returns once the gateway has confirmed it, or
// ctx ended; it redials and resends until then.
func (f *fleet) fireAlarm(ctx context.Context, d *device, reset bool) error {
	rec := firepanel.Record{Type: firepanel.TypeComponentStatus, SystemType: 1, SystemAddr: 1, ComponentType: 42,
		ComponentAddr: 1023, Status: 1 | 1<<1, Description: "3层东走廊 感烟"}
	if reset {
		rec = firepanel.Record{Type: firepanel.TypeOperation, SystemType: 1, SystemAddr: 1, Operation: 1, Operator: 1}
	}
	u := &firepanel.UITD{Script: []firepanel.ScriptStep{{Record: rec}}, ResendAfter: 2 * time.Second}
	for ctx.Err() == nil {
		var dl net.Dialer
		conn, err := dl.DialContext(ctx, "tcp", d.Endpoint)
		if err == nil {
			stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
			err = u.Serve(ctx, conn)
			stop()
			_ = conn.Close()
			if err == nil && ctx.Err() == nil {
				if c, _ := u.Counts(); c > 0 {
					return nil
				}
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	return ctx.Err()
}

// stop closes the Modbus endpoints (the devices fall silent) and waits for
// the other simulators, whose ctx the caller ended.
func (f *fleet) stopModbus() {
	for _, ln := range f.listeners {
		_ = ln.Close()
	}
	f.listeners = nil
}

func (f *fleet) wait() { f.wg.Wait() }
