package alarm

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/estatehq/estate/devices"
	"github.com/estatehq/estate/internal/config"
	"github.com/estatehq/estate/internal/wire"
)

func TestGroupSilent(t *testing.T) {
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	off := func(s int) groupMember { return groupMember{offline: true, since: at(s)} }
	fed := func(s int) groupMember { return groupMember{offline: true, since: at(s), explained: true} }
	on := groupMember{}
	for _, c := range []struct {
		name    string
		members []groupMember
		wasOut  bool
		want    bool
	}{
		{"one device is that device offline", []groupMember{off(0)}, false, false},
		{"two silent together", []groupMember{off(0), off(3)}, false, true},
		{"all silent within the window", []groupMember{off(0), off(30), off(60)}, false, true},
		{"one still answers", []groupMember{off(0), off(1), on}, false, false},
		{"spread wider than the window", []groupMember{off(0), off(61)}, false, false},
		{"spread wider, but silent already", []groupMember{off(0), off(61)}, true, true},
		{"a feeder outage explains the early ones", []groupMember{fed(0), fed(1), off(300), off(301)}, false, true},
		{"a feeder outage explains them all", []groupMember{fed(0), fed(1)}, false, false},
		{"one answers while silent already", []groupMember{off(0), on}, true, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := groupSilent(c.members, time.Minute, c.wasOut); got != c.want {
				t.Fatalf("groupSilent = %v, want %v", got, c.want)
			}
		})
	}
}

func TestActionsNameTheLastError(t *testing.T) {
	rule := &config.Rule{Name: "device_offline", Type: config.RuleOffline, Ticket: "repair", Severity: "warning"}
	info := &devices.Info{ID: "m1", Site: "s1", Units: map[string]string{}}
	for _, c := range []struct {
		name, lastErr, want string
	}{
		{"exception 11", "exception 11 (gateway target no response)", "最后的错误: exception 11 (gateway target no response)\n"},
		{"timeout", "timeout", "最后的错误: timeout\n"},
		{"unknown", "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			tr := Transition{Key: "s1/device_offline/m1", Episode: "e", Rule: rule, Device: info, State: StateFiring,
				At: t0, Ticket: true, LastError: c.lastErr}
			acts := Actions(tr, time.UTC)
			if len(acts) != 1 {
				t.Fatalf("actions %+v", acts)
			}
			desc := acts[0].Ticket.Description + "\n" + acts[0].Ticket.DescriptionEN
			if c.want == "" && strings.Contains(desc, "last error") || !strings.Contains(desc, c.want) ||
				c.want != "" && !strings.Contains(acts[0].Ticket.DescriptionEN, "last error: "+c.lastErr+"\n") {
				t.Fatalf("description %q, want it to say %q", desc, c.want)
			}
		})
	}
}

// endpointConfig is, per endpoint, n meters (id <endpoint, dots as underscores>-NN, building b),
// with a device_offline rule waiting 1m, and the links of the meters.
func endpointConfig(t *testing.T, extra string, endpoints ...struct {
	id, building string
	n            int
}) (*config.Config, map[string]Link) {
	t.Helper()
	var b strings.Builder
	b.WriteString("devices:\n")
	links := map[string]Link{}
	for _, ep := range endpoints {
		for i := range ep.n {
			id := fmt.Sprintf("%s-%02d", strings.ReplaceAll(ep.id, ".", "_"), i)
			fmt.Fprintf(&b, "  - {id: %s, family: meter, protocol: modbus_tcp, building: %q, address: \"%s:502\", slave_id: %d}\n",
				id, ep.building, ep.id, i+1)
			links[id] = Link{Key: "tcp:" + ep.id + ":502"}
		}
	}
	b.WriteString(extra)
	b.WriteString(`rules:
  - {name: device_offline, type: offline, for: 1m, ticket: repair,
     message: {zh: "{unit} 设备 {device} 无应答", en: "device {device} does not answer"}}
`)
	return loadConfig(t, b.String()), links
}

type endpoint = struct {
	id, building string
	n            int
}

// deviceTickets are the tickets of one device each (not an incident's).
func (h *harness) deviceTickets() []wire.Ticket {
	var out []wire.Ticket
	for _, tk := range h.tickets("") {
		if tk.Device != "" {
			out = append(out, tk)
		}
	}
	return out
}

// A serial gateway with 25 unit ids stops answering (its meters get
// exception 11): one incident for its endpoint, no repair per meter. 24 come
// back; the one still silent after the grace gets its repair.
func TestEndpointSilentOneIncident(t *testing.T) {
	cfg, links := endpointConfig(t, "", endpoint{"10.0.0.5", "1", 25}, endpoint{"10.0.0.6", "1", 5})
	h := newHarnessLinks(t, cfg, links)
	h.lastErr = "exception 11 (gateway target no response)"
	cut, back, dead := 60*time.Second, 5*time.Minute, "10_0_0_5-07"
	silent := func(id string, s time.Duration) bool {
		return strings.HasPrefix(id, "10_0_0_5-") && s >= cut+3*time.Second && (s < back || id == dead)
	}
	h.run(0, back-time.Second, silent)
	all := h.tickets("")
	if len(all) != 1 || all[0].Device != "" || all[0].AlarmKey != "s1/link_silent/tcp:10.0.0.5:502" || all[0].Kind != wire.Repair {
		t.Fatalf("during the silence: tickets %+v, want one incident for the endpoint", all)
	}
	for _, want := range []string{"25 devices silent since", "10_0_0_5-00", "exception 11 (gateway target no response)", "network endpoint"} {
		if !strings.Contains(all[0].DescriptionEN+all[0].TitleEN, want) {
			t.Errorf("incident %q / %q does not say %q", all[0].Title, all[0].Description, want)
		}
	}
	suppressed := 0
	for _, tr := range h.trs {
		if tr.Rule.Name == "device_offline" && tr.State == StateFiring && tr.Suppressed.Kind == LinkSilent {
			suppressed++
		}
	}
	if suppressed != 25 {
		t.Errorf("%d offline alarms suppressed by the endpoint's silence, want 25", suppressed)
	}

	h.run(back, 10*time.Minute, silent)
	rep := h.deviceTickets()
	if len(rep) != 1 || rep[0].Device != dead {
		t.Fatalf("after the others came back: device tickets %+v, want one repair for %s", rep, dead)
	}
	if !strings.Contains(rep[0].Description, "最后的错误: exception 11 (gateway target no response)") ||
		!strings.Contains(rep[0].Description, "告警在抑制期间触发") || !strings.Contains(rep[0].DescriptionEN, "last error: exception 11 (gateway target no response)") ||
		!strings.Contains(rep[0].DescriptionEN, "raised while suppressed") {
		t.Errorf("the released repair says %q / %q", rep[0].Description, rep[0].DescriptionEN)
	}
	if n := len(h.tickets("")); n != 2 {
		t.Errorf("%d tickets in all, want the incident and one repair", n)
	}
	notes, _ := h.desk.ListNotes(t.Context(), all[0].ID)
	if len(notes) != 1 || !strings.Contains(notes[0].Body, "cleared") {
		t.Errorf("the incident got no note when the endpoint answered again: %+v", notes)
	}
}

// Every device of the gateway (two endpoints of 25) falls silent: one
// site-wide incident, not 50 repairs nor one per endpoint.
func TestGatewaySilentOneIncident(t *testing.T) {
	cfg, links := endpointConfig(t, "", endpoint{"10.0.0.5", "1", 25}, endpoint{"10.0.0.6", "2", 25})
	h := newHarnessLinks(t, cfg, links)
	h.run(0, 5*time.Minute, func(_ string, s time.Duration) bool { return s >= 63*time.Second })
	all := h.tickets("")
	if len(all) != 1 || all[0].Kind != wire.Emergency || all[0].AlarmKey != "s1/gateway_silent/gw" || all[0].Device != "" {
		t.Fatalf("tickets %+v, want one emergency for the gateway", all)
	}
	if !strings.Contains(all[0].Description, "50 devices silent since") || !strings.Contains(all[0].Description, "and 30 more") {
		t.Errorf("incident description %q", all[0].Description)
	}
	for _, tr := range h.trs {
		if tr.Rule.Name == "link_silent" {
			t.Fatalf("an endpoint's incident fired inside the gateway's: %+v", tr)
		}
	}
	views, _ := h.eng.Snapshot(t0.Add(5*time.Minute), time.UTC)
	muted := 0
	for _, v := range views {
		if v.Rule == "device_offline" && strings.Contains(v.Suppressed, "every device of gateway gw silent") {
			muted++
		}
	}
	if muted != 50 {
		t.Errorf("%d offline alarms listed as muted by the gateway's silence, want 50", muted)
	}
}

// With feeders configured, a building's outage stays the feeder's (one
// emergency, no endpoint incidents); when the other building follows and
// nothing answers any more, the gateway's silence is one more incident, not
// 50 repairs.
func TestFeederFirstThenGatewaySilent(t *testing.T) {
	cfg, links := endpointConfig(t, `topology:
  feeders:
    - {id: f1, building: "1", buildings: ["1"], silent_within: 10s}
    - {id: f2, building: "2", buildings: ["2"], silent_within: 10s}
`, endpoint{"10.0.1.1", "1", 25}, endpoint{"10.0.1.2", "1", 25}, endpoint{"10.0.2.1", "2", 25}, endpoint{"10.0.2.2", "2", 25})
	h := newHarnessLinks(t, cfg, links)
	silent := func(id string, s time.Duration) bool {
		if strings.HasPrefix(id, "10_0_1_") {
			return s >= 63*time.Second
		}
		return s >= 5*time.Minute+3*time.Second
	}
	h.run(0, 5*time.Minute-time.Second, silent)
	em := h.tickets(wire.Emergency)
	if len(em) != 1 || !strings.Contains(em[0].Title, "f1") || len(h.tickets("")) != 1 {
		t.Fatalf("building 1 out: tickets %+v, want the feeder's emergency only", h.tickets(""))
	}
	h.run(5*time.Minute, 12*time.Minute, silent)
	if rep := h.deviceTickets(); len(rep) != 0 {
		t.Fatalf("%d device tickets once the whole gateway is silent, want 0", len(rep))
	}
	em = h.tickets(wire.Emergency)
	if len(em) != 2 || len(h.tickets("")) != 2 {
		t.Fatalf("tickets %+v, want the feeder's emergency and the gateway's", h.tickets(""))
	}
}

// One meter of an endpoint is silent, the others answer: its own repair,
// naming its error, after its rule's for.
func TestOneSilentMeterOfAnEndpoint(t *testing.T) {
	cfg, links := endpointConfig(t, "", endpoint{"10.0.0.5", "1", 25}, endpoint{"10.0.0.6", "1", 5})
	h := newHarnessLinks(t, cfg, links)
	h.lastErr = "exception 10 (gateway path unavailable)"
	h.run(0, 3*time.Minute, func(id string, s time.Duration) bool { return id == "10_0_0_5-03" && s >= 30*time.Second })
	all := h.tickets("")
	if len(all) != 1 || all[0].Device != "10_0_0_5-03" ||
		!strings.Contains(all[0].DescriptionEN, "last error: exception 10 (gateway path unavailable)") {
		t.Fatalf("tickets %+v", all)
	}
}

// flakyStore fails the commits it is told to.
type flakyStore struct {
	Store
	fail bool
}

func (f *flakyStore) Commit(b Batch) error {
	if f.fail {
		return errors.New("disk full")
	}
	return f.Store.Commit(b)
}

// A failed commit of a group's incident undoes it: the next call fires it,
// once, with its desk action.
func TestGroupIncidentRetriedAfterFailedCommit(t *testing.T) {
	cfg, links := endpointConfig(t, "", endpoint{"10.0.0.5", "1", 3}, endpoint{"10.0.0.6", "1", 1})
	st, err := OpenStore(filepath.Join(t.TempDir(), "alarms.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	fs := &flakyStore{Store: st}
	eng, err := NewEngine(Options{Config: cfg, Store: fs, Now: func() time.Time { return t0 }, Links: links})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"10_0_0_5-00", "10_0_0_5-01", "10_0_0_5-02"} {
		eng.ObserveHealth(id, true, "timeout", t0)
	}
	eng.ObserveHealth("10_0_0_6-00", false, "", t0)
	fs.fail = true
	if trs := eng.Tick(t0.Add(time.Minute)); len(trs) != 0 {
		t.Fatalf("transitions returned from a failed commit: %+v", trs)
	}
	fs.fail = false
	trs := eng.Tick(t0.Add(time.Minute + time.Second))
	var incidents, tickets int
	for _, tr := range trs {
		if tr.Rule.Name == "link_silent" && tr.State == StateFiring {
			incidents++
		}
		tickets += len(Actions(tr, time.UTC))
	}
	if incidents != 1 || tickets != 1 {
		t.Fatalf("after the retry: %d incidents, %d desk actions, want 1 and 1: %+v", incidents, tickets, trs)
	}
	if trs := eng.Tick(t0.Add(time.Minute + 2*time.Second)); len(trs) != 0 {
		t.Fatalf("the incident fired again: %+v", trs)
	}
}

// A gateway restart while an endpoint is silent neither releases the muted
// offline alarms as their devices report one by one, nor clears and reopens
// the incident: it waits until every device of the group has reported.
func TestRestartDuringEndpointSilence(t *testing.T) {
	cfg, links := endpointConfig(t, "", endpoint{"10.0.0.5", "1", 25}, endpoint{"10.0.0.6", "1", 5})
	h := newHarnessLinks(t, cfg, links)
	silent := func(id string, s time.Duration) bool {
		return strings.HasPrefix(id, "10_0_0_5-") && s >= 63*time.Second
	}
	h.run(0, 3*time.Minute, silent)
	if n := len(h.tickets("")); n != 1 {
		t.Fatalf("%d tickets before the restart, want the incident", n)
	}
	h.now = t0.Add(4 * time.Minute)
	h.start()
	h.run(4*time.Minute, 8*time.Minute, silent)
	all := h.tickets("")
	if len(all) != 1 {
		t.Fatalf("after a restart: tickets %+v, want the incident only", all)
	}
	if notes, _ := h.desk.ListNotes(t.Context(), all[0].ID); len(notes) != 0 {
		t.Errorf("the incident was cleared or raised again by the restart: %+v", notes)
	}
	for _, tr := range h.trs {
		if tr.Late {
			t.Fatalf("a muted alarm was released by the restart: %+v", tr)
		}
	}
}

// The soak's outage storm: an endpoint's meters fall silent (one incident);
// one meter answers again, the others have not been polled yet (their
// pollers back off) when the whole endpoint falls silent a second time, a
// minute later. That is the endpoint's incident again, not a repair per
// meter: the meters still silent from the first time do not make the second
// silence look spread over more than the window (found by internal/soak).
func TestEndpointSilentAgainBeforeAllAnswered(t *testing.T) {
	cfg, links := endpointConfig(t, "", endpoint{"10.0.0.5", "1", 5}, endpoint{"10.0.0.6", "1", 5})
	h := newHarnessLinks(t, cfg, links)
	cut, back, again, end := 60*time.Second, 4*time.Minute, 5*time.Minute, 12*time.Minute
	h.run(0, end, func(id string, s time.Duration) bool {
		if !strings.HasPrefix(id, "10_0_0_5-") {
			return false
		}
		if id == "10_0_0_5-04" {
			return s >= cut+3*time.Second && (s < back || s >= again)
		}
		return s >= cut+3*time.Second
	})
	if rep := h.deviceTickets(); len(rep) != 0 {
		var ids []string
		for _, tk := range rep {
			ids = append(ids, tk.Device)
		}
		t.Fatalf("per-meter repairs %v, want none: the whole endpoint was silent again", ids)
	}
	all := h.tickets("")
	if len(all) != 1 || all[0].AlarmKey != "s1/link_silent/tcp:10.0.0.5:502" {
		t.Fatalf("tickets %+v, want the endpoint's one incident", all)
	}
}
