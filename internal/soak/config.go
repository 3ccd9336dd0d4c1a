package soak

import (
	"fmt"
	"strings"
)

// config is the YAML of the soak's estate, for the gateway and each desk
// (deskListen differs): every option as configs/site.example.yaml explains.
func (s *soak) config(deskListen, driver, database string, px map[string]string, gwMetrics string) string {
	o := s.o
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("# Written by the soak (internal/soak); see docs/testing.md.")
	w("site: {id: %s, name: 浸泡测试小区, timezone: Asia/Shanghai}", siteID)
	w("gateway:")
	w("  id: %s", gatewayID)
	w("  profiles_dir: %s/profiles", o.Dir)
	w("  offline_after: 3")
	w("  desk_url: http://%s", px[proxyDesk])
	w("  desk_token: %s", gatewayToken)
	w("  state_dir: %s/gateway", o.Dir)
	w("  metrics_listen: %s", gwMetrics)
	w("  heartbeat_interval: 5s")
	w("influxdb:")
	w("  url: http://%s", px[proxyInflux])
	w("  token: \"\"")
	w("  bucket: estate/autogen")
	w("  batch_size: 2000")
	w("  flush_interval: 1s")
	w("  timeout: 5s")
	w("  max_retry_interval: 5s")
	w("desk:")
	w("  listen: %s", deskListen)
	w("  driver: %s", driver)
	w("  database: %q", database)
	w("  tokens:")
	w("    - {name: soak-admin, token: %s, role: admin}", adminToken)
	w("    - {name: %s, token: %s, role: gateway, site: %s}", gatewayID, gatewayToken, siteID)
	if o.MQTTDevices > 0 {
		w("mqtt:")
		w("  broker: tcp://%s", px[proxyBroker])
		w("  client_id: estate-%s", gatewayID)
		w("  clean_session: false   # the broker queues QoS 1 messages while the gateway is away")
		w("  qos: 1")
		w("  keep_alive: 10s")
		w("  max_reconnect_interval: 5s")
	}
	w("devices:")
	timeout := "3s"
	for _, d := range s.fleet.devices {
		switch d.Protocol {
		case "modbus_tcp", "modbus_rtu_over_tcp":
			timeout := timeout
			if d.Proxied {
				timeout = proxiedTimeout.String()
			}
			// retries: 0: a failed poll is one request, whose late answer the
			// count may excuse (count.go).
			w("  - {id: %s, family: meter, protocol: %s, profile: soak-meter, address: %q, slave_id: %d, building: %q, unit: %q, poll_interval: %s, timeout: %s, retries: 0}",
				d.ID, d.Protocol, d.Endpoint, d.Unit, d.Building, fmt.Sprint(d.Unit), o.PollInterval, timeout)
		case "dlt645":
			w("  - {id: %s, family: meter, protocol: dlt645, profile: dlt645-prepaid-single-phase, address: %q, serial: {port: %q, baud: 9600, parity: E}, building: %q, poll_interval: %s, timeout: 500ms}",
				d.ID, d.Endpoint, s.fleet.busLink, d.Building, max(o.PollInterval, 30e9))
		case "mqtt":
			w("  - {id: %s, family: power, protocol: mqtt, profile: soak-sensor, building: %q}", d.ID, d.Building)
		case "gbt26875":
			w("  - {id: %s, family: fire, protocol: gbt26875, address: %q, building: %q}", d.ID, d.Endpoint, d.Building)
		}
	}
	w("rules:")
	w("  - name: soak_fault")
	w("    family: meter")
	w("    point: fault")
	w("    above: 0")
	w("    severity: warning")
	w("    ticket: repair")
	w("    title: \"{building}栋 {device} 故障 (soak)\"")
	w("  - name: device_offline")
	w("    type: offline")
	w("    for: %s", o.OfflineFor)
	w("    severity: warning")
	w("    ticket: repair")
	w("  - name: fire_alarm")
	w("    family: fire")
	w("    event: fire_alarm")
	w("    clear_event: reset")
	w("    severity: critical")
	w("    ticket: emergency")
	w("    message: {zh: \"{building}栋 火警: {source} {text}\", en: \"FIRE ALARM building {building}: {source} {text}\"}")
	return b.String()
}
