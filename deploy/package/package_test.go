// Package pkgtest builds Estate's .deb as `make package` does, installs it
// on this machine with dpkg, and checks what an operator gets: the estate
// user, the conffiles and the secrets file, units that systemd-analyze
// accepts, and an installed binary that checks and runs the configurations
// of /etc/estate with the profiles of /usr/share/estate. It needs root and
// dpkg (CI has both, and there it fails without them); it purges the package
// at the end.
package pkgtest

import (
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// requireTools fails in CI and skips elsewhere when the machine cannot run
// the test.
func requireTools(t *testing.T) {
	t.Helper()
	missing := ""
	switch {
	case os.Geteuid() != 0:
		missing = "root (dpkg -i installs system-wide)"
	default:
		for _, tool := range []string{"dpkg", "dpkg-deb", "rpm", "systemd-analyze", "make"} {
			if _, err := exec.LookPath(tool); err != nil {
				missing = tool + " (deploy/ensure-tools.sh installs it)"
				break
			}
		}
	}
	if missing == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("the package test needs %s", missing)
	}
	t.Skipf("the package test needs %s", missing)
}

// lockMachine serialises package tests on one machine: dpkg does not wait for
// its own lock, and two runs would install over each other.
func lockMachine(t *testing.T) {
	t.Helper()
	f, err := os.OpenFile("/run/lock/estate-package-test.lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); _ = f.Close() })
}

func run(t *testing.T, timeout time.Duration, dir string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestDebianPackage(t *testing.T) {
	requireTools(t)
	lockMachine(t)
	if out, err := exec.Command("dpkg-query", "-W", "-f=${Status}", "estate").CombinedOutput(); err == nil && strings.Contains(string(out), "installed") {
		t.Fatalf("a package estate is installed on this machine already (%s); the test would replace and purge it", out)
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dist := t.TempDir()
	t.Log(run(t, 15*time.Minute, root, "make", "package", "DIST="+dist))
	debs, _ := filepath.Glob(filepath.Join(dist, "estate_*.deb"))
	rpms, _ := filepath.Glob(filepath.Join(dist, "estate-*.rpm"))
	if len(debs) != 1 || len(rpms) != 1 {
		t.Fatalf("make package made %v and %v, want one .deb and one .rpm", debs, rpms)
	}
	conffiles := run(t, time.Minute, root, "sh", "-c", "dpkg-deb --ctrl-tarfile "+debs[0]+" | tar -xO ./conffiles")
	for _, f := range []string{"/etc/estate/desk.yaml", "/etc/estate/sites/sunrise-garden.yaml", "/etc/estate/demo.yaml"} {
		if !strings.Contains(conffiles, f+"\n") {
			t.Errorf("%s is not a conffile:\n%s", f, conffiles)
		}
	}

	// The .rpm holds the same: conffiles marked %config(noreplace) ("cn"),
	// the binary, the units and the same maintainer scripts.
	rpmFiles := run(t, time.Minute, root, "rpm", "-qp", "--qf", "[%{FILEFLAGS:fflags} %{FILENAMES}\n]", rpms[0])
	for _, want := range []string{"cn /etc/estate/desk.yaml\n", "cn /etc/estate/sites/sunrise-garden.yaml\n", "cn /etc/estate/demo.yaml\n",
		" /usr/bin/estate\n", " /usr/lib/systemd/system/estate-gateway@.service\n", " /usr/share/estate/profiles/demo-prepaid-meter.yaml\n"} {
		if !strings.Contains(rpmFiles, want) {
			t.Errorf("the rpm lacks %q:\n%s", want, rpmFiles)
		}
	}
	if scripts := run(t, time.Minute, root, "rpm", "-qp", "--scripts", rpms[0]); !strings.Contains(scripts, "useradd --system") || !strings.Contains(scripts, "preuninstall") {
		t.Errorf("the rpm's scripts:\n%s", scripts)
	}

	t.Cleanup(func() {
		if out, err := exec.Command("dpkg", "--purge", "estate").CombinedOutput(); err != nil {
			t.Errorf("dpkg --purge estate: %v\n%s", err, out)
		}
		for _, gone := range []string{"/usr/bin/estate", "/etc/estate", "/usr/share/estate", "/usr/lib/systemd/system/estate-desk.service"} {
			if _, err := os.Stat(gone); err == nil {
				t.Errorf("%s is still there after dpkg --purge", gone)
			}
		}
	})
	t.Log(run(t, 2*time.Minute, root, "dpkg", "-i", debs[0]))

	t.Run("files", func(t *testing.T) {
		u, err := user.Lookup("estate")
		if err != nil {
			t.Fatalf("postinst made no estate user: %v", err)
		}
		g, err := user.LookupGroup("estate")
		if err != nil {
			t.Fatalf("postinst made no estate group: %v", err)
		}
		if u.HomeDir != "/var/lib/estate" {
			t.Errorf("estate's home is %s", u.HomeDir)
		}
		st, err := os.Stat("/etc/estate/estate.env")
		if err != nil {
			t.Fatalf("postinst wrote no secrets file: %v", err)
		}
		sys := st.Sys().(*syscall.Stat_t)
		if st.Mode().Perm() != 0o640 || sys.Uid != 0 || strconv.Itoa(int(sys.Gid)) != g.Gid {
			t.Errorf("estate.env: mode %v, owner %d:%d; want 0640 root:estate", st.Mode().Perm(), sys.Uid, sys.Gid)
		}
		for _, f := range []string{"/usr/share/estate/profiles/demo-prepaid-meter.yaml", "/usr/share/estate/profiles/codes/uhppote.yaml",
			"/usr/share/estate/rules/default.yaml", "/usr/share/estate/examples/site.example.yaml",
			"/usr/lib/systemd/system/estate-desk.service", "/usr/lib/systemd/system/estate-gateway@.service"} {
			if _, err := os.Stat(f); err != nil {
				t.Errorf("not installed: %v", err)
			}
		}
		// Static: no program interpreter, so it runs FROM scratch too.
		bin, err := elf.Open("/usr/bin/estate")
		if err != nil {
			t.Fatal(err)
		}
		defer bin.Close()
		for _, p := range bin.Progs {
			if p.Type == elf.PT_INTERP {
				t.Error("/usr/bin/estate is dynamically linked (CGO on?)")
			}
		}
		if out := run(t, time.Minute, "/", "/usr/bin/estate", "version"); !strings.HasPrefix(out, "estate ") {
			t.Errorf("estate version: %q", out)
		}
	})

	t.Run("units", func(t *testing.T) {
		// systemd-analyze verify exits 0 on unknown keys and bad values: it
		// only prints them, so its output must be empty too.
		for _, unit := range []string{"/usr/lib/systemd/system/estate-desk.service", "estate-gateway@sunrise-garden.service"} {
			cmd := exec.Command("systemd-analyze", "verify", unit)
			cmd.Dir = "/usr/lib/systemd/system"
			out, err := cmd.CombinedOutput()
			if err != nil || len(bytes.TrimSpace(out)) > 0 {
				t.Errorf("systemd-analyze verify %s: %v\n%s", unit, err, out)
			}
		}
		for unit, want := range map[string][]string{
			"estate-desk.service":     {"User=estate", "ProtectSystem=strict", "StateDirectory=estate/desk", "NoNewPrivileges=yes", "PrivateTmp=yes", "ProtectHome=yes", "EnvironmentFile=-/etc/estate/estate.env", "--log-format json"},
			"estate-gateway@.service": {"User=estate", "ProtectSystem=strict", "StateDirectory=estate/gateway-%i", "NoNewPrivileges=yes", "PrivateTmp=yes", "ProtectHome=yes", "--config /etc/estate/sites/%i.yaml"},
		} {
			b, err := os.ReadFile("/usr/lib/systemd/system/" + unit)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range want {
				if !strings.Contains(string(b), w) {
					t.Errorf("%s lacks %s", unit, w)
				}
			}
		}
	})

	t.Run("check", func(t *testing.T) {
		out := run(t, time.Minute, "/", "/usr/bin/estate", "check", "--env-file", "/etc/estate/estate.env",
			"/etc/estate/desk.yaml", "/etc/estate/sites/sunrise-garden.yaml", "/etc/estate/demo.yaml")
		if strings.Count(out, ": ok: ") != 3 || strings.Contains(out, "warning") {
			t.Errorf("estate check of /etc/estate:\n%s", out)
		}
	})

	t.Run("demo run", func(t *testing.T) { demoRun(t) })

	t.Run("conffiles kept", func(t *testing.T) {
		// An edited conffile and the secrets survive a reinstall (an upgrade
		// does the same); dpkg keeps the edit without asking with --force-confold.
		edited := "# edited by the operator\n"
		orig, err := os.ReadFile("/etc/estate/desk.yaml")
		if err != nil {
			t.Fatal(err)
		}
		env, _ := os.ReadFile("/etc/estate/estate.env")
		if err := os.WriteFile("/etc/estate/desk.yaml", append([]byte(edited), orig...), 0o644); err != nil {
			t.Fatal(err)
		}
		run(t, 2*time.Minute, "/", "dpkg", "-i", "--force-confold", debs[0])
		now, _ := os.ReadFile("/etc/estate/desk.yaml")
		envNow, _ := os.ReadFile("/etc/estate/estate.env")
		if !strings.HasPrefix(string(now), edited) {
			t.Error("reinstalling overwrote the edited /etc/estate/desk.yaml")
		}
		if !bytes.Equal(env, envNow) {
			t.Error("reinstalling rewrote /etc/estate/estate.env")
		}
	})
}

// demoRun runs the installed binary on a copy of /etc/estate/demo.yaml, on
// free ports, from a folder without profiles: the gateway must find the
// demo meter's profile in /usr/share/estate/profiles and report the
// simulated meter online to the desk; logs must be JSON lines.
func demoRun(t *testing.T) {
	text, err := os.ReadFile("/etc/estate/demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// Every address the demo listens on is moved to a free port: other
	// tests run demos at the same time.
	desk, broker, meter, influx := freePort(t), freePort(t), freePort(t), freePort(t)
	cfg := strings.NewReplacer("127.0.0.1:8080", desk, "127.0.0.1:11883", broker,
		"127.0.0.1:15020", meter, "127.0.0.1:15030", freePort(t), "127.0.0.1:15031", freePort(t), "127.0.0.1:15032", freePort(t),
		"127.0.0.1:18086", influx).Replace(string(text))
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "demo.yaml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/usr/bin/estate", "demo", "--config", "demo.yaml", "--log-format", "json")
	cmd.Dir = dir
	cmd.Stdout = io.Discard
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var bad, tail []string
	lines := 0
	logsDone := make(chan struct{})
	go func() {
		defer close(logsDone)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		for sc.Scan() {
			var rec map[string]any
			mu.Lock()
			lines++
			if tail = append(tail, sc.Text()); len(tail) > 20 {
				tail = tail[1:]
			}
			if err := json.Unmarshal(sc.Bytes(), &rec); err != nil || rec["msg"] == nil || rec["level"] == nil {
				bad = append(bad, sc.Text())
			}
			mu.Unlock()
		}
	}()

	// Poll the desk until the gateway has reported the meter online.
	deadline := time.Now().Add(2 * time.Minute)
	var last string
	for {
		if body, err := getDevices("http://" + desk + "/api/v1/devices"); err == nil {
			last = body
			if meterOnline(body, "meter-1-1-101") {
				break
			}
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			mu.Lock()
			defer mu.Unlock()
			t.Fatalf("the demo's meter never showed online on the desk; last answer: %s\nthe demo's last log lines:\n%s", last, strings.Join(tail, "\n"))
		}
		time.Sleep(250 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-logsDone
	if err := cmd.Wait(); err != nil {
		t.Errorf("the demo did not stop cleanly on SIGTERM: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if lines == 0 || len(bad) > 0 {
		t.Errorf("%d log lines, not JSON records: %q", lines, bad)
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func getDevices(url string) (string, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer demo-admin-token-not-for-production")
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s: %s", resp.Status, b)
	}
	return string(b), err
}

// meterOnline finds the device in the desk's device list (an array, or an
// object holding one) and reports whether it is online.
func meterOnline(body, id string) bool {
	var any interface{}
	if json.Unmarshal([]byte(body), &any) != nil {
		return false
	}
	var find func(v interface{}) bool
	find = func(v interface{}) bool {
		switch x := v.(type) {
		case map[string]interface{}:
			if x["id"] == id && x["state"] == "online" {
				return true
			}
			for _, c := range x {
				if find(c) {
					return true
				}
			}
		case []interface{}:
			for _, c := range x {
				if find(c) {
					return true
				}
			}
		}
		return false
	}
	return find(any)
}
