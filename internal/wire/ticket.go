package wire

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Kind is what sort of work a ticket is.
type Kind string

const (
	Emergency Kind = "emergency" // fire, entrapment, outage, flooding
	Repair    Kind = "repair"    // device fault or offline
	TopUp     Kind = "top_up"    // prepaid meter low: remind the household to buy power
	Request   Kind = "request"   // service request from a resident
	Complaint Kind = "complaint"
)

// Kinds lists every kind, in the order the desk shows them.
var Kinds = []Kind{Emergency, Repair, TopUp, Request, Complaint}

// Priority of a kind by default (docs/product.md, the desk's rules): emergencies P1, repairs P2, the rest P3.
func (k Kind) Priority() string {
	switch k {
	case Emergency:
		return "P1"
	case Repair:
		return "P2"
	}
	return "P3"
}

// Status is where a ticket is in its lifecycle.
type Status string

const (
	New        Status = "new"        // 受理
	Dispatched Status = "dispatched" // 派工
	OnSite     Status = "on_site"    // 到场
	Resolved   Status = "resolved"   // 完成
	FollowedUp Status = "followed_up"
	Closed     Status = "closed" // 销单
	Cancelled  Status = "cancelled"
)

// Open reports whether people still have work to do on a ticket in this status.
func (s Status) Open() bool { return s != Closed && s != Cancelled }

// Source is where a ticket came from.
const (
	SourceDeviceAlarm = "device_alarm"
	SourcePhone       = "phone"
	SourceWalkIn      = "walk_in"
	SourceApp         = "app"
	// SourceRound: an anomaly found on an inspection round (巡检), or the round missed.
	SourceRound = "round"
)

// Reading is the device reading that raised a ticket.
type Reading struct {
	Point string    `json:"point"`
	Value float64   `json:"value"`
	Unit  string    `json:"unit,omitempty"`
	At    time.Time `json:"at"`
}

// Ticket is one piece of people's work.
type Ticket struct {
	ID          int64  `json:"id"`
	Kind        Kind   `json:"kind"`
	Category    string `json:"category,omitempty"`
	Priority    string `json:"priority"`
	Status      Status `json:"status"`
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
	Site        string `json:"site"`
	Building    string `json:"building,omitempty"`
	Floor       string `json:"floor,omitempty"`
	Unit        string `json:"unit,omitempty"`
	Device      string `json:"device,omitempty"`
	AlarmKey    string `json:"alarm_key,omitempty"`
	Source      string `json:"source"`
	// Reporter is who reported it (a resident's name, or the gateway); Phone
	// and Contact (preferred way: phone, sms, visit, app) reach the resident.
	Reporter  string   `json:"reporter,omitempty"`
	Phone     string   `json:"phone,omitempty"`
	Contact   string   `json:"contact,omitempty"`
	Reading   *Reading `json:"reading,omitempty"`
	CreatedBy string   `json:"created_by"`
	// Owner (受理人) is who accepted the case and answers for it to the end:
	// the reply, the weekly calls and the follow-up are theirs; the assignee
	// does the work. Important complaints are owned by the site's head.
	Owner string `json:"owner,omitempty"`
	// Assignee is the person, Team the team, the ticket is dispatched to.
	Assignee      string     `json:"assignee,omitempty"`
	Team          string     `json:"team,omitempty"`
	AppointmentAt *time.Time `json:"appointment_at,omitempty"`
	Resolution    string     `json:"resolution,omitempty"`
	Cause         string     `json:"cause,omitempty"`
	// Parts are the spare parts used (resolve), as the engineer wrote them.
	Parts        string `json:"parts,omitempty"`
	ChargeCents  int64  `json:"charge_cents,omitempty"`
	Satisfaction int    `json:"satisfaction,omitempty"`
	FollowUpNote string `json:"follow_up_note,omitempty"`
	// ReplyNote is what the owner told the resident (the result, or why it
	// cannot be solved yet); ReplyCommittedAt the reply time then promised.
	ReplyNote        string     `json:"reply_note,omitempty"`
	RepliedAt        *time.Time `json:"replied_at,omitempty"`
	ReplyCommittedAt *time.Time `json:"reply_committed_at,omitempty"`
	// EscalationLevel is the rung of Levels reached by missed deadlines.
	EscalationLevel int `json:"escalation_level"`

	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
	AcknowledgedAt *time.Time `json:"acknowledged_at,omitempty"`
	DispatchedAt   *time.Time `json:"dispatched_at,omitempty"`
	OnSiteAt       *time.Time `json:"on_site_at,omitempty"`
	ResolvedAt     *time.Time `json:"resolved_at,omitempty"`
	FollowedUpAt   *time.Time `json:"followed_up_at,omitempty"`
	ClosedAt       *time.Time `json:"closed_at,omitempty"`
	CancelledAt    *time.Time `json:"cancelled_at,omitempty"`

	// Deadlines are the ticket's due times, filled in when one ticket is read.
	Deadlines []Deadline `json:"deadlines,omitempty"`
}

// Step is a point in a ticket's life that has a deadline.
type Step string

const (
	StepAcknowledge Step = "acknowledge" // someone in the control room has seen it
	StepDispatch    Step = "dispatch"    // an assignee is set (complaints: "assigned")
	StepRespond     Step = "respond"     // the resident has had an answer
	StepOnSite      Step = "on_site"     // the engineer is there
	StepRemind      Step = "remind"      // the household was told to buy power
	StepResolve     Step = "resolve"     // done ("same day")
	StepReply       Step = "reply"       // the result told to the resident (or a committed reply time)
	StepWeeklyCall  Step = "weekly_call" // a call to the resident every week while the case is open
	StepFollowUp    Step = "follow_up"   // 回访, counted from resolution
)

// Steps lists every step in lifecycle order.
var Steps = []Step{StepAcknowledge, StepDispatch, StepRespond, StepOnSite, StepRemind, StepResolve, StepReply, StepWeeklyCall, StepFollowUp}

// FromResolution reports whether a step's deadline counts from the ticket's
// resolution rather than from its creation.
func (s Step) FromResolution() bool { return s == StepFollowUp }

// DeadlineState is where a step's deadline stands.
type DeadlineState string

const (
	DeadlinePending   DeadlineState = "pending"
	DeadlineMet       DeadlineState = "met"
	DeadlineMissed    DeadlineState = "missed"    // recorded and escalated once
	DeadlineWithdrawn DeadlineState = "withdrawn" // the ticket ended before the step was needed
)

// Deadline is one step's due time on one ticket.
type Deadline struct {
	Step     Step          `json:"step"`
	DueAt    time.Time     `json:"due_at"`
	State    DeadlineState `json:"state"`
	MetAt    *time.Time    `json:"met_at,omitempty"`
	MissedAt *time.Time    `json:"missed_at,omitempty"`
}

// NewTicket is what a caller sends to open a ticket.
type NewTicket struct {
	Kind        Kind   `json:"kind"`
	Category    string `json:"category,omitempty"`
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
	Site        string `json:"site"`
	Building    string `json:"building,omitempty"`
	Floor       string `json:"floor,omitempty"`
	Unit        string `json:"unit,omitempty"`
	Device      string `json:"device,omitempty"`
	// AlarmKey identifies the alarm that raised the ticket; the desk keeps at
	// most one open ticket per key, so a retried request returns the same ticket.
	AlarmKey      string     `json:"alarm_key,omitempty"`
	Source        string     `json:"source,omitempty"`
	Reporter      string     `json:"reporter,omitempty"`
	Phone         string     `json:"phone,omitempty"`
	Contact       string     `json:"contact,omitempty"`
	AppointmentAt *time.Time `json:"appointment_at,omitempty"`
	Reading       *Reading   `json:"reading,omitempty"`
	// Priority overrides the kind's default (an urgent top-up reminder is P2).
	Priority string `json:"priority,omitempty"`
	// SubKind is the complaint's sub-kind (written, important, staff
	// attitude, general; the kinds' part of issue 14 keeps it): an
	// "important" complaint is owned by the site's head.
	SubKind string `json:"sub_kind,omitempty"`
	// Owner is set by the desk (the staff member who opens the ticket, the
	// site's head for an important complaint), never by the caller.
	Owner string `json:"-"`
}

// MaxTextLen bounds free-text fields (notes, resolutions, comments), in bytes.
const MaxTextLen = 4000

// Contacts are the ways of reaching a resident (and of giving a reminder).
var Contacts = []string{"phone", "sms", "visit", "app"}

// Validate says what is wrong with a request, in words a caller can act on,
// naming each field.
func (n NewTicket) Validate() error {
	var errs []string
	if !slices.Contains(Kinds, n.Kind) {
		names := make([]string, len(Kinds))
		for i, k := range Kinds {
			names[i] = string(k)
		}
		errs = append(errs, fmt.Sprintf("kind %q is not one of %s", n.Kind, strings.Join(names, ", ")))
	}
	if strings.TrimSpace(n.Title) == "" {
		errs = append(errs, "title is required")
	}
	if n.Site == "" {
		errs = append(errs, "site is required")
	}
	if n.Priority != "" && !slices.Contains([]string{"P1", "P2", "P3"}, n.Priority) {
		errs = append(errs, fmt.Sprintf("priority %q is not one of P1, P2, P3", n.Priority))
	}
	for _, f := range []struct {
		name, value string
		max         int
	}{
		{"title", n.Title, 200}, {"description", n.Description, MaxTextLen}, {"category", n.Category, 64},
		{"site", n.Site, 64}, {"building", n.Building, 64}, {"floor", n.Floor, 64}, {"unit", n.Unit, 64},
		{"device", n.Device, 128}, {"sub_kind", n.SubKind, 64}, {"alarm_key", n.AlarmKey, 256}, {"reporter", n.Reporter, 100}, {"phone", n.Phone, 32},
	} {
		if len(f.value) > f.max {
			errs = append(errs, fmt.Sprintf("%s is longer than %d bytes", f.name, f.max))
		}
	}
	if n.Source != "" && !slices.Contains([]string{SourceDeviceAlarm, SourcePhone, SourceWalkIn, SourceApp, SourceRound}, n.Source) {
		errs = append(errs, fmt.Sprintf("source %q is not one of device_alarm, phone, walk_in, app, round", n.Source))
	}
	if n.Contact != "" && !slices.Contains(Contacts, n.Contact) {
		errs = append(errs, fmt.Sprintf("contact %q is not one of %s", n.Contact, strings.Join(Contacts, ", ")))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}
