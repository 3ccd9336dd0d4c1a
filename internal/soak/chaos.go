package soak

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// Faults come from toxiproxy, run in this process as a library: one proxy
// between the gateway and each of InfluxDB, the desk, the broker and one
// Modbus endpoint. A toxic is added for a while and removed; kills end a
// process with SIGKILL and start it again.

// Proxies the gateway talks through.
const (
	proxyInflux = "influxdb"
	proxyDesk   = "desk"
	proxyBroker = "broker"
	proxyModbus = "modbus"
)

var proxyNames = []string{proxyInflux, proxyDesk, proxyBroker, proxyModbus}

// Fault kinds.
const (
	faultLatency    = "latency"
	faultBandwidth  = "bandwidth"
	faultReset      = "reset"
	faultBlackHole  = "black_hole"
	faultStorm      = "outage_storm" // a black hole on the Modbus endpoint long enough for its incident
	faultKillGW     = "kill_gateway"
	faultKillDesk   = "kill_desk"
	faultKillInflux = "kill_influxdb"
)

var toxicKinds = []string{faultLatency, faultBandwidth, faultReset, faultBlackHole}

// fault is one planned happening.
type fault struct {
	At     time.Duration // after the soak's start
	Kind   string
	Target string // the proxy, for toxics
	For    time.Duration

	// filled in as it happens
	Began, Ended time.Time
	Err          string
}

func (f *fault) String() string {
	if f.Target != "" {
		return f.Kind + " on " + f.Target
	}
	return f.Kind
}

// plan draws the faults of a soak: every proxy gets every toxic once and
// every process is killed once, then more of them at random until about one
// starts every FaultEvery; the outage storm is placed where no kill of the
// gateway falls near it, so that its incident has the time it needs.
func plan(o Options, rnd *rand.Rand) []*fault {
	warm, cool := o.Warmup, o.Cooldown
	active := o.Duration - warm - cool
	at := func() time.Duration { return warm + time.Duration(rnd.Int64N(int64(active))) }
	dur := func() time.Duration {
		return o.FaultMin + time.Duration(rnd.Int64N(int64(o.FaultMax-o.FaultMin)+1))
	}
	var fs []*fault
	for _, p := range proxyNames {
		for _, k := range toxicKinds {
			fs = append(fs, &fault{At: at(), Kind: k, Target: p, For: dur()})
		}
	}
	kills := []string{faultKillGW, faultKillDesk, faultKillInflux}
	for _, k := range kills {
		fs = append(fs, &fault{At: at(), Kind: k, For: o.Downtime(rnd)})
	}
	extra := int(active/o.FaultEvery) - len(fs)
	for range max(0, extra) {
		if rnd.IntN(4) == 0 {
			fs = append(fs, &fault{At: at(), Kind: kills[rnd.IntN(len(kills))], For: o.Downtime(rnd)})
			continue
		}
		fs = append(fs, &fault{At: at(), Kind: toxicKinds[rnd.IntN(len(toxicKinds))],
			Target: proxyNames[rnd.IntN(len(proxyNames))], For: dur()})
	}
	// The storm: the Modbus endpoint silent for its incident's window and
	// more; no gateway kill from a little before it to a little after.
	storm := &fault{Kind: faultStorm, Target: proxyModbus, For: o.StormFor()}
	quiet := storm.For + o.PollInterval*6 + 30*time.Second
	storm.At = warm + time.Duration(rnd.Int64N(int64(max(1, active-quiet))))
	fs = append(fs, storm)
	for _, f := range fs {
		if f.Kind == faultKillGW && f.At > storm.At-20*time.Second && f.At < storm.At+quiet {
			f.At = storm.At + quiet + time.Duration(rnd.Int64N(int64(max(1, o.Duration-cool-storm.At-quiet))))
			if f.At > o.Duration-cool {
				f.At = max(warm, storm.At-20*time.Second-f.For-o.PollInterval)
			}
		}
	}
	sort.Slice(fs, func(i, j int) bool { return fs[i].At < fs[j].At })
	return fs
}

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed^0xa5a5a5a5)) }

// toxics owns the proxies.
type toxics struct {
	srv     *toxiproxy.ApiServer
	proxies map[string]*toxiproxy.Proxy
	seq     atomic.Int64

	mu      sync.Mutex
	windows map[string][]window // by proxy: when a toxic was on
}

// window is a span of time when a fault was on.
type window struct {
	From, To time.Time
	Kind     string
}

func newToxics() *toxics {
	// The toxics log through zerolog's global logger, at trace level.
	zerolog.SetGlobalLevel(zerolog.Disabled)
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	return &toxics{srv: srv, proxies: map[string]*toxiproxy.Proxy{}, windows: map[string][]window{}}
}

// add makes a proxy from listen to upstream.
func (t *toxics) add(name, listen, upstream string) error {
	p := toxiproxy.NewProxy(t.srv, name, listen, upstream)
	if err := p.Start(); err != nil {
		return fmt.Errorf("toxiproxy %s on %s: %w", name, listen, err)
	}
	t.proxies[name] = p
	return nil
}

// setUpstream points a proxy elsewhere (the desk's, when one desk is killed:
// what a load balancer in front of two desks does).
func (t *toxics) setUpstream(name, upstream string) error {
	p := t.proxies[name]
	return p.Update(&toxiproxy.Proxy{Name: name, Listen: p.Listen, Upstream: upstream, Enabled: true})
}

// toxicJSON is the toxic of a fault kind: latency of a few hundred ms,
// a bandwidth of a few kB/s, connections reset, or everything swallowed.
func toxicJSON(kind, name string, rnd *rand.Rand) string {
	switch kind {
	case faultLatency:
		return fmt.Sprintf(`{"name":%q,"type":"latency","stream":"downstream","attributes":{"latency":%d,"jitter":%d}}`,
			name, 100+rnd.IntN(600), rnd.IntN(100))
	case faultBandwidth:
		return fmt.Sprintf(`{"name":%q,"type":"bandwidth","stream":"downstream","attributes":{"rate":%d}}`, name, 2+rnd.IntN(30))
	case faultReset:
		return fmt.Sprintf(`{"name":%q,"type":"reset_peer","stream":"upstream","attributes":{"timeout":%d}}`, name, rnd.IntN(500))
	default: // black hole and storm
		return fmt.Sprintf(`{"name":%q,"type":"timeout","stream":"upstream","attributes":{"timeout":0}}`, name)
	}
}

// inject puts a toxic on a proxy for d (or until ctx ends), then takes it off.
func (t *toxics) inject(ctx context.Context, f *fault, rnd *rand.Rand) error {
	p := t.proxies[f.Target]
	if p == nil {
		return fmt.Errorf("no proxy %s", f.Target)
	}
	name := fmt.Sprintf("%s-%d", f.Kind, t.seq.Add(1))
	kind := f.Kind
	if kind == faultStorm {
		kind = faultBlackHole
	}
	from := time.Now()
	if _, err := p.Toxics.AddToxicJson(strings.NewReader(toxicJSON(kind, name, rnd))); err != nil {
		return err
	}
	f.Began = from
	select {
	case <-ctx.Done():
	case <-time.After(f.For):
	}
	err := p.Toxics.RemoveToxic(context.Background(), name)
	f.Ended = time.Now()
	t.mu.Lock()
	t.windows[f.Target] = append(t.windows[f.Target], window{From: from, To: f.Ended, Kind: f.Kind})
	t.mu.Unlock()
	return err
}

func (t *toxics) windowsOf(proxy string) []window {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]window(nil), t.windows[proxy]...)
}

// clear removes every toxic (the end of the soak).
func (t *toxics) clear() {
	for _, p := range t.proxies {
		p.Toxics.ResetToxics(context.Background())
	}
}

func (t *toxics) stop() {
	for _, p := range t.proxies {
		p.Stop()
	}
}
