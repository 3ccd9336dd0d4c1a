package alarm

import (
	"time"

	"github.com/estatehq/estate/internal/config"
)

// Silences are the configured maintenance windows, as a Muter: a window that
// covers a device (or a feeder, by its id and building) mutes its alarms. Each
// window has an end, so a forgotten window cannot silence a device for ever.
type Silences []config.MaintenanceWindow

// Mutes returns the first window that covers the target at now.
func (s Silences) Mutes(t Target, now time.Time) (Cause, bool) {
	for _, w := range s {
		if w.Covers(t.ID, t.Building, now) {
			return Cause{Kind: Maintenance, Until: w.End, Reason: w.Reason}, true
		}
	}
	return Cause{}, false
}
