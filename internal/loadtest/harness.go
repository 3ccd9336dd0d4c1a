// Package loadtest runs desk replicas as real `estate desk` processes on one
// PostgreSQL and drives them over the wire protocol: the replica tests
// (event stream across replicas, SIGKILL and resume, shared sessions, login
// limits and escalations) and the hundred-gateway load test with its figures
// (heartbeats/s, alarm-action and ticket-creation latency, event-stream
// delay, PostgreSQL connections, CPU per replica). The simulated gateways are
// goroutines speaking the gateways' HTTP protocol (gateway/deskclient,
// internal/wire), not gateway processes: a gateway process would add its
// device polling, which is not what loads the desk.
package loadtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/crypto/bcrypt"

	"github.com/estatehq/estate/internal/testenv"
)

// Binary builds cmd/estate once per test process and returns its path. A
// test built with -race gets a desk built with -race (which also reuses the
// packages the test build compiled). RemoveBinary deletes it (TestMain).
func Binary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() { binPath, binErr = build() })
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

func build() (string, error) {
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "estate-loadtest-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "estate")
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	args = append(args, "./cmd/estate")
	gobin, err := exec.LookPath("go")
	if err != nil {
		// go test runs with the toolchain's own go, whether or not it is on PATH.
		gobin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	cmd := exec.Command(gobin, args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false")
	if out, err := cmd.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("go build ./cmd/estate: %v\n%s", err, out)
	}
	return bin, nil
}

// RemoveBinary deletes what Binary built.
func RemoveBinary() {
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("loadtest: no go.mod above the working directory")
		}
		dir = parent
	}
}

// Replica is one `estate desk` process.
type Replica struct {
	Name string
	URL  string // http://127.0.0.1:port
	cmd  *exec.Cmd
	log  *syncBuffer
	done chan struct{}
}

// StartReplica starts `estate desk --config config` and returns once its
// /healthz answers. The process is killed when the test ends, if it still runs.
func StartReplica(t testing.TB, bin, config, name, listen string) *Replica {
	t.Helper()
	r := &Replica{Name: name, URL: "http://" + listen, log: &syncBuffer{}, done: make(chan struct{})}
	r.cmd = exec.Command(bin, "desk", "--config", config, "--log-level", "warn")
	r.cmd.Stdout, r.cmd.Stderr = r.log, r.log
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { _ = r.cmd.Wait(); close(r.done) }()
	t.Cleanup(func() {
		r.Kill()
		if t.Failed() {
			t.Logf("%s's log:\n%s", name, r.log.String())
		}
	})
	deadline := time.Now().Add(2 * time.Minute)
	client := &http.Client{Timeout: time.Second}
	for {
		select {
		case <-r.done:
			t.Fatalf("%s exited at start:\n%s", name, r.log.String())
		default:
		}
		if resp, err := client.Get(r.URL + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return r
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not answer /healthz after 2 minutes:\n%s", name, r.log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Pid is the process id.
func (r *Replica) Pid() int { return r.cmd.Process.Pid }

// Kill ends the process with SIGKILL (nothing of it runs after) and waits for it.
func (r *Replica) Kill() {
	select {
	case <-r.done:
		return
	default:
	}
	_ = r.cmd.Process.Signal(syscall.SIGKILL)
	<-r.done
}

// Log is what the process wrote.
func (r *Replica) Log() string { return r.log.String() }

// CPU is the processor time the process has used (user + system), read
// from /proc/<pid>/stat.
func (r *Replica) CPU() (time.Duration, error) { return processCPU(r.Pid()) }

// clockTick is the kernel's USER_HZ, the unit of /proc/<pid>/stat's times: 100 on every Linux.
const clockTick = 100

func processCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; the fields after its ")" are fixed.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	// Fields 14 and 15 (utime, stime), counted from the state (field 3) at index 0.
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: utime %q stime %q", pid, f[11], f[12])
	}
	return time.Duration(utime+stime) * time.Second / clockTick, nil
}

// Metric reads one series' value from the replica's /metrics (the sum over
// its labels when there are several; 0 when absent).
func (r *Replica) Metric(name string) (float64, error) {
	resp, err := http.Get(r.URL + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var total float64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name) {
			continue
		}
		rest := line[len(name):]
		if rest == "" || (rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %q", name, line)
		}
		total += v
	}
	return total, sc.Err()
}

// Event is one Server-Sent Event a console received.
type Event struct {
	ID       int64
	Type     string
	TicketID int64
	Site     string
	Data     string
	Received time.Time
	Replica  string // which replica's stream carried it
}

// Console follows GET /api/v1/events as the web console does: it reads the
// stream of one replica and, when the stream ends (the replica died or
// ended it), connects to the next replica in its list with Last-Event-ID,
// as a browser behind a load balancer would.
type Console struct {
	token    string
	replicas []*Replica

	mu       sync.Mutex
	events   []Event
	on       int // index of the replica it reads now
	resumed  int // reconnections
	lastErr  error
	statuses []int
	opened   chan struct{}
	stopped  chan struct{}
}

// OpenConsole starts a console on replicas[0] at the current end of the
// stream (no history) or, with after >= 0, after that event id.
func OpenConsole(ctx context.Context, token string, after int64, replicas ...*Replica) *Console {
	c := &Console{token: token, replicas: replicas, opened: make(chan struct{}), stopped: make(chan struct{})}
	go c.run(ctx, after)
	return c
}

// Opened is closed once the first stream answered (its "retry:" line read).
func (c *Console) Opened() <-chan struct{} { return c.opened }

// Stopped is closed when the console gave up (ctx ended, or a stream was refused).
func (c *Console) Stopped() <-chan struct{} { return c.stopped }

func (c *Console) run(ctx context.Context, after int64) {
	defer close(c.stopped)
	opened := false
	for ctx.Err() == nil {
		c.mu.Lock()
		r := c.replicas[c.on]
		c.mu.Unlock()
		last, status, err := c.read(ctx, r, after, func() {
			if !opened {
				opened = true
				close(c.opened)
			}
		})
		c.mu.Lock()
		c.statuses = append(c.statuses, status)
		c.lastErr = err
		if last > after {
			after = last
		}
		if status != 0 && status != http.StatusOK {
			c.mu.Unlock()
			return // refused (a logged-out session): a browser would show the login
		}
		if status == 0 || err != nil {
			// The replica is gone: the next one, as a load balancer would choose.
			c.on = (c.on + 1) % len(c.replicas)
		}
		c.resumed++
		c.mu.Unlock()
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// read follows one stream until it ends; it returns the last event id read.
func (c *Console) read(ctx context.Context, r *Replica, after int64, open func()) (int64, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.URL+"/api/v1/events", nil)
	if err != nil {
		return after, 0, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if after >= 0 {
		req.Header.Set("Last-Event-ID", strconv.FormatInt(after, 10))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return after, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, resp.Body)
		return after, resp.StatusCode, nil
	}
	br := bufio.NewReader(resp.Body)
	var e Event
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return after, http.StatusOK, err
		}
		line = strings.TrimRight(line, "\r\n")
		switch {
		case strings.HasPrefix(line, "retry:"):
			open()
		case strings.HasPrefix(line, "id: "):
			e.ID, _ = strconv.ParseInt(line[len("id: "):], 10, 64)
		case strings.HasPrefix(line, "event: "):
			e.Type = line[len("event: "):]
		case strings.HasPrefix(line, "data: "):
			e.Data = line[len("data: "):]
		case line == "" && e.ID != 0:
			var tk struct {
				ID   int64  `json:"id"`
				Site string `json:"site"`
			}
			_ = json.Unmarshal([]byte(e.Data), &tk)
			e.TicketID, e.Site, e.Received, e.Replica = tk.ID, tk.Site, time.Now(), r.Name
			c.mu.Lock()
			c.events = append(c.events, e)
			c.mu.Unlock()
			after = e.ID
			e = Event{}
		}
	}
}

// Events is a copy of what the console received so far.
func (c *Console) Events() []Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Event(nil), c.events...)
}

// Resumed is how many times the console connected again.
func (c *Console) Resumed() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.resumed
}

// Statuses are the status codes of the console's streams (0: no answer).
func (c *Console) Statuses() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]int(nil), c.statuses...)
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	// A desk under load logs little at warn; the cap keeps a runaway log bounded.
	if b.b.Len() > 4<<20 {
		return len(p), nil
	}
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// LoadDesk is two replicas for a load run, on a database of the test's own,
// with a gateway token per site and an all-sites control-room account whose
// sessions the consoles use.
type LoadDesk struct {
	DB       *pgx.Conn
	Replicas []*Replica
	Load     Load // Gateways, TokenOf and ConsoleToken set
}

// StartLoadDesk starts replicas `estate desk` processes for gateways sites.
func StartLoadDesk(t testing.TB, gateways, replicas int) *LoadDesk {
	t.Helper()
	pgURL := testenv.PostgreSQL(t)
	bin := Binary(t)
	tokenOf := func(i int) string { return fmt.Sprintf("load-gateway-token-%03d", i) }
	const password = "control room watch"
	hash, err := bcrypt.GenerateFromPassword([]byte(password), 10)
	if err != nil {
		t.Fatal(err)
	}
	cfg := DeskConfig{Database: pgURL, Staff: []Staff{{"watcher", "control_room", "", string(hash)}}}
	for i := range gateways {
		cfg.Tokens = append(cfg.Tokens, Token{"gw-" + SiteName(i), tokenOf(i), "gateway", SiteName(i)})
	}
	dir := t.TempDir()
	d := &LoadDesk{Load: Load{Gateways: gateways, TokenOf: tokenOf, ConsoleUser: "watcher", ConsolePassword: password}}
	d.Replicas = make([]*Replica, replicas)
	var wg sync.WaitGroup
	for i := range replicas {
		name, listen := fmt.Sprintf("replica-%d", i+1), testenv.FreeAddr(t)
		path := cfg.Write(t, dir, name, listen)
		wg.Go(func() { d.Replicas[i] = StartReplica(t, bin, path, name, listen) })
	}
	wg.Wait()
	for _, r := range d.Replicas {
		if r == nil {
			t.FailNow()
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	db, err := pgx.Connect(ctx, pgURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close(context.Background()) })
	d.DB = db
	return d
}
