package promreg

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestRegisterTwiceSharesTheCollector(t *testing.T) {
	reg := prometheus.NewRegistry()
	opts := prometheus.CounterOpts{Name: "estate_test_total", Help: "A test counter."}
	a := Register(reg, prometheus.NewCounter(opts))
	b := Register(reg, prometheus.NewCounter(opts))
	a.Inc()
	b.Inc()
	if got := testutil.ToFloat64(a); got != 2 {
		t.Fatalf("counter = %v, want 2: the second registration must reuse the first collector", got)
	}
	if n, err := testutil.GatherAndCount(reg, "estate_test_total"); err != nil || n != 1 {
		t.Fatalf("gathered %d series (%v), want 1", n, err)
	}
}

func TestRegisterConflictPanics(t *testing.T) {
	reg := prometheus.NewRegistry()
	Register(reg, prometheus.NewCounter(prometheus.CounterOpts{Name: "estate_test_total", Help: "One help."}))
	defer func() {
		if recover() == nil {
			t.Fatal("a collector with the same name and another help must not register silently")
		}
	}()
	Register(reg, prometheus.NewCounter(prometheus.CounterOpts{Name: "estate_test_total", Help: "Another help."}))
}

func TestOrPrivate(t *testing.T) {
	if OrPrivate(nil) == nil {
		t.Fatal("nil registerer must become a private registry")
	}
	reg := prometheus.NewRegistry()
	if OrPrivate(reg) != reg {
		t.Fatal("a given registerer must be kept")
	}
}
