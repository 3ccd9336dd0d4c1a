package all_test

import (
	"testing"

	"github.com/estatehq/estate/devices"
	"github.com/estatehq/estate/devices/access"
	"github.com/estatehq/estate/devices/cjt188"
	"github.com/estatehq/estate/devices/dlt645"
	"github.com/estatehq/estate/devices/elevator"
	"github.com/estatehq/estate/devices/firepanel"
)

// Each family says its sources in Chinese as its staff read them; a source
// with a word the family does not know (a zone's name as printed, a room)
// has no Chinese form and is shown as it is.
func TestSourceWords(t *testing.T) {
	for _, c := range []struct {
		name   string
		words  devices.SourceWords
		source string
		zh     string
	}{
		{"door", access.Words, "door 3", "3号门"},
		{"first door", access.Words, "door 1", "1号门"},
		{"controller", access.Words, "controller", "门禁控制器"},
		{"door without number", access.Words, "door", ""},
		{"car", elevator.Words, "car", "轿厢"},
		{"loop and address", firepanel.Words, "loop 1 address 23", "1回路 23号"},
		{"component", firepanel.Words, "system 1 component 1023", "1号系统 1023号部件"},
		{"operator", firepanel.Words, "system 2 operator 5", "2号系统 5号操作员"},
		{"transmission device", firepanel.Words, "transmission device operator 1", "用户信息传输装置 1号操作员"},
		{"panel", firepanel.Words, "panel", "火灾报警控制器"},
		{"zone by number", firepanel.Words, "zone 12", "12号防区"},
		{"zone as printed", firepanel.Words, "3F东走廊", ""},
		{"unknown word", firepanel.Words, "loop 1 zone 3", "1回路 3号防区"},
		{"electricity meter", dlt645.Words, "meter 000000001234", "电表 000000001234"},
		{"water meter", cjt188.Words, "meter 12345678901234", "水表 12345678901234"},
		{"empty", access.Words, "", ""},
		{"another family's word", elevator.Words, "door 3", ""},
		{"case of the word", access.Words, "Door 2", "2号门"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := c.words.ZH(c.source); got != c.zh {
				t.Errorf("ZH(%q) = %q, want %q", c.source, got, c.zh)
			}
		})
	}
}

// Name fills SourceZH where an event has none, and keeps one it has.
func TestSourceWordsName(t *testing.T) {
	evs := access.Words.Name([]devices.Event{{Source: "door 4"}, {Source: "door 5", SourceZH: "大堂门"}, {Source: "B1 水泵房"}})
	if evs[0].SourceZH != "4号门" || evs[1].SourceZH != "大堂门" || evs[2].SourceZH != "" || evs[0].Source != "door 4" {
		t.Errorf("named %+v", evs)
	}
}
