// Package ticket is the service desk's vocabulary: ticket kinds, priorities,
// statuses and the ticket itself, shared by the desk, its stores and the
// gateway's desk client.
package ticket

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

// Priority of a kind by default (DESIGN.md §2): emergencies P1, repairs P2, the rest P3.
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
	ID          int64     `json:"id"`
	Kind        Kind      `json:"kind"`
	Priority    string    `json:"priority"`
	Status      Status    `json:"status"`
	Title       string    `json:"title"`
	Description string    `json:"description,omitempty"`
	Site        string    `json:"site"`
	Building    string    `json:"building,omitempty"`
	Floor       string    `json:"floor,omitempty"`
	Unit        string    `json:"unit,omitempty"`
	Device      string    `json:"device,omitempty"`
	AlarmKey    string    `json:"alarm_key,omitempty"`
	Source      string    `json:"source"`
	Reading     *Reading  `json:"reading,omitempty"`
	CreatedBy   string    `json:"created_by"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// NewTicket is what a caller sends to open a ticket.
type NewTicket struct {
	Kind        Kind   `json:"kind"`
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
	Site        string `json:"site"`
	Building    string `json:"building,omitempty"`
	Floor       string `json:"floor,omitempty"`
	Unit        string `json:"unit,omitempty"`
	Device      string `json:"device,omitempty"`
	// AlarmKey identifies the alarm that raised the ticket; the desk keeps at
	// most one open ticket per key, so a retried request returns the same ticket.
	AlarmKey string   `json:"alarm_key,omitempty"`
	Source   string   `json:"source,omitempty"`
	Reading  *Reading `json:"reading,omitempty"`
	// Priority overrides the kind's default (an urgent top-up reminder is P2).
	Priority string `json:"priority,omitempty"`
}

// Validate says what is wrong with a request, in words a caller can act on.
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
	if len(n.Title) > 200 {
		errs = append(errs, "title is longer than 200 bytes")
	}
	if n.Site == "" {
		errs = append(errs, "site is required")
	}
	if n.Priority != "" && !slices.Contains([]string{"P1", "P2", "P3"}, n.Priority) {
		errs = append(errs, fmt.Sprintf("priority %q is not one of P1, P2, P3", n.Priority))
	}
	if n.Source != "" && !slices.Contains([]string{SourceDeviceAlarm, SourcePhone, SourceWalkIn, SourceApp}, n.Source) {
		errs = append(errs, fmt.Sprintf("source %q is not one of device_alarm, phone, walk_in, app", n.Source))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}
