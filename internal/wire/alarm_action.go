package wire

import (
	"fmt"
	"strings"
	"time"
)

// Alarm actions a gateway asks of the desk.
const (
	ActionOpen  = "open"  // open the alarm's ticket, or note a re-raise on the open one
	ActionNote  = "note"  // add a note to the alarm's ticket
	ActionClear = "clear" // the alarm cleared: note it, and close a top-up reminder
)

// AlarmAction is one thing a gateway asks of the desk about one episode of an
// alarm. The desk applies each idempotency key once, so the gateway's outbox
// may retry freely.
type AlarmAction struct {
	IdempotencyKey string `json:"idempotency_key"`
	AlarmKey       string `json:"alarm_key"`
	Action         string `json:"action"`
	// Ticket is the ticket an open action opens.
	Ticket *NewTicket `json:"ticket,omitempty"`
	// Note is added to the ticket (on open, only when the ticket already existed).
	Note string `json:"note,omitempty"`
	// Close closes an open top-up reminder: the household has bought power.
	// Other tickets are closed by people, never by a clearing alarm.
	Close bool      `json:"close,omitempty"`
	At    time.Time `json:"at"`
	// Visit is a patrol reader's checkpoint visit (action visit, visit.go):
	// the outbox carries it to the desk's rounds as it carries alarms.
	Visit *CheckpointVisit `json:"visit,omitempty"`
}

// Validate says what is wrong with an action.
func (a AlarmAction) Validate() error {
	var errs []string
	if a.IdempotencyKey == "" || len(a.IdempotencyKey) > 300 {
		errs = append(errs, "idempotency_key is required (at most 300 bytes)")
	}
	if a.AlarmKey == "" {
		errs = append(errs, "alarm_key is required")
	}
	switch a.Action {
	case ActionOpen:
		if a.Ticket == nil {
			errs = append(errs, "an open action carries the ticket")
		} else if err := a.Ticket.Validate(); err != nil {
			errs = append(errs, "ticket: "+err.Error())
		} else if a.Ticket.AlarmKey != a.AlarmKey {
			errs = append(errs, "ticket.alarm_key differs from alarm_key")
		}
	case ActionNote, ActionClear:
		if strings.TrimSpace(a.Note) == "" {
			errs = append(errs, "note is required")
		}
	case ActionVisit:
		if a.Visit == nil {
			errs = append(errs, "a visit action carries the visit")
		} else if err := a.Visit.Validate(); err != nil {
			errs = append(errs, "visit: "+err.Error())
		}
	default:
		errs = append(errs, fmt.Sprintf("action %q is not one of open, note, clear, visit", a.Action))
	}
	if len(a.Note) > 4000 {
		errs = append(errs, "note is longer than 4000 bytes")
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

// AlarmActionResult is the desk's answer to an alarm action.
type AlarmActionResult struct {
	Ticket Ticket `json:"ticket"`
	// Created is true when the action opened a new ticket.
	Created bool `json:"created"`
	// Replayed is true when the desk had already applied this idempotency key.
	Replayed bool `json:"replayed"`
}
