package desk

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/estatehq/estate/internal/promreg"
)

// metrics are the desk's own Prometheus series (docs/metrics.md lists them).
// They live on the registry the desk is given, not on package globals, so
// that two desks in one process (tests, a restarted desk in the demo) each
// count on their own registry, or share one without a duplicate-registration
// panic.
type metrics struct {
	ticketsCreated     *prometheus.CounterVec
	ticketTransitions  *prometheus.CounterVec
	transitionsRefused *prometheus.CounterVec
	logins             *prometheus.CounterVec
	smsSent            *prometheus.CounterVec
	eventStreams       prometheus.Gauge
	notificationsSent  *prometheus.CounterVec
	deadlinesMissed    *prometheus.CounterVec
	eventWakeUps       prometheus.Counter
	escalationRounds   prometheus.Counter
	roundsEscalated    prometheus.Counter
}

// newMetrics registers the desk's metrics on reg; nil means a private registry.
func newMetrics(reg prometheus.Registerer) *metrics {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	return &metrics{
		ticketsCreated: promreg.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "estate_desk_tickets_created_total",
			Help: "Tickets opened, by kind and source.",
		}, []string{"kind", "source"})),
		ticketTransitions: promreg.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "estate_desk_ticket_transitions_total",
			Help: "Lifecycle actions applied, by action.",
		}, []string{"action"})),
		transitionsRefused: promreg.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "estate_desk_transitions_refused_total",
			Help: "Lifecycle actions refused (forbidden by the lifecycle or missing a field), by action.",
		}, []string{"action"})),
		logins: promreg.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "estate_desk_logins_total",
			Help: "Console logins, by result (ok, bad_password, rate_limited).",
		}, []string{"result"})),
		smsSent: promreg.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "estate_desk_sms_total",
			Help: "Text messages to households, by provider and outcome (sent, failed, delivered, undelivered).",
		}, []string{"provider", "result"})),
		eventStreams: promreg.Register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "estate_desk_event_streams",
			Help: "Consoles connected to GET /api/v1/events.",
		})),
		notificationsSent: promreg.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "estate_desk_notifications_total",
			Help: "Notification delivery attempts, by channel and result (sent, retry, failed).",
		}, []string{"channel", "result"})),
		deadlinesMissed: promreg.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "estate_desk_deadlines_missed_total",
			Help: "Deadlines found missed and escalated, by kind and step.",
		}, []string{"kind", "step"})),
		eventWakeUps: promreg.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "estate_desk_event_notifications_total",
			Help: "Announcements of committed events received from PostgreSQL (LISTEN/NOTIFY; any desk's), each waking the event streams.",
		})),
		escalationRounds: promreg.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "estate_desk_escalation_rounds_total",
			Help: "Rounds of the deadline scheduler that completed (every escalation_interval, on every desk; each deadline is escalated by one of them only).",
		})),
		roundsEscalated: promreg.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "estate_desk_inspection_rounds_escalated_total",
			Help: "Inspection rounds (巡检) not started or not finished in time, escalated with a ticket.",
		})),
	}
}
