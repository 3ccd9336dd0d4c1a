package mqtt

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// A simulated device starts its script when someone listens on one of its
// topics, when its context ends, or after the bound, whichever comes first.
func TestAwaitListener(t *testing.T) {
	prof := testProfile(t, "mqtt-elevator-gbt24476")
	pub := &Publisher{profile: prof, vars: map[string]string{"site": "s1", "device": "lift-9"}}
	topics := pub.Topics()
	if len(topics) == 0 || !strings.Contains(topics[0], "lift-9") {
		t.Fatalf("topics %v", topics)
	}
	synctest.Test(t, func(t *testing.T) {
		var listening atomic.Bool
		var asked atomic.Int64
		subscribed := func(topic string) bool { asked.Add(1); return listening.Load() && topic == topics[0] }
		go func() { time.Sleep(3 * time.Second); listening.Store(true) }()
		start := time.Now()
		pub.awaitListener(context.Background(), subscribed, time.Minute)
		if waited := time.Since(start); waited < 3*time.Second || waited > 4*time.Second {
			t.Errorf("returned after %s, want when the listener came (3 s)", waited)
		}
		if asked.Load() == 0 {
			t.Error("never asked the broker")
		}

		start = time.Now()
		pub.awaitListener(context.Background(), func(string) bool { return false }, time.Minute)
		if waited := time.Since(start); waited < time.Minute || waited > time.Minute+time.Second {
			t.Errorf("nobody listening: returned after %s, want the bound (1 min)", waited)
		}

		ctx, cancel := context.WithCancel(context.Background())
		go func() { time.Sleep(2 * time.Second); cancel() }()
		start = time.Now()
		pub.awaitListener(ctx, func(string) bool { return false }, time.Minute)
		if waited := time.Since(start); waited > 3*time.Second {
			t.Errorf("cancelled: returned after %s", waited)
		}
		// No broker to ask (estate sim against a real broker): at once.
		start = time.Now()
		pub.awaitListener(context.Background(), nil, time.Minute)
		if time.Since(start) != 0 {
			t.Error("without Subscribed it must not wait")
		}
	})
}
