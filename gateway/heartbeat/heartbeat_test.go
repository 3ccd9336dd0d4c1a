package heartbeat

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"path/filepath"
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

func (f *flaky) Heartbeat(ctx context.Context, s wire.GatewayStatus) (wire.HeartbeatAnswer, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	if f.fail[f.n] {
		return wire.HeartbeatAnswer{}, errors.New("desk unreachable")
	}
	return wire.HeartbeatAnswer{Acked: []int64{int64(f.n)}}, nil
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

// With WithStatusFile every beat is published with the desk's answer, for
// estate status: refused beats keep the time of the last accepted one.
func TestRunPublishesStatusFile(t *testing.T) {
	dir := t.TempDir()
	path := StatusFileName(dir, "gw-1")
	synctest.Test(t, func(t *testing.T) {
		to := &flaky{fail: map[int]bool{3: true}}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		beat := 0
		status := func() wire.GatewayStatus {
			beat++
			return wire.GatewayStatus{Gateway: "gw-1", Site: "s", At: time.Now(), Interval: time.Second,
				OutboxPending: beat, Devices: []wire.Device{{ID: "m1", State: "online"}}}
		}
		go func() {
			Run(ctx, time.Second, status, to, slog.New(slog.DiscardHandler), nil, WithStatusFile(path))
			close(done)
		}()
		// Beats at 0, 1 and 2 s; the third is refused.
		time.Sleep(2500 * time.Millisecond)
		synctest.Wait()
		p, err := ReadPublished(path)
		if err != nil {
			t.Fatal(err)
		}
		if p.DeskOK || p.DeskError != "desk unreachable" || p.OutboxPending != 3 || len(p.Devices) != 1 || p.PID == 0 {
			t.Errorf("after a refused beat: %+v", p)
		}
		if !p.DeskLastOK.Equal(p.At.Add(-time.Second)) {
			t.Errorf("last accepted %v, want the beat before %v", p.DeskLastOK, p.At)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if p, err = ReadPublished(path); err != nil || !p.DeskOK || p.DeskError != "" || !p.DeskLastOK.Equal(p.At) {
			t.Errorf("after an accepted beat: %+v %v", p, err)
		}
		cancel()
		<-done
	})
	if _, err := ReadPublished(filepath.Join(dir, "none.json")); err == nil {
		t.Error("a missing file read without error")
	}
}

// WithAnswer hears every answer the desk accepted, never a failed one's.
func TestRunHandsAnswers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		to := &flaky{fail: map[int]bool{2: true}}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		var got []int64
		go func() {
			Run(ctx, time.Second, func() wire.GatewayStatus { return wire.GatewayStatus{} }, to, slog.New(slog.DiscardHandler), nil,
				WithAnswer(func(_ context.Context, a wire.HeartbeatAnswer) { got = append(got, a.Acked...) }))
			close(done)
		}()
		time.Sleep(2500 * time.Millisecond)
		synctest.Wait()
		cancel()
		<-done
		if len(got) != 2 || got[0] != 1 || got[1] != 3 {
			t.Fatalf("answers heard %v, want those of beats 1 and 3", got)
		}
	})
}
