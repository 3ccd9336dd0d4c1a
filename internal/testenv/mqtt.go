package testenv

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// MQTT returns the URL of the tests' MQTT broker (ESTATE_TEST_MQTT_URL, the
// mosquitto that `make test` starts), once it accepts connections.
func MQTT(t testing.TB) string {
	t.Helper()
	raw := os.Getenv("ESTATE_TEST_MQTT_URL")
	if raw == "" {
		missing(t, "MQTT broker (ESTATE_TEST_MQTT_URL)")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		t.Fatalf("ESTATE_TEST_MQTT_URL=%q is not a broker URL", raw)
	}
	conn, err := net.DialTimeout("tcp", u.Host, 2*time.Second)
	if err != nil {
		missing(t, fmt.Sprintf("MQTT broker at %s (%v)", raw, err))
	}
	conn.Close()
	return raw
}

// MosquittoTool returns the path of one of the mosquitto programs
// (mosquitto, mosquitto_pub, mosquitto_sub), which `make test` installs.
func MosquittoTool(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/usr/bin", "/usr/local/sbin"} {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	missing(t, name+" (Debian package mosquitto / mosquitto-clients)")
	return ""
}

// PrivateMosquitto starts a mosquitto of the test's own on addr (a free
// loopback port when empty), for tests that stop and restart the broker, and
// returns its URL and a function that stops it; the test's cleanup stops it too.
// Extra lines go into the listener's configuration (TLS files, …). On a port
// it drew itself it tries another one if mosquitto cannot bind (someone took
// the port in the meantime); a given addr is the test's to keep free.
func PrivateMosquitto(t testing.TB, addr string, listenerConf ...string) (brokerURL string, stop func()) {
	t.Helper()
	bin := MosquittoTool(t, "mosquitto")
	drawn := addr == ""
	for attempt := 1; ; attempt++ {
		if drawn {
			addr = FreeAddr(t)
		}
		url, stop, exited, err := startMosquitto(t, bin, addr, listenerConf)
		if err == nil {
			return url, stop
		}
		if !drawn || !exited || attempt == 3 {
			t.Fatal(err)
		}
		t.Logf("%v; trying another port", err)
	}
}

// startMosquitto starts one mosquitto on addr and waits until it accepts
// connections; exited says whether it stopped by itself (it could not bind).
func startMosquitto(t testing.TB, bin, addr string, listenerConf []string) (brokerURL string, stop func(), exited bool, err error) {
	t.Helper()
	_, port, _ := net.SplitHostPort(addr)
	dir := t.TempDir()
	conf := filepath.Join(dir, "mosquitto.conf")
	text := fmt.Sprintf("listener %s 127.0.0.1\n", port)
	for _, l := range listenerConf {
		text += l + "\n"
	}
	text += "allow_anonymous true\npersistence false\n"
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "-c", conf)
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start mosquitto: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		<-done
	}
	t.Cleanup(stop)
	deadline := time.Now().Add(5 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			conn.Close()
			return "tcp://" + addr, stop, false, nil
		}
		select {
		case <-done:
			return "", nil, true, fmt.Errorf("private mosquitto on %s exited: %s", addr, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			stop()
			return "", nil, false, fmt.Errorf("private mosquitto did not listen on %s: %v\n%s", addr, err, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// lockedBuffer collects a process's output while it runs.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
