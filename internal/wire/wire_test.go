package wire

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

// keys lists the JSON keys of v's encoding, sorted, nested objects as a.b.
func keys(t *testing.T, v any) []string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	var out []string
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, v := range m {
			out = append(out, prefix+k)
			switch v := v.(type) {
			case map[string]any:
				walk(prefix+k+".", v)
			case []any:
				if len(v) > 0 {
					if e, ok := v[0].(map[string]any); ok {
						walk(prefix+k+"[].", e)
					}
				}
			}
		}
	}
	walk("", m)
	slices.Sort(out)
	return out
}

// The JSON is the contract between gateways and desks of different versions:
// a renamed key breaks one half silently, so every key is pinned here.
func TestJSONKeysAreTheContract(t *testing.T) {
	at := time.Date(2026, 11, 3, 8, 0, 0, 0, time.UTC)
	action := AlarmAction{IdempotencyKey: "k", AlarmKey: "a", Action: ActionOpen, Note: "n", Close: true, At: at,
		Ticket: &NewTicket{Kind: Repair, Category: "c", Title: "t", Description: "d", Site: "s", Building: "b", Floor: "f",
			Unit: "u", Device: "m1", AlarmKey: "a", Source: SourceDeviceAlarm, Reporter: "r", Phone: "p", Contact: "sms",
			AppointmentAt: &at, Reading: &Reading{Point: "balance", Value: 1, Unit: "yuan", At: at}, Priority: "P2"}}
	status := GatewayStatus{Gateway: "gw", Site: "s", At: at, Interval: time.Second, TelemetryBacklog: 1, OutboxPending: 1,
		Devices: []Device{{ID: "m1", Family: "meter", Model: "x", Building: "b", Floor: "f", Unit: "u", State: "online",
			LastSeen: at, ConsecutiveFailures: 1, Polls: 1, Errors: 1, LastError: "e"}},
		Alarms: []Alarm{{Key: "k", Rule: "r", Device: "m1", Building: "b", Unit: "u", Source: "s", Point: "p", Value: 1,
			State: "firing", Severity: "critical", Since: at, Suppressed: "outage", Ticketed: true, MessageZH: "z", MessageEN: "e"}}}
	result := AlarmActionResult{Created: true, Replayed: true, Ticket: Ticket{ID: 1, Kind: Repair, Status: New,
		Reading: &Reading{At: at}, Deadlines: []Deadline{{Step: StepOnSite, DueAt: at, State: DeadlineMet, MetAt: &at, MissedAt: &at}}}}

	for _, tc := range []struct {
		name string
		v    any
		want string
	}{
		{"alarm action", action, "action alarm_key at close idempotency_key note ticket ticket.alarm_key ticket.appointment_at " +
			"ticket.building ticket.category ticket.contact ticket.description ticket.device ticket.floor ticket.kind ticket.phone " +
			"ticket.priority ticket.reading ticket.reading.at ticket.reading.point ticket.reading.unit ticket.reading.value " +
			"ticket.reporter ticket.site ticket.source ticket.title ticket.unit"},
		{"heartbeat", status, "alarms alarms[].building alarms[].device alarms[].key alarms[].message_en alarms[].message_zh " +
			"alarms[].point alarms[].rule alarms[].severity alarms[].since alarms[].source alarms[].state alarms[].suppressed " +
			"alarms[].ticketed alarms[].unit alarms[].value at devices devices[].building devices[].consecutive_failures " +
			"devices[].errors devices[].family devices[].floor devices[].id devices[].last_error devices[].last_seen devices[].model " +
			"devices[].polls devices[].state devices[].unit gateway interval outbox_pending site telemetry_backlog"},
		{"alarm action result", result, "created replayed ticket ticket.created_at ticket.created_by ticket.deadlines " +
			"ticket.deadlines[].due_at ticket.deadlines[].met_at ticket.deadlines[].missed_at ticket.deadlines[].state " +
			"ticket.deadlines[].step ticket.escalation_level ticket.id ticket.kind ticket.priority ticket.reading " +
			"ticket.reading.at ticket.reading.point ticket.reading.value ticket.site ticket.source ticket.status " +
			"ticket.title ticket.updated_at"},
	} {
		if got := strings.Join(keys(t, tc.v), " "); got != tc.want {
			t.Errorf("%s: keys\n%s\nwant\n%s", tc.name, got, tc.want)
		}
	}
}

// Whatever a gateway sends as an alarm action, decoding and validating it
// never panics, and an action that validates names its key and a known action.
func FuzzAlarmAction(f *testing.F) {
	for _, s := range []string{
		`{"idempotency_key":"k","alarm_key":"a","action":"open","ticket":{"kind":"repair","title":"t","site":"s","alarm_key":"a"},"at":"2026-11-03T08:00:00Z"}`,
		`{"idempotency_key":"k","alarm_key":"a","action":"clear","note":"cleared","close":true}`,
		`{"idempotency_key":"k","alarm_key":"a","action":"note","note":" "}`,
		`{"action":"open","ticket":null}`, `{"action":"reopen"}`, `{}`, `null`, `[]`,
		`{"idempotency_key":"k","alarm_key":"s/guardtour/p","action":"visit","visit":{"checkpoint":"DR-1","reader":"p","at":"2026-12-03T00:30:00Z"}}`,
		`{"idempotency_key":"k","alarm_key":"a","action":"visit","visit":{"checkpoint":"DR 1","reader":"","at":"0001-01-01T00:00:00Z"}}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var a AlarmAction
		if json.Unmarshal([]byte(body), &a) != nil {
			return
		}
		if err := a.Validate(); err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		if a.IdempotencyKey == "" || a.AlarmKey == "" || !slices.Contains([]string{ActionOpen, ActionNote, ActionClear, ActionVisit}, a.Action) {
			t.Fatalf("%q validated: %+v", body, a)
		}
		if a.Action == ActionOpen && (a.Ticket == nil || a.Ticket.AlarmKey != a.AlarmKey) {
			t.Fatalf("%q: an open action without its ticket validated", body)
		}
		if a.Action == ActionVisit && (a.Visit == nil || a.Visit.At.IsZero() || a.Visit.Checkpoint == "" || a.Visit.Reader == "") {
			t.Fatalf("%q: a visit action without its visit validated", body)
		}
	})
}
