package modbus

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The simulators answer a third-party master: Debian's mbpoll (libmodbus),
// which `make test` installs (deploy/mbpoll). Outside CI the tests skip
// without it; in CI (CI=true) they fail.
func mbpoll(t *testing.T) string {
	t.Helper()
	path := os.Getenv("ESTATE_TEST_MBPOLL")
	if path == "" {
		path, _ = exec.LookPath("mbpoll")
	}
	if path == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("mbpoll is not installed (deploy/mbpoll/test-start.sh installs it)")
		}
		t.Skip("mbpoll is not installed; make test installs it")
	}
	return path
}

var mbpollLine = regexp.MustCompile(`^\[(\d+)\]:\s+(\S+)`)

// runMbpoll runs mbpoll once and returns its values by reference.
func runMbpoll(t *testing.T, bin string, args ...string) map[int]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, append([]string{"-1", "-0", "-o", "2"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("mbpoll %v: %v\n%s", args, err, out)
	}
	vals := map[int]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if m := mbpollLine.FindStringSubmatch(sc.Text()); m != nil {
			ref, _ := strconv.Atoi(m[1])
			vals[ref] = m[2]
		}
	}
	if len(vals) == 0 {
		t.Fatalf("mbpoll %v printed no values:\n%s", args, out)
	}
	return vals
}

func checkHex(t *testing.T, s *Slave, table string, addr, qty uint16, got map[int]string) {
	t.Helper()
	want, err := s.Registers(table, addr, qty)
	if err != nil {
		t.Fatal(err)
	}
	for i, w := range want {
		ref := int(addr) + i
		g, err := strconv.ParseUint(strings.TrimPrefix(got[ref], "0x"), 16, 16)
		if err != nil || uint16(g) != w {
			t.Errorf("%s register %d: mbpoll read %q, simulator holds %04X", table, ref, got[ref], w)
		}
	}
}

func TestMbpollReadsTCPSimulator(t *testing.T) {
	bin := mbpoll(t)
	p := shippedProfiles(t)["eastron-sdm630"]
	sim := NewSimulator(p, "127.0.0.1:0")
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	defer sim.Stop()
	volts := []float64{229.5, 231.25, 0}
	for i, v := range volts {
		_ = sim.Set(fmt.Sprintf("voltage_l%d", i+1), v)
	}
	_ = sim.Set("energy_import", 12345.5)
	_, port, _ := strings.Cut(sim.Addr(), ":")

	got := runMbpoll(t, bin, "-m", "tcp", "-p", port, "-a", "1", "-t", "3:float", "-B", "-r", "0", "-c", "3", "127.0.0.1")
	for i, v := range volts {
		f, err := strconv.ParseFloat(got[2*i], 64)
		if err != nil || math.Abs(f-v) > 1e-3 {
			t.Errorf("voltage_l%d: mbpoll read %q, want %v", i+1, got[2*i], v)
		}
	}
	raw := runMbpoll(t, bin, "-m", "tcp", "-p", port, "-a", "7", "-t", "3:hex", "-r", "72", "-c", "8", "127.0.0.1")
	checkHex(t, sim.Slave, TableInput, 72, 8, raw)

	// An address outside the map is refused with an exception mbpoll reports.
	out, _ := exec.Command(bin, "-1", "-0", "-o", "1", "-m", "tcp", "-p", port, "-t", "3", "-r", "1000", "127.0.0.1").CombinedOutput()
	if !strings.Contains(strings.ToLower(string(out)), "illegal data address") {
		t.Errorf("mbpoll reading an unmapped address: %s", out)
	}
}

func TestMbpollReadsRTUSimulatorOnPTY(t *testing.T) {
	bin := mbpoll(t)
	profiles := shippedProfiles(t)
	meter, di := NewSlave(profiles["chint-ddsu666"]), NewSlave(profiles["generic-di8"])
	_ = meter.Set("voltage", 228.75)
	_ = meter.Set("power", 1.5)
	_ = meter.Set("energy_import", 4321.25)
	for _, name := range []string{"ats_on_mains", "mains_fail", "di7"} {
		_ = di.Set(name, 1) // contacts closed
	}
	sim, err := NewRTUSimulator(map[byte]*Slave{5: meter, 9: di}, 9600)
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	rtu := []string{"-m", "rtu", "-b", "9600", "-P", "none"}

	got := runMbpoll(t, bin, append(rtu, "-a", "5", "-t", "3:hex", "-r", "0x2000", "-c", "16", sim.Path())...)
	checkHex(t, meter, TableInput, 0x2000, 16, got)
	got = runMbpoll(t, bin, append(rtu, "-a", "5", "-t", "3:float", "-B", "-r", "0x4000", "-c", "1", sim.Path())...)
	if f, _ := strconv.ParseFloat(got[0x4000], 64); math.Abs(f-4321.25) > 1e-3 {
		t.Errorf("energy_import: mbpoll read %q", got[0x4000])
	}
	bits := runMbpoll(t, bin, append(rtu, "-a", "9", "-t", "1", "-r", "0", "-c", "8", sim.Path())...)
	want := "10010010"
	for i := range 8 {
		if bits[i] != want[i:i+1] {
			t.Errorf("discrete input %d: mbpoll read %q, want %s", i, bits[i], want[i:i+1])
		}
	}
}

// mbpoll writes a holding register of the TCP simulator.
func TestMbpollWritesTCPSimulator(t *testing.T) {
	bin := mbpoll(t)
	p := mustProfile(t, "name: w\npoints:\n  - {name: setpoint, table: holding, address: 40, type: uint16, writable: true}\n")
	s := NewSlave(p)
	ln, err := (&Server{Any: s}).Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := strings.Cut(ln.Addr(), ":")
	out, err := exec.Command(bin, "-1", "-0", "-m", "tcp", "-p", port, "-t", "4", "-r", "40", "127.0.0.1", "4242").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Written 1 references") {
		t.Fatalf("mbpoll write: %v\n%s", err, out)
	}
	if v, _ := s.Get("setpoint"); v != 4242 {
		t.Errorf("setpoint after mbpoll wrote 4242: %v", v)
	}
}
