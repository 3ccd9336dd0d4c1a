package app

import "testing"

// The shipped alarm rule set and the topology example pass `estate check`.
func TestShippedAlarmConfigsCheck(t *testing.T) {
	for _, f := range []string{"../../configs/rules/default.yaml", "../../configs/rules/topology.example.yaml"} {
		if _, err := LoadConfig(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}
