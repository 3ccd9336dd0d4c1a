package mqtt

import "testing"

func TestTopicTemplateMatch(t *testing.T) {
	fixed := map[string]string{"site": "s1", "gateway": "gw"}
	tests := []struct {
		template string
		filter   string
		topic    string
		device   string
		ok       bool
	}{
		{"estate/{site}/elevator/{device}/state", "estate/s1/elevator/+/state", "estate/s1/elevator/lift-1/state", "lift-1", true},
		{"estate/{site}/elevator/{device}/state", "estate/s1/elevator/+/state", "estate/s2/elevator/lift-1/state", "", false},
		{"estate/{site}/elevator/{device}/state", "estate/s1/elevator/+/state", "estate/s1/elevator/lift-1/state/x", "", false},
		{"estate/{site}/elevator/{device}/state", "estate/s1/elevator/+/state", "estate/s1/elevator/lift-1", "", false},
		{"estate/{site}/elevator/{device}/state", "estate/s1/elevator/+/state", "estate/s1/elevator//state", "", false},
		{"estate/{site}/{building}/{device}/state", "estate/s1/+/+/state", "estate/s1/b7/door-3/state", "door-3", true},
		{"spBv1.0/{site}/NBIRTH/{device}", "spBv1.0/s1/NBIRTH/+", "spBv1.0/s1/NBIRTH/node-9", "node-9", true},
		{"lift/{device}/#", "lift/+/#", "lift/a/b/c", "a", true},
		{"lift/{device}/#", "lift/+/#", "lift/a", "a", true},
		{"lift/+/floor", "lift/+/floor", "lift/x/floor", "", true},
		{"plain/topic", "plain/topic", "plain/topic", "", true},
		{"plain/topic", "plain/topic", "plain/topic/", "", false},
		{"plain/topic", "plain/topic", "plain", "", false},
	}
	for _, tc := range tests {
		tt, err := compileTopic(tc.template, fixed)
		if err != nil {
			t.Fatalf("%s: %v", tc.template, err)
		}
		if f := tt.filter(); f != tc.filter {
			t.Errorf("%s: filter %q, want %q", tc.template, f, tc.filter)
		}
		dev, ok := tt.match(tc.topic)
		if ok != tc.ok || dev != tc.device {
			t.Errorf("%s match %q = (%q, %v), want (%q, %v)", tc.template, tc.topic, dev, ok, tc.device, tc.ok)
		}
	}
}

func TestTopicTemplateErrors(t *testing.T) {
	for _, bad := range []string{"", "a/#/b", "a/x{device}", "a/{}", "a/{device}/{device}", "$SYS/x", "a/b+"} {
		if _, err := compileTopic(bad, nil); err == nil {
			t.Errorf("%q compiled", bad)
		}
	}
}

func TestTopicTemplateExpand(t *testing.T) {
	tt, _ := compileTopic("estate/{site}/gateway/{gateway}/device/{device}/status", map[string]string{"site": "s", "gateway": "g"})
	got, err := tt.expand(map[string]string{"device": "lift-1"})
	if err != nil || got != "estate/s/gateway/g/device/lift-1/status" {
		t.Fatalf("expand = %q, %v", got, err)
	}
	if _, err := tt.expand(nil); err == nil {
		t.Fatal("expand without {device} succeeded")
	}
}

func BenchmarkTopicMatch(b *testing.B) {
	tt, _ := compileTopic("estate/{site}/elevator/{device}/state", map[string]string{"site": "s1"})
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := tt.match("estate/s1/elevator/lift-17/state"); !ok {
			b.Fatal("no match")
		}
	}
}
