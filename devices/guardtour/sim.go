package guardtour

import (
	"encoding/json"
	"time"
)

// Simulator is a guard walking a route with a patrol reader: one checkpoint
// scanned every Every, in order, round after round (estate demo, estate sim
// guard_tour_reader).
type Simulator struct {
	Reader      string
	Checkpoints []string
	Every       time.Duration
	next        int
}

// Next is the scan the guard makes at now, as the reader publishes it.
func (s *Simulator) Next(now time.Time) []byte {
	cp := s.Checkpoints[s.next%len(s.Checkpoints)]
	s.next++
	b, _ := json.Marshal(map[string]string{"reader": s.Reader, "checkpoint": cp, "time": now.Format(time.RFC3339Nano)})
	return b
}
