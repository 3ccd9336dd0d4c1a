package soak

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// Report is what a soak found.
type Report struct {
	Options  Options
	Started  time.Time
	Took     time.Duration
	Faults   []*fault
	Readings []*readingCount
	Tickets  []*ticketCount
	Storm    stormCount
	Procs    []procSummary
	Notes    []string
	// Failures are the soak's verdict: empty means nothing was lost,
	// duplicated or leaked.
	Failures []string
}

// procSummary is one process's memory and goroutines over its lives.
type procSummary struct {
	Name          string
	Lives, Kills  int
	Exited        []string
	Samples       int
	LongestLife   time.Duration
	RSSFirst      int64 // median of the first quarter of the longest life (after its first minute)
	RSSLast       int64 // median of its last quarter
	RSSMax        int64
	GorFirst      int
	GorLast       int
	GorMax        int
	Verdict       string
	judged, leaky bool
}

func (s *soak) count(ctx context.Context) (*Report, error) {
	r := &Report{Options: s.o, Started: s.start, Faults: s.faults}
	readings, err := s.countReadings(ctx)
	if err != nil {
		return nil, err
	}
	r.Readings = readings
	r.Tickets, r.Storm = s.countTickets()
	for _, c := range append([]*child{s.gateway}, s.desks...) {
		r.Procs = append(r.Procs, summarize(c))
	}
	if s.stopErr != "" {
		r.Notes = append(r.Notes, "gateway stop: "+s.stopErr)
	}
	if len(s.desks) == 2 {
		r.Notes = append(r.Notes, "two desks on one PostgreSQL database; the desk proxy sends to desk-1 and, while desk-1 is killed, to desk-0 (as a load balancer would); tickets are counted on desk-0")
	}
	r.Took = time.Since(s.start)

	// The verdict.
	for _, rc := range r.Readings {
		if rc.Lost > 0 {
			r.Failures = append(r.Failures, fmt.Sprintf("%s: %d readings lost (%s)", rc.Protocol, rc.Lost, strings.Join(rc.Examples, "; ")))
		}
		if rc.Duplicated > 0 || rc.Phantom > 0 {
			r.Failures = append(r.Failures, fmt.Sprintf("%s: %d readings duplicated, %d never produced (%s)", rc.Protocol, rc.Duplicated, rc.Phantom, strings.Join(rc.Examples, "; ")))
		}
		if rc.Protocol != "dlt645" && rc.Produced == 0 {
			r.Failures = append(r.Failures, rc.Protocol+": no reading produced")
		}
		if rc.Protocol == "dlt645" && rc.Points == 0 {
			r.Failures = append(r.Failures, "dlt645: no reading in InfluxDB")
		}
	}
	for _, tc := range r.Tickets {
		if tc.Lost > 0 || tc.Duplicated > 0 {
			r.Failures = append(r.Failures, fmt.Sprintf("%s: %d incidents without a ticket, %d tickets too many (%s)", tc.Rule, tc.Lost, tc.Duplicated, strings.Join(tc.Examples, "; ")))
		}
	}
	raised := map[string]int{}
	for _, tc := range r.Tickets {
		raised[tc.Rule] = tc.Raised
	}
	if raised["soak_fault"] < s.o.Incidents {
		r.Failures = append(r.Failures, fmt.Sprintf("only %d of %d meter incidents were raised", raised["soak_fault"], s.o.Incidents))
	}
	if raised["fire_alarm"] < s.o.FirePanels {
		r.Failures = append(r.Failures, fmt.Sprintf("only %d of %d fire alarms were confirmed by the gateway", raised["fire_alarm"], s.o.FirePanels))
	}
	if r.Storm.Storms > 0 && r.Storm.LinkTickets != 1 {
		r.Failures = append(r.Failures, fmt.Sprintf("outage storm: %d incident tickets for the silent endpoint, want 1", r.Storm.LinkTickets))
	}
	if r.Storm.DeviceOffline > 0 {
		r.Failures = append(r.Failures, fmt.Sprintf("outage storm: %d per-device offline tickets under the endpoint's incident", r.Storm.DeviceOffline))
	}
	if r.Storm.GatewaySilent > 0 {
		r.Failures = append(r.Failures, fmt.Sprintf("%d gateway-wide outage tickets, but the gateway's devices never all fell silent", r.Storm.GatewaySilent))
	}
	for _, f := range r.Faults {
		if f.Err != "" {
			r.Failures = append(r.Failures, fmt.Sprintf("fault %s at %v could not be carried out: %s", f, f.At, f.Err))
		}
	}
	for _, p := range r.Procs {
		if p.leaky {
			r.Failures = append(r.Failures, fmt.Sprintf("%s: %s", p.Name, p.Verdict))
		}
		for _, e := range p.Exited {
			r.Failures = append(r.Failures, fmt.Sprintf("%s exited by itself: %s", p.Name, e))
		}
	}
	return r, nil
}

// summarize judges a process by its longest life: a leak is memory or
// goroutines that keep growing, so the medians of its first and last
// quarters (after a minute of warming up) are compared.
func summarize(c *child) procSummary {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := procSummary{Name: c.name, Lives: c.lives, Kills: c.kills, Exited: append([]string(nil), c.exited...), Samples: len(c.samples)}
	byLife := map[int][]sample{}
	for _, s := range c.samples {
		byLife[s.Life] = append(byLife[s.Life], s)
		p.RSSMax = max(p.RSSMax, s.RSS)
		p.GorMax = max(p.GorMax, s.Goroutines)
	}
	var longest []sample
	for _, ss := range byLife {
		if len(ss) > 1 && ss[len(ss)-1].At.Sub(ss[0].At) > p.LongestLife {
			p.LongestLife = ss[len(ss)-1].At.Sub(ss[0].At)
			longest = ss
		}
	}
	var warm []sample
	for _, s := range longest {
		if s.At.Sub(longest[0].At) >= time.Minute {
			warm = append(warm, s)
		}
	}
	if len(warm) < 8 {
		p.Verdict = fmt.Sprintf("not judged: its longest life (%v) has too few samples after its first minute", p.LongestLife.Round(time.Second))
		return p
	}
	q := len(warm) / 4
	first, last := warm[:q], warm[len(warm)-q:]
	p.RSSFirst, p.RSSLast = medianRSS(first), medianRSS(last)
	p.GorFirst, p.GorLast = medianGor(first), medianGor(last)
	p.judged = true
	rssGrowth := p.RSSLast - p.RSSFirst
	gorGrowth := p.GorLast - p.GorFirst
	switch {
	case gorGrowth > max(25, p.GorFirst/4):
		p.leaky = p.LongestLife >= 5*time.Minute
		p.Verdict = fmt.Sprintf("goroutines grew from %d to %d over %v", p.GorFirst, p.GorLast, p.LongestLife.Round(time.Second))
	case rssGrowth > max(32<<20, p.RSSFirst/2):
		p.leaky = p.LongestLife >= 5*time.Minute
		p.Verdict = fmt.Sprintf("RSS grew from %s to %s over %v", mb(p.RSSFirst), mb(p.RSSLast), p.LongestLife.Round(time.Second))
	default:
		p.Verdict = "flat"
	}
	if !p.leaky && p.Verdict != "flat" {
		p.Verdict += " (too short a life to call it a leak)"
	}
	return p
}

func medianRSS(ss []sample) int64 {
	v := make([]int64, len(ss))
	for i, s := range ss {
		v[i] = s.RSS
	}
	slices.Sort(v)
	return v[len(v)/2]
}

func medianGor(ss []sample) int {
	v := make([]int, len(ss))
	for i, s := range ss {
		v[i] = s.Goroutines
	}
	slices.Sort(v)
	return v[len(v)/2]
}

func mb(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/(1<<20)) }

// Markdown is the one-page report.
func (r *Report) Markdown() string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	o := r.Options
	verdict := "PASS: nothing lost, nothing duplicated, no leak"
	if len(r.Failures) > 0 {
		verdict = fmt.Sprintf("FAIL: %d finding(s)", len(r.Failures))
	}
	w("# Estate soak report")
	w("")
	w("**%s.** Started %s UTC, faults for %v, %v in all (seed %d).", verdict, r.Started.UTC().Format("2006-01-02 15:04:05"), o.Duration, r.Took.Round(time.Second), o.Seed)
	w("")
	driver := "SQLite"
	if o.PostgresURL != "" {
		driver = "PostgreSQL"
	}
	w("Fleet: %d devices: %d Modbus TCP endpoints and %d RTU-over-TCP endpoints × %d units (endpoint 0 behind the Modbus proxy), %d DL/T 645 meters on a pseudo-terminal, %d MQTT devices, %d fire panels (GB/T 26875.3); polled every %v. `estate gateway` and %d `estate desk` on %s, InfluxDB 1.8 and mosquitto of the soak's own, toxiproxy in front of InfluxDB, desk, broker and Modbus endpoint 0.",
		o.Devices(), o.TCPEndpoints, o.RTUEndpoints, o.UnitsPerEndpoint, o.DLT645Meters, o.MQTTDevices, o.FirePanels, o.PollInterval, o.Desks, driver)
	w("")
	if len(r.Failures) > 0 {
		w("## Findings")
		for _, f := range r.Failures {
			w("- %s", f)
		}
		w("")
	}

	w("## Faults injected")
	w("| fault | on | times | total time |")
	w("| --- | --- | ---: | ---: |")
	type agg struct {
		n     int
		total time.Duration
	}
	aggs := map[[2]string]*agg{}
	for _, f := range r.Faults {
		k := [2]string{f.Kind, f.Target}
		if aggs[k] == nil {
			aggs[k] = &agg{}
		}
		if !f.Began.IsZero() {
			aggs[k].n++
			if !f.Ended.IsZero() {
				aggs[k].total += f.Ended.Sub(f.Began)
			}
		}
	}
	keys := make([][2]string, 0, len(aggs))
	for k := range aggs {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i][0] != keys[j][0] {
			return keys[i][0] < keys[j][0]
		}
		return keys[i][1] < keys[j][1]
	})
	for _, k := range keys {
		on := k[1]
		if on == "" {
			on = "(SIGKILL, restart)"
		}
		w("| %s | %s | %d | %v |", k[0], on, aggs[k].n, aggs[k].total.Round(time.Second))
	}
	w("")

	w("## Readings (the devices' own numbers vs InfluxDB)")
	w("| protocol | devices | produced | stored | not taken: gateway killed | not taken: toxic on path | not taken: poll failed | lost | duplicated |")
	w("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, rc := range r.Readings {
		if rc.Protocol == "dlt645" {
			w("| dlt645 (no numbers: points counted) | %d | – | %d points | – | – | – | – | – |", rc.Devices, rc.Points)
			continue
		}
		w("| %s | %d | %d | %d | %d | %d | %d | **%d** | **%d** |", rc.Protocol, rc.Devices, rc.Produced, rc.Stored, rc.NotTakenGW, rc.NotTakenTx, rc.NotTakenTO, rc.Lost, rc.Duplicated+rc.Phantom)
	}
	w("")
	w("\"Not taken\" are answers the gateway cannot have received: sent while it was being killed, into a reset or black-holed connection of the proxied endpoint, or after the gateway gave up on that poll (at most one per poll it counted as failed; the meters poll without retries). Everything the gateway took must be in InfluxDB once.")
	w("")

	w("## Alarms and tickets")
	w("| incident | raised | tickets | lost | duplicated |")
	w("| --- | ---: | ---: | ---: | ---: |")
	for _, tc := range r.Tickets {
		w("| %s | %d | %d | **%d** | **%d** |", tc.Rule, tc.Raised, tc.Tickets, tc.Lost, tc.Duplicated)
	}
	st := r.Storm
	w("| outage storm on endpoint 0 (%d long black hole(s)) | %d | %d link_silent | – | %d per-device offline under it |", st.Storms, st.Storms, st.LinkTickets, st.DeviceOffline)
	w("")
	if len(st.OtherOffline) > 0 {
		w("Other devices' offline tickets (answers lost to load, not faults): %s", strings.Join(st.OtherOffline, ", "))
		w("")
	}
	if len(st.UnexpectedOther) > 0 {
		w("Other tickets: %s", strings.Join(st.UnexpectedOther, ", "))
		w("")
	}

	w("## Memory and goroutines")
	w("| process | lives | SIGKILLs | samples | longest life | RSS first → last quarter (max) | goroutines first → last (max) | verdict |")
	w("| --- | ---: | ---: | ---: | ---: | --- | --- | --- |")
	for _, p := range r.Procs {
		rss, gor := "–", "–"
		if p.judged {
			rss = fmt.Sprintf("%s → %s (%s)", mb(p.RSSFirst), mb(p.RSSLast), mb(p.RSSMax))
			gor = fmt.Sprintf("%d → %d (%d)", p.GorFirst, p.GorLast, p.GorMax)
		}
		w("| %s | %d | %d | %d | %v | %s | %s | %s |", p.Name, p.Lives, p.Kills, p.Samples, p.LongestLife.Round(time.Second), rss, gor, p.Verdict)
	}
	w("")
	for _, n := range r.Notes {
		w("- %s", n)
	}
	w("- Work folder (configs, every process's log per life): `%s`", o.Dir)
	return b.String()
}
