package mqtt

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/estatehq/estate/devices"
	"github.com/estatehq/estate/internal/config"
)

// Section is the top-level key of the broker settings in a configuration.
const Section = "mqtt"

// Settings are the configuration's mqtt: section: the gateway's connection to
// an MQTT broker, shared by every device of protocol mqtt, and (in the demo)
// the broker Estate embeds. The section is this package's: internal/config
// keeps it as written, ValidateConfig checks it and SettingsOf reads it.
type Settings struct {
	// Broker is tcp://host:port, ssl://host:port (TLS), ws:// or wss://.
	Broker   string `yaml:"broker"`
	ClientID string `yaml:"client_id"` // default estate-<gateway.id>
	Username string `yaml:"username"`
	// Password may be "${NAME}" (or "${NAME:-default}"), read from the environment.
	Password string `yaml:"password" secret:"env"`
	TLS      *TLS   `yaml:"tls"`
	// CleanSession false keeps the gateway's subscriptions and queued QoS 1/2
	// messages on the broker while it is away (a persistent session).
	CleanSession *bool `yaml:"clean_session"`
	// QoS is the default quality of service of subscriptions (0, 1, 2); a profile's
	// subscription may set its own.
	QoS            *int          `yaml:"qos"`
	KeepAlive      time.Duration `yaml:"keep_alive"`      // default 30s
	ConnectTimeout time.Duration `yaml:"connect_timeout"` // default 10s
	// MaxReconnectInterval caps the back-off between reconnect attempts.
	MaxReconnectInterval time.Duration `yaml:"max_reconnect_interval"` // default 30s
	// QueueSize bounds the messages received and not yet decoded; QueueBytes
	// bounds their payload bytes. Beyond either, messages are dropped and counted.
	QueueSize  int `yaml:"queue_size"`  // default 10000
	QueueBytes int `yaml:"queue_bytes"` // default 16 MiB
	// MaxPayload is the largest payload accepted, in bytes.
	MaxPayload int `yaml:"max_payload"` // default 65536
	// DeviceRate and DeviceBurst bound the messages per second one device may
	// send; a flood beyond them is dropped and counted for that device only.
	DeviceRate  float64 `yaml:"device_rate"`  // default 200
	DeviceBurst int     `yaml:"device_burst"` // default 400
	// StatusTopic is the gateway's own retained status ("online", and "offline"
	// as its last will); {site} and {gateway} are replaced.
	StatusTopic string `yaml:"status_topic"` // default estate/{site}/gateway/{gateway}/status
	// DeviceStatusTopic is the retained status the gateway publishes for each
	// device it bridges; {site}, {gateway} and {device} are replaced. "-" disables it.
	DeviceStatusTopic string `yaml:"device_status_topic"` // default estate/{site}/gateway/{gateway}/device/{device}/status
	// Embedded runs an MQTT broker inside `estate demo`.
	Embedded *EmbeddedBroker `yaml:"embedded"`
}

// TLS configures an encrypted broker connection.
type TLS struct {
	CAFile             string `yaml:"ca_file"`
	CertFile           string `yaml:"cert_file"`
	KeyFile            string `yaml:"key_file"`
	ServerName         string `yaml:"server_name"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
}

// EmbeddedBroker is the broker `estate demo` runs on loopback.
type EmbeddedBroker struct {
	Listen string       `yaml:"listen"`
	Users  []BrokerUser `yaml:"users"`
}

// BrokerUser may connect to the embedded broker. A device user may publish only
// under estate/{site}/; the gateway user may subscribe and publish anywhere.
type BrokerUser struct {
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	Role     string `yaml:"role"` // gateway or device
}

// Options are an MQTT device's own keys, beside the ones every device has:
// its mqtt: block.
type Options struct {
	MQTT *DeviceOptions `yaml:"mqtt"`
}

// DeviceOptions is how one MQTT device is addressed and watched.
type DeviceOptions struct {
	// TopicID is the device's name in its topics ({device}); default its id.
	TopicID string `yaml:"topic_id"`
	// Silence is how long the device may publish nothing before it is offline,
	// unless a retained status says it is online. Default the profile's.
	Silence time.Duration `yaml:"silence"`
	// EntrapmentAfter (elevators) is how long a car may hold a passenger stopped
	// with doors shut, or its alarm button pressed, before an entrapment is
	// raised. The elevator family's own key (entrapment_after beside the
	// device's other keys) says the same for any transport; this spelling
	// stays for the files that use it.
	EntrapmentAfter time.Duration `yaml:"entrapment_after"`
	// HeldOpenAfter (doors) is how long a door may stand open before it is
	// held open; like EntrapmentAfter, the access family's key for any transport.
	HeldOpenAfter time.Duration `yaml:"held_open_after"`
}

// Broker user roles.
var BrokerRoles = []string{"gateway", "device"}

// SettingsOf returns a configuration's broker settings with their defaults
// (validated by ValidateConfig when the configuration was loaded).
func SettingsOf(cfg *config.Config) (*Settings, error) {
	var m Settings
	if n := cfg.Section(Section); n != nil {
		// As ValidateConfig decoded it: strictly, with the password's ${NAME}.
		if ps := cfg.DecodeStrict(n, Section, &m); len(ps) > 0 {
			return nil, fmt.Errorf("mqtt section: %w", config.Problems(ps))
		}
	}
	m.applyDefaults(cfg.Gateway.ID)
	return &m, nil
}

func (m *Settings) applyDefaults(gatewayID string) {
	if m.ClientID == "" && gatewayID != "" {
		m.ClientID = "estate-" + gatewayID
	}
	if m.CleanSession == nil {
		t := true
		m.CleanSession = &t
	}
	if m.QoS == nil {
		q := 1
		m.QoS = &q
	}
	setDuration(&m.KeepAlive, 30*time.Second)
	setDuration(&m.ConnectTimeout, 10*time.Second)
	setDuration(&m.MaxReconnectInterval, 30*time.Second)
	setInt(&m.QueueSize, 10_000)
	setInt(&m.QueueBytes, 16<<20)
	setInt(&m.MaxPayload, 64<<10)
	if m.DeviceRate == 0 {
		m.DeviceRate = 200
	}
	setInt(&m.DeviceBurst, 400)
	if m.StatusTopic == "" {
		m.StatusTopic = "estate/{site}/gateway/{gateway}/status"
	}
	if m.DeviceStatusTopic == "" {
		m.DeviceStatusTopic = "estate/{site}/gateway/{gateway}/device/{device}/status"
	}
}

func setDuration(d *time.Duration, def time.Duration) {
	if *d == 0 {
		*d = def
	}
}

func setInt(i *int, def int) {
	if *i == 0 {
		*i = def
	}
}

// UsesMQTT reports whether any device speaks MQTT.
func UsesMQTT(cfg *config.Config) bool {
	for _, d := range cfg.Devices {
		if d.Protocol == Protocol {
			return true
		}
	}
	return false
}

// misplacedBlock is what a device of another protocol with an mqtt block is told.
const misplacedBlock = "only devices of protocol mqtt take an mqtt block (this one is %q)"

// validateOptions checks a device's mqtt block.
func validateOptions(cfg *config.Config, dev config.Device, path string) []config.Problem {
	o := devices.OptionsOf[Options](dev).MQTT
	if o == nil {
		return nil
	}
	var ps []config.Problem
	add := func(path, format string, args ...any) { ps = append(ps, cfg.Problemf(path, format, args...)) }
	p := path + ".mqtt"
	if o.TopicID != "" && strings.ContainsAny(o.TopicID, "/+#") {
		add(p+".topic_id", "%q must be one topic level without '/', '+' or '#'", o.TopicID)
	}
	if o.Silence < 0 {
		add(p+".silence", "must not be negative")
	}
	if o.EntrapmentAfter != 0 && dev.Family != "elevator" {
		add(p+".entrapment_after", "applies to elevators only")
	}
	if o.EntrapmentAfter < 0 {
		add(p+".entrapment_after", "must not be negative")
	}
	if o.HeldOpenAfter != 0 && dev.Family != "access" {
		add(p+".held_open_after", "applies to access control only")
	}
	if o.HeldOpenAfter < 0 {
		add(p+".held_open_after", "must not be negative")
	}
	return ps
}

// ValidateConfig checks the mqtt section, when the file has one or a device
// needs it, and claims it.
func ValidateConfig(c *config.Config) []config.Problem {
	n := c.Section(Section)
	if n == nil && !UsesMQTT(c) {
		return nil
	}
	var m Settings
	ps := c.DecodeStrict(n, Section, &m)
	m.applyDefaults(c.Gateway.ID)
	add := func(path, format string, args ...any) { ps = append(ps, c.Problemf(path, format, args...)) }
	if m.Broker == "" {
		add("mqtt.broker", "required: the broker's URL, such as tcp://127.0.0.1:1883 or ssl://broker:8883")
	} else if u, err := url.Parse(m.Broker); err != nil || u.Host == "" ||
		!slices.Contains([]string{"tcp", "mqtt", "ssl", "tls", "mqtts", "ws", "wss"}, u.Scheme) {
		add("mqtt.broker", "%q is not a broker URL (tcp://, ssl://, ws:// or wss:// with host:port)", m.Broker)
	}
	if m.ClientID == "" {
		add("mqtt.client_id", "required (default estate-<gateway.id> needs gateway.id)")
	} else if len(m.ClientID) > 65535 {
		add("mqtt.client_id", "too long")
	}
	if m.Password != "" && m.Username == "" {
		add("mqtt.username", "required when a password is given")
	}
	if m.TLS != nil {
		for _, f := range []struct{ path, file string }{
			{"mqtt.tls.ca_file", m.TLS.CAFile}, {"mqtt.tls.cert_file", m.TLS.CertFile}, {"mqtt.tls.key_file", m.TLS.KeyFile},
		} {
			if f.file == "" {
				continue
			}
			if _, err := os.Stat(c.Resolve(f.file)); err != nil {
				add(f.path, "cannot read %s", c.Resolve(f.file))
			}
		}
		if (m.TLS.CertFile == "") != (m.TLS.KeyFile == "") {
			add("mqtt.tls", "cert_file and key_file go together (a client certificate needs its key)")
		}
	}
	if q := *m.QoS; q < 0 || q > 2 {
		add("mqtt.qos", "must be 0, 1 or 2, got %d", q)
	}
	if m.KeepAlive < time.Second {
		add("mqtt.keep_alive", "must be at least 1s, got %s", m.KeepAlive)
	}
	if m.ConnectTimeout <= 0 {
		add("mqtt.connect_timeout", "must be positive")
	}
	if m.MaxReconnectInterval < 100*time.Millisecond {
		add("mqtt.max_reconnect_interval", "must be at least 100ms, got %s", m.MaxReconnectInterval)
	}
	if m.QueueSize < 1 || m.QueueSize > 10_000_000 {
		add("mqtt.queue_size", "must be between 1 and 10000000 messages, got %d", m.QueueSize)
	}
	if m.MaxPayload < 16 || m.MaxPayload > 256<<20 {
		add("mqtt.max_payload", "must be between 16 bytes and 256 MiB, got %d", m.MaxPayload)
	}
	if m.QueueBytes < m.MaxPayload {
		add("mqtt.queue_bytes", "must be at least max_payload (%d)", m.MaxPayload)
	}
	if m.DeviceRate <= 0 {
		add("mqtt.device_rate", "must be positive (messages per second per device)")
	}
	if m.DeviceBurst < 1 {
		add("mqtt.device_burst", "must be at least 1")
	}
	if strings.ContainsAny(m.StatusTopic, "+#") {
		add("mqtt.status_topic", "%q must not contain wildcards", m.StatusTopic)
	}
	if m.DeviceStatusTopic != "-" {
		if strings.ContainsAny(m.DeviceStatusTopic, "+#") {
			add("mqtt.device_status_topic", "%q must not contain wildcards", m.DeviceStatusTopic)
		} else if !strings.Contains(m.DeviceStatusTopic, "{device}") {
			add("mqtt.device_status_topic", "must contain {device} (or be \"-\" to publish none)")
		}
	}
	if e := m.Embedded; e != nil {
		if e.Listen == "" {
			add("mqtt.embedded.listen", "required: host:port to listen on, such as 127.0.0.1:8080")
		} else if _, _, err := net.SplitHostPort(e.Listen); err != nil {
			add("mqtt.embedded.listen", "%q is not host:port", e.Listen)
		} else if host, _, _ := net.SplitHostPort(e.Listen); host != "127.0.0.1" && host != "localhost" && host != "::1" {
			add("mqtt.embedded.listen", "the embedded broker is for the demo and listens on loopback only, not %q", host)
		}
		if len(e.Users) == 0 {
			add("mqtt.embedded.users", "at least one user is required: the embedded broker authenticates every client")
		}
		seen := map[string]bool{}
		for i, u := range e.Users {
			p := fmt.Sprintf("mqtt.embedded.users[%d]", i)
			if u.Username == "" {
				add(p+".username", "required")
			} else if seen[u.Username] {
				add(p+".username", "%q is given twice", u.Username)
			}
			seen[u.Username] = true
			if len(u.Password) < 8 {
				add(p+".password", "must be at least 8 characters")
			}
			if !slices.Contains(BrokerRoles, u.Role) {
				add(p+".role", "%q is not a broker role; use one of %s", u.Role, strings.Join(BrokerRoles, ", "))
			}
		}
	}
	return ps
}

// TopicID is a device's name in its topics ({device}): its mqtt.topic_id, or its id.
func TopicID(dev config.Device) string {
	if o := devices.OptionsOf[Options](dev).MQTT; o != nil && o.TopicID != "" {
		return o.TopicID
	}
	return dev.ID
}
