package alarm

import (
	"encoding/json"
	"net/http"
	"sort"
	"time"
)

// View is one alarm as /api/v1/alarms lists it.
type View struct {
	Key          string    `json:"key"`
	Rule         string    `json:"rule"`
	Type         string    `json:"type"`
	Device       string    `json:"device"`
	Building     string    `json:"building,omitempty"`
	Unit         string    `json:"unit,omitempty"`
	Source       string    `json:"source,omitempty"`
	SourceZH     string    `json:"source_zh,omitempty"` // Source in Chinese (3号门)
	Point        string    `json:"point,omitempty"`
	Value        float64   `json:"value"`
	Phase        Phase     `json:"state"`
	Severity     string    `json:"severity"`
	Ticket       string    `json:"ticket"`
	PendingSince time.Time `json:"pending_since,omitzero"`
	FiredAt      time.Time `json:"fired_at,omitzero"`
	ClearSince   time.Time `json:"clear_since,omitzero"`
	// Suppressed says why the alarm is recorded but not ticketed.
	Suppressed string `json:"suppressed,omitempty"`
	Ticketed   bool   `json:"ticketed"`
	Flapping   bool   `json:"flapping,omitempty"`
	MessageZH  string `json:"message_zh"`
	MessageEN  string `json:"message_en"`
}

// Snapshot lists the alarms that are pending or firing, and every feeder's state.
func (e *Engine) Snapshot(now time.Time, loc *time.Location) ([]View, []FeederStatus) {
	e.mu.Lock()
	defer e.mu.Unlock()
	views := []View{}
	for _, s := range e.live {
		a := s.alarm
		if a == nil || a.Phase == Inactive {
			continue
		}
		tr := e.transition(s, StateFiring)
		zh, en := tr.Messages(loc)
		views = append(views, View{Key: a.Key, Rule: a.Rule, Type: s.rule.cfg.Type, Device: a.Device,
			Building: tr.Device.Building, Unit: tr.Device.Unit, Source: a.Source, SourceZH: a.SourceZH, Point: a.Point, Value: a.Value,
			Phase: a.Phase, Severity: s.rule.cfg.Severity, Ticket: s.rule.cfg.Ticket, PendingSince: a.PendingSince,
			FiredAt: a.FiredAt, ClearSince: a.ClearSince, Suppressed: a.Suppressed.String(), Ticketed: a.Ticketed,
			Flapping: a.Flapping(now, s.timing), MessageZH: zh, MessageEN: en})
	}
	sort.Slice(views, func(i, j int) bool { return views[i].Key < views[j].Key })
	feeders := []FeederStatus{}
	for _, f := range e.feeders {
		st := FeederStatus{ID: f.cfg.ID, Building: f.cfg.Building, Out: f.out, Devices: len(f.members),
			Silent: f.silent(), RestoredAt: f.restoredAt}
		if f.out {
			st.Evidence = f.evidence
		}
		feeders = append(feeders, st)
	}
	return views, feeders
}

// Handler serves GET /api/v1/alarms: the firing and pending alarms (with
// ?state=firing|pending|suppressed to narrow) and the feeders.
func (e *Engine) Handler(loc *time.Location) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", http.MethodGet)
			http.Error(w, `{"error":"use GET"}`, http.StatusMethodNotAllowed)
			return
		}
		views, feeders := e.Snapshot(time.Now(), loc)
		want := r.URL.Query().Get("state")
		switch want {
		case "", "firing", "pending", "suppressed":
		default:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": "state must be firing, pending or suppressed"})
			return
		}
		out := views[:0]
		for _, v := range views {
			if want == "" || want == "suppressed" && v.Suppressed != "" || want == string(v.Phase) {
				out = append(out, v)
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"alarms": out, "feeders": feeders})
	})
}
