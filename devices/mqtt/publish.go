package mqtt

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/tidwall/sjson"
)

// Publisher is the device side of a profile: it turns point values and codes
// into the profile's topics and payloads and publishes them, with the device's
// retained status and last will. Simulators use it; so do tests.
type Publisher struct {
	client  paho.Client
	profile *Profile
	vars    map[string]string
	qos     byte
	status  string // the device's status topic; "" when the profile has none
}

// PublisherOptions says where and as whom a device publishes.
type PublisherOptions struct {
	Broker   string
	ClientID string
	Username string
	Password string
	// Site and TopicID fill {site} and {device} in the profile's topics.
	Site    string
	TopicID string
	QoS     byte
}

// Dial connects a device to the broker, with "offline" as the retained last
// will on its status topic, and says "online" there (or publishes its birth).
func Dial(ctx context.Context, p *Profile, o PublisherOptions) (*Publisher, error) {
	pub := &Publisher{profile: p, qos: o.QoS, vars: map[string]string{"site": o.Site, "device": o.TopicID}}
	opts := paho.NewClientOptions().AddBroker(o.Broker).SetClientID(o.ClientID).
		SetAutoReconnect(true).SetMaxReconnectInterval(5 * time.Second).SetConnectTimeout(5 * time.Second).
		SetKeepAlive(10 * time.Second).SetCleanSession(true)
	if o.Username != "" {
		opts.SetUsername(o.Username).SetPassword(o.Password)
	}
	if p.Presence.StatusTopic != "" {
		t, err := pub.topic(p.Presence.StatusTopic)
		if err != nil {
			return nil, err
		}
		pub.status = t
		opts.SetWill(t, "offline", 1, true)
	} else if p.Presence.DeathTopic != "" {
		t, err := pub.topic(p.Presence.DeathTopic)
		if err != nil {
			return nil, err
		}
		opts.SetWill(t, "", 1, false)
	}
	pub.client = paho.NewClient(opts)
	if err := wait(ctx, pub.client.Connect()); err != nil {
		return nil, fmt.Errorf("device %s: connect to %s: %w", o.TopicID, o.Broker, err)
	}
	if err := pub.Hello(ctx); err != nil {
		pub.client.Disconnect(100)
		return nil, err
	}
	return pub, nil
}

// Hello publishes the device's retained online status, or its birth.
func (p *Publisher) Hello(ctx context.Context) error {
	switch {
	case p.status != "":
		return wait(ctx, p.client.Publish(p.status, 1, true, "online"))
	case p.profile.Presence.BirthTopic != "":
		t, err := p.topic(p.profile.Presence.BirthTopic)
		if err != nil {
			return err
		}
		return wait(ctx, p.client.Publish(t, 1, false, "birth"))
	}
	return nil
}

// Close says offline (or publishes its death) and disconnects cleanly.
func (p *Publisher) Close() {
	switch {
	case p.status != "":
		p.client.Publish(p.status, 1, true, "offline").WaitTimeout(time.Second)
	case p.profile.Presence.DeathTopic != "":
		if t, err := p.topic(p.profile.Presence.DeathTopic); err == nil {
			p.client.Publish(t, 1, false, "death").WaitTimeout(time.Second)
		}
	}
	p.client.Disconnect(250)
}

// State publishes point values: each JSON subscription that carries any of
// them gets one message with those of its points.
func (p *Publisher) State(ctx context.Context, values map[string]float64) error {
	done := map[string]bool{}
	for i := range p.profile.Subscriptions {
		s := &p.profile.Subscriptions[i]
		if s.Format != FormatJSON {
			continue
		}
		payload := []byte("{}")
		n := 0
		for j := range s.Points {
			pt := &s.Points[j]
			v, ok := values[pt.Name]
			if !ok || done[pt.Name] {
				continue
			}
			var err error
			if payload, err = sjson.SetBytes(payload, pt.Path, pt.encode(v)); err != nil {
				return fmt.Errorf("point %s: %w", pt.Name, err)
			}
			done[pt.Name] = true
			n++
		}
		if n == 0 {
			continue
		}
		if err := p.send(ctx, s, payload); err != nil {
			return err
		}
	}
	return nil
}

// Code publishes a code (as its table writes it) on the subscription that
// carries the table's codes, with where it happened when the mapping has a place.
func (p *Publisher) Code(ctx context.Context, table, code, source string) error {
	for i := range p.profile.Subscriptions {
		s := &p.profile.Subscriptions[i]
		for _, c := range s.Codes {
			if c.Table != table {
				continue
			}
			if s.Format == FormatText {
				return p.send(ctx, s, []byte(code))
			}
			payload, err := sjson.SetBytes([]byte("{}"), c.Path, jsonScalar(code))
			if err == nil && c.SourcePath != "" && source != "" {
				payload, err = sjson.SetBytes(payload, c.SourcePath, jsonScalar(source))
			}
			if err != nil {
				return err
			}
			return p.send(ctx, s, payload)
		}
	}
	return fmt.Errorf("profile %s has no subscription with codes of table %s", p.profile.Name, table)
}

// Raw publishes any payload on a topic (for tests of bad input).
func (p *Publisher) Raw(ctx context.Context, topic string, payload []byte) error {
	return wait(ctx, p.client.Publish(topic, p.qos, false, payload))
}

func (p *Publisher) send(ctx context.Context, s *Subscription, payload []byte) error {
	topic, err := p.topic(s.Topic)
	if err != nil {
		return err
	}
	return wait(ctx, p.client.Publish(topic, p.qos, false, payload))
}

// Topics are the concrete topics the device publishes on.
func (p *Publisher) Topics() []string {
	var out []string
	for i := range p.profile.Subscriptions {
		if t, err := p.topic(p.profile.Subscriptions[i].Topic); err == nil {
			out = append(out, t)
		}
	}
	return out
}

// awaitListener returns once subscribed(t) holds for one of the device's
// topics, ctx ends or within passes (the script then starts anyway: a
// gateway that never comes must not stall the simulator).
func (p *Publisher) awaitListener(ctx context.Context, subscribed func(string) bool, within time.Duration) {
	if subscribed == nil {
		return
	}
	deadline := time.Now().Add(within)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for time.Now().Before(deadline) {
		for _, t := range p.Topics() {
			if subscribed(t) {
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (p *Publisher) topic(raw string) (string, error) {
	t, err := compileTopic(raw, nil)
	if err != nil {
		return "", err
	}
	return t.expand(p.vars)
}

// CodeFor is the code a table gives an event kind (door_forced → "38"); the
// smallest one when there are several.
func (p *Profile) CodeFor(table, event string) (string, bool) {
	t := p.tables[table]
	if t == nil {
		return "", false
	}
	var codes []string
	for code, c := range t.Codes {
		if c.Event == event {
			codes = append(codes, code)
		}
	}
	if len(codes) == 0 {
		return "", false
	}
	sort.Slice(codes, func(i, j int) bool {
		a, ea := strconv.Atoi(codes[i])
		b, eb := strconv.Atoi(codes[j])
		if ea == nil && eb == nil {
			return a < b
		}
		return codes[i] < codes[j]
	})
	return codes[0], true
}

// encode is a point's value as the device would write it.
func (pt *PointMap) encode(v float64) any {
	switch pt.Type {
	case TypeBool:
		return v != 0
	case TypeEnum:
		keys := make([]string, 0, len(pt.Values))
		for k := range pt.Values {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if pt.Values[k] == v {
				return k
			}
		}
		return v
	}
	return (v - pt.Offset) / pt.Scale
}

func jsonScalar(s string) any {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n
	}
	return s
}

func wait(ctx context.Context, t paho.Token) error {
	select {
	case <-t.Done():
		return t.Error()
	case <-ctx.Done():
		return ctx.Err()
	}
}
