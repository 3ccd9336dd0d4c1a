package mqtt

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/estatehq/estate/internal/testenv"
)

func randomID(t testing.TB) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// runStreamer runs s until the test ends and waits for its first connection.
func runStreamer(t *testing.T, s *Streamer, sink *recorder) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Run(ctx, sink) }()
	t.Cleanup(func() { cancel(); <-done })
	waitSubscribed(t, s, 0)
}

// waitSubscribed waits until the streamer has subscribed on a connection after
// the first `after` ones: connected is not enough, a message published
// between the connection and the broker's SUBACK is lost.
func waitSubscribed(t *testing.T, s *Streamer, after int64) {
	t.Helper()
	waitUntil(t, "the streamer to connect and subscribe", 15*time.Second, func() bool {
		return s.connected.Load() && s.subscribed.Load() > after
	})
}

func waitUntil(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// retained reads the retained message of a topic with a fresh subscriber.
func retained(t *testing.T, broker, topic string) string {
	t.Helper()
	got := make(chan string, 1)
	c := paho.NewClient(paho.NewClientOptions().AddBroker(broker).SetClientID("probe-" + randomID(t)))
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("probe connect: %v", tok.Error())
	}
	defer c.Disconnect(100)
	c.Subscribe(topic, 1, func(_ paho.Client, m paho.Message) {
		select {
		case got <- string(m.Payload()):
		default:
		}
	})
	select {
	case s := <-got:
		return s
	case <-time.After(2 * time.Second):
		return ""
	}
}

func hostPort(t *testing.T, broker string) (string, string) {
	u, err := url.Parse(broker)
	if err != nil {
		t.Fatal(err)
	}
	return u.Hostname(), u.Port()
}

// mosquittoPub publishes with Debian's mosquitto_pub: a third-party client.
func mosquittoPub(t *testing.T, broker string, args ...string) {
	t.Helper()
	host, port := hostPort(t, broker)
	out, err := exec.Command(testenv.MosquittoTool(t, "mosquitto_pub"), append([]string{"-h", host, "-p", port, "-q", "1"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("mosquitto_pub %v: %v\n%s", args, err, out)
	}
}

func TestMosquittoEndToEnd(t *testing.T) {
	broker := testenv.MQTT(t)
	site := "it-" + randomID(t)
	cfg := testConfigAt(t, site, "broker: "+broker+"\nclient_id: estate-test-"+randomID(t), threeDevices("e-"))
	s := newTestStreamer(t, cfg)
	sink := newRecorder()
	runStreamer(t, s, sink)
	gwStatus := "estate/" + site + "/gateway/gw1/status"
	if got := retained(t, broker, gwStatus); got != "online" {
		t.Fatalf("gateway status %q, want retained online", got)
	}

	// An elevator box (Estate's publisher, as the simulator uses it): car
	// stopped between floors with a passenger, doors shut.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	lift, err := Dial(ctx, s.devs[0].profile, PublisherOptions{Broker: broker, ClientID: "lift-" + randomID(t), Site: site, TopicID: "e-lift-1", QoS: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer lift.Close()
	if err := lift.State(ctx, map[string]float64{"floor": 3, "direction": 0, "running": 0, "door_open": 0, "door_zone": 0, "passenger": 1}); err != nil {
		t.Fatal(err)
	}
	sink.waitFor(t, "the inferred entrapment", 5*time.Second, func(r *recorder) bool {
		_, ok := r.event("e-lift-1", "entrapment", true)
		return ok
	})
	if err := lift.Code(ctx, "monarch-nice3000", "Err48", ""); err != nil {
		t.Fatal(err)
	}

	// A door controller and a ZKTeco panel, spoken for by mosquitto_pub.
	mosquittoPub(t, broker, "-t", "estate/"+site+"/access/e-ctl-405419896/event", "-m", `{"event":{"reason":38,"door":1}}`)
	mosquittoPub(t, broker, "-t", "estate/"+site+"/access/e-ctl-405419896/event", "-m", `{"event":{"reason":`)
	mosquittoPub(t, broker, "-t", "spBv1.0/"+site+"/NBIRTH/e-zk-1", "-m", "")
	mosquittoPub(t, broker, "-t", "zk/"+site+"/e-zk-1/rtlog", "-m", `{"event":102,"door":4}`)
	sink.waitFor(t, "door and panel events", 5*time.Second, func(r *recorder) bool {
		_, forced := r.event("e-door-1", "door_forced", true)
		_, zk := r.event("e-zk-1", "door_forced", true)
		_, fault := r.event("e-lift-1", "fault", true)
		return forced && zk && fault
	})
	waitUntil(t, "the malformed event to be counted", 5*time.Second, func() bool {
		return testutil.ToFloat64(s.m.bad.WithLabelValues("e-door-1", reasonMalformed)) > 0
	})

	// A box that dies: mosquitto_sub holds a connection with a last will on the
	// lift's status topic and is killed; the broker publishes the will.
	// It is killed only once the broker holds its session (and so its will):
	// it has printed the retained message of the topic it subscribed to.
	host, port := hostPort(t, broker)
	readyTopic := "nothing/" + site
	mosquittoPub(t, broker, "-t", readyTopic, "-r", "-m", "ready")
	t.Cleanup(func() { mosquittoPub(t, broker, "-t", readyTopic, "-r", "-n") }) // no retained litter on the shared broker
	will := exec.Command(testenv.MosquittoTool(t, "mosquitto_sub"), "-h", host, "-p", port, "-t", readyTopic,
		"--will-topic", "estate/"+site+"/elevator/e-lift-1/status", "--will-payload", "offline", "--will-retain", "--will-qos", "1")
	subOut, err := will.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := will.Start(); err != nil {
		t.Fatal(err)
	}
	connected := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(subOut).ReadString('\n')
		connected <- line
	}()
	select {
	case line := <-connected:
		if strings.TrimSpace(line) != "ready" {
			t.Fatalf("mosquitto_sub printed %q, want the retained ready", line)
		}
	case <-time.After(10 * time.Second):
		_ = will.Process.Kill()
		t.Fatal("mosquitto_sub did not connect and subscribe within 10 s")
	}
	_ = will.Process.Kill()
	_ = will.Wait()
	sink.waitFor(t, "the lift offline by its last will", 5*time.Second, func(r *recorder) bool {
		e, ok := r.event("e-lift-1", EventOffline, true)
		return ok && r.health["e-lift-1"] != nil && e.Text != ""
	})
	bridged := "estate/" + site + "/gateway/gw1/device/e-lift-1/status"
	waitUntil(t, "the bridged device status", 5*time.Second, func() bool { return retained(t, broker, bridged) == "offline" })

	// Data from the box again brings it back.
	if err := lift.State(ctx, map[string]float64{"floor": 4}); err != nil {
		t.Fatal(err)
	}
	sink.waitFor(t, "the lift back online", 5*time.Second, func(r *recorder) bool {
		return r.health["e-lift-1"] == nil
	})
}

func TestGatewayWillAndCleanOffline(t *testing.T) {
	broker := testenv.MQTT(t)
	site := "gw-" + randomID(t)
	cfg := testConfigAt(t, site, "broker: "+broker, threeDevices("w-"))
	s := newTestStreamer(t, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Run(ctx, newRecorder()) }()
	waitSubscribed(t, s, 0)
	topic := fmt.Sprintf("estate/%s/gateway/gw1/status", site)
	if got := retained(t, broker, topic); got != "online" {
		t.Fatalf("status %q", got)
	}
	cancel()
	<-done
	if got := retained(t, broker, topic); got != "offline" {
		t.Fatalf("status after a clean stop %q, want offline", got)
	}
}

func TestReconnectResubscribes(t *testing.T) {
	addr := testenv.FreeAddr(t)
	broker, stop := testenv.PrivateMosquitto(t, addr)
	cfg := testConfig(t, "broker: "+broker+"\nmax_reconnect_interval: 300ms", threeDevices("c-"))
	s := newTestStreamer(t, cfg)
	sink := newRecorder()
	runStreamer(t, s, sink)
	connects := testutil.ToFloat64(s.m.connects)
	subscriptions := s.subscribed.Load()

	mosquittoPub(t, broker, "-t", "estate/s1/elevator/c-lift-1/floor", "-m", "1")
	sink.waitFor(t, "floor 1", 5*time.Second, func(r *recorder) bool { v, _ := r.value("c-lift-1", "floor"); return v == 1 })

	stop()
	waitUntil(t, "the loss to be noticed", 10*time.Second, func() bool { return !s.connected.Load() })
	testenv.PrivateMosquitto(t, addr)
	waitSubscribed(t, s, subscriptions)
	if testutil.ToFloat64(s.m.connects) <= connects {
		t.Fatal("no reconnection counted")
	}
	// A fresh broker knows no subscriptions: the gateway must have made them again.
	waitUntil(t, "resubscription", 5*time.Second, func() bool {
		mosquittoPub(t, broker, "-t", "estate/s1/elevator/c-lift-1/floor", "-m", "2")
		sink.mu.Lock()
		defer sink.mu.Unlock()
		v, _ := sink.value("c-lift-1", "floor")
		return v == 2
	})
}

// TestPersistentSession: with clean_session false the broker keeps the
// gateway's subscriptions and QoS 1 messages while it is away, and delivers
// them when it is back.
func TestPersistentSession(t *testing.T) {
	broker := testenv.MQTT(t)
	site := "ps-" + randomID(t)
	cfg := testConfigAt(t, site, "broker: "+broker+"\nclient_id: estate-ps-"+randomID(t)+"\nclean_session: false", threeDevices("ps-"))

	first := newTestStreamer(t, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = first.Run(ctx, newRecorder()) }()
	// Connected is not yet subscribed: the broker keeps only subscriptions it granted.
	waitSubscribed(t, first, 0)
	cancel()
	<-done

	mosquittoPub(t, broker, "-t", "estate/"+site+"/elevator/ps-lift-1/floor", "-m", "21") // while the gateway is away

	second := newTestStreamer(t, cfg)
	sink := newRecorder()
	runStreamer(t, second, sink)
	sink.waitFor(t, "the message published while away", 5*time.Second, func(r *recorder) bool {
		v, _ := r.value("ps-lift-1", "floor")
		return v == 21
	})
}
