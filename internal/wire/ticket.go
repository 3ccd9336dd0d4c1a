package wire

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Kind is what sort of work a ticket is.
type Kind string

// The kinds of the operating manuals (DESIGN §2).
const (
	Emergency    Kind = "emergency"     // fire, entrapment, outage, flooding, collective complaints
	UrgentRepair Kind = "urgent_repair" // 急修: a fault that affects residents, on site within 30 minutes
	Repair       Kind = "repair"        // device fault or offline, household repair
	TopUp        Kind = "top_up"        // prepaid meter low: remind the household to buy power
	Complaint    Kind = "complaint"     // 投诉 (see SubKinds)
	Request      Kind = "request"       // service request from a resident (服务工作单)
	Enquiry      Kind = "enquiry"       // 咨询
	Suggestion   Kind = "suggestion"    // 建议
	Cleaning     Kind = "cleaning"      // 保洁, done within 24 hours
	PaidService  Kind = "paid_service"  // 特约有偿服务: quote, signature, payment
)

// Kinds lists every kind, in the order the desk shows them.
var Kinds = []Kind{Emergency, UrgentRepair, Repair, TopUp, Complaint, Request, Enquiry, Suggestion, Cleaning, PaidService}

// Sub-kinds of complaints (the manuals answer each on its own clock).
const (
	SubKindGeneral       = "general"        // 一般投诉
	SubKindWritten       = "written"        // 书面投诉: answered the same day
	SubKindImportant     = "important"      // 重要投诉: the head of the office, two working days
	SubKindStaffAttitude = "staff_attitude" // 服务态度投诉: answered the same day
)

// SubKinds lists each kind's sub-kinds, the first its default; a kind not
// listed has none.
var SubKinds = map[Kind][]string{
	Complaint: {SubKindGeneral, SubKindWritten, SubKindImportant, SubKindStaffAttitude},
}

// DefaultSubKind is what a ticket of kind k is when the caller names no sub-kind.
func DefaultSubKind(k Kind) string {
	if s := SubKinds[k]; len(s) > 0 {
		return s[0]
	}
	return ""
}

// ComplaintCategories are the manuals' causes of complaints (DESIGN §2), the
// default list of a site's complaint categories (desk.complaint_categories
// changes it per site).
// The ids are those the console already gives complaint causes at resolve.
var ComplaintCategories = []string{"house_quality", "amenities", "equipment", "service", "fees", "emergency", "neighbours"}

// CollectiveHouseholds is how many households complaining of the same matter
// make a collective complaint, an emergency to be reported at once.
const CollectiveHouseholds = 3

// Priority of a kind by default (DESIGN §2): emergencies P1, urgent repairs
// and repairs P2, the rest P3.
func (k Kind) Priority() string {
	switch k {
	case Emergency:
		return "P1"
	case Repair, UrgentRepair:
		return "P2"
	}
	return "P3"
}

// PriorityOf is the default priority of a kind and sub-kind: an important complaint is P2.
func PriorityOf(k Kind, subKind string) string {
	if k == Complaint && subKind == SubKindImportant {
		return "P2"
	}
	return k.Priority()
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
	ID       int64  `json:"id"`
	Kind     Kind   `json:"kind"`
	SubKind  string `json:"sub_kind,omitempty"`
	Category string `json:"category,omitempty"`
	Priority string `json:"priority"`
	Status   Status `json:"status"`
	Title    string `json:"title"`
	// TitleEN is the title in English, when the ticket's source wrote one
	// (an alarm's rule): the English console and channels show it.
	TitleEN     string `json:"title_en,omitempty"`
	Description string `json:"description,omitempty"`
	// DescriptionEN is the description in English, when the ticket's
	// source wrote one (an alarm's: its rule's English message, the
	// evidence): the English console and channels show it. A ticket typed
	// by people has its one description, shown in both languages.
	DescriptionEN string `json:"description_en,omitempty"`
	Site          string `json:"site"`
	Building      string `json:"building,omitempty"`
	Floor         string `json:"floor,omitempty"`
	Unit          string `json:"unit,omitempty"`
	Device        string `json:"device,omitempty"`
	AlarmKey      string `json:"alarm_key,omitempty"`
	Source        string `json:"source"`
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
	// ParentID links a complaint to the case it is part of (a collective
	// complaint: several households on the same matter).
	ParentID int64 `json:"parent_id,omitempty"`
	// CollectiveAt is when the case reached CollectiveHouseholds households
	// and was raised to emergency notification.
	CollectiveAt *time.Time `json:"collective_at,omitempty"`

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
	Kind Kind `json:"kind"`
	// SubKind is one of SubKinds[Kind]; empty: the kind's default (general).
	// An "important" complaint is owned by the site's head.
	SubKind string `json:"sub_kind,omitempty"`
	// Category is, for a complaint, one of the site's complaint categories
	// (ComplaintCategories by default); for a top-up reminder, the meter's kind.
	Category string `json:"category,omitempty"`
	// Cause is what caused the matter, as far as it is known (a complaint's
	// cause analysis, a fault's cause); resolve may record it later.
	Cause string `json:"cause,omitempty"`
	// ParentID links a complaint to the case of the same matter (a collective complaint).
	ParentID int64  `json:"parent_id,omitempty"`
	Title    string `json:"title"`
	// TitleEN is the title in English (an alarm's rule's English message).
	TitleEN     string `json:"title_en,omitempty"`
	Description string `json:"description,omitempty"`
	// DescriptionEN is the description in English (an alarm's).
	DescriptionEN string `json:"description_en,omitempty"`
	Site          string `json:"site"`
	Building      string `json:"building,omitempty"`
	Floor         string `json:"floor,omitempty"`
	Unit          string `json:"unit,omitempty"`
	Device        string `json:"device,omitempty"`
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
	if err := CheckSubKind(n.Kind, n.SubKind); err != nil {
		errs = append(errs, err.Error())
	}
	if n.ParentID < 0 {
		errs = append(errs, "parent_id must be a ticket id")
	}
	if n.ParentID > 0 && n.Kind != Complaint {
		errs = append(errs, fmt.Sprintf("parent_id links complaints of one matter; a %s is not linked", n.Kind))
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
		{"title", n.Title, 200}, {"title_en", n.TitleEN, 200}, {"description", n.Description, MaxTextLen}, {"description_en", n.DescriptionEN, MaxTextLen}, {"category", n.Category, 64},
		{"site", n.Site, 64}, {"cause", n.Cause, 64}, {"building", n.Building, 64}, {"floor", n.Floor, 64}, {"unit", n.Unit, 64},
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

// CheckSubKind says what is wrong with a sub-kind of a kind; nil if nothing
// (an empty sub-kind is the kind's default).
func CheckSubKind(k Kind, sub string) error {
	if sub == "" {
		return nil
	}
	subs, ok := SubKinds[k]
	if !ok {
		return fmt.Errorf("sub_kind %q: a %s has no sub-kinds (only complaints do: %s)", sub, k, strings.Join(SubKinds[Complaint], ", "))
	}
	if !slices.Contains(subs, sub) {
		return fmt.Errorf("sub_kind %q is not a sub-kind of %s; use one of %s", sub, k, strings.Join(subs, ", "))
	}
	return nil
}
