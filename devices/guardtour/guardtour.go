package guardtour

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/estatehq/estate/devices"
	"github.com/estatehq/estate/devices/mqtt"
	"github.com/estatehq/estate/internal/config"
	"github.com/estatehq/estate/internal/promreg"
	"github.com/estatehq/estate/internal/wire"
)

// Family and Protocol are the names devices use.
const (
	Family   = "guardtour"
	Protocol = "guardtour"
)

// RepeatWithin: the same reader scanning the same checkpoint again within
// this is one visit read twice, dropped and counted.
const RepeatWithin = time.Minute

// DefaultTopic is where a reader publishes when its profile says nothing;
// {site} and {reader} are replaced.
const DefaultTopic = "estate/{site}/guardtour/{reader}/scans"

// Options are a guard-tour device's own keys: its guardtour: block.
type Options struct {
	Guardtour *Block `yaml:"guardtour"`
}

// Block is a reader's settings.
type Block struct {
	// Reader is the id the reader writes in its scans (default: the device id).
	Reader string `yaml:"reader"`
	// Topic overrides the profile's topic ({site} and {reader} replaced).
	Topic string `yaml:"topic"`
}

// Profile says how a model of reader publishes (configs/profiles/guardtour-*.yaml).
type Profile struct {
	devices.ProfileHeader `yaml:",inline"`
	Topic                 string `yaml:"topic"`
	Fields                Fields `yaml:"fields"`
}

// LoadProfile reads a guard-tour profile.
func LoadProfile(path string) (*Profile, error) {
	return loader.LoadFile(path)
}

var loader = devices.NewProfileLoader("guard-tour profile", func(path string, data []byte) (*Profile, error) {
	p := &Profile{Fields: DefaultFields}
	if err := devices.DecodeProfile(data, p); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if p.Topic == "" {
		p.Topic = DefaultTopic
	}
	if p.Family != "" && p.Family != Family {
		return nil, fmt.Errorf("%s: family %q: a guard-tour profile is for family %s", path, p.Family, Family)
	}
	if p.Fields.Reader == "" || p.Fields.Checkpoint == "" || p.Fields.Time == "" {
		return nil, fmt.Errorf("%s: fields: reader, checkpoint and time are required", path)
	}
	switch p.Fields.TimeFormat {
	case "", "rfc3339", "unix", "unix_ms":
	default:
		return nil, fmt.Errorf("%s: fields.time_format: %q is not rfc3339, unix or unix_ms", path, p.Fields.TimeFormat)
	}
	return p, nil
})

func init() {
	devices.DeclareFamily(Family)
	devices.Register(Protocol, devices.Protocol{
		Options:   func() any { return new(Options) },
		Exclusive: map[string]string{"guardtour": "only devices of protocol guardtour take a guardtour block (this one is %q)"},
		Validate:  validateDevice,
		Points:    func(*config.Config, config.Device) ([]string, bool) { return nil, false },
		OpenStream: func(env devices.Env, devs []config.Device, infos []*devices.Info) (devices.Streamer, error) {
			log := env.Log
			if log == nil {
				log = slog.Default()
			}
			return New(env.Config, devs, infos, log.With("part", "guardtour"), env.Metrics)
		},
	})
}

// ReaderOf is the id a device's reader writes in its scans.
func ReaderOf(dev config.Device) string {
	if o := devices.OptionsOf[Options](dev); o.Guardtour != nil && o.Guardtour.Reader != "" {
		return o.Guardtour.Reader
	}
	return dev.ID
}

// TopicOf is the topic a device's reader publishes on.
func TopicOf(cfg *config.Config, dev config.Device, p *Profile) string {
	topic := p.Topic
	if o := devices.OptionsOf[Options](dev); o.Guardtour != nil && o.Guardtour.Topic != "" {
		topic = o.Guardtour.Topic
	}
	return strings.NewReplacer("{site}", cfg.Site.ID, "{reader}", ReaderOf(dev)).Replace(topic)
}

func profileOf(cfg *config.Config, dev config.Device) (*Profile, error) {
	p, err := LoadProfile(devices.ProfilePath(cfg.Resolve(cfg.Gateway.ProfilesDir), dev.Profile))
	if errors.Is(err, fs.ErrNotExist) {
		err = devices.NoProfile(cfg, "guard-tour profile", dev.Profile)
	}
	return p, err
}

func validateDevice(cfg *config.Config, dev config.Device, path string) []config.Problem {
	var ps []config.Problem
	if dev.Family != Family {
		ps = append(ps, cfg.Problemf(path+".family", "a device of protocol guardtour is a patrol reader: family %s, not %q", Family, dev.Family))
	}
	if dev.Profile == "" {
		return append(ps, cfg.Problemf(path+".profile", "required: a guard-tour profile, such as guardtour-json"))
	}
	p, err := profileOf(cfg, dev)
	if err != nil {
		return append(ps, cfg.Problemf(path+".profile", "%v", err))
	}
	if !idPattern.MatchString(ReaderOf(dev)) {
		ps = append(ps, cfg.Problemf(path+".guardtour.reader", "%q is not a reader id (letters, digits, '.', '_', '-', at most 64)", ReaderOf(dev)))
	}
	topic := TopicOf(cfg, dev, p)
	if strings.ContainsAny(topic, "+#") || strings.Contains(topic, "{") {
		ps = append(ps, cfg.Problemf(path+".guardtour.topic", "%q: a reader's topic has no wildcards or unknown {placeholders}", topic))
	}
	for i, d := range cfg.Devices {
		if d.Protocol == Protocol && d.ID != dev.ID && ReaderOf(d) == ReaderOf(dev) && fmt.Sprintf("devices[%d]", i) != path {
			ps = append(ps, cfg.Problemf(path+".guardtour.reader", "reader %q is also device %s", ReaderOf(dev), d.ID))
			break
		}
	}
	if _, err := mqtt.SettingsOf(cfg); err != nil || !cfg.Has(mqtt.Section) {
		ps = append(ps, cfg.Problemf(path, "patrol readers publish over MQTT: the configuration needs an mqtt: section with the broker"))
	}
	return ps
}

// Filters are the topics the configured readers publish on, for the
// embedded broker's access control.
func Filters(cfg *config.Config) []string {
	var out []string
	for _, d := range cfg.Devices {
		if d.Protocol != Protocol {
			continue
		}
		if p, err := profileOf(cfg, d); err == nil {
			out = append(out, TopicOf(cfg, d, p))
		}
	}
	return out
}

type reader struct {
	info   *devices.Info
	fields Fields
	topic  string
	// last scan accepted per checkpoint, for repeats.
	last map[string]time.Time
}

// Streamer serves every patrol reader of a configuration over one MQTT
// connection.
type Streamer struct {
	settings *mqtt.Settings
	clientID string
	log      *slog.Logger
	scans    *prometheus.CounterVec

	mu       sync.Mutex
	byReader map[string]*reader
	byTopic  map[string][]*reader
	logged   map[string]bool // problems logged once per reader and reason
}

// Scan results counted.
const (
	ResultVisit         = "visit"
	ResultRepeat        = "repeat"
	ResultUnknownReader = "unknown_reader"
	ResultBadPayload    = "bad_payload"
	ResultBadScan       = "bad_scan"
)

// New builds the stream of the configured readers.
func New(cfg *config.Config, devs []config.Device, infos []*devices.Info, log *slog.Logger, reg prometheus.Registerer) (*Streamer, error) {
	m, err := mqtt.SettingsOf(cfg)
	if err != nil {
		return nil, err
	}
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	s := &Streamer{settings: m, clientID: "estate-" + cfg.Gateway.ID + "-guardtour", log: log,
		byReader: map[string]*reader{}, byTopic: map[string][]*reader{}, logged: map[string]bool{},
		scans: promreg.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "estate_guardtour_scans_total",
			Help: "Patrol readers' checkpoint scans, by result (visit, repeat, unknown_reader, bad_scan, bad_payload).",
		}, []string{"result"}))}
	for i, d := range devs {
		p, err := profileOf(cfg, d)
		if err != nil {
			return nil, fmt.Errorf("device %s: %w", d.ID, err)
		}
		r := &reader{info: infos[i], fields: p.Fields, topic: TopicOf(cfg, d, p), last: map[string]time.Time{}}
		s.byReader[ReaderOf(d)] = r
		s.byTopic[r.topic] = append(s.byTopic[r.topic], r)
	}
	return s, nil
}

// Run connects and forwards scans to sink until ctx ends.
func (s *Streamer) Run(ctx context.Context, sink devices.Sink) error {
	o := paho.NewClientOptions().AddBroker(s.settings.Broker).SetClientID(s.clientID).
		SetCleanSession(false).SetAutoReconnect(true).SetConnectRetry(true).SetConnectRetryInterval(time.Second).
		SetOrderMatters(true).
		SetOnConnectHandler(func(c paho.Client) {
			for topic := range s.byTopic {
				tok := c.Subscribe(topic, 1, func(_ paho.Client, m paho.Message) { s.Receive(m.Topic(), m.Payload(), time.Now(), sink) })
				if tok.WaitTimeout(10*time.Second) && tok.Error() != nil {
					s.log.Error("guardtour subscribe", "topic", topic, "err", tok.Error())
				}
			}
			s.log.Info("guardtour subscribed", "topics", len(s.byTopic))
		})
	if s.settings.Username != "" {
		o.SetUsername(s.settings.Username).SetPassword(s.settings.Password)
	}
	c := paho.NewClient(o)
	c.Connect()
	<-ctx.Done()
	c.Disconnect(250)
	return nil
}

// Receive takes one message: each scan of a configured reader that is not a
// repeat becomes a checkpoint_visit event; the rest is counted and logged.
func (s *Streamer) Receive(topic string, payload []byte, now time.Time, sink devices.Sink) {
	s.mu.Lock()
	defer s.mu.Unlock()
	readers := s.byTopic[topic]
	var fields Fields
	if len(readers) > 0 {
		fields = readers[0].fields
	} else {
		fields = DefaultFields
	}
	scans, bad, err := fields.Parse(payload)
	if err != nil {
		s.scans.WithLabelValues(ResultBadPayload).Inc()
		s.once(topic, ResultBadPayload, "guardtour: payload dropped", "topic", topic, "err", err, "payload", preview(payload))
		return
	}
	for _, b := range bad {
		s.scans.WithLabelValues(ResultBadScan).Inc()
		s.once(topic, ResultBadScan, "guardtour: scan dropped (the others of the message are kept)", "topic", topic, "err", b.Error())
	}
	for _, sc := range scans {
		r := s.byReader[sc.Reader]
		if r == nil || r.topic != topic {
			s.scans.WithLabelValues(ResultUnknownReader).Inc()
			s.once(sc.Reader, ResultUnknownReader, "guardtour: scan by a reader that is not configured (guardtour.reader of a device) dropped",
				"topic", topic, "reader", sc.Reader, "checkpoint", sc.Checkpoint)
			continue
		}
		sink.Health(r.info.ID, nil)
		if prev, ok := r.last[sc.Checkpoint]; ok && absDur(sc.At.Sub(prev)) < RepeatWithin {
			s.scans.WithLabelValues(ResultRepeat).Inc()
			s.log.Info("guardtour: checkpoint scanned again within a minute: one visit", "reader", sc.Reader,
				"checkpoint", sc.Checkpoint, "first", prev, "again", sc.At)
			continue
		}
		r.last[sc.Checkpoint] = sc.At
		s.scans.WithLabelValues(ResultVisit).Inc()
		sink.Event(devices.Event{Device: r.info, Time: sc.At, Type: wire.EventCheckpointVisit, Source: sc.Checkpoint, Active: true,
			Text:  "checkpoint " + sc.Checkpoint + " scanned by reader " + sc.Reader,
			Attrs: map[string]string{"checkpoint": sc.Checkpoint, "reader": sc.Reader}})
	}
}

func (s *Streamer) once(who, why, msg string, args ...any) {
	if s.logged[who+"/"+why] {
		return
	}
	if len(s.logged) < 1000 { // bounded: a flood of made-up reader ids is counted, not remembered
		s.logged[who+"/"+why] = true
	}
	s.log.Warn(msg, args...)
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

func preview(b []byte) string {
	if len(b) > 120 {
		return string(b[:120]) + "…"
	}
	return string(b)
}
