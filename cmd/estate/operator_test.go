package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/sys/unix"

	"github.com/estatehq/estate/devices"
)

// Every command and subcommand answers --help (and -h) with its usage on
// standard output and exit 0, whatever it needs otherwise.
func TestEveryCommandHasHelp(t *testing.T) {
	var invocations [][]string
	for name := range commands {
		invocations = append(invocations, []string{name, "--help"}, []string{name, "-h"})
	}
	for group, subs := range groups {
		for sub := range subs {
			invocations = append(invocations, []string{group, sub, "--help"})
		}
	}
	for _, k := range devices.Simulators() {
		invocations = append(invocations, []string{"sim", k.Name, "--help"})
	}
	invocations = append(invocations, []string{"--help"}, []string{"help"}, []string{"help", "check"},
		// Commands that take words as well as flags read --help after them too.
		[]string{"desk", "import", "households", "--help"}, []string{"desk", "export", "households", "-h"},
		[]string{"config", "add-devices", "site.yaml", "--help"}, []string{"config", "export-devices", "site.yaml", "--help"})
	sort.Slice(invocations, func(i, j int) bool { return strings.Join(invocations[i], " ") < strings.Join(invocations[j], " ") })
	if len(commands) < 11 || len(groups) < 3 {
		t.Fatalf("only %d commands and %d groups registered", len(commands), len(groups))
	}
	for _, args := range invocations {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var out, errOut strings.Builder
			code := run(args, &out, &errOut)
			if code != 0 || !strings.Contains(out.String(), "usage") || !strings.Contains(out.String(), "estate") {
				t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errOut.String())
			}
		})
	}
	// A leaf's help names its flags.
	var out strings.Builder
	run([]string{"check", "--help"}, &out, io.Discard)
	if !strings.Contains(out.String(), "usage: estate check") || !strings.Contains(out.String(), "-env-file") {
		t.Errorf("estate check --help:\n%s", out.String())
	}
	// A bad flag is still an error, told on standard error.
	var errOut strings.Builder
	if code := run([]string{"status", "--colour"}, io.Discard, &errOut); code != 2 || !strings.Contains(errOut.String(), "flag provided but not defined: -colour") {
		t.Errorf("bad flag: exit %d: %s", code, errOut.String())
	}
	errOut.Reset()
	if code := run([]string{"stauts"}, io.Discard, &errOut); code != 2 || !strings.Contains(errOut.String(), `unknown command "stauts" (did you mean "status"?)`) {
		t.Errorf("misspelt command: exit %d: %s", code, errOut.String())
	}
}

// Every shipped example passes estate check without any secret set.
func TestShippedExamplesCheckWithoutSecrets(t *testing.T) {
	names := []string{"ESTATE_ADMIN_TOKEN", "ESTATE_GATEWAY_TOKEN"}
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "ESTATE_") {
			names = append(names, name)
		}
	}
	for _, name := range names {
		t.Setenv(name, "") // restored after the test, --env-file's values too
		os.Unsetenv(name)  //nolint:errcheck // absent either way
	}
	files, _ := filepath.Glob("../../configs/*.yaml")
	rules, _ := filepath.Glob("../../configs/rules/*.yaml")
	files = append(files, rules...)
	if len(files) < 8 {
		t.Fatalf("only %v", files)
	}
	for _, f := range files {
		var out, errOut strings.Builder
		if code := run([]string{"check", f}, &out, &errOut); code != 0 {
			t.Errorf("estate check %s: exit %d\n%s%s", f, code, out.String(), errOut.String())
		}
	}
	// Without secrets the defaults are named.
	var out, errOut strings.Builder
	run([]string{"check", "../../configs/desk.example.yaml"}, &out, &errOut)
	if !strings.Contains(errOut.String(), "warning: ../../configs/desk.example.yaml:") || !strings.Contains(errOut.String(), "ESTATE_ADMIN_TOKEN is not set: using the default") ||
		!strings.Contains(out.String(), "2 warning(s)") {
		t.Errorf("defaults not warned about:\n%s%s", out.String(), errOut.String())
	}
	// With the env file the defaults are not needed, and nothing is warned.
	out.Reset()
	errOut.Reset()
	if code := run([]string{"check", "--env-file", "../../configs/estate.env.example", "../../configs/desk.example.yaml", "../../configs/site.example.yaml"}, &out, &errOut); code != 0 || errOut.Len() > 0 {
		t.Errorf("with --env-file: exit %d\n%s%s", code, out.String(), errOut.String())
	}
}

func TestCheckMessages(t *testing.T) {
	base := "site: {id: s, timezone: Asia/Shanghai}\ngateway: {id: gw, desk_url: \"http://127.0.0.1:1\", desk_token: 0123456789abcdef, profiles_dir: " + mustAbs(t, "../../configs/profiles") + "}\n" +
		"influxdb: {url: \"http://127.0.0.1:1\", bucket: b}\ndevices:\n  - id: m1\n    family: meter\n    protocol: modbus_tcp\n    profile: demo-prepaid-meter\n    address: 127.0.0.1:502\n"
	for _, tc := range []struct {
		name, add string
		code      int
		want      string
	}{
		{"duration", "    poll_interval: 5\n", 1, `devices[0].poll_interval: expected a duration with its unit, such as 500ms, 30s, 5m or 1h, got 5`},
		{"type", "    slave_id: one\n", 1, `devices[0].slave_id: expected a whole number, got "one"`},
		{"misspelt key", "    pol_interval: 1s\n", 1, `devices[0].pol_interval: unknown key (did you mean "poll_interval"?)`},
		{"misspelt protocol", "  - {id: m2, family: meter, protocol: modbus_tpc, profile: demo-prepaid-meter, address: 127.0.0.1:503}\n", 1,
			`devices[1].protocol: unknown protocol "modbus_tpc" (did you mean "modbus_tcp"?)`},
		{"misspelt profile", "  - {id: m2, family: meter, protocol: modbus_tcp, profile: demo-prepaid-metre, address: 127.0.0.1:503}\n", 1,
			`(did you mean "demo-prepaid-meter"?)`},
		{"rule on a point no profile has", "rules:\n  - {name: low, family: meter, point: balanse, below: 10}\n", 0,
			`warning: s.yaml:11: rules[0].point: no device this rule selects reports "balanse" (did you mean "balance"?)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "s.yaml")
			if err := os.WriteFile(path, []byte(base+tc.add), 0o600); err != nil {
				t.Fatal(err)
			}
			var out, errOut strings.Builder
			code := run([]string{"check", path}, &out, &errOut)
			if code != tc.code || !strings.Contains(errOut.String(), strings.ReplaceAll(tc.want, "s.yaml", path)) {
				t.Errorf("exit %d (want %d)\n%s%s\nwant %q", code, tc.code, out.String(), errOut.String(), tc.want)
			}
		})
	}
}

func TestHashPasswordFromAPipe(t *testing.T) {
	for _, tc := range []struct {
		name, input string
		args        []string
		code        int
		cost        int
		err         string
	}{
		{"one line", "correct horse battery staple\n", nil, 0, 10, ""},
		{"no newline", "s3cret-pass", nil, 0, 10, ""},
		{"crlf", "s3cret-pass\r\n", nil, 0, 10, ""},
		{"higher cost", "s3cret-pass\n", []string{"--cost", "11"}, 0, 11, ""},
		{"cost below the desk's", "s3cret-pass\n", []string{"--cost", "4"}, 2, 0, "--cost must be 10..31"},
		{"empty", "\n", nil, 1, 0, "the password is empty"},
		{"too long for bcrypt", strings.Repeat("x", 73) + "\n", nil, 1, 0, "bcrypt takes at most 72"},
		{"on the command line", "", []string{"s3cret"}, 2, 0, "never from the command line"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old := stdin
			stdin = strings.NewReader(tc.input)
			defer func() { stdin = old }()
			var out, errOut strings.Builder
			code := run(append([]string{"hash-password"}, tc.args...), &out, &errOut)
			if code != tc.code || !strings.Contains(errOut.String(), tc.err) {
				t.Fatalf("exit %d (want %d): %s", code, tc.code, errOut.String())
			}
			if tc.code != 0 {
				return
			}
			hash := strings.TrimSpace(out.String())
			pw := strings.TrimRight(tc.input, "\r\n")
			if err := bcrypt.CompareHashAndPassword([]byte(hash), []byte(pw)); err != nil {
				t.Errorf("%q does not verify %q: %v", hash, pw, err)
			}
			if c, _ := bcrypt.Cost([]byte(hash)); c != tc.cost {
				t.Errorf("cost %d, want %d", c, tc.cost)
			}
		})
	}
}

// On a terminal the password is asked twice and never echoed.
func TestHashPasswordOnATerminal(t *testing.T) {
	for _, tc := range []struct {
		name, typed string
		code        int
	}{
		{"same twice", "tty-pass-1234\ntty-pass-1234\n", 0},
		{"differ", "tty-pass-1234\ntty-pass-4321\n", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			master, slave := openTerminal(t)
			old := stdin
			stdin = slave
			defer func() { stdin = old }()
			done := make(chan int, 1)
			var out, errOut lockedBuffer
			go func() { done <- run([]string{"hash-password"}, &out, &errOut) }()
			// Type only once echo is off, as a person does after the prompt.
			waitFor(t, func() bool {
				tio, err := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS)
				return err == nil && tio.Lflag&unix.ECHO == 0
			})
			if _, err := master.WriteString(tc.typed); err != nil {
				t.Fatal(err)
			}
			var code int
			select {
			case code = <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("hash-password did not finish")
			}
			if code != tc.code {
				t.Fatalf("exit %d, want %d: %s", code, tc.code, errOut.String())
			}
			if !strings.Contains(errOut.String(), "Password: ") || !strings.Contains(errOut.String(), "Again: ") {
				t.Errorf("prompts: %q", errOut.String())
			}
			// What the terminal shows: nothing of what was typed.
			_ = master.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
			echoed, _ := io.ReadAll(master)
			if strings.Contains(string(echoed), "tty-pass") {
				t.Errorf("the password was echoed: %q", echoed)
			}
			if tc.code == 0 {
				if err := bcrypt.CompareHashAndPassword([]byte(strings.TrimSpace(out.String())), []byte("tty-pass-1234")); err != nil {
					t.Errorf("hash %q: %v", out.String(), err)
				}
			} else if !strings.Contains(errOut.String(), "the two passwords differ") {
				t.Errorf("stderr: %s", errOut.String())
			}
		})
	}
}

// openTerminal opens a pseudo-terminal in its default (cooked, echoing) mode.
func openTerminal(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("no pseudo-terminals: %v", err)
	}
	t.Cleanup(func() { _ = m.Close() })
	rc, err := m.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var n uint32
	var ierr error
	if err := rc.Control(func(fd uintptr) {
		if ierr = unix.IoctlSetPointerInt(int(fd), unix.TIOCSPTLCK, 0); ierr == nil {
			n, ierr = unix.IoctlGetUint32(int(fd), unix.TIOCGPTN)
		}
	}); err != nil || ierr != nil {
		t.Fatal(err, ierr)
	}
	s, err := os.OpenFile("/dev/pts/"+itoa(n), os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return m, s
}

func itoa(n uint32) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 30s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestLogFormats(t *testing.T) {
	for _, tc := range []struct {
		format string
		json   bool
		err    string
	}{
		{"text", false, ""},
		{"json", true, ""},
		{"yaml", false, `--log-format: "yaml" is neither text nor json`},
	} {
		var buf strings.Builder
		log, err := newLogger("debug", tc.format, &buf)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("%s: err %v", tc.format, err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		log.Info("hello", "site", "s")
		var rec map[string]any
		isJSON := json.Unmarshal([]byte(buf.String()), &rec) == nil
		if isJSON != tc.json || tc.json && (rec["msg"] != "hello" || rec["site"] != "s") {
			t.Errorf("%s: %q", tc.format, buf.String())
		}
	}
}

// A running demo (gateway and desk in one process) logs JSON lines with
// --log-format json, and estate status shows its devices, its outbox and the
// desk in the site's time; once the desk is gone, status says so.
func TestStatusOfARunningGateway(t *testing.T) {
	text, err := os.ReadFile("../../configs/demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	desk, broker, meter := freeAddr(t), freeAddr(t), freeAddr(t)
	cfg := strings.NewReplacer("127.0.0.1:8080", desk, "127.0.0.1:11883", broker, "127.0.0.1:15020", meter,
		"127.0.0.1:15030", freeAddr(t), "127.0.0.1:15031", freeAddr(t), "127.0.0.1:15032", freeAddr(t), "127.0.0.1:18086", freeAddr(t), "var/demo/", dir+"/", "profiles_dir: profiles", "profiles_dir: "+mustAbs(t, "../../configs/profiles"),
		"  state_dir: ", "  heartbeat_interval: 1s\n  state_dir: ").Replace(string(text))
	path := filepath.Join(dir, "demo.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs := &lockedBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- serveContext(ctx, "demo", []string{"--config", path, "--log-format", "json"}, io.Discard, logs)
	}()

	var out string
	// The whole demo starts (a dozen simulators, the desk's bcrypt logins):
	// on a loaded machine that alone can take most of half a minute.
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(50 * time.Millisecond) {
		var b strings.Builder
		run([]string{"status", "--config", path}, &b, io.Discard)
		out = b.String()
		if regexp.MustCompile(`meter-1-1-101 +online`).MatchString(out) && strings.Contains(out, "accepted") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("estate status never showed the meter online and the heartbeat accepted:\n%s\nlogs:\n%s", out, logs.String())
		}
	}
	t.Log("\n" + out)
	for _, want := range []string{
		"site              demo-estate (演示花园), times in Asia/Shanghai",
		"gateway           gw-demo: running (pid",
		"desk              http://" + desk + ": reachable",
		"  last heartbeat  accepted 20", " CST (",
		"devices           ", " online",
		"outbox            ",
		"telemetry spool   ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q", want)
		}
	}

	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("demo exit %d", code)
		}
	case <-time.After(time.Minute):
		t.Fatal("the demo did not stop")
	}
	var b strings.Builder
	run([]string{"status", "--config", path}, &b, io.Discard)
	if !strings.Contains(b.String(), "desk              http://"+desk+": UNREACHABLE") {
		t.Errorf("after the desk stopped:\n%s", b.String())
	}

	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	for _, l := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil || rec["msg"] == nil || rec["time"] == nil {
			t.Errorf("not a JSON log record: %q", l)
		}
	}
	if len(lines) < 3 {
		t.Errorf("only %d log lines", len(lines))
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
