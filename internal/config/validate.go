package config

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
)

// Known values of enumerated fields; the lists are what the messages offer.
var (
	TicketKinds = []string{"emergency", "repair", "top_up", "none"}
	Severities  = []string{"info", "warning", "critical"}
)

func (c *Config) has(path string) bool { _, ok := c.positions[path]; return ok }

func (c *Config) validate() []Problem {
	var ps []Problem
	add := func(path, format string, args ...any) { ps = append(ps, c.Problemf(path, format, args...)) }

	if c.Site.ID == "" {
		add("site.id", "required: a short identifier of the estate, such as \"sunrise-garden\"")
	} else if !isIdentifier(c.Site.ID) {
		add("site.id", "%q may use only letters, digits, '-' and '_'", c.Site.ID)
	}
	if c.Site.Timezone != "" {
		if _, err := time.LoadLocation(c.Site.Timezone); err != nil {
			add("site.timezone", "unknown time zone %q (use an IANA name such as Asia/Shanghai)", c.Site.Timezone)
		}
	}

	if len(c.Devices) > 0 || c.has("gateway") {
		ps = append(ps, c.validateGateway()...)
	} else if len(c.Rules) > 0 {
		ps = append(ps, c.validateRules()...) // a rule set on its own (configs/rules/)
	}
	return ps
}

func (c *Config) validateGateway() []Problem {
	var ps []Problem
	add := func(path, format string, args ...any) { ps = append(ps, c.Problemf(path, format, args...)) }
	if c.Gateway.ID == "" {
		add("gateway.id", "required: a name for this gateway, unique within the site")
	}
	if c.Gateway.OfflineAfter < 1 {
		add("gateway.offline_after", "must be at least 1 failed poll")
	}
	if err := checkHTTPURL(c.Gateway.DeskURL); err != nil {
		add("gateway.desk_url", "%v", err)
	} else if u, _ := url.Parse(c.Gateway.DeskURL); u.Scheme == "http" && !IsLoopbackHost(u.Hostname()) && !c.Gateway.DeskInsecure {
		add("gateway.desk_url", "%q is a remote desk over plain http: the gateway's token and residents' data would cross the network in clear; use https://, or set gateway.desk_insecure: true on a network you trust", c.Gateway.DeskURL)
	}
	if len(c.Gateway.DeskToken) < minTokenSize {
		add("gateway.desk_token", "required: the desk token of role gateway for this site (at least %d characters)", minTokenSize)
	}
	if rt := c.Gateway.Runtime; rt.MaxProcs != nil && (*rt.MaxProcs < 0 || *rt.MaxProcs > 1024) {
		add("gateway.runtime.max_procs", "must be 0 (every CPU) to 1024, got %d", *rt.MaxProcs)
	}
	if rt := c.Gateway.Runtime; rt.GCPercent != nil && (*rt.GCPercent < -1 || *rt.GCPercent > 100000) {
		add("gateway.runtime.gc_percent", "must be -1 (off) to 100000, got %d", *rt.GCPercent)
	}
	if c.Gateway.Runtime.MemoryLimitMB < 0 {
		add("gateway.runtime.memory_limit_mb", "must be 0 (no limit) or a size in MB, got %d", c.Gateway.Runtime.MemoryLimitMB)
	}
	if c.Gateway.HeartbeatInterval < time.Second {
		add("gateway.heartbeat_interval", "must be at least 1s, got %s", c.Gateway.HeartbeatInterval)
	}
	if c.Gateway.MetricsListen != "" {
		if err := checkListen(c.Gateway.MetricsListen); err != nil {
			add("gateway.metrics_listen", "%v", err)
		} else if !c.Gateway.MetricsLoopback() && c.Gateway.MetricsToken == "" {
			// At the line of metrics_listen: that is what asks for the token.
			ps = append(ps, newProblem(c.File, c.Line("gateway.metrics_listen"), "gateway.metrics_token", "required when gateway.metrics_listen (%s) is not a loopback address: a bearer token of at least %d characters that every request to /metrics and /api/v1/alarms must carry (may be ${ENV})", c.Gateway.MetricsListen, minTokenSize))
		}
	}
	if c.Gateway.MetricsToken != "" && len(c.Gateway.MetricsToken) < minTokenSize {
		add("gateway.metrics_token", "must be at least %d characters", minTokenSize)
	}
	if c.Gateway.OutboxMaxAttempts < 1 {
		add("gateway.outbox_max_attempts", "must be at least 1, got %d", c.Gateway.OutboxMaxAttempts)
	}
	ps = append(ps, c.validateInfluxDB()...)

	ids := map[string]bool{}
	families := map[string]bool{}
	for i, d := range c.Devices {
		p := fmt.Sprintf("devices[%d]", i)
		switch {
		case d.ID == "":
			add(p+".id", "required: a device identifier unique within the site")
		case !isIdentifier(d.ID):
			add(p+".id", "%q may use only letters, digits, '-' and '_'", d.ID)
		case ids[d.ID]:
			add(p+".id", "%q is used by another device", d.ID)
		}
		ids[d.ID] = true
		families[d.Family] = true
		if d.Protocol == "" {
			add(p+".protocol", "required, such as modbus_tcp")
		}
		if d.PollInterval < 100*time.Millisecond {
			add(p+".poll_interval", "must be at least 100ms, got %s", d.PollInterval)
		}
		if d.Timeout <= 0 || d.Timeout > d.PollInterval*10 {
			add(p+".timeout", "must be positive and at most ten poll intervals, got %s", d.Timeout)
		}
	}

	ps = append(ps, c.validateRules()...)
	ps = append(ps, c.validateTopology()...)

	for i, s := range c.Simulators {
		p := fmt.Sprintf("simulators[%d]", i)
		if _, ok := c.DeviceByID(s.Device); !ok {
			add(p+".device", "no device has id %q", s.Device)
		}
	}
	return ps
}

// DefaultOutboxMaxAttempts is gateway.outbox_max_attempts when unset.
const DefaultOutboxMaxAttempts = 20

// IsLoopbackHost reports whether host (a name or an IP, without port) is this
// machine only: "localhost" or a loopback address.
func IsLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// MetricsAddr is the address the gateway's metrics listener binds: a
// metrics_listen without a host (":9273") means loopback, not every interface,
// because what it serves names residents' units.
func (g Gateway) MetricsAddr() string {
	host, port, err := net.SplitHostPort(g.MetricsListen)
	if err != nil || host != "" {
		return g.MetricsListen
	}
	return net.JoinHostPort("127.0.0.1", port)
}

// MetricsLoopback reports whether the metrics listener is reachable from
// this machine only (no token needed).
func (g Gateway) MetricsLoopback() bool {
	host, _, err := net.SplitHostPort(g.MetricsAddr())
	return err == nil && IsLoopbackHost(host)
}

func isIdentifier(s string) bool {
	for _, r := range s {
		if !(r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return s != ""
}

func checkListen(addr string) error {
	if addr == "" {
		return fmt.Errorf("required: host:port to listen on, such as 127.0.0.1:8080")
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("%q is not host:port", addr)
	}
	return nil
}

func checkHTTPURL(raw string) error {
	if raw == "" {
		return fmt.Errorf("required: an http:// or https:// URL")
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http:// or https:// URL", raw)
	}
	return nil
}
