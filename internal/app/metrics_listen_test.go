package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/estatehq/estate/internal/config"
	"github.com/estatehq/estate/internal/testenv"
)

// gatewayOnly is a gateway without devices whose metrics listener is addr.
func gatewayOnly(t *testing.T, listen, token string) *config.Config {
	t.Helper()
	text := fmt.Sprintf(`site: {id: s1}
gateway: {id: gw, desk_url: "http://127.0.0.1:1", desk_token: "0123456789abcdef0123", state_dir: %q,
  metrics_listen: %q, metrics_token: %q}
influxdb: {url: "http://127.0.0.1:1", bucket: "b/autogen"}
`, t.TempDir(), listen, token)
	cfg, err := config.Parse("gw.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// runGatewayOnly runs RunGateway until the test ends.
func runGatewayOnly(t *testing.T, cfg *config.Config) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- RunGateway(ctx, cfg, slog.New(slog.DiscardHandler), nil, nil) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("gateway: %v", err)
		}
	})
}

func get(t *testing.T, url, auth string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// waitListening polls until the listener answers anything.
func waitListening(t *testing.T, url string) {
	t.Helper()
	waitFor(t, 10*time.Second, "the metrics listener", func() bool { code, _ := get(t, url, ""); return code != 0 })
}

// On loopback without a token, /metrics and /api/v1/alarms answer as before.
func TestGatewayMetricsOnLoopbackWithoutToken(t *testing.T) {
	addr := testenv.FreeAddr(t)
	cfg := gatewayOnly(t, addr, "")
	runGatewayOnly(t, cfg)
	waitListening(t, "http://"+addr+"/metrics")
	for _, path := range []string{"/metrics", "/api/v1/alarms"} {
		if code, body := get(t, "http://"+addr+path, ""); code != http.StatusOK {
			t.Errorf("%s: %d %s", path, code, body)
		}
	}
}

// A metrics listener without a host binds loopback, not every interface.
func TestGatewayMetricsWithoutHostBindsLoopback(t *testing.T) {
	addr := testenv.FreeAddr(t)
	_, port, _ := strings.Cut(addr, ":")
	cfg := gatewayOnly(t, ":"+port, "")
	if got := cfg.Gateway.MetricsAddr(); got != "127.0.0.1:"+port {
		t.Fatalf("binds %s", got)
	}
	runGatewayOnly(t, cfg)
	waitListening(t, "http://127.0.0.1:"+port+"/metrics")
}

// With a token every request must carry it: anything else is 401.
func TestGatewayMetricsRequireTheToken(t *testing.T) {
	const token = "metrics-token-0123456789"
	addr := testenv.FreeAddr(t)
	runGatewayOnly(t, gatewayOnly(t, addr, token))
	waitListening(t, "http://"+addr+"/metrics")
	for _, path := range []string{"/metrics", "/api/v1/alarms", "/api/v1/alarms?state=firing"} {
		for _, auth := range []string{"", "Bearer", "Bearer ", "Bearer wrong-token-0123456789", "bearer " + token,
			"Basic " + token, "Bearer " + token + "x", "Bearer " + token[:len(token)-1], token} {
			if code, body := get(t, "http://"+addr+path, auth); code != http.StatusUnauthorized {
				t.Errorf("%s with %q: %d %s", path, auth, code, body)
			}
		}
		if code, body := get(t, "http://"+addr+path, "Bearer "+token); code != http.StatusOK {
			t.Errorf("%s with the token: %d %s", path, code, body)
		}
	}
}

// A configuration built in code that skips validation cannot open the
// listener beyond loopback without a token either.
func TestGatewayMetricsBeyondLoopbackNeedAToken(t *testing.T) {
	cfg := gatewayOnly(t, "127.0.0.1:1", "")
	cfg.Gateway.MetricsListen = "0.0.0.0:0"
	err := RunGateway(context.Background(), cfg, slog.New(slog.DiscardHandler), nil, nil)
	if err == nil || !strings.Contains(err.Error(), "metrics_token") {
		t.Fatalf("RunGateway: %v", err)
	}
}
