package points_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/estatehq/estate/devices/access"
	"github.com/estatehq/estate/devices/elevator"
	"github.com/estatehq/estate/devices/leak"
	"github.com/estatehq/estate/devices/points"
)

// Every point of every shipped profile, and every point a device family
// writes itself, has its names in the catalogue: a new profile's points
// do not reach the console as bare identifiers.
func TestEveryShippedPointIsNamed(t *testing.T) {
	files, err := filepath.Glob("../../configs/profiles/*.yaml")
	if err != nil || len(files) < 10 {
		t.Fatalf("profiles: %v %d", err, len(files))
	}
	var names []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var doc any
		if err := yaml.Unmarshal(data, &doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		names = append(names, pointNames(doc, false)...)
	}
	names = append(names, elevator.PointFloor, elevator.PointDirection, elevator.PointRunning, elevator.PointDoorOpen,
		elevator.PointDoorZone, elevator.PointPassenger, elevator.PointAlarmButton, elevator.PointServiceMode,
		elevator.PointEntrapment, elevator.PointFaultCode, leak.PointWater, leak.PointPumpRunning, leak.PointHighLevel,
		leak.PointSensorFault, access.PointDoorOpen, access.PointLocked, access.PointTamper)
	slices.Sort(names)
	names = slices.Compact(names)
	if len(names) < 80 {
		t.Fatalf("only %d point names found in the profiles", len(names))
	}
	for _, n := range names {
		if _, ok := points.Lookup(n); !ok {
			t.Errorf("point %q of a shipped profile or family has no names in points.yaml", n)
		}
	}
}

// pointNames are the names in the lists under a "points" key (name:, or
// point: where a code table feeds a point), at any depth of a profile.
func pointNames(v any, inPoints bool) []string {
	var out []string
	switch x := v.(type) {
	case map[string]any:
		if inPoints {
			for _, k := range []string{"name", "point"} {
				if s, ok := x[k].(string); ok {
					out = append(out, s)
				}
			}
		}
		for k, c := range x {
			out = append(out, pointNames(c, k == "points")...)
		}
	case []any:
		for _, c := range x {
			out = append(out, pointNames(c, inPoints)...)
		}
	}
	return out
}
