// Package broker embeds an MQTT broker (github.com/mochi-mqtt/server/v2) for
// `estate demo`: on loopback, every client authenticated, and device users
// limited to the topics their profiles publish on. In production the gateway
// connects to the site's own broker (mosquitto, EMQX) instead.
package broker

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	devmqtt "github.com/estatehq/estate/devices/mqtt"
)

// Broker is a running embedded broker.
type Broker struct {
	server *mqtt.Server
	addr   string
	log    *slog.Logger
}

// Ledger is the authentication and authorisation of the configured users:
// gateway users may do anything; device users may publish and subscribe only
// on deviceFilters (the topics of the site's device profiles).
func Ledger(users []devmqtt.BrokerUser, deviceFilters []string) *auth.Ledger {
	l := &auth.Ledger{Users: auth.Users{}}
	allowed := auth.Filters{}
	for _, f := range deviceFilters {
		allowed[auth.RString(f)] = auth.ReadWrite
	}
	for _, u := range users {
		rule := auth.UserRule{Username: auth.RString(u.Username), Password: auth.RString(u.Password)}
		if u.Role != "gateway" {
			rule.ACL = allowed
			// A topic outside the user's filters falls through to the global
			// rules, which allow by default: deny it there.
			l.ACL = append(l.ACL, auth.ACLRule{Username: auth.RString(u.Username), Filters: auth.Filters{"#": auth.Deny}})
		}
		l.Users[u.Username] = rule
	}
	return l
}

// Start listens on the configured loopback address and serves until Close.
func Start(cfg devmqtt.EmbeddedBroker, deviceFilters []string, log *slog.Logger) (*Broker, error) {
	if len(cfg.Users) == 0 {
		return nil, errors.New("embedded broker: no users: every client must authenticate")
	}
	// mochi logs every connection at info; keep its warnings and errors.
	quiet := slog.New(levelFloor{log.Handler(), slog.LevelWarn})
	server := mqtt.New(&mqtt.Options{Logger: quiet, InlineClient: false})
	if err := server.AddHook(new(auth.Hook), &auth.Options{Ledger: Ledger(cfg.Users, deviceFilters)}); err != nil {
		return nil, fmt.Errorf("embedded broker: auth: %w", err)
	}
	if err := server.AddListener(listeners.NewTCP(listeners.Config{ID: listenerID, Address: cfg.Listen})); err != nil {
		return nil, fmt.Errorf("embedded broker: listen on %s: %w", cfg.Listen, err)
	}
	if err := server.Serve(); err != nil {
		_ = server.Close()
		return nil, fmt.Errorf("embedded broker: %w", err)
	}
	log.Info("embedded MQTT broker listening", "addr", cfg.Listen, "users", len(cfg.Users))
	return &Broker{server: server, addr: cfg.Listen, log: log}, nil
}

// Subscribed tells whether any client has subscribed to a filter matching
// topic (the demo's simulators wait for the gateway with it).
func (b *Broker) Subscribed(topic string) bool {
	s := b.server.Topics.Subscribers(topic)
	return len(s.Subscriptions) > 0 || len(s.Shared) > 0
}

// URL is where clients connect.
func (b *Broker) URL() string { return "tcp://" + b.addr }

// listenerID names the broker's one TCP listener.
const listenerID = "estate-tcp"

// Close stops listening, disconnects every client and stops the broker.
//
// mochi-mqtt's own Server.Close can deadlock: while closing a listener it
// lists that listener's clients under a read lock and takes the read lock a
// second time inside, so a client that disconnects at that moment (a write
// lock waiting in between) blocks both for ever. So the listener is closed
// first without touching its clients, the clients are disconnected here, and
// only then is the server closed, when it has no client left to list.
func (b *Broker) Close() error {
	b.server.Listeners.Close(listenerID, func(string) {})
	for _, cl := range b.server.Clients.GetAll() {
		_ = b.server.DisconnectClient(cl, packets.ErrServerShuttingDown)
	}
	done := make(chan struct{})
	go func() { b.server.Listeners.ClientsWg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		b.log.Warn("embedded MQTT broker: clients still connected after 5 s; stopping anyway")
	}
	err := b.server.Close()
	b.log.Info("embedded MQTT broker stopped")
	return err
}
