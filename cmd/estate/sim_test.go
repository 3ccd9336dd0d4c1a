package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/estatehq/estate/devices"
	"github.com/estatehq/estate/internal/testenv"
)

// lockedBuffer collects a simulator's standard error while it runs.
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

// serveSim runs `estate sim NAME ARGS` until the test ends (it must then exit
// 0) and returns the first line it prints and its standard error. After the
// test, rest receives what it printed after the first line.
func serveSim(t *testing.T, name string, args ...string) (line string, stderr *lockedBuffer, rest func() string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	stderr = &lockedBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- runSim(ctx, name, args, pw, stderr)
		pw.Close()
	}()
	r := bufio.NewReader(pr)
	line, err := r.ReadString('\n')
	if err != nil {
		cancel()
		t.Fatalf("sim %s printed nothing: %v\n%s", name, err, stderr.String())
	}
	var after bytes.Buffer
	copied := make(chan struct{})
	go func() { _, _ = io.Copy(&after, r); close(copied) }()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("sim %s exited %d: %s", name, code, stderr.String())
		}
	})
	return line, stderr, func() string { cancel(); <-copied; return after.String() }
}

func TestSimUsageListsTheRegisteredKinds(t *testing.T) {
	code, out, _ := runCmd("sim", "--help")
	if code != 0 {
		t.Fatalf("sim --help: exit %d", code)
	}
	kinds := devices.Simulators()
	if len(kinds) < 7 {
		t.Fatalf("registered kinds: %+v", kinds)
	}
	for _, k := range kinds {
		if !strings.Contains(out, "estate sim "+k.Name+" ") {
			t.Errorf("usage does not list %s:\n%s", k.Name, out)
		}
	}
	for _, old := range []string{"prepaid-meter (prepaid_meter)", "access (door_controller)", "elevator (elevator_monitor)",
		"dlt645 (dlt645_bus)", "firepanel --mode gbt26875|crt"} {
		if !strings.Contains(out, old) {
			t.Errorf("usage does not list the earlier name %s:\n%s", old, out)
		}
	}

	code, _, errOut := runCmd("sim")
	if code != 2 || !strings.Contains(errOut, "estate sim prepaid_meter [--listen ADDR]") {
		t.Errorf("sim without a kind: exit %d: %s", code, errOut)
	}
	code, _, errOut = runCmd("sim", "fridge")
	if code != 2 || !strings.Contains(errOut, `estate sim: unknown "fridge"`) || !strings.Contains(errOut, "estate sim door_controller") {
		t.Errorf("sim fridge: exit %d: %s", code, errOut)
	}
}

// The prepaid meter by its name and by its earlier one, which warns; the
// balance it serves is read back over Modbus TCP.
func TestSimPrepaidMeterByEitherName(t *testing.T) {
	profile := filepath.Join(profiles, "demo-prepaid-meter.yaml")
	for _, name := range []string{"prepaid_meter", "prepaid-meter"} {
		t.Run(name, func(t *testing.T) {
			addr := testenv.FreeAddr(t)
			line, stderr, _ := serveSim(t, name, "--profile", profile, "--listen", addr, "--balance", "40", "--drain", "0")
			if want := "prepaid meter (profile demo-prepaid-meter) on modbus tcp://" + addr + ", slave any; balance 40.00 yuan, -0.00/s; Ctrl-C stops\n"; line != want {
				t.Errorf("printed %q, want %q", line, want)
			}
			warned := strings.Contains(stderr.String(), "simulator kind renamed") && strings.Contains(stderr.String(), `use="estate sim prepaid_meter"`)
			if warned != (name == "prepaid-meter") {
				t.Errorf("warning (%v) for %s: %q", warned, name, stderr.String())
			}
			// The meter sets its registers once it runs, just after it says where.
			var code int
			var out, errOut string
			for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				code, out, errOut = runCmd("modbus", "read", "--tcp", addr, "--profiles", profiles, "--profile", "demo-prepaid-meter", "--point", "balance")
				if code == 0 && regexp.MustCompile(`balance\s.*\b40\b`).MatchString(out) || time.Now().After(deadline) {
					break
				}
			}
			if code != 0 || !regexp.MustCompile(`balance\s.*\b40\b`).MatchString(out) {
				t.Errorf("read (%d): %s %s", code, out, errOut)
			}
		})
	}
}

// estate sim firepanel --mode M, the fire panels' one name before, runs the kind firepanel_M.
func TestSimFirePanelModes(t *testing.T) {
	line, stderr, rest := serveSim(t, "firepanel", "--mode", "gbt26875", "--connect", "127.0.0.1:1", "--gap", "1s")
	if line != "GB/T 26875.3 transmission device sending to 127.0.0.1:1 every 1s (alarm, fault, fault cleared, reset), its clock set; Ctrl-C stops\n" {
		t.Errorf("gbt26875: printed %q", line)
	}
	if !strings.Contains(stderr.String(), `use="estate sim firepanel_gbt26875"`) {
		t.Errorf("gbt26875: no warning: %s", stderr.String())
	}
	if after := rest(); after != "confirmed 0 frames, resent 0, denied 0; clock never synchronised\n" {
		t.Errorf("gbt26875: printed at the end %q", after)
	}

	link := filepath.Join(t.TempDir(), "sim", "crt")
	for _, args := range [][]string{{"--mode=crt", "--link", link}, {"--link", link + "2"}} {
		line, _, _ := serveSim(t, "firepanel", args...)
		if want := "CRT fire panel printing GB 18030 lines (template crt-loop-address) on " + args[len(args)-1] + " every 5s; Ctrl-C stops\n"; line != want {
			t.Errorf("crt %v: printed %q", args, line)
		}
	}
	line, _, _ = serveSim(t, "firepanel_crt", "--link", "", "--gap", "2s")
	if !strings.HasSuffix(line, " every 2s; Ctrl-C stops\n") {
		t.Errorf("firepanel_crt: printed %q", line)
	}

	code, _, errOut := runCmd("sim", "firepanel", "--mode", "smoke")
	if code != 2 || !strings.Contains(errOut, "estate sim firepanel: --mode must be gbt26875 or crt") {
		t.Errorf("--mode smoke: exit %d: %s", code, errOut)
	}
}

func TestSimDLT645Bus(t *testing.T) {
	link := filepath.Join(t.TempDir(), "sim", "bus")
	for _, name := range []string{"dlt645_bus", "dlt645"} {
		line, _, _ := serveSim(t, name, "--link", link+name, "--meters", "2", "--first", "201", "--silent", "1", "--baud", "0")
		if want := "2 DL/T 645 meters (addresses from 000000000201, 1 silent) on " + link + name + ", paced at 0 baud; balance 30.00 yuan, -0.20/s; Ctrl-C stops\n"; line != want {
			t.Errorf("%s: printed %q", name, line)
		}
	}
	code, _, errOut := runCmd("sim", "dlt645_bus", "--first", "9999999999999")
	if code != 2 || !strings.Contains(errOut, "estate sim dlt645_bus: meter address") {
		t.Errorf("a 13-digit address: exit %d: %s", code, errOut)
	}
}

func TestSimUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"modbus"}, "estate sim modbus: --profile is required (a name in configs/profiles or a file)"},
		{[]string{"modbus", "--profile", "x", "--slave", "300"}, "estate sim modbus: --slave must be 1..247"},
		{[]string{"modbus", "--profile", "x", "--count", "2", "--rtu"}, "estate sim modbus: --count is 1..5000, and TCP only"},
		{[]string{"modbus", "--profile", "x", "--listen", "nowhere"}, `estate sim modbus: --listen "nowhere" is not host:port`},
		{[]string{"prepaid_meter", "--colour", "red"}, "flag provided but not defined: -colour"},
	} {
		code, _, errOut := runCmd(append([]string{"sim"}, tc.args...)...)
		if code != 2 || !strings.Contains(errOut, tc.want) {
			t.Errorf("sim %v: exit %d: %s", tc.args, code, errOut)
		}
	}
	code, _, errOut := runCmd("sim", "prepaid_meter", "--profile", "no-such-profile.yaml")
	if code != 1 || !strings.Contains(errOut, "estate sim prepaid_meter: ") {
		t.Errorf("a missing profile: exit %d: %s", code, errOut)
	}
}

// The MQTT simulators by their names and their earlier ones.
func TestSimMQTTDevices(t *testing.T) {
	broker := testenv.MQTT(t)
	for _, tc := range []struct{ name, profile, want string }{
		{"elevator_monitor", "mqtt-elevator-gbt24476.yaml", "elevator"},
		{"elevator", "mqtt-elevator-gbt24476.yaml", "elevator"},
		{"door_controller", "mqtt-access-uhppote.yaml", "door controller"},
		{"access", "mqtt-access-uhppote.yaml", "door controller"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			profile := filepath.Join(profiles, tc.profile)
			device := "cli-test-" + tc.name
			line, stderr, _ := serveSim(t, tc.name, "--broker", broker, "--device", device, "--profile", profile, "--every", "100ms", "--site", "cli-test")
			if want := tc.want + " " + device + " publishing to " + broker + " (site cli-test, profile " + profile + "); Ctrl-C stops\n"; line != want {
				t.Errorf("printed %q, want %q", line, want)
			}
			if strings.Contains(stderr.String(), "renamed") != !strings.Contains(tc.name, "_") {
				t.Errorf("warnings of %s: %s", tc.name, stderr.String())
			}
		})
	}
}
