package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/estatehq/estate/devices/modbus"
)

const profiles = "../../configs/profiles"

// startSim runs `estate sim modbus ARGS` until the test ends and returns the
// first line it prints.
func startSim(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- runSim(ctx, "modbus", append([]string{"--profiles", profiles}, args...), pw, io.Discard)
		pw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("sim modbus exited %d", code)
		}
	})
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("sim modbus printed nothing: %v", err)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	return line
}

func runCmd(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestSimModbusAndReadOverTCP(t *testing.T) {
	script := filepath.Join(t.TempDir(), "script.yaml")
	_ = os.WriteFile(script, []byte("points:\n  voltage_l1: {value: 231.5}\n  energy_import: {ramp: {from: 500, rate: 0}}\nfaults:\n  - {exceptions: {0x00E0: 2}}\n"), 0o600)
	line := startSim(t, "--profile", "eastron-sdm630", "--listen", "127.0.0.1:0", "--script", script)
	addr := regexp.MustCompile(`tcp on (\S+),`).FindStringSubmatch(line)
	if addr == nil {
		t.Fatalf("no address in %q", line)
	}
	code, out, errOut := runCmd("modbus", "read", "--tcp", addr[1], "--profiles", profiles, "--profile", "eastron-sdm630",
		"--point", "voltage_l1,energy_import,current_neutral")
	if code != 0 {
		t.Fatalf("read exited %d: %s", code, errOut)
	}
	for _, want := range []string{"voltage_l1", "231.5 V", "500 kWh", "current_neutral", "error: exception 2 (illegal data address)"} {
		if !strings.Contains(out, want) {
			t.Errorf("read output lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = runCmd("modbus", "read", "--tcp", addr[1], "--table", "input", "--address", "0", "--count", "2", "--type", "float32")
	if code != 0 || !strings.Contains(out, "as float32 ABCD: 231.5") || !strings.Contains(out, "4367") {
		t.Errorf("raw read (%d):\n%s", code, out)
	}
}

func TestScanFindsSlavesOnRTUBus(t *testing.T) {
	p, err := modbus.LoadProfile(filepath.Join(profiles, "chint-ddsu666.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	sim, err := modbus.NewRTUSimulator(map[byte]*modbus.Slave{2: modbus.NewSlave(p), 4: modbus.NewSlave(p)}, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	start := time.Now()
	code, out, errOut := runCmd("modbus", "scan", "--serial", sim.Path(), "--from", "1", "--to", "6", "--timeout", "100ms",
		"--table", "input", "--address", "0x2000")
	if code != 0 || !strings.Contains(out, "2 slave(s) answer: 2, 4") {
		t.Fatalf("scan (%d): %s %s", code, out, errOut)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("scanning 6 ids took %v", took)
	}
	// Asked for an address it does not serve, a slave still shows up by its exception.
	code, out, _ = runCmd("modbus", "scan", "--serial", sim.Path(), "--from", "4", "--to", "4", "--timeout", "100ms")
	if code != 0 || !strings.Contains(out, "illegal data address") {
		t.Errorf("scan with exceptions (%d): %s", code, out)
	}
}

func TestModbusReadNeedsOneConnection(t *testing.T) {
	code, _, errOut := runCmd("modbus", "read", "--tcp", "127.0.0.1:1", "--serial", "/dev/null")
	if code != 2 || !strings.Contains(errOut, "exactly one of") {
		t.Errorf("%d %s", code, errOut)
	}
	code, _, errOut = runCmd("modbus", "read", "--tcp", "127.0.0.1:1", "--timeout", "100ms")
	if code != 1 || !strings.Contains(errOut, "connection refused") {
		t.Errorf("%d %s", code, errOut)
	}
}

func TestSimModbusRTULinkReadAndWrite(t *testing.T) {
	dir := t.TempDir()
	profile := filepath.Join(dir, "valve.yaml")
	_ = os.WriteFile(profile, []byte("name: valve\npoints:\n  - {name: open, table: coil, address: 4, writable: true}\n"+
		"  - {name: setpoint, table: holding, address: 10, type: float32, unit: C, writable: true}\n"), 0o600)
	link := filepath.Join(dir, "ttyVALVE")
	line := startSim(t, "--profile", profile, "--rtu", "--link", link, "--slave", "9")
	if !strings.Contains(line, "modbus rtu on /dev/pts/") {
		t.Fatalf("sim said %q", line)
	}
	code, out, errOut := runCmd("modbus", "write", "--serial", link, "--slave", "9", "--profile", profile, "--point", "setpoint", "--value", "21.5")
	if code != 0 {
		t.Fatalf("write (%d): %s %s", code, out, errOut)
	}
	code, _, errOut = runCmd("modbus", "write", "--serial", link, "--slave", "9", "--profile", profile, "--point", "open", "--value", "1")
	if code != 0 {
		t.Fatalf("write coil (%d): %s", code, errOut)
	}
	code, out, errOut = runCmd("modbus", "read", "--serial", link, "--slave", "9", "--profile", profile)
	if code != 0 || !regexp.MustCompile(`open\s+coil\s+4 \(0x0004\)\s+01\s+1\n`).MatchString(out) || !strings.Contains(out, "21.5 C") {
		t.Fatalf("read after the writes (%d): %s %s", code, out, errOut)
	}
}
