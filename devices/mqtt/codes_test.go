package mqtt

import (
	"path/filepath"
	"testing"
)

// Every shipped code table names every code in Chinese as well: the
// control room reads "运行中门锁断开", not "Door lock disconnected during
// running", in a Chinese alarm.
func TestShippedCodeTablesSpeakChinese(t *testing.T) {
	files, err := filepath.Glob("../../configs/profiles/codes/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("code tables: %v %v", files, err)
	}
	for _, f := range files {
		table, err := LoadCodeTable(f)
		if err != nil {
			t.Fatal(err)
		}
		for code, c := range table.Codes {
			if c.Text == "" || c.ZH == "" {
				t.Errorf("%s: code %s has text %q, zh %q: both are wanted", f, code, c.Text, c.ZH)
			}
		}
	}
}
