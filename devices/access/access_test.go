package access

import (
	"strings"
	"testing"
	"time"

	"github.com/estatehq/estate/devices"
)

func pt(point string, v float64) devices.Value {
	return devices.Value{Point: point, Value: v, Quality: devices.Good}
}

func render(evs []devices.Event) string {
	var parts []string
	for _, e := range evs {
		sign := "-"
		if e.Active {
			sign = "+"
		}
		parts = append(parts, e.Type+sign+"("+e.Source+")")
	}
	return strings.Join(parts, " ")
}

func TestDoors(t *testing.T) {
	type step struct {
		at      int // seconds
		values  []devices.Value
		signals []Signal
		want    string
	}
	limits := Limits{HeldOpenAfter: 30 * time.Second, BurstCount: 3, BurstWindow: time.Minute}
	tests := []struct {
		name  string
		steps []step
	}{
		{"normal passage: released, opened, closed", []step{
			{0, []devices.Value{pt(PointLocked, 1), pt(PointDoorOpen, 0)}, nil, ""},
			{1, []devices.Value{pt(PointLocked, 0)}, nil, ""},
			{2, []devices.Value{pt(PointDoorOpen, 1)}, nil, ""},
			{8, []devices.Value{pt(PointDoorOpen, 0), pt(PointLocked, 1)}, nil, ""},
		}},
		{"opened while locked is forced; closing clears", []step{
			{0, []devices.Value{pt(PointLocked, 1), pt(PointDoorOpen, 0)}, nil, ""},
			{5, []devices.Value{pt(PointDoorOpen, 1)}, nil, "door_forced+(door 1)"},
			{6, []devices.Value{pt(PointDoorOpen, 1)}, nil, ""},
			{9, []devices.Value{pt(PointDoorOpen, 0)}, nil, "door_forced-(door 1)"},
		}},
		{"grant then open through codes is not forced", []step{
			{0, []devices.Value{pt(PointLocked, 1)}, nil, ""},
			{1, nil, []Signal{{Type: SignalAccessGranted, Code: "1"}, {Type: SignalDoorOpened, Code: "23"}}, ""},
			{3, nil, []Signal{{Type: SignalDoorClosed, Code: "24"}}, ""},
		}},
		{"no lock information: opening is not judged forced", []step{
			{0, []devices.Value{pt(PointDoorOpen, 1)}, nil, ""},
			{5, []devices.Value{pt(PointDoorOpen, 0)}, nil, ""},
			{6, []devices.Value{pt(PointDoorOpen, 1)}, nil, ""},
		}},
		{"held open after the limit, cleared on closing", []step{
			{0, nil, []Signal{{Type: SignalAccessGranted}, {Type: SignalDoorOpened, Source: "2"}}, ""},
			{29, nil, nil, ""},
			{30, nil, nil, "door_held+(door 2)"},
			{45, nil, nil, ""},
			{50, nil, []Signal{{Type: SignalDoorClosed, Source: "2"}}, "door_held-(door 2)"},
		}},
		{"controller reports forced and held itself", []step{
			{0, nil, []Signal{{Type: SignalDoorForced, Source: "3", Code: "38", Text: "Forced open"}}, "door_forced+(door 3)"},
			{1, nil, []Signal{{Type: SignalDoorForced, Source: "3", Code: "38"}}, ""},
			{2, nil, []Signal{{Type: SignalDoorHeld, Source: "3", Code: "37"}}, "door_held+(door 3)"},
			{4, nil, []Signal{{Type: SignalDoorClosed, Source: "3", Code: "24"}}, "door_forced-(door 3) door_held-(door 3)"},
		}},
		{"invalid-card burst raises once and ends when the window is quiet", []step{
			{0, nil, []Signal{{Type: SignalInvalidCard, Code: "6"}}, ""},
			{10, nil, []Signal{{Type: SignalInvalidCard, Code: "6"}}, ""},
			{20, nil, []Signal{{Type: SignalInvalidCard, Code: "7"}}, "invalid_card_burst+(controller)"},
			{25, nil, []Signal{{Type: SignalInvalidCard, Code: "7"}}, ""},
			{80, nil, nil, ""},
			{86, nil, nil, "invalid_card_burst-(controller)"},
		}},
		{"slow invalid cards are no burst", []step{
			{0, nil, []Signal{{Type: SignalInvalidCard}}, ""},
			{40, nil, []Signal{{Type: SignalInvalidCard}}, ""},
			{80, nil, []Signal{{Type: SignalInvalidCard}}, ""},
			{120, nil, []Signal{{Type: SignalInvalidCard}}, ""},
		}},
		{"tamper switch and tamper code", []step{
			{0, []devices.Value{pt(PointTamper, 0)}, nil, ""},
			{1, []devices.Value{pt(PointTamper, 1)}, nil, "tamper+(controller)"},
			{2, nil, []Signal{{Type: SignalTamper, Code: "41"}}, ""},
			{3, []devices.Value{pt(PointTamper, 0)}, nil, "tamper-(controller)"},
		}},
		{"fire and duress pass on, info does not", []step{
			{0, nil, []Signal{{Type: "fire", Source: "1", Code: "39", Text: "Fire"}, {Type: "info", Code: "28"}, {Type: "duress", Code: "34"}},
				"fire+(door 1) duress+(door 1)"},
		}},
	}
	t0 := time.Date(2026, 1, 1, 8, 0, 0, 0, time.UTC)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := NewController(limits)
			for i, s := range tc.steps {
				now := t0.Add(time.Duration(s.at) * time.Second)
				var evs []devices.Event
				if s.values == nil && s.signals == nil {
					evs = c.Tick(now)
				} else {
					evs = c.Observe(now, s.values, s.signals)
				}
				if got := render(evs); got != s.want {
					t.Fatalf("step %d at %ds: %q, want %q", i, s.at, got, s.want)
				}
			}
		})
	}
}
