package alarm

import (
	"encoding/json"
	"fmt"
	"time"
)

// CauseKind is why a firing alarm is recorded without a ticket.
type CauseKind uint8

const (
	NotMuted    CauseKind = iota
	Maintenance           // a maintenance window covers the device (silence.go)
	Outage                // the device's feeder is out (inhibit.go)
	PowerBack             // the feeder's power came back less than outage_grace ago (inhibit.go)
	// SavedText is a cause read from state written before causes were typed
	// (alarms-<id>.db): only its text is known. The next review of suppressed
	// alarms replaces it with the cause that holds then.
	SavedText
	// LinkSilent: every device of the alarm's gateway, bus or endpoint fell
	// silent together; one incident stands for them (groups.go).
	LinkSilent
	// LinkBack: a device of that group answers again since less than
	// outage_grace ago (groups.go).
	LinkBack
	// Window: a maintenance window the desk handed the gateway covers the
	// alarm (a planned outage, a maintenance order: windows.go); Reason is
	// the window's cause text ("planned outage #7"), Group its id.
	Window
)

var causeNames = [...]string{"", "maintenance", "outage", "power_back", "saved_text", "link_silent", "link_back", "window"}

func (k CauseKind) String() string {
	if int(k) < len(causeNames) {
		return causeNames[k]
	}
	return fmt.Sprintf("cause(%d)", k)
}

// MarshalText writes the kind's name (in the persisted state).
func (k CauseKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText reads a kind's name.
func (k *CauseKind) UnmarshalText(b []byte) error {
	for i, n := range causeNames {
		if n == string(b) {
			*k = CauseKind(i)
			return nil
		}
	}
	return fmt.Errorf("unknown suppression cause %q", b)
}

// Cause is why a firing alarm is muted (recorded, listed, not ticketed). The
// zero Cause is "not muted". What people read (/api/v1/alarms, the heartbeat,
// the console) is String, the same text as before causes were typed; the
// metric label is Metric. Nothing tells causes apart by their text.
type Cause struct {
	Kind CauseKind `json:"kind"`
	// Maintenance: the window's end and reason.
	Until  time.Time `json:"until,omitzero"`
	Reason string    `json:"reason,omitempty"`
	// Outage and PowerBack: the feeder, the evidence of its outage, when power
	// came back and the grace after which its alarms are re-evaluated.
	Feeder     string        `json:"feeder,omitempty"`
	Evidence   string        `json:"evidence,omitempty"`
	RestoredAt time.Time     `json:"restored_at,omitzero"`
	Grace      time.Duration `json:"grace,omitempty"`
	// LinkSilent and LinkBack: the group (the gateway's id or the link's key)
	// and its scope (gateway, bus, endpoint); Evidence, RestoredAt and Grace
	// as for a feeder.
	Group string `json:"group,omitempty"`
	Scope string `json:"scope,omitempty"`
	// Text is a SavedText cause's text.
	Text string `json:"text,omitempty"`
}

// Muted reports whether the cause mutes the alarm.
func (c Cause) Muted() bool { return c.Kind != NotMuted }

// String is the cause as people read it; "" when not muted.
func (c Cause) String() string {
	switch c.Kind {
	case Maintenance:
		return fmt.Sprintf("maintenance until %s: %s", c.Until.Format(time.RFC3339), c.Reason)
	case Outage:
		return fmt.Sprintf("power outage on feeder %s: %s", c.Feeder, c.Evidence)
	case PowerBack:
		return fmt.Sprintf("power back on feeder %s since %s; re-evaluated after %s",
			c.Feeder, c.RestoredAt.Format(time.RFC3339), c.Grace)
	case LinkSilent:
		return fmt.Sprintf("every device of %s %s silent: %s", c.Scope, c.Group, c.Evidence)
	case LinkBack:
		return fmt.Sprintf("%s %s answers again since %s; re-evaluated after %s",
			c.Scope, c.Group, c.RestoredAt.Format(time.RFC3339), c.Grace)
	case SavedText:
		return c.Text
	case Window:
		return fmt.Sprintf("%s (until %s)", c.Reason, c.Until.Format(time.RFC3339))
	}
	return ""
}

// Metric is the cause label of estate_alarm_suppressed_total: maintenance or
// outage (a silent gateway, bus or endpoint counts as an outage: the label
// set stays as documented).
func (c Cause) Metric() string {
	if c.Kind == Maintenance || c.Kind == Window {
		return "maintenance"
	}
	return "outage"
}

// inferred reports whether the cause is inferred from the silence of other
// devices (a feeder's outage, a silent group) rather than configured.
func (c Cause) inferred() bool {
	switch c.Kind {
	case Outage, PowerBack, LinkSilent, LinkBack:
		return true
	}
	return false
}

// Equal reports whether two causes are the same (times compared as instants).
func (c Cause) Equal(o Cause) bool {
	return c.Kind == o.Kind && c.Until.Equal(o.Until) && c.Reason == o.Reason && c.Feeder == o.Feeder &&
		c.Group == o.Group && c.Scope == o.Scope &&
		c.Evidence == o.Evidence && c.RestoredAt.Equal(o.RestoredAt) && c.Grace == o.Grace && c.Text == o.Text
}

// UnmarshalJSON reads a cause, or the text that state written before causes
// were typed holds (a SavedText cause; "" is not muted).
func (c *Cause) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var text string
		if err := json.Unmarshal(b, &text); err != nil {
			return err
		}
		*c = Cause{}
		if text != "" {
			*c = Cause{Kind: SavedText, Text: text}
		}
		return nil
	}
	type plain Cause // without this method
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*c = Cause(p)
	return nil
}
