package heartbeat

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/estatehq/estate/internal/wire"
)

// flaky fails the heartbeats whose number (from 1) is in fail.
type flaky struct {
	mu   sync.Mutex
	n    int
	fail map[int]bool
}

func (f *flaky) Heartbeat(ctx context.Context, s wire.GatewayStatus) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	if f.fail[f.n] {
		return errors.New("desk unreachable")
	}
	return nil
}

// The interval is driven by synctest's fake clock: ten beats take no real time.
func TestRunCountsAndLogsTransitions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs bytes.Buffer
		log := slog.New(slog.NewTextHandler(&logs, nil))
		m := NewMetrics(prometheus.NewRegistry())
		to := &flaky{fail: map[int]bool{3: true, 4: true, 5: true}}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() {
			Run(ctx, time.Second, func() wire.GatewayStatus { return wire.GatewayStatus{} }, to, log, m)
			close(done)
		}()
		// Beats at 0 s, 1 s, …, 9 s: ten of them before 9.5 s.
		time.Sleep(9500 * time.Millisecond)
		synctest.Wait()
		cancel()
		<-done
		if ok, bad := testutil.ToFloat64(m.sent.WithLabelValues("ok")), testutil.ToFloat64(m.sent.WithLabelValues("error")); ok != 7 || bad != 3 {
			t.Fatalf("heartbeats ok=%v error=%v, want 7 and 3", ok, bad)
		}
		out := logs.String()
		if strings.Count(out, "heartbeat to desk failed") != 1 || strings.Count(out, "heartbeat to desk delivered again") != 1 {
			t.Fatalf("want one failure line and one recovery line:\n%s", out)
		}
	})
}

func TestRunWithoutMetrics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() {
			Run(ctx, 0, func() wire.GatewayStatus { return wire.GatewayStatus{} }, &flaky{}, slog.New(slog.DiscardHandler), nil)
			close(done)
		}()
		synctest.Wait()
		cancel()
		<-done
	})
}
