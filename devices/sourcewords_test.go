package devices

import "testing"

// How a family's words say a source: a word with its number, a phrase of
// several words, a word alone; anything unknown leaves the source as it is.
func TestSourceWordsZH(t *testing.T) {
	w := SourceWords{"gate": "{n}号闸", "pump room": "水泵房", "unit": "{n}单元"}
	for _, c := range []struct{ source, zh string }{
		{"gate 2", "2号闸"},
		{"unit 3 gate 1", "3单元 1号闸"},
		{"pump room", "水泵房"},
		{"Pump  Room", "水泵房"},
		{"gate", ""},
		{"gate 2 lobby", ""},
		{"", ""},
	} {
		if got := w.ZH(c.source); got != c.zh {
			t.Errorf("ZH(%q) = %q, want %q", c.source, got, c.zh)
		}
	}
}
