package config

import (
	"strings"
	"testing"
)

// The gateway's metrics listener and its desk: what `estate check` refuses.
func TestGatewayListenerAndDeskSecurity(t *testing.T) {
	t.Setenv("ESTATE_TEST_METRICS_TOKEN", "metrics-token-from-env-0123")
	for _, tc := range []struct {
		name, old, new string
		want           string // "" = accepted
	}{
		{name: "loopback metrics need no token", old: "  desk_token:", new: "  metrics_listen: 127.0.0.1:9273\n  desk_token:"},
		{name: "no host is loopback", old: "  desk_token:", new: "  metrics_listen: :9273\n  desk_token:"},
		{name: "localhost metrics", old: "  desk_token:", new: "  metrics_listen: localhost:9273\n  desk_token:"},
		{name: "every interface needs a token", old: "  desk_token:", new: "  metrics_listen: 0.0.0.0:9273\n  desk_token:",
			want: "site.yaml:6: gateway.metrics_token: required when gateway.metrics_listen (0.0.0.0:9273) is not a loopback address"},
		{name: "a LAN address needs a token", old: "  desk_token:", new: "  metrics_listen: 192.168.1.20:9273\n  desk_token:",
			want: "gateway.metrics_token: required"},
		{name: "token from the environment", old: "  desk_token:", new: "  metrics_listen: 0.0.0.0:9273\n  metrics_token: ${ESTATE_TEST_METRICS_TOKEN}\n  desk_token:"},
		{name: "token not in the environment", old: "  desk_token:", new: "  metrics_listen: 0.0.0.0:9273\n  metrics_token: ${ESTATE_TEST_NO_SUCH_TOKEN}\n  desk_token:",
			want: "gateway.metrics_token: environment variable ESTATE_TEST_NO_SUCH_TOKEN is not set"},
		{name: "short token", old: "  desk_token:", new: "  metrics_listen: 0.0.0.0:9273\n  metrics_token: short\n  desk_token:",
			want: "gateway.metrics_token: must be at least"},
		{name: "remote http desk", old: "desk_url: http://127.0.0.1:8080", new: "desk_url: http://desk.example.net:8080",
			want: `site.yaml:5: gateway.desk_url: "http://desk.example.net:8080" is a remote desk over plain http`},
		{name: "remote http desk by address", old: "desk_url: http://127.0.0.1:8080", new: "desk_url: http://10.0.0.5",
			want: "gateway.desk_url:"},
		{name: "remote http desk, insecure asked for", old: "desk_url: http://127.0.0.1:8080", new: "desk_url: http://10.0.0.5\n  desk_insecure: true"},
		{name: "remote https desk", old: "desk_url: http://127.0.0.1:8080", new: "desk_url: https://desk.example.net"},
		{name: "localhost http desk", old: "desk_url: http://127.0.0.1:8080", new: "desk_url: http://localhost:8080"},
		{name: "ipv6 loopback http desk", old: "desk_url: http://127.0.0.1:8080", new: "desk_url: http://[::1]:8080"},
		{name: "outbox attempts", old: "  desk_token:", new: "  outbox_max_attempts: -1\n  desk_token:",
			want: "gateway.outbox_max_attempts: must be at least 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := strings.Replace(validConfig, tc.old, tc.new, 1)
			if text == validConfig {
				t.Fatalf("case does not change the config: %q", tc.old)
			}
			cfg, err := Parse("site.yaml", []byte(text))
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("problems:\n%v\nwant one containing %q", err, tc.want)
			}
			if tc.want == "" && cfg.Gateway.MetricsListen != "" && !cfg.Gateway.MetricsLoopback() && cfg.Gateway.MetricsToken == "" {
				t.Errorf("a listener beyond loopback without a token: %+v", cfg.Gateway)
			}
		})
	}
	cfg, err := Parse("site.yaml", []byte(strings.Replace(validConfig, "  desk_token:", "  metrics_listen: :9273\n  desk_token:", 1)))
	if err != nil || cfg.Gateway.MetricsAddr() != "127.0.0.1:9273" || cfg.Gateway.OutboxMaxAttempts != DefaultOutboxMaxAttempts {
		t.Errorf("metrics address %q, outbox attempts %d (%v)", cfg.Gateway.MetricsAddr(), cfg.Gateway.OutboxMaxAttempts, err)
	}
}
