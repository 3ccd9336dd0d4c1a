package soak

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// portPool hands out loopback addresses that nothing listens on, drawn below
// the kernel's ephemeral range (as internal/testenv does) so that outgoing
// connections never take them between the draw and the listen.
type portPool struct {
	mu   sync.Mutex
	rnd  *rand.Rand
	used map[int]bool
}

func newPortPool(seed uint64) *portPool {
	return &portPool{rnd: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), used: map[int]bool{}}
}

// next is a free 127.0.0.1:port; with gap, port+gap is free too (InfluxDB's RPC port).
func (p *portPool) nextWithGap(gap int) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		port := 20000 + p.rnd.IntN(11000)
		if p.used[port] || gap != 0 && p.used[port+gap] {
			continue
		}
		if !free(port) || gap != 0 && !free(port+gap) {
			continue
		}
		p.used[port] = true
		if gap != 0 {
			p.used[port+gap] = true
		}
		return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	}
}

func (p *portPool) next() string { return p.nextWithGap(0) }

func free(port int) bool {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	_ = ln.Close()
	return true
}

// child is one of the soak's processes (a gateway, a desk): started, killed
// with SIGKILL and started again, each life logged to its own file and its
// RSS and goroutines sampled.
type child struct {
	name    string
	metrics string // URL of its /metrics
	start   func(log io.Writer) (*exec.Cmd, error)
	dir     string

	mu     sync.Mutex
	cmd    *exec.Cmd
	done   chan struct{}
	lives  int
	kills  int
	exited []string // unexpected exits

	samples []sample
	// pollErrors are, per life, the gateway's failed polls by device
	// (estate_gateway_polls_total{result="error"}) at the last sample.
	pollErrors map[int]map[string]float64
}

// sample is one measurement of a process.
type sample struct {
	At         time.Time
	Life       int
	RSS        int64 // bytes
	Goroutines int
}

func (c *child) Start() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lives++
	logf, err := os.Create(filepath.Join(c.dir, fmt.Sprintf("%s-%d.log", c.name, c.lives)))
	if err != nil {
		return err
	}
	cmd, err := c.start(logf)
	if err != nil {
		logf.Close()
		return err
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start %s: %w", c.name, err)
	}
	done := make(chan struct{})
	life := c.lives
	go func() {
		err := cmd.Wait()
		logf.Close()
		c.mu.Lock()
		if c.cmd == cmd && err != nil && !killedBySignal(err) {
			c.exited = append(c.exited, fmt.Sprintf("life %d: %v", life, err))
		}
		c.mu.Unlock()
		close(done)
	}()
	c.cmd, c.done = cmd, done
	return nil
}

func killedBySignal(err error) bool {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return true
		}
	}
	return false
}

// Kill sends SIGKILL and waits until the process is gone.
func (c *child) Kill() {
	c.mu.Lock()
	cmd, done := c.cmd, c.done
	c.cmd = nil
	c.kills++
	c.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-done
}

// Stop ends the process with SIGTERM (the gateway flushes its telemetry) and
// waits up to grace before killing it.
func (c *child) Stop(grace time.Duration) error {
	c.mu.Lock()
	cmd, done := c.cmd, c.done
	c.cmd = nil
	c.mu.Unlock()
	if cmd == nil {
		return nil
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
		if s := cmd.ProcessState; s != nil && !s.Success() {
			return fmt.Errorf("%s exited with %v", c.name, s)
		}
		return nil
	case <-time.After(grace):
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-done
		return fmt.Errorf("%s did not stop within %v of SIGTERM; killed", c.name, grace)
	}
}

// exitedEarly says whether the current life ended by itself.
func (c *child) exitedEarly() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done == nil {
		return false
	}
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

func (c *child) pid() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cmd == nil || c.cmd.Process == nil {
		return 0
	}
	return c.cmd.Process.Pid
}

// Sample measures the process: RSS from /proc, goroutines from /metrics.
func (c *child) Sample(client *http.Client) {
	pid := c.pid()
	if pid == 0 {
		return
	}
	rss := procRSS(pid)
	g := -1
	var errs map[string]float64
	if m, err := scrape(client, c.metrics); err == nil {
		if v, ok := m["go_goroutines"]; ok {
			g = int(v)
		}
		for k, v := range m {
			if rest, ok := strings.CutPrefix(k, `estate_gateway_polls_total{device="`); ok && strings.HasSuffix(rest, `",result="error"}`) {
				if errs == nil {
					errs = map[string]float64{}
				}
				errs[strings.TrimSuffix(rest, `",result="error"}`)] = v
			}
		}
	}
	if rss <= 0 || g < 0 {
		return // down or starting
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.samples = append(c.samples, sample{At: time.Now(), Life: c.lives, RSS: rss, Goroutines: g})
	if errs != nil {
		if c.pollErrors == nil {
			c.pollErrors = map[int]map[string]float64{}
		}
		c.pollErrors[c.lives] = errs
	}
}

// failedPolls is, by device, the polls the gateway counted as failed over
// all its lives (up to each life's last sample).
func (c *child) failedPolls() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int{}
	for _, errs := range c.pollErrors {
		for d, v := range errs {
			out[d] += int(v)
		}
	}
	return out
}

func procRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}

// scrape reads a Prometheus text page into series → value (labels kept in
// the key as written).
func scrape(client *http.Client, url string) (map[string]float64, error) {
	resp, err := client.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", url, resp.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		out[line[:i]] = v
	}
	return out, sc.Err()
}

// sumSeries adds the values of every series of a metric whose labels contain
// all of want (`name{…}` or `name`).
func sumSeries(m map[string]float64, name string, want ...string) float64 {
	var sum float64
	for k, v := range m {
		if k != name && !strings.HasPrefix(k, name+"{") {
			continue
		}
		ok := true
		for _, w := range want {
			if !strings.Contains(k, w) {
				ok = false
			}
		}
		if ok {
			sum += v
		}
	}
	return sum
}

// influx is the soak's own InfluxDB, run by deploy/influxdb/influxdb.sh on
// ports of its own, so that killing it touches nobody else's.
type influx struct {
	script, dir string
	port        int
	URL         string
	kills       int
}

func (x *influx) run(ctx context.Context, cmd string) error {
	c := exec.CommandContext(ctx, "bash", x.script, cmd, "--port", strconv.Itoa(x.port), "--dir", x.dir, "--db", "estate")
	out, err := c.CombinedOutput()
	if err != nil {
		return fmt.Errorf("influxdb.sh %s: %w\n%s", cmd, err, out)
	}
	return nil
}

func (x *influx) Start(ctx context.Context) error {
	client := &http.Client{Timeout: 300 * time.Millisecond}
	if resp, err := client.Get(x.URL + "/ping"); err == nil {
		resp.Body.Close()
		if _, err := os.Stat(filepath.Join(x.dir, "influxd.pid")); err != nil {
			return fmt.Errorf("port %d answers before the soak's InfluxDB started: another process took it", x.port)
		}
	}
	return x.run(ctx, "start")
}

// Kill ends influxd with SIGKILL (its write-ahead log must keep every write
// it acknowledged) and waits until it is gone.
func (x *influx) Kill() error {
	b, err := os.ReadFile(filepath.Join(x.dir, "influxd.pid"))
	if err != nil {
		return err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return err
	}
	x.kills++
	_ = syscall.Kill(pid, syscall.SIGKILL)
	for range 100 {
		if syscall.Kill(pid, 0) != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	return os.Remove(filepath.Join(x.dir, "influxd.pid"))
}

func (x *influx) Stop() error { return x.run(context.Background(), "stop") }

// mosquitto is the soak's own broker (Debian's mosquitto).
type mosquitto struct {
	addr string
	cmd  *exec.Cmd
	done chan struct{}
}

func startMosquitto(dir, addr string) (*mosquitto, error) {
	bin := ""
	for _, p := range []string{"mosquitto", "/usr/sbin/mosquitto", "/usr/bin/mosquitto", "/usr/local/sbin/mosquitto"} {
		if lp, err := exec.LookPath(p); err == nil {
			bin = lp
			break
		}
	}
	if bin == "" {
		return nil, errors.New("mosquitto not found (Debian package mosquitto; deploy/mosquitto/test-start.sh installs it)")
	}
	_, port, _ := net.SplitHostPort(addr)
	conf := filepath.Join(dir, "mosquitto.conf")
	// Persistent sessions (the gateway's clean_session: false) queue QoS 1
	// messages while the gateway is away; the queue is larger than any outage
	// of the soak can fill.
	text := fmt.Sprintf("listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 100000\nmax_inflight_messages 100\n", port)
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "mosquitto.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-c", conf)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	m := &mosquitto{addr: addr, cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); logf.Close(); close(m.done) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			conn.Close()
			return m, nil
		}
		select {
		case <-m.done:
			return nil, fmt.Errorf("mosquitto on %s exited at start; see %s", addr, logf.Name())
		default:
		}
		if time.Now().After(deadline) {
			m.Stop()
			return nil, fmt.Errorf("mosquitto did not listen on %s", addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (m *mosquitto) Stop() {
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.done:
	case <-time.After(5 * time.Second):
		_ = m.cmd.Process.Kill()
		<-m.done
	}
}
