package loadtest

import (
	"context"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	code := m.Run()
	RemoveBinary()
	os.Exit(code)
}

// The hundred-gateway load at small scale, as a test: 10 gateways of 20
// devices for 12 s against two replicas, with an outage storm on two sites.
// What is checked is what must hold at any scale: every heartbeat and alarm
// action answered, every ticket the storm and the alarms created seen by
// every console once, in order. The figures are logged, not judged (the
// machine is shared); BenchmarkHundredGateways measures them at full scale.
func TestLoadSmall(t *testing.T) {
	d := StartLoadDesk(t, 10, 2)
	l := d.Load
	l.Devices, l.Duration, l.Heartbeat, l.AlarmsPerHour, l.StormSites, l.Consoles = 20, 12*time.Second, time.Second, 600, 2, 2
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rep, err := Run(ctx, l, d.DB, d.Replicas...)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", rep)
	if rep.Heartbeats == 0 || rep.HeartbeatErrors > 0 {
		t.Errorf("heartbeats: %d answered, %d failed", rep.Heartbeats, rep.HeartbeatErrors)
	}
	if rep.ActionFailures > 0 {
		t.Errorf("%d alarm actions failed", rep.ActionFailures)
	}
	if rep.StormTickets != 2*20 {
		t.Errorf("the storm created %d tickets, want %d", rep.StormTickets, 2*20)
	}
	if rep.Tickets <= rep.StormTickets {
		t.Errorf("no alarm besides the storm opened a ticket (%d tickets)", rep.Tickets)
	}
	created := map[int64]bool{}
	for _, id := range rep.Created {
		if created[id] {
			t.Errorf("ticket %d created twice", id)
		}
		created[id] = true
	}
	for i, c := range rep.Consoles {
		var got []int64
		var last int64
		for _, e := range c.Events() {
			if e.ID <= last {
				t.Fatalf("console %d: event %d after %d", i, e.ID, last)
			}
			last = e.ID
			if e.Type == "ticket.created" && created[e.TicketID] {
				got = append(got, e.TicketID)
			}
		}
		if len(got) != len(created) || len(slices.Compact(slices.Sorted(slices.Values(got)))) != len(created) {
			t.Errorf("console %d received %d creations of the %d tickets", i, len(got), len(created))
		}
	}
	var conns int
	for _, n := range rep.PGConnsMax {
		conns += n
	}
	if rep.PGConnsMax["replica-1"] == 0 || rep.PGConnsMax["replica-2"] == 0 {
		t.Errorf("pg_stat_activity shows no connection of a replica: %v", rep.PGConnsMax)
	}
	if rep.CPU["replica-1"] <= 0 || rep.CPU["replica-2"] <= 0 {
		t.Errorf("no CPU time measured: %v", rep.CPU)
	}
}

// BenchmarkHundredGateways is issue 18's load: 100 gateways' sites of 200
// devices each (heartbeats every 10 s with every device's health, alarm
// episodes at ESTATE_LOAD_ALARMS_PER_HOUR per site, default 30, each opened and
// cleared) and an outage storm on five sites at once half-way, against two
// desk replicas on PostgreSQL, with ESTATE_LOAD_CONSOLES consoles (default 5)
// on each replica; for ESTATE_LOAD_SECONDS (default 60). One iteration is one whole run.
func BenchmarkHundredGateways(b *testing.B) {
	seconds, alarms, consoles := envInt(b, "ESTATE_LOAD_SECONDS", 60), envInt(b, "ESTATE_LOAD_ALARMS_PER_HOUR", 30), envInt(b, "ESTATE_LOAD_CONSOLES", 5)
	d := StartLoadDesk(b, 100, 2)
	l := d.Load
	l.Devices, l.Duration, l.Heartbeat, l.AlarmsPerHour, l.StormSites, l.Consoles = 200, time.Duration(seconds)*time.Second, 10*time.Second, float64(alarms), 5, consoles
	var rep Report
	for b.Loop() {
		ctx, cancel := context.WithTimeout(context.Background(), l.Duration+10*time.Minute)
		var err error
		rep, err = Run(ctx, l, d.DB, d.Replicas...)
		cancel()
		if err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("\n%s", rep)
	b.ReportMetric(rep.HeartbeatsPerSecond(), "heartbeats/s")
	b.ReportMetric(float64(rep.ActionP50.Microseconds())/1000, "action-p50-ms")
	b.ReportMetric(float64(rep.ActionP99.Microseconds())/1000, "action-p99-ms")
	b.ReportMetric(float64(rep.TicketP99.Microseconds())/1000, "ticket-p99-ms")
	b.ReportMetric(float64(rep.StreamP99.Microseconds())/1000, "stream-delay-p99-ms")
	b.ReportMetric(float64(rep.PGConnsTotalMax), "pg-conns-max")
	b.ReportMetric(rep.CPUPercent("replica-1"), "replica1-cpu-%")
	b.ReportMetric(rep.CPUPercent("replica-2"), "replica2-cpu-%")
	b.ReportMetric(float64(rep.ActionFailures), "failed-actions")
}

func envInt(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		b.Fatalf("%s=%q: want a positive whole number", name, v)
	}
	return n
}
