package testenv

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Ports for servers that a test starts but cannot ask for their address
// (a configuration names it before anything listens, a child process binds
// it, a broker is restarted on the same address) are drawn here.
//
// The old way, listening on :0 and closing the listener, raced: the kernel
// hands out ports of its ephemeral range to every :0 listener and to every
// outgoing connection, so with packages tested in parallel (and several
// checkouts testing at once on one machine) the port was sometimes taken
// between the check and the server's bind. Ports below the ephemeral range
// are never handed out by the kernel; they are drawn at random, checked free,
// and never given twice by one process, so only another process drawing the
// same port in the same instant can collide.
const (
	portLow  = 20000
	portHigh = 31000 // exclusive; with +1000 (InfluxDB's RPC port) still below Linux's 32768
)

var (
	portsMu sync.Mutex
	given   = map[int]bool{}
)

// FreeAddr returns a loopback host:port that is free now and that no other
// test of this process is given (see the comment on the port range above).
func FreeAddr(t testing.TB) string {
	t.Helper()
	return fmt.Sprintf("127.0.0.1:%d", freePort(t, 0))
}

// freePort draws a free port; with companion > 0, port+companion must be
// free too (a server that binds two ports).
func freePort(t testing.TB, companion int) int {
	t.Helper()
	if !belowEphemeral() {
		// An unusual kernel range that leaves no room below it: the old way.
		return ephemeralPort(t)
	}
	portsMu.Lock()
	defer portsMu.Unlock()
	for range 200 {
		p := portLow + rand.IntN(portHigh-portLow)
		if given[p] || (companion > 0 && given[p+companion]) || !portFree(p) || (companion > 0 && !portFree(p+companion)) {
			continue
		}
		given[p] = true
		if companion > 0 {
			given[p+companion] = true
		}
		return p
	}
	t.Fatalf("no free loopback port in %d–%d after 200 draws", portLow, portHigh)
	return 0
}

func portFree(p int) bool {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
	if err != nil {
		return false
	}
	ln.Close()
	return true
}

func ephemeralPort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// belowEphemeral reports whether the kernel's ephemeral range starts above
// the ports drawn here (Linux's default is 32768–60999; elsewhere, or
// unreadable, the BSDs' and macOS' 49152–65535 is assumed).
func belowEphemeral() bool {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return true
	}
	lo, err := strconv.Atoi(strings.Fields(string(b) + " 0")[0])
	return err != nil || lo >= portHigh+1000
}
