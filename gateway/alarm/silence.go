package alarm

import (
	"time"

	"github.com/estatehq/estate/internal/config"
)

// maintenance returns the maintenance window that covers a device (or a
// feeder, by its id and building) at a moment. Windows come from the
// configuration; each has an end, so a forgotten window cannot silence a
// device for ever.
func (e *Engine) maintenance(id, building string, now time.Time) (config.MaintenanceWindow, bool) {
	for _, w := range e.windows {
		if w.Covers(id, building, now) {
			return w, true
		}
	}
	return config.MaintenanceWindow{}, false
}
