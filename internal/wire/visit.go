package wire

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// ActionVisit is the outbox's action that carries a patrol reader's
// checkpoint visit (Visit) to the desk's POST /api/v1/rounds/reader-visits.
const ActionVisit = "visit"

// EventCheckpointVisit is the event a patrol reader's scan becomes on the
// gateway (devices/guardtour), which forwards it as an ActionVisit.
const EventCheckpointVisit = "checkpoint_visit"

// CheckpointVisit is a patrol reader's (guard-tour device's) scan of a
// checkpoint, as a gateway forwards it to the desk.
type CheckpointVisit struct {
	Site       string    `json:"site,omitempty"`
	Checkpoint string    `json:"checkpoint"`
	Reader     string    `json:"reader"`
	At         time.Time `json:"at"`
	// Gateway is who forwarded it (for the log).
	Gateway string `json:"gateway,omitempty"`
}

var visitID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// Validate says what is wrong with a visit.
func (v CheckpointVisit) Validate() error {
	var errs []string
	if !visitID.MatchString(v.Checkpoint) {
		errs = append(errs, fmt.Sprintf("checkpoint %q is not a checkpoint code (letters, digits, '.', '_', '-', at most 64)", v.Checkpoint))
	}
	if !visitID.MatchString(v.Reader) {
		errs = append(errs, fmt.Sprintf("reader %q is not a reader id (letters, digits, '.', '_', '-', at most 64)", v.Reader))
	}
	if v.At.IsZero() {
		errs = append(errs, "at is required")
	}
	if len(v.Site) > 64 || len(v.Gateway) > 128 {
		errs = append(errs, "site or gateway is too long")
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

// CheckpointVisitResult is the desk's answer to a visit.
type CheckpointVisitResult struct {
	Visit int64 `json:"visit,omitempty"`
	// Round is the round the visit counts for; 0: no round of the site was
	// open with that checkpoint (the visit is kept on its own).
	Round int64 `json:"round,omitempty"`
	// Replayed: the desk had the visit already (a retry).
	Replayed bool `json:"replayed,omitempty"`
	// Repeat: the reader scanned the checkpoint within a minute before; not recorded.
	Repeat  bool   `json:"repeat,omitempty"`
	Message string `json:"message,omitempty"`
}
