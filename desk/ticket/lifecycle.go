package ticket

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/estatehq/estate/internal/wire"
)

// Action is something people (or a gateway) do to a ticket. The lifecycle of
// docs/product.md ("Tickets and their life") is the table below and nothing else: every status change in the
// desk goes through Plan.
type Action string

const (
	Acknowledge Action = "acknowledge" // seen by the control room; status unchanged
	Dispatch    Action = "dispatch"    // 派工: assignee set (again, to reassign)
	Arrive      Action = "arrive"      // 到场
	Resolve     Action = "resolve"     // 完成: what was done is required
	FollowUp    Action = "follow_up"   // 回访: satisfaction and note required
	CloseTicket Action = "close"       // 销单
	Cancel      Action = "cancel"      // reason required
	Reopen      Action = "reopen"      // back to dispatched, reason required
)

// Actions lists every action, in lifecycle order.
var Actions = []Action{Acknowledge, Dispatch, Arrive, Resolve, FollowUp, CloseTicket, Cancel, Reopen}

// lifecycle maps a status to the actions allowed in it and where each leads.
// Kind-specific exceptions are in allowed.
var lifecycle = map[wire.Status]map[Action]wire.Status{
	wire.New: {
		Acknowledge: wire.New,
		Dispatch:    wire.Dispatched,
		Cancel:      wire.Cancelled,
	},
	wire.Dispatched: {
		Acknowledge: wire.Dispatched,
		Dispatch:    wire.Dispatched, // reassign
		Arrive:      wire.OnSite,
		Resolve:     wire.Resolved, // answered by phone, reminder given, …
		Cancel:      wire.Cancelled,
	},
	wire.OnSite: {
		Resolve: wire.Resolved,
		Cancel:  wire.Cancelled,
	},
	wire.Resolved: {
		FollowUp:    wire.FollowedUp,
		CloseTicket: wire.Closed,
		Reopen:      wire.Dispatched,
	},
	wire.FollowedUp: {
		CloseTicket: wire.Closed,
		Reopen:      wire.Dispatched,
	},
	wire.Closed: {
		Reopen: wire.Dispatched,
	},
	wire.Cancelled: {},
}

// allowed reports where action leads from status for a ticket of kind.
func allowed(kind wire.Kind, from wire.Status, a Action) (wire.Status, bool) {
	to, ok := lifecycle[from][a]
	switch {
	case kind == wire.Complaint && from == wire.Resolved && a == CloseTicket:
		// Complaint follow-up rate is 100 %: a complaint closes only after 回访.
		return "", false
	case kind == wire.TopUp && from == wire.New && a == Resolve:
		// A top-up reminder resolves itself when the balance is back, whether
		// or not an assistant has picked it up yet.
		return wire.Resolved, true
	}
	return to, ok
}

// AllowedActions lists the actions allowed on a ticket of kind in status, in lifecycle order.
func AllowedActions(kind wire.Kind, from wire.Status) []Action {
	var out []Action
	for _, a := range Actions {
		if _, ok := allowed(kind, from, a); ok {
			out = append(out, a)
		}
	}
	return out
}

// Change is what the caller of an action supplies with it.
type Change struct {
	Action Action `json:"action"`
	// Note is the reason (cancel, reopen) or a remark recorded in the audit trail.
	Note string `json:"note,omitempty"`
	// Assignee is a person (staff name) or Team the ticket is dispatched to.
	Assignee string `json:"assignee,omitempty"`
	Team     string `json:"team,omitempty"`
	// AppointmentAt is the visit time agreed with the resident (dispatch).
	AppointmentAt *time.Time `json:"appointment_at,omitempty"`
	// Resolution is what was done (resolve).
	Resolution string `json:"resolution,omitempty"`
	// Cause is why it happened (resolve), for the monthly statistics.
	Cause string `json:"cause,omitempty"`
	// Parts are the spare parts used (resolve), for the 维修单 and the stores.
	Parts string `json:"parts,omitempty"`
	// ChargeCents is what the resident pays for a chargeable service, in fen.
	ChargeCents int64 `json:"charge_cents,omitempty"`
	// Satisfaction 1–5 and FollowUpNote are recorded at 回访.
	Satisfaction int    `json:"satisfaction,omitempty"`
	FollowUpNote string `json:"follow_up_note,omitempty"`
}

// Teams that a ticket may be dispatched to.
var Teams = []string{"engineering", "security", "customer_service", "management"}

// TransitionError is a change the lifecycle forbids; the desk answers 409.
type TransitionError struct {
	Kind    wire.Kind
	From    wire.Status
	Action  Action
	Allowed []Action
}

func (e *TransitionError) Error() string {
	names := make([]string, len(e.Allowed))
	for i, a := range e.Allowed {
		names[i] = string(a)
	}
	allowed := "none: the ticket is finished"
	if len(names) > 0 {
		allowed = strings.Join(names, ", ")
	}
	msg := fmt.Sprintf("a %s ticket that is %s cannot %s; allowed: %s", e.Kind, e.From, e.Action, allowed)
	if e.Kind == wire.Complaint && e.From == wire.Resolved && e.Action == CloseTicket {
		msg += " (a complaint is closed only after its follow-up)"
	}
	return msg
}

// InputError names a field of a change that is missing or wrong; the desk answers 422.
type InputError struct {
	Field string
	Msg   string
}

func (e *InputError) Error() string { return e.Field + ": " + e.Msg }

// Plan checks a change against the lifecycle and its required fields and
// returns the status it leads to. It changes nothing: the store applies the
// plan in one transaction together with the audit entry.
func Plan(t wire.Ticket, c Change) (wire.Status, error) {
	if !slices.Contains(Actions, c.Action) {
		names := make([]string, len(Actions))
		for i, a := range Actions {
			names[i] = string(a)
		}
		return "", &InputError{"action", fmt.Sprintf("%q is not one of %s", c.Action, strings.Join(names, ", "))}
	}
	to, ok := allowed(t.Kind, t.Status, c.Action)
	if !ok {
		return "", &TransitionError{Kind: t.Kind, From: t.Status, Action: c.Action, Allowed: AllowedActions(t.Kind, t.Status)}
	}
	if len(c.Cause) > 64 {
		return "", &InputError{"cause", "longer than 64 bytes"}
	}
	for field, v := range map[string]string{"note": c.Note, "resolution": c.Resolution, "follow_up_note": c.FollowUpNote, "assignee": c.Assignee, "parts": c.Parts} {
		if len(v) > wire.MaxTextLen {
			return "", &InputError{field, fmt.Sprintf("longer than %d bytes", wire.MaxTextLen)}
		}
	}
	switch c.Action {
	case Dispatch:
		if strings.TrimSpace(c.Assignee) == "" && c.Team == "" {
			return "", &InputError{"assignee", "dispatch needs an assignee (a staff name) or a team"}
		}
		if c.Team != "" && !slices.Contains(Teams, c.Team) {
			return "", &InputError{"team", fmt.Sprintf("%q is not one of %s", c.Team, strings.Join(Teams, ", "))}
		}
	case Resolve:
		if strings.TrimSpace(c.Resolution) == "" {
			return "", &InputError{"resolution", "resolving needs what was done"}
		}
		if c.ChargeCents < 0 {
			return "", &InputError{"charge_cents", "must not be negative"}
		}
	case FollowUp:
		if c.Satisfaction < 1 || c.Satisfaction > 5 {
			return "", &InputError{"satisfaction", "the resident's satisfaction from 1 to 5 is required"}
		}
		if strings.TrimSpace(c.FollowUpNote) == "" {
			return "", &InputError{"follow_up_note", "what the resident said is required"}
		}
	case Cancel, Reopen:
		if strings.TrimSpace(c.Note) == "" {
			return "", &InputError{"note", string(c.Action) + " needs a reason"}
		}
	}
	return to, nil
}
