package testenv

import (
	"net"
	"strconv"
	"sync"
	"testing"
)

// Many tests drawing at once get distinct ports, each free to bind, outside
// the kernel's ephemeral range (where :0 listeners and outgoing connections
// would take them).
func TestFreeAddrDistinctAndBindable(t *testing.T) {
	const n = 50
	addrs := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { addrs[i] = FreeAddr(t) })
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, a := range addrs {
		if seen[a] {
			t.Fatalf("%s given twice", a)
		}
		seen[a] = true
		_, p, err := net.SplitHostPort(a)
		if err != nil {
			t.Fatal(err)
		}
		port, _ := strconv.Atoi(p)
		if belowEphemeral() && (port < portLow || port >= portHigh) {
			t.Errorf("port %d outside %d–%d", port, portLow, portHigh)
		}
		ln, err := net.Listen("tcp", a)
		if err != nil {
			t.Fatalf("bind %s: %v", a, err)
		}
		ln.Close()
	}
}

func TestFreePortWithCompanion(t *testing.T) {
	p := freePort(t, 1000)
	for _, q := range []int{p, p + 1000} {
		if !portFree(q) {
			t.Fatalf("port %d not free", q)
		}
	}
	portsMu.Lock()
	defer portsMu.Unlock()
	if !given[p] || !given[p+1000] {
		t.Fatal("the companion port must be reserved with its port")
	}
}
