package soak

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/estatehq/estate/internal/wire"
)

// Counting. A reading is identified by its device and its number: the Modbus
// slave answered read n with seq = n, the MQTT device published seq = n and
// the broker acknowledged it. InfluxDB must hold each number once (a replay
// of the same point, same timestamp, overwrites itself and counts once); a
// number held at two timestamps is a duplicate. A number the device produced
// that InfluxDB lacks is lost, unless the gateway cannot have had it: it was
// answered while the gateway was being killed, or (for the proxied endpoint)
// while a toxic stood between them, or the gateway counted a failed poll of
// the device (a timeout: the answer came after it gave up; the soak's meters
// poll without retries, so a failed poll is one answer at most); those are
// counted apart, as not taken.

// readingCount is the tally of one protocol.
type readingCount struct {
	Protocol   string
	Devices    int
	Produced   int
	Stored     int // distinct numbers in InfluxDB
	NotTakenGW int // answered while the gateway was killed
	NotTakenTx int // answered through a toxic (proxied endpoint)
	NotTakenTO int // answered after the gateway gave up (its failed polls of the device)
	Lost       int
	Duplicated int // numbers stored at more than one timestamp
	Phantom    int // numbers stored that the device never produced
	Examples   []string
	// Uncounted protocols (DL/T 645) have points but no numbers.
	Points int
}

func (s *soak) countReadings(ctx context.Context) ([]*readingCount, error) {
	byProto := map[string]*readingCount{}
	order := []string{"modbus_tcp", "modbus_rtu_over_tcp", "mqtt", "dlt645"}
	for _, p := range order {
		byProto[p] = &readingCount{Protocol: p}
	}
	stored, err := s.storedSeqs(ctx, "meter")
	if err != nil {
		return nil, err
	}
	if s.o.MQTTDevices > 0 {
		more, err := s.storedSeqs(ctx, "power")
		if err != nil {
			return nil, err
		}
		for k, v := range more {
			stored[k] = v
		}
	}
	dlPoints, err := s.countPoints(ctx, "meter", "dl-")
	if err != nil {
		return nil, err
	}
	grace := 4 * time.Second // the poll timeout and a second
	modbusWindows := s.tox.windowsOf(proxyModbus)
	s.mu.Lock()
	gwDown := append([]window(nil), s.gwDown...)
	s.mu.Unlock()
	failed := s.gateway.failedPolls()
	in := func(t time.Time, ws []window, before, after time.Duration) bool {
		for _, w := range ws {
			if !t.Before(w.From.Add(-before)) && !t.After(w.To.Add(after)) {
				return true
			}
		}
		return false
	}
	for _, d := range s.fleet.devices {
		rc := byProto[d.Protocol]
		if rc == nil {
			continue
		}
		rc.Devices++
		if d.Protocol == "dlt645" {
			rc.Points += dlPoints[d.ID]
			continue
		}
		produced := d.producedCopy()
		got := stored[d.ID]
		rc.Produced += len(produced)
		for n, ts := range got {
			if n < 1 || n > uint64(len(produced)) {
				rc.Phantom++
				rc.example(fmt.Sprintf("%s: seq %d stored but never produced (%d produced)", d.ID, n, len(produced)))
				continue
			}
			rc.Stored++
			if len(ts) > 1 {
				rc.Duplicated++
				rc.example(fmt.Sprintf("%s: seq %d stored %d times (%s)", d.ID, n, len(ts), fmtTimes(ts)))
			}
		}
		budget := failed[d.ID] // each failed poll (retries: 0) may have had its answer come too late
		for i, at := range produced {
			n := uint64(i + 1)
			if _, ok := got[n]; ok {
				continue
			}
			t := time.Unix(0, at)
			switch {
			case in(t, gwDown, grace, time.Second):
				rc.NotTakenGW++
			case d.Proxied && in(t, modbusWindows, time.Second, grace):
				rc.NotTakenTx++
			case budget > 0 && d.Protocol != "mqtt":
				budget--
				rc.NotTakenTO++
			default:
				rc.Lost++
				rc.example(fmt.Sprintf("%s: seq %d produced at %s, not in InfluxDB", d.ID, n, t.UTC().Format("15:04:05.000")))
			}
		}
	}
	var out []*readingCount
	for _, p := range order {
		if byProto[p].Devices > 0 {
			out = append(out, byProto[p])
		}
	}
	return out, nil
}

func (rc *readingCount) example(s string) {
	if len(rc.Examples) < 5 {
		rc.Examples = append(rc.Examples, s)
	}
}

func fmtTimes(ts []int64) string {
	var parts []string
	for _, t := range ts {
		parts = append(parts, time.Unix(0, t).UTC().Format("15:04:05.000"))
	}
	return strings.Join(parts, ", ")
}

// influxQuery runs an InfluxQL query against the soak's InfluxDB itself (not
// through the proxy) and returns its series.
func (s *soak) influxQuery(ctx context.Context, q string) ([]influxSeries, error) {
	u := s.influx.URL + "/query?" + url.Values{"db": {"estate"}, "epoch": {"ns"}, "q": {q}}.Encode()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	resp, err := (&http.Client{Timeout: 5 * time.Minute}).Do(req)
	if err != nil {
		return nil, fmt.Errorf("InfluxDB %q: %w", q, err)
	}
	defer resp.Body.Close()
	var body struct {
		Results []struct {
			Series []influxSeries `json:"series"`
			Error  string         `json:"error"`
		} `json:"results"`
		Error string `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("InfluxDB %q: %w", q, err)
	}
	if body.Error != "" {
		return nil, fmt.Errorf("InfluxDB %q: %s", q, body.Error)
	}
	var out []influxSeries
	for _, r := range body.Results {
		if r.Error != "" {
			return nil, fmt.Errorf("InfluxDB %q: %s", q, r.Error)
		}
		out = append(out, r.Series...)
	}
	return out, nil
}

type influxSeries struct {
	Tags   map[string]string `json:"tags"`
	Values [][]any           `json:"values"`
}

// storedSeqs is, by device, every stored seq with its timestamps.
func (s *soak) storedSeqs(ctx context.Context, measurement string) (map[string]map[uint64][]int64, error) {
	series, err := s.influxQuery(ctx, fmt.Sprintf(`SELECT "seq" FROM %q WHERE "seq" > 0 GROUP BY "device"`, measurement))
	if err != nil {
		return nil, err
	}
	out := map[string]map[uint64][]int64{}
	for _, sr := range series {
		dev := sr.Tags["device"]
		m := out[dev]
		if m == nil {
			m = map[uint64][]int64{}
			out[dev] = m
		}
		for _, v := range sr.Values {
			if len(v) < 2 {
				continue
			}
			t, ok1 := v[0].(float64)
			n, ok2 := v[1].(float64)
			if !ok1 || !ok2 {
				continue
			}
			m[uint64(n)] = append(m[uint64(n)], int64(t))
		}
	}
	return out, nil
}

// countPoints is how many points each device with the prefix has.
func (s *soak) countPoints(ctx context.Context, measurement, prefix string) (map[string]int, error) {
	series, err := s.influxQuery(ctx, fmt.Sprintf(`SELECT count("quality") FROM %q WHERE "device" =~ /^%s/ GROUP BY "device"`, measurement, prefix))
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, sr := range series {
		for _, v := range sr.Values {
			if len(v) >= 2 {
				if n, ok := v[1].(float64); ok {
					out[sr.Tags["device"]] += int(n)
				}
			}
		}
	}
	return out, nil
}

// tickets lists every ticket of the desk (the first one, which is never
// killed), through its API as an admin.
func (s *soak) tickets(ctx context.Context) ([]wire.Ticket, error) {
	var all []wire.Ticket
	cursor := ""
	client := &http.Client{Timeout: 30 * time.Second}
	for range 1000 {
		q := url.Values{"limit": {"500"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.deskURL[0]+"/api/v1/tickets?"+q.Encode(), nil)
		req.Header.Set("Authorization", "Bearer "+adminToken)
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		var page struct {
			Tickets    []wire.Ticket `json:"tickets"`
			NextCursor string        `json:"next_cursor"`
		}
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("desk tickets: %s", resp.Status)
		}
		if err != nil {
			return nil, err
		}
		all = append(all, page.Tickets...)
		if page.NextCursor == "" {
			return all, nil
		}
		cursor = page.NextCursor
	}
	return nil, fmt.Errorf("desk tickets: too many pages")
}

// ticketCount is the tally of incidents and tickets.
type ticketCount struct {
	Rule       string
	Raised     int
	Tickets    int
	Lost       int
	Duplicated int
	Examples   []string
}

// stormCount is what the outage storm on the proxied endpoint made.
type stormCount struct {
	Storms          int // black holes long enough for the endpoint's incident
	LinkTickets     int // link_silent tickets for the endpoint
	DeviceOffline   int // per-device offline tickets under it (should be none)
	OtherOffline    []string
	GatewaySilent   int
	UnexpectedOther []string
}

func (s *soak) countTickets() ([]*ticketCount, stormCount) {
	byKey := map[string][]wire.Ticket{}
	for _, t := range s.ticketList {
		k := incidentKey(t.AlarmKey)
		byKey[k] = append(byKey[k], t)
	}
	s.mu.Lock()
	incidents := append([]*incident(nil), s.incidents...)
	s.mu.Unlock()
	rules := map[string]*ticketCount{}
	var order []string
	expected := map[string]bool{}
	for _, i := range incidents {
		tc := rules[i.Rule]
		if tc == nil {
			tc = &ticketCount{Rule: i.Rule}
			rules[i.Rule] = tc
			order = append(order, i.Rule)
		}
		expected[i.Key] = true
		tc.Raised++
		ts := byKey[i.Key]
		tc.Tickets += len(ts)
		switch {
		case len(ts) == 0:
			tc.Lost++
			tc.example(fmt.Sprintf("%s raised at %s: no ticket", i.Key, i.RaisedAt.UTC().Format("15:04:05")))
		case len(ts) > 1:
			tc.Duplicated += len(ts) - 1
			var ids []string
			for _, t := range ts {
				ids = append(ids, fmt.Sprint(t.ID))
			}
			tc.example(fmt.Sprintf("%s: %d tickets (%s)", i.Key, len(ts), strings.Join(ids, ", ")))
		}
	}
	sort.Strings(order)
	var out []*ticketCount
	for _, r := range order {
		out = append(out, rules[r])
	}

	var st stormCount
	for _, f := range s.faults {
		if f.Kind == faultStorm && !f.Began.IsZero() && f.Ended.Sub(f.Began) >= s.o.OfflineFor+3*s.o.PollInterval {
			st.Storms++
		}
	}
	for key, ts := range byKey {
		if expected[key] {
			continue
		}
		parts := strings.SplitN(key, "/", 3)
		if len(parts) != 3 {
			st.UnexpectedOther = append(st.UnexpectedOther, fmt.Sprintf("%q: %d ticket(s)", key, len(ts)))
			continue
		}
		rule, dev := parts[1], parts[2]
		switch {
		case rule == "link_silent":
			st.LinkTickets += len(ts)
		case rule == "gateway_silent":
			st.GatewaySilent += len(ts)
		case rule == "device_offline" && s.fleet.byID[dev] != nil && s.fleet.byID[dev].Proxied:
			st.DeviceOffline += len(ts)
		case rule == "device_offline":
			st.OtherOffline = append(st.OtherOffline, fmt.Sprintf("%s (%d)", dev, len(ts)))
		default:
			st.UnexpectedOther = append(st.UnexpectedOther, fmt.Sprintf("%s: %d ticket(s)", key, len(ts)))
		}
	}
	sort.Strings(st.OtherOffline)
	sort.Strings(st.UnexpectedOther)
	return out, st
}

// incidentKey is an alarm key without the source an event rule adds
// (site/fire_alarm/panel/zone → site/fire_alarm/panel): a panel raises one
// incident in the soak, wherever on it.
func incidentKey(k string) string {
	parts := strings.SplitN(k, "/", 4)
	if len(parts) == 4 {
		return strings.Join(parts[:3], "/")
	}
	return k
}

func (tc *ticketCount) example(s string) {
	if len(tc.Examples) < 5 {
		tc.Examples = append(tc.Examples, s)
	}
}
