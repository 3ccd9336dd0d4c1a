package devices

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type testProfile struct {
	ProfileHeader `yaml:",inline"`
	Points        []struct {
		Name string `yaml:"name"`
	} `yaml:"points"`
}

func parseTestProfile(path string, data []byte) (*testProfile, error) {
	var p testProfile
	if err := DecodeProfile(data, &p); err != nil {
		return nil, errors.New("profile " + path + ": " + err.Error())
	}
	return &p, nil
}

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
	c := NewProfileLoader("profile", parseTestProfile)
	t0 := time.Now().Add(-time.Hour)
	write("  - {name: a}\n", t0)
	first, err := c.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := c.Load(filepath.Dir(path), "p")
	if again != first {
		t.Error("the same unchanged file was parsed twice")
	}
	write("  - {name: a}\n  - {name: b}\n", t0.Add(time.Minute))
	changed, err := c.LoadFile(path)
	if err != nil || len(changed.Points) != 2 {
		t.Fatalf("changed file not parsed again: %v %+v", err, changed)
	}
	if _, err := c.LoadFile(filepath.Join(t.TempDir(), "none.yaml")); err == nil || !strings.HasPrefix(err.Error(), "profile ") || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a missing profile: %v", err)
	}
}

func TestProfileLoaderIsStrict(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "p.yaml"), []byte("name: p\ncolour: red\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := NewProfileLoader("profile", parseTestProfile).Load(dir, "p")
	if err == nil || !strings.Contains(err.Error(), "line 2: field colour not found") {
		t.Errorf("unknown key in a profile: %v", err)
	}
	if got := ProfilePath(dir, "x.yaml"); got != "x.yaml" {
		t.Errorf("a path is kept as it is: %s", got)
	}
}
