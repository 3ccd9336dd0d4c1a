// Package mqtt is Estate's MQTT stream driver: one connection to a broker
// (github.com/eclipse/paho.mqtt.golang) serves every device of protocol mqtt.
// Subscriptions come from device profiles (topic templates with wildcards,
// JSON paths or plain text mapped to points, event codes named through code
// tables); received messages go through an ordered, bounded queue to one
// decoding goroutine, which also runs presence (status topics, last wills,
// birth/death, silence) and the family logic of elevators and doors. The
// package owns its configuration: the top-level mqtt: section and each
// device's mqtt block (options.go).
package mqtt

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/estatehq/estate/devices"
	"github.com/estatehq/estate/internal/config"
)

// Protocol is the name devices use in their configuration.
const Protocol = "mqtt"

// maxDeviceLead is how far ahead of the gateway's clock a payload's own time
// may be and still stamp its reading.
const maxDeviceLead = 5 * time.Minute

// Timing of the decoding goroutine: family timers run every tick, presence is
// judged and reported every presenceEvery.
const (
	tickEvery     = 200 * time.Millisecond
	presenceEvery = time.Second
)

// EventOffline is raised when a device's presence is lost and cleared when it
// is back: the box or controller offline (a repair, not an emergency).
const EventOffline = "offline"

type routeKind uint8

const (
	routeData routeKind = iota
	routeStatus
	routeBirth
	routeDeath
)

// route is one subscription template and the devices that publish on it.
type route struct {
	kind    routeKind
	topic   *topicTemplate
	filter  string
	qos     byte
	sub     *Subscription
	profile *Profile
	byTopic map[string]*device // by {device} level
	only    *device            // when the template has no {device}
}

// device is one MQTT device's state; owned by the decoding goroutine, except
// limiter, which the receiving goroutine uses.
type device struct {
	cfg      config.Device
	info     *devices.Info
	profile  *Profile
	topicID  string
	presence presence
	family   devices.Behaviour
	limiter  *rate.Limiter
	received prometheus.Counter
	online   prometheus.Gauge
	statusTo string // the gateway's retained status topic for this device; "" for none
}

// inbound is a received message waiting to be decoded.
type inbound struct {
	at      time.Time
	topic   string
	payload []byte
	route   *route
	dev     *device
}

// Streamer serves every MQTT device of a configuration.
type Streamer struct {
	cfg     Settings
	log     *slog.Logger
	devs    []*device
	routes  []*route
	filters map[string]byte
	bad     *badInput
	m       *Metrics

	queue       chan inbound
	queuedBytes atomic.Int64
	connected   atomic.Bool
	// subscribed counts the connections whose subscriptions the broker
	// answered: connected alone does not mean that messages flow yet (tests
	// and anything else that must not publish into the void wait on it).
	subscribed  atomic.Int64
	reconnected chan struct{} // tells the decoder to restart silence clocks

	statusTopic string
	tlsConfig   *tls.Config

	mu     sync.Mutex
	client paho.Client

	dec decoded
}

// New builds the streamer of devs (with their infos, in order), loading their
// profiles; nothing connects until Run. It counts on metrics (nil: metrics of
// its own that nobody serves).
func New(cfg *config.Config, devs []config.Device, infos []*devices.Info, log *slog.Logger, metrics *Metrics) (*Streamer, error) {
	if metrics == nil {
		metrics = NewMetrics(nil)
	}
	m, err := SettingsOf(cfg)
	if err != nil {
		return nil, err
	}
	s := &Streamer{
		cfg:         *m,
		log:         log,
		filters:     map[string]byte{},
		bad:         newBadInput(log, metrics.bad),
		m:           metrics,
		queue:       make(chan inbound, m.QueueSize),
		reconnected: make(chan struct{}, 1),
	}
	fixed := map[string]string{"site": cfg.Site.ID, "gateway": cfg.Gateway.ID}
	if st, err := compileTopic(m.StatusTopic, fixed); err != nil {
		return nil, fmt.Errorf("mqtt.status_topic: %w", err)
	} else if s.statusTopic, err = st.expand(nil); err != nil {
		return nil, fmt.Errorf("mqtt.status_topic: %w", err)
	}
	if m.TLS != nil {
		tc, err := tlsConfig(cfg, m.TLS)
		if err != nil {
			return nil, err
		}
		s.tlsConfig = tc
	}
	profiles := map[string]*Profile{}
	now := time.Now()
	for i, dc := range devs {
		p, ok := profiles[dc.Profile]
		if !ok {
			var err error
			p, err = loader.Load(cfg.Resolve(cfg.Gateway.ProfilesDir), dc.Profile)
			if err != nil {
				return nil, fmt.Errorf("device %s: %w", dc.ID, err)
			}
			profiles[dc.Profile] = p
		}
		family, err := newBehaviour(dc, p)
		if err != nil {
			return nil, fmt.Errorf("device %s: %w", dc.ID, err)
		}
		d := &device{cfg: dc, info: infos[i], profile: p, topicID: dc.ID,
			limiter:  rate.NewLimiter(rate.Limit(m.DeviceRate), m.DeviceBurst),
			received: metrics.messages.WithLabelValues(dc.ID),
			online:   metrics.online.WithLabelValues(dc.ID),
			family:   family}
		silence := p.Silence
		if o := devices.OptionsOf[Options](dc).MQTT; o != nil {
			if o.TopicID != "" {
				d.topicID = o.TopicID
			}
			if o.Silence > 0 {
				silence = o.Silence
			}
		}
		d.presence = newPresence(silence, now)
		for k, v := range p.Units() {
			d.info.Units[k] = v
		}
		d.info.Names = p.Names()
		if m.DeviceStatusTopic != "-" {
			t, err := compileTopic(m.DeviceStatusTopic, fixed)
			if err != nil {
				return nil, fmt.Errorf("mqtt.device_status_topic: %w", err)
			}
			if d.statusTo, err = t.expand(deviceVars(cfg.Site.ID, dc, d.topicID)); err != nil {
				return nil, fmt.Errorf("mqtt.device_status_topic: %w", err)
			}
		}
		s.devs = append(s.devs, d)
		if err := s.addRoutes(cfg, d, fixed); err != nil {
			return nil, fmt.Errorf("device %s: %w", dc.ID, err)
		}
	}
	return s, nil
}

func deviceVars(site string, dc config.Device, topicID string) map[string]string {
	return map[string]string{"site": site, "device": topicID, "building": dc.Building, "floor": dc.Floor,
		"unit": dc.Unit, "family": dc.Family, "id": dc.ID}
}

// addRoutes adds the device to the routes of its profile's topics, creating them.
func (s *Streamer) addRoutes(cfg *config.Config, d *device, fixed map[string]string) error {
	p := d.profile
	add := func(kind routeKind, raw string, sub *Subscription, qos int) error {
		t, err := compileTopic(raw, fixed)
		if err != nil {
			return err
		}
		if t.deviceLevel < 0 {
			// A topic of one device alone: fill in what is known of it.
			concrete, err := t.expand(deviceVars(cfg.Site.ID, d.cfg, d.topicID))
			if err != nil {
				return fmt.Errorf("topic %q has no {device} level and %w", raw, err)
			}
			if t, err = compileTopic(concrete, nil); err != nil {
				return err
			}
			for _, r := range s.routes {
				if r.only != nil && r.filter == t.filter() && r.kind == kind {
					return fmt.Errorf("topic %s is also device %s's", concrete, r.only.cfg.ID)
				}
			}
			s.newRoute(kind, t, sub, p, qos).only = d
			return nil
		}
		for _, r := range s.routes {
			if r.profile == p && r.sub == sub && r.kind == kind && r.topic.raw == t.raw {
				if other := r.byTopic[d.topicID]; other != nil {
					return fmt.Errorf("topic id %q is also device %s's", d.topicID, other.cfg.ID)
				}
				r.byTopic[d.topicID] = d
				return nil
			}
		}
		r := s.newRoute(kind, t, sub, p, qos)
		r.byTopic = map[string]*device{d.topicID: d}
		return nil
	}
	defQoS := *s.cfg.QoS
	for i := range p.Subscriptions {
		sub := &p.Subscriptions[i]
		qos := defQoS
		if sub.QoS != nil {
			qos = *sub.QoS
		}
		if err := add(routeData, sub.Topic, sub, qos); err != nil {
			return err
		}
	}
	pr := p.Presence
	for _, t := range []struct {
		kind routeKind
		raw  string
	}{{routeStatus, pr.StatusTopic}, {routeBirth, pr.BirthTopic}, {routeDeath, pr.DeathTopic}} {
		if t.raw == "" {
			continue
		}
		if err := add(t.kind, t.raw, nil, defQoS); err != nil {
			return err
		}
	}
	return nil
}

func (s *Streamer) newRoute(kind routeKind, t *topicTemplate, sub *Subscription, p *Profile, qos int) *route {
	r := &route{kind: kind, topic: t, filter: t.filter(), qos: byte(qos), sub: sub, profile: p}
	s.routes = append(s.routes, r)
	if q, ok := s.filters[r.filter]; !ok || byte(qos) > q {
		s.filters[r.filter] = byte(qos)
	}
	return r
}

// Filters returns the subscription filters and their QoS (for tests and logs).
func (s *Streamer) Filters() map[string]byte { return s.filters }

// resolve finds the route and device of a received topic.
func (s *Streamer) resolve(topic string) (*route, *device) {
	for _, r := range s.routes {
		id, ok := r.topic.match(topic)
		if !ok {
			continue
		}
		if r.only != nil {
			return r, r.only
		}
		if d := r.byTopic[id]; d != nil {
			return r, d
		}
	}
	return nil, nil
}

// receive is called for every message the broker delivers, in order, by the
// client's one delivering goroutine. It must not block: it resolves the device,
// applies the size and rate limits and queues the message, or counts why not.
func (s *Streamer) receive(at time.Time, topic string, payload []byte) {
	r, d := s.resolve(topic)
	if d == nil {
		s.bad.report(unknownDevice, reasonUnknownTopic, topic, payload, "no configured device publishes on this topic")
		return
	}
	if len(payload) > s.cfg.MaxPayload {
		s.bad.report(d.cfg.ID, reasonOversized, topic, payload[:min(len(payload), 256)],
			fmt.Sprintf("payload of %d bytes is over mqtt.max_payload (%d)", len(payload), s.cfg.MaxPayload))
		return
	}
	if !d.limiter.AllowN(at, 1) {
		s.bad.report(d.cfg.ID, reasonFlood, topic, payload,
			fmt.Sprintf("more than %g messages/s (burst %d): mqtt.device_rate", s.cfg.DeviceRate, s.cfg.DeviceBurst))
		return
	}
	size := int64(len(payload))
	if s.queuedBytes.Add(size) > int64(s.cfg.QueueBytes) {
		s.queuedBytes.Add(-size)
		s.bad.report(d.cfg.ID, reasonQueueFull, topic, payload, "inbound queue over mqtt.queue_bytes")
		return
	}
	select {
	case s.queue <- inbound{at: at, topic: topic, payload: payload, route: r, dev: d}:
	default:
		s.queuedBytes.Add(-size)
		s.bad.report(d.cfg.ID, reasonQueueFull, topic, payload, "inbound queue over mqtt.queue_size")
	}
}

// process decodes one queued message and hands what it said to the sink.
func (s *Streamer) process(in inbound, sink devices.Sink) {
	s.queuedBytes.Add(-int64(len(in.payload)))
	d := in.dev
	switch in.route.kind {
	case routeStatus:
		online, ok := d.profile.Presence.parseStatus(in.payload)
		if !ok {
			s.bad.report(d.cfg.ID, reasonWrongType, in.topic, in.payload, "status says neither online nor offline")
			return
		}
		why := "status offline (retained status or last will)"
		if online {
			why = "status online"
		}
		d.presence.statusAt(in.at, online, why)
		s.judge(d, in.at, sink)
		return
	case routeBirth:
		d.presence.statusAt(in.at, true, "birth")
		s.judge(d, in.at, sink)
		return
	case routeDeath:
		d.presence.statusAt(in.at, false, "death")
		s.judge(d, in.at, sink)
		return
	}
	d.received.Inc()
	s.dec.reset()
	for _, p := range in.route.sub.decode(in.payload, d.profile.tables, &s.dec) {
		s.bad.report(d.cfg.ID, p.reason, in.topic, in.payload, p.detail)
	}
	d.presence.heardAt(in.at)
	if d.presence.state != linkOnline {
		s.judge(d, in.at, sink)
	}
	if len(s.dec.values) > 0 {
		// The device's own time, when it sends one, makes a message the
		// broker delivers twice one point; a time ahead of the gateway's
		// clock by more than a few minutes is a wrong clock, not the data's.
		at := in.at
		if !s.dec.at.IsZero() {
			if s.dec.at.After(in.at.Add(maxDeviceLead)) {
				s.bad.report(d.cfg.ID, reasonWrongType, in.topic, in.payload, "the payload's time "+s.dec.at.UTC().Format(time.RFC3339)+" is ahead of the gateway's clock; the time of arrival is used")
			} else {
				at = s.dec.at
			}
		}
		sink.Reading(devices.Reading{Device: d.info, Time: at, Values: slices.Clone(s.dec.values)})
	}
	var events []devices.Event
	if d.family != nil {
		events = d.family.Observe(in.at, s.dec.values, signals(s.dec.signals))
	} else {
		for _, sg := range signals(s.dec.signals) {
			events = append(events, devices.PassOn(in.at, sg))
		}
	}
	for _, e := range events {
		e.Device = d.info
		sink.Event(e)
	}
}

// judge evaluates a device's presence and reports a change.
func (s *Streamer) judge(d *device, now time.Time, sink devices.Sink) {
	state, changed, why := d.presence.evaluate(now)
	if !changed {
		return
	}
	switch state {
	case linkOnline:
		d.online.Set(1)
		sink.Health(d.cfg.ID, nil)
		sink.Event(devices.Event{Device: d.info, Time: now, Type: EventOffline, Source: "presence", SourceZH: "在线状态", Active: false, Text: why})
		s.log.Info("mqtt device present", "device", d.cfg.ID, "why", why)
	case linkOffline:
		d.online.Set(0)
		sink.Health(d.cfg.ID, errors.New("mqtt: "+why))
		sink.Event(devices.Event{Device: d.info, Time: now, Type: EventOffline, Source: "presence", SourceZH: "在线状态", Active: true, Text: why})
		s.log.Warn("mqtt device gone", "device", d.cfg.ID, "why", why)
	}
	s.publishDeviceStatus(d, state)
}

// report tells the sink, once a second, what each device's presence is, so
// that the gateway's health counts a silent device like a failed poll.
func (s *Streamer) report(now time.Time, sink devices.Sink) {
	for _, d := range s.devs {
		s.judge(d, now, sink)
		switch d.presence.state {
		case linkOnline:
			sink.Health(d.cfg.ID, nil)
		case linkOffline:
			sink.Health(d.cfg.ID, errors.New("mqtt: "+d.presence.whyOffline()))
		}
	}
}

func (s *Streamer) tick(now time.Time, sink devices.Sink) {
	for _, d := range s.devs {
		if d.family == nil {
			continue
		}
		for _, e := range d.family.Tick(now) {
			e.Device = d.info
			sink.Event(e)
		}
	}
}

// Run connects (retrying in the background with back-off: a broker that is
// down at start-up does not stop the gateway), subscribes on every
// connection, and decodes until ctx ends; then it publishes the gateway's
// offline status and disconnects.
func (s *Streamer) Run(ctx context.Context, sink devices.Sink) error {
	client := paho.NewClient(s.clientOptions())
	s.mu.Lock()
	s.client = client
	s.mu.Unlock()
	s.log.Info("mqtt connecting", "broker", s.cfg.Broker, "client_id", s.cfg.ClientID, "devices", len(s.devs),
		"subscriptions", len(s.filters))
	client.Connect() // with ConnectRetry the token completes only once connected; onConnect takes over
	defer s.disconnect(client)
	s.decode(ctx, sink)
	return nil
}

// decode is the one goroutine that owns device state: messages in arrival
// order, family timers and presence.
func (s *Streamer) decode(ctx context.Context, sink devices.Sink) {
	tick := time.NewTicker(tickEvery)
	defer tick.Stop()
	lastReport := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case in := <-s.queue:
			s.process(in, sink)
			s.m.queue.Set(float64(len(s.queue)))
		case now := <-tick.C:
			s.tick(now, sink)
			if s.connected.Load() && now.Sub(lastReport) >= presenceEvery {
				s.report(now, sink)
				lastReport = now
			}
		case <-s.reconnected:
			// Silence during the outage says nothing about the devices; and a
			// broker that lost its retained messages gets the statuses again.
			now := time.Now()
			for _, d := range s.devs {
				d.presence.resume(now)
				s.publishDeviceStatus(d, d.presence.state)
			}
		}
	}
}

func (s *Streamer) clientOptions() *paho.ClientOptions {
	o := paho.NewClientOptions().
		AddBroker(s.cfg.Broker).
		SetClientID(s.cfg.ClientID).
		SetCleanSession(*s.cfg.CleanSession).
		SetKeepAlive(s.cfg.KeepAlive).
		SetConnectTimeout(s.cfg.ConnectTimeout).
		SetAutoReconnect(true).
		SetConnectRetry(true).
		SetConnectRetryInterval(time.Second).
		SetMaxReconnectInterval(s.cfg.MaxReconnectInterval).
		SetOrderMatters(true). // messages reach receive one at a time, in order
		SetWill(s.statusTopic, "offline", 1, true).
		SetOnConnectHandler(s.onConnect).
		SetConnectionLostHandler(s.onLost).
		SetDefaultPublishHandler(s.onMessage) // a persistent session's queued messages arrive before subscribing
	if s.cfg.Username != "" {
		o.SetUsername(s.cfg.Username).SetPassword(s.cfg.Password)
	}
	if s.tlsConfig != nil {
		o.SetTLSConfig(s.tlsConfig)
	}
	if u, err := url.Parse(s.cfg.Broker); err == nil && slices.Contains([]string{"tcp", "mqtt", "ssl", "tls", "mqtts"}, u.Scheme) {
		o.SetCustomOpenConnectionFn(openBuffered)
	}
	return o
}

// bufferedConn reads through a buffer. The client reads every packet's fixed
// header, length and body with separate small reads, each a system call on a
// bare connection; at tens of thousands of messages a second that is most of
// the cost of receiving.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// openBuffered dials the broker as the client would (TCP, or TLS for ssl://,
// tls://, mqtts://) and buffers the reading side.
func openBuffered(uri *url.URL, o paho.ClientOptions) (net.Conn, error) {
	d := &net.Dialer{Timeout: o.ConnectTimeout}
	var conn net.Conn
	var err error
	switch uri.Scheme {
	case "ssl", "tls", "mqtts":
		conn, err = tls.DialWithDialer(d, "tcp", uri.Host, o.TLSConfig)
	default:
		conn, err = d.Dial("tcp", uri.Host)
	}
	if err != nil {
		return nil, err
	}
	return &bufferedConn{Conn: conn, r: bufio.NewReaderSize(conn, 64<<10)}, nil
}

func (s *Streamer) onMessage(_ paho.Client, m paho.Message) {
	s.receive(time.Now(), m.Topic(), m.Payload())
}

func (s *Streamer) onConnect(c paho.Client) {
	s.connected.Store(true)
	s.m.connected.Set(1)
	s.m.connects.Inc()
	s.log.Info("mqtt connected; subscribing", "broker", s.cfg.Broker, "filters", len(s.filters))
	select {
	case s.reconnected <- struct{}{}:
	default:
	}
	// Status messages go at QoS 0: they are retained and re-sent on every
	// connection, so nothing is lost, and no QoS 1 publish is left in flight
	// across a reconnect, where paho 1.5's resume() races with the outgoing
	// writer (eclipse-paho/paho.mqtt.golang#703).
	c.Publish(s.statusTopic, 0, true, "online")
	if len(s.filters) > 0 {
		// No callback: every message goes to the default handler
		// (onMessage). With one, paho adds a route per filter and matches
		// each message against every route, splitting both strings each
		// time: with a filter per device that was a third of the cost of
		// receiving, and it grew with the fleet.
		t := c.SubscribeMultiple(s.filters, nil)
		if !t.WaitTimeout(s.cfg.ConnectTimeout) {
			s.log.Error("mqtt subscribe timed out; will retry on the next connection", "broker", s.cfg.Broker)
		} else if err := t.Error(); err != nil {
			s.log.Error("mqtt subscribe refused", "broker", s.cfg.Broker, "err", err)
		} else {
			if st, ok := t.(*paho.SubscribeToken); ok {
				for filter, code := range st.Result() {
					if code == 0x80 {
						s.log.Error("mqtt broker refused a subscription (check its ACL)", "filter", filter)
					}
				}
			}
			s.subscribed.Add(1)
		}
	} else {
		s.subscribed.Add(1)
	}
}

func (s *Streamer) onLost(_ paho.Client, err error) {
	s.connected.Store(false)
	s.m.connected.Set(0)
	s.log.Warn("mqtt connection lost; reconnecting with back-off", "broker", s.cfg.Broker, "err", err)
}

// publishDeviceStatus sets the retained status the gateway keeps for a device
// it bridges; it does not wait. QoS 0 for the reason given in onConnect.
func (s *Streamer) publishDeviceStatus(d *device, state linkState) {
	if d.statusTo == "" || state == linkUnknown {
		return
	}
	s.mu.Lock()
	c := s.client
	s.mu.Unlock()
	if c == nil || !s.connected.Load() {
		return
	}
	c.Publish(d.statusTo, 0, true, state.String())
}

func (s *Streamer) disconnect(c paho.Client) {
	if s.connected.Load() {
		// A clean disconnect does not fire the will: say offline ourselves.
		t := c.Publish(s.statusTopic, 1, true, "offline")
		t.WaitTimeout(2 * time.Second)
	}
	c.Disconnect(250)
	s.connected.Store(false)
	s.m.connected.Set(0)
	s.log.Info("mqtt disconnected", "broker", s.cfg.Broker)
}

func tlsConfig(cfg *config.Config, t *TLS) (*tls.Config, error) {
	tc := &tls.Config{ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify, MinVersion: tls.VersionTLS12} //nolint:gosec // the operator's choice, off by default
	if t.CAFile != "" {
		pem, err := os.ReadFile(cfg.Resolve(t.CAFile))
		if err != nil {
			return nil, fmt.Errorf("mqtt.tls.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("mqtt.tls.ca_file: %s holds no PEM certificate", t.CAFile)
		}
		tc.RootCAs = pool
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.Resolve(t.CertFile), cfg.Resolve(t.KeyFile))
		if err != nil {
			return nil, fmt.Errorf("mqtt.tls client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}
