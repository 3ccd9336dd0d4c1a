// Package ticket is the desk's lifecycle of a ticket and its deadlines: pure
// decisions (which action is allowed, which deadlines an action meets, who
// hears of a missed one), no I/O. The ticket itself and its kinds and
// statuses are the gateway–desk contract and live in internal/wire.
package ticket

import (
	"time"

	"github.com/estatehq/estate/internal/wire"
)

// AuditEntry is one change of a ticket: who, when, from, to, note.
type AuditEntry struct {
	ID       int64       `json:"id"`
	TicketID int64       `json:"ticket_id"`
	At       time.Time   `json:"at"`
	Actor    string      `json:"actor"`
	Action   string      `json:"action"` // an Action, or created, deadline_missed, comment, reminder, gateway_note
	From     wire.Status `json:"from,omitempty"`
	To       wire.Status `json:"to,omitempty"`
	Note     string      `json:"note,omitempty"`
}

// Comment is a remark on a ticket by staff, or a note from a gateway (an
// alarm cleared, a balance changed), kept in order with the audit trail.
type Comment struct {
	ID       int64     `json:"id"`
	TicketID int64     `json:"ticket_id"`
	At       time.Time `json:"at"`
	Author   string    `json:"author"`
	// Kind is "staff" or "gateway".
	Kind string `json:"kind"`
	Body string `json:"body"`
}

// Note is a remark on a ticket: an alarm clearing, a re-raise, staff's notes.
type Note struct {
	ID       int64     `json:"id"`
	TicketID int64     `json:"ticket_id"`
	Body     string    `json:"body"`
	By       string    `json:"by"`
	At       time.Time `json:"at"`
}
