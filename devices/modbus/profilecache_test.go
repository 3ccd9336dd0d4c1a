package modbus

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestProfileCacheParsesOnceAndSeesChanges(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.yaml")
	write := func(points string, mod time.Time) {
		t.Helper()
		if err := os.WriteFile(path, []byte("name: p\npoints:\n"+points), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, mod, mod); err != nil {
			t.Fatal(err)
		}
	}
	c := &profileCache{files: map[string]cachedProfile{}}
	t0 := time.Now().Add(-time.Hour)
	write("  - {name: a, table: holding, address: 0}\n", t0)
	first, err := c.load(path)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := c.load(path)
	if again != first {
		t.Error("the same unchanged file was parsed twice")
	}
	write("  - {name: a, table: holding, address: 0}\n  - {name: b, table: holding, address: 1}\n", t0.Add(time.Minute))
	changed, err := c.load(path)
	if err != nil || len(changed.Points) != 2 {
		t.Fatalf("changed file not parsed again: %v %+v", err, changed)
	}
	if _, err := c.load(filepath.Join(t.TempDir(), "none.yaml")); err == nil {
		t.Error("a missing profile loaded")
	}
}
