package desk

import (
	"io"
	"log/slog"
	"slices"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/estatehq/estate/desk/deskconfig"
)

// The desk's series are on the registry it is given, under the names of
// docs/metrics.md, and a second desk on the same registry (a restart within
// one process) shares them instead of panicking.
func TestMetricsOnTheGivenRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	first := New(deskconfig.Config{}, nil, log, WithRegistry(reg))
	second := New(deskconfig.Config{}, nil, log, WithRegistry(reg))

	m := first.metrics
	m.ticketsCreated.WithLabelValues("repair", "phone").Inc()
	m.ticketTransitions.WithLabelValues("dispatch").Inc()
	m.transitionsRefused.WithLabelValues("close").Inc()
	m.logins.WithLabelValues("ok").Inc()
	m.eventStreams.Inc()
	m.notificationsSent.WithLabelValues("hook", "sent").Inc()
	m.deadlinesMissed.WithLabelValues("repair", "on_site").Inc()
	second.metrics.ticketsCreated.WithLabelValues("repair", "phone").Inc()

	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range families {
		names = append(names, f.GetName())
		if f.GetName() == "estate_desk_tickets_created_total" {
			if got := f.GetMetric()[0].GetCounter().GetValue(); got != 2 {
				t.Errorf("tickets created, counted by two desks on one registry: %v, want 2", got)
			}
		}
	}
	for _, want := range []string{
		"estate_desk_tickets_created_total", "estate_desk_ticket_transitions_total",
		"estate_desk_transitions_refused_total", "estate_desk_logins_total", "estate_desk_event_streams",
		"estate_desk_notifications_total", "estate_desk_deadlines_missed_total",
	} {
		if !slices.Contains(names, want) {
			t.Errorf("%s not on the desk's registry (it has %v)", want, names)
		}
	}

	// Without a registry each desk has its own: nothing is counted on the
	// default registry, and building many desks does not panic.
	a, b := New(deskconfig.Config{}, nil, log), New(deskconfig.Config{}, nil, log)
	a.metrics.logins.WithLabelValues("ok").Inc()
	if a.reg == b.reg || a.metrics.logins == b.metrics.logins {
		t.Error("two desks without a registry share one")
	}
	if fs, _ := prometheus.DefaultGatherer.Gather(); slices.ContainsFunc(fs, func(f *dto.MetricFamily) bool { return f.GetName() == "estate_desk_logins_total" }) {
		t.Error("desk metrics on the default registry")
	}
}
