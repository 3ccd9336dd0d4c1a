package shift

import (
	"fmt"
	"net/http"
	"time"
)

// Entry kinds of the duty log: what people write during a shift, and the
// desk's own events.
const (
	EntryNote        = "note"        // 值班记事
	EntryInstruction = "instruction" // new instructions from management (上级指示)
	EntryRepair      = "repair"      // public-area repairs to hand over (公共区域报修)
	EntryEvent       = "event"       // what the desk did or saw: sheets, reminders, keys
)

// EntryKinds people may write.
var EntryKinds = []string{EntryNote, EntryInstruction, EntryRepair}

// Entry is one line of the duty log.
type Entry struct {
	ID         int64     `json:"id"`
	Site       string    `json:"site"`
	ShiftStart time.Time `json:"shift_start"`
	At         time.Time `json:"at"`
	Kind       string    `json:"kind"`
	// Body is the entry as written: a person's note in their words, the
	// desk's own events in Chinese, with BodyEN the same in English for the
	// English console ("" for people's entries: their body is shown).
	Body   string `json:"body"`
	BodyEN string `json:"body_en,omitempty"`
	Author string `json:"author"`
}

// AlarmItem is an unacknowledged alarm on a handover sheet.
type AlarmItem struct {
	Key      string    `json:"key"`
	Rule     string    `json:"rule"`
	Device   string    `json:"device"`
	Severity string    `json:"severity,omitempty"`
	State    string    `json:"state"`
	Since    time.Time `json:"since"`
}

// TicketItem is an open ticket on a handover sheet: an emergency, or one
// overdue or due before the next shift ends (Step and DueAt: the earliest).
type TicketItem struct {
	ID   int64  `json:"id"`
	Kind string `json:"kind"`
	// Category power_accident marks a power-distribution accident (an
	// incident report closes it, as an emergency's does).
	Category  string     `json:"category,omitempty"`
	Priority  string     `json:"priority"`
	Status    string     `json:"status"`
	Title     string     `json:"title"`
	Building  string     `json:"building,omitempty"`
	Unit      string     `json:"unit,omitempty"`
	Assignee  string     `json:"assignee,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	Step      string     `json:"step,omitempty"`
	DueAt     *time.Time `json:"due_at,omitempty"`
	Overdue   bool       `json:"overdue"`
}

// Content is what a handover sheet hands over, as the desk found it when it
// built the sheet.
type Content struct {
	Next        Instance     `json:"next"`
	Alarms      []AlarmItem  `json:"alarms"`
	Emergencies []TicketItem `json:"emergencies"`
	Tickets     []TicketItem `json:"tickets"`
	Entries     []Entry      `json:"entries"`
	KeysOut     []Loan       `json:"keys_out"`
	KeysTotal   int          `json:"keys_total"`
}

// KeysIn is how many keys of the register should be in the key box.
func (c Content) KeysIn() int { return c.KeysTotal - len(c.KeysOut) }

// Sheet states.
const (
	StateBuilt    = "built"
	StateSigned   = "signed"
	StateAccepted = "accepted"
)

// Sheet is one shift's handover sheet (交接班记录).
type Sheet struct {
	ID          int64      `json:"id"`
	Shift       Instance   `json:"shift"`
	State       string     `json:"state"`
	BuiltAt     time.Time  `json:"built_at"`
	BuiltBy     string     `json:"built_by"`
	SignedBy    string     `json:"signed_by,omitempty"`
	SignedAt    *time.Time `json:"signed_at,omitempty"`
	SignNote    string     `json:"sign_note,omitempty"`
	AcceptedBy  string     `json:"accepted_by,omitempty"`
	AcceptedAt  *time.Time `json:"accepted_at,omitempty"`
	AcceptNote  string     `json:"accept_note,omitempty"`
	KeysCounted *int       `json:"keys_counted,omitempty"`
	// Reminded is how many reminders its lateness has sent (1: supervisors, 2: managers too).
	Reminded int `json:"reminded"`
	Content
}

// Key is one key of the register (钥匙), with its open loan if it is out.
type Key struct {
	ID        int64     `json:"id"`
	Site      string    `json:"site"`
	Label     string    `json:"label"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	Loan      *Loan     `json:"loan,omitempty"`
}

// Loan is a key lent to a person.
type Loan struct {
	ID         int64      `json:"id"`
	KeyID      int64      `json:"key_id"`
	Site       string     `json:"site"`
	Label      string     `json:"label"`
	KeyName    string     `json:"key_name"`
	Borrower   string     `json:"borrower"`
	LentBy     string     `json:"lent_by"`
	LentAt     time.Time  `json:"lent_at"`
	DueAt      time.Time  `json:"due_at"`
	Note       string     `json:"note,omitempty"`
	ReturnedAt *time.Time `json:"returned_at,omitempty"`
	ReturnedTo string     `json:"returned_to,omitempty"`
	Overdue    bool       `json:"overdue"`
}

// Error is a refusal with the HTTP status the desk answers and a sentence
// for the person; Field names the request field at fault, if one is.
type Error struct {
	Code  int
	Field string
	Msg   string
}

func (e *Error) Error() string {
	if e.Field != "" {
		return e.Field + ": " + e.Msg
	}
	return e.Msg
}

func inputErr(field, format string, args ...any) error {
	return &Error{Code: http.StatusUnprocessableEntity, Field: field, Msg: fmt.Sprintf(format, args...)}
}

func conflictErr(format string, args ...any) error {
	return &Error{Code: http.StatusConflict, Msg: fmt.Sprintf(format, args...)}
}

func forbiddenErr(format string, args ...any) error {
	return &Error{Code: http.StatusForbidden, Msg: fmt.Sprintf(format, args...)}
}

func notFoundErr(format string, args ...any) error {
	return &Error{Code: http.StatusNotFound, Msg: fmt.Sprintf(format, args...)}
}
