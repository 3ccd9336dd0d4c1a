package config

import (
	"strings"
	"testing"
)

const gatewayHeader = `site: {id: s1}
gateway: {id: gw, desk_url: "http://127.0.0.1:1", desk_token: "0123456789abcdef0123"}
influxdb: {url: "http://127.0.0.1:1", bucket: "b/autogen"}
devices:
  - {id: m1, family: meter, protocol: modbus_tcp}
`

func TestRuleAndTopologyProblems(t *testing.T) {
	cases := []struct {
		name, yaml, want string
	}{
		{"no condition", "rules:\n  - {name: r, point: x}\n", "test.yaml:7: rules[0]: say what raises the alarm"},
		{"bad type", "rules:\n  - {name: r, type: sometimes}\n", `rules[0].type: "sometimes" is not a rule type`},
		{"clear on the wrong side", "rules:\n  - {name: r, point: x, below: 10, clear: 5}\n", "rules[0].clear: must be at or above below (10)"},
		{"state needs values", "rules:\n  - {name: r, type: state, point: relay}\n", "rules[0]: a state rule gives either equals or in"},
		{"rising needs a guard", "rules:\n  - {name: r, type: rising, point: energy}\n", "rules[0].only_if: required"},
		{"no_data needs a duration", "rules:\n  - {name: r, type: no_data}\n", "rules[0].no_data_for: required"},
		{"event needs a type", "rules:\n  - {name: r, type: event}\n", "rules[0].event: required"},
		{"unknown placeholder", "rules:\n  - {name: r, point: x, above: 1, message: {en: \"{room} hot\"}}\n", "rules[0].message.en: unknown placeholder {room}"},
		{"unknown placeholder in title_en", "rules:\n  - {name: r, point: x, above: 1, title_en: \"{flat} hot\"}\n", "rules[0].title_en: unknown placeholder {flat}"},
		{"unknown device", "rules:\n  - {name: r, type: offline, devices: [m9]}\n", `rules[0].devices[0]: no device has id "m9"`},
		{"bad priority", "rules:\n  - {name: r, type: offline, priority: P9}\n", `rules[0].priority: "P9" is not a priority`},
		{"name is part of the key", "rules:\n  - {name: \"a/b\", type: offline}\n", "may use only letters"},
		{"unknown key", "rules:\n  - {name: r, type: offline, fro: 5m}\n", "fro: unknown key"},
		{"negative for", "rules:\n  - {name: r, type: offline, for: -1s}\n", "rules[0].for: must not be negative"},
		{"deviation needs a nominal", "rules:\n  - {name: r, type: deviation, points: [v1], below_pct: 7}\n", "rules[0].nominal: required"},
		{"deviation needs a band", "rules:\n  - {name: r, type: deviation, points: [v1], nominal: 220}\n", "rules[0]: give below_pct, above_pct or both"},
		{"deviation percent", "rules:\n  - {name: r, type: deviation, points: [v1], nominal: 220, above_pct: 150}\n", "rules[0].above_pct: must be a percentage above 0 and below 100"},
		{"deviation takes points", "rules:\n  - {name: r, type: deviation, point: v1, nominal: 220, above_pct: 7}\n", "rules[0].point: a deviation rule judges points"},
		{"deviation is no threshold", "rules:\n  - {name: r, type: deviation, points: [v1], nominal: 220, above_pct: 7, below: 200}\n", "below, above and clear are for threshold rules"},
		{"imbalance needs two points", "rules:\n  - {name: r, type: imbalance, points: [i1], above: 20}\n", "rules[0].points: required: at least 2 points"},
		{"imbalance needs a level", "rules:\n  - {name: r, type: imbalance, points: [i1, i2]}\n", "rules[0].above: required"},
		{"imbalance clear", "rules:\n  - {name: r, type: imbalance, points: [i1, i2], above: 20, clear: 30}\n", "rules[0].clear: must be between 0 and above (20)"},
		{"min_mean elsewhere", "rules:\n  - {name: r, point: x, above: 1, min_mean: 3}\n", "rules[0].min_mean: applies to imbalance rules only"},
		{"nominal elsewhere", "rules:\n  - {name: r, point: x, above: 1, nominal: 220}\n", "rules[0].nominal: nominal, below_pct and above_pct apply to deviation rules only"},
		{"point and points", "rules:\n  - {name: r, point: x, points: [y], above: 1}\n", "rules[0].points: give either point or points"},
		{"points twice", "rules:\n  - {name: r, points: [x, x], above: 1}\n", "rules[0].points[1]: must be a point name, each once"},
		{"points on a state rule", "rules:\n  - {name: r, points: [x], point: x, equals: 1}\n", "only threshold, deviation and imbalance rules judge several points"},
		{"points on an event rule", "rules:\n  - {name: r, event: e, points: [x]}\n", "rules[0].points: an event rule judges no points"},
		{"abs on a state rule", "rules:\n  - {name: r, point: x, equals: 1, abs: true}\n", "rules[0].abs: applies to threshold rules only"},
		{"group_by value", "rules:\n  - {name: r, event: flooding, group_by: room}\n", `rules[0].group_by: "room" is not a grouping; use source`},
		{"group_by on a threshold", "rules:\n  - {name: r, point: x, above: 1, group_by: source}\n", "rules[0].group_by: applies to event rules only"},
		{"feeder without devices", "topology:\n  feeders: [{id: f1}]\n", "topology.feeders[0]: give the devices"},
		{"feeder share", "topology:\n  feeders: [{id: f1, devices: [m1], silent_share: 2}]\n", "silent_share: must be above 0 and at most 1"},
		{"incomer probe", "topology:\n  feeders: [{id: f1, devices: [m1], incomer: {device: m1, point: voltage}}]\n", "incomer: give either below"},
		{"maintenance end", "maintenance:\n  - {reason: works}\n", "maintenance[0].end: required"},
		{"maintenance reason", "maintenance:\n  - {end: 2026-05-01T10:00:00Z, devices: [m2]}\n", `maintenance[0].devices[0]: no device has id "m2"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("test.yaml", []byte(gatewayHeader+tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want a problem containing %q, got %v", tc.want, err)
			}
		})
	}
}

func TestRuleDefaultsAndFeederDevices(t *testing.T) {
	cfg, err := Parse("test.yaml", []byte(gatewayHeader+`  - {id: m2, family: meter, protocol: modbus_tcp, building: "2", floor: "3"}
  - {id: m3, family: meter, protocol: modbus_tcp, building: "2", floor: "4"}
rules:
  - {name: low, point: balance, below: 10}
  - {name: trip, point: relay, equals: 0}
  - {name: fire, event: fire_alarm}
  - {name: gone, type: offline}
topology:
  feeders:
    - {id: f23, buildings: ["2"], floors: ["3"], devices: [m1]}
maintenance:
  - {reason: works, building: "2", end: 2026-05-01T10:00:00Z}
`))
	if err != nil {
		t.Fatal(err)
	}
	types := []string{}
	for _, r := range cfg.Rules {
		types = append(types, r.Type+"/"+r.Ticket+"/"+r.Severity)
	}
	if got := strings.Join(types, " "); got != "threshold/none/warning state/none/warning event/none/warning offline/none/warning" {
		t.Errorf("defaults: %s", got)
	}
	if !cfg.Rules[3].SuppressedByOutage() || cfg.Rules[0].SuppressedByOutage() {
		t.Error("offline rules are suppressed by an outage by default, threshold rules are not")
	}
	if got := strings.Join(cfg.FeederDevices(cfg.Topology.Feeders[0]), ","); got != "m1,m2" {
		t.Errorf("feeder devices %s", got)
	}
	f := cfg.Topology.Feeders[0]
	if f.SilentShare != 0.8 || f.SilentWithin.String() != "10s" || cfg.Topology.OutageGrace.String() != "2m0s" {
		t.Errorf("topology defaults %+v %s", f, cfg.Topology.OutageGrace)
	}
	w := cfg.Maintenance[0]
	if !w.Covers("m3", "2", w.End.Add(-1)) || w.Covers("m3", "2", w.End) || w.Covers("m1", "", w.End.Add(-1)) {
		t.Error("maintenance window coverage")
	}
}
