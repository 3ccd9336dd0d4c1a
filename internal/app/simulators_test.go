package app

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/estatehq/estate/devices"
	"github.com/estatehq/estate/internal/testenv"
)

// withSimulators is a shipped demo configuration (its profiles found from a
// temporary folder) with its simulators: section replaced by sims.
func withSimulators(t *testing.T, file, sims string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("../../configs", file))
	if err != nil {
		t.Fatal(err)
	}
	profiles, _ := filepath.Abs("../../configs/profiles")
	text := strings.Replace(string(data), "profiles_dir: profiles", "profiles_dir: "+profiles, 1)
	i := strings.Index(text, "\nsimulators:\n")
	if i < 0 {
		t.Fatalf("%s has no simulators: section", file)
	}
	return text[:i] + "\nsimulators:\n" + sims
}

// simLine is the line of the n-th line (from 1) of the replaced section.
func simLine(t *testing.T, file string, n int) int {
	t.Helper()
	text := withSimulators(t, file, "")
	return strings.Count(text, "\n") + n
}

// The simulators: section is checked entry by entry, each by its kind, with
// the messages (file, line, field) every other section has.
func TestSimulatorProblems(t *testing.T) {
	for _, tc := range []struct {
		name, file, sims string
		want             []string // each "LINE: message" (LINE from the section's first entry line, 1) or a bare message
	}{
		{"unknown kind", "demo.yaml", "  - kind: fridge\n    device: meter-1-1-101\n",
			[]string{`1: simulators[0].kind: "fridge" is not a simulator; use one of [dlt645_bus door_controller elevator_monitor firepanel_crt firepanel_gbt26875 guard_tour_reader leak_module power_contacts prepaid_meter water_meter_bus]`}},
		{"missing kind", "demo.yaml", "  - device: meter-1-1-101\n",
			[]string{`1: simulators[0].kind: "" is not a simulator; use one of [`}},
		{"unknown key", "demo.yaml", "  - kind: prepaid_meter\n    device: meter-1-1-101\n    colour: red\n",
			[]string{"3: simulators[0].colour: unknown key (check its spelling and the documented options in configs/)"}},
		{"type error", "demo.yaml", "  - kind: prepaid_meter\n    device: meter-1-1-101\n    initial_balance: lots\n",
			[]string{`3: simulators[0].initial_balance: expected a number, got "lots"`}},
		{"negative drain", "demo.yaml", "  - kind: prepaid_meter\n    device: meter-1-1-101\n    drain_per_second: -1\n",
			[]string{"3: simulators[0].drain_per_second: must not be negative"}},
		{"no such device", "demo.yaml", "  - kind: prepaid_meter\n    device: ghost\n",
			[]string{`2: simulators[0].device: no device has id "ghost"`}},
		{"prepaid meter of an mqtt device", "demo.yaml", "  - kind: prepaid_meter\n    device: lift-1-a\n",
			[]string{"2: simulators[0].device: a prepaid_meter simulator serves Modbus TCP; device lift-1-a uses mqtt"}},
		{"door controller of an elevator", "demo.yaml", "  - kind: door_controller\n    device: lift-1-a\n",
			[]string{"2: simulators[0].device: this simulator publishes an access over MQTT; device lift-1-a is elevator over mqtt"}},
		{"elevator script", "demo.yaml", "  - kind: elevator_monitor\n    device: lift-1-a\n    script:\n      - {at: 1s, do: dance}\n      - {at: -1s, do: fault}\n",
			[]string{
				`4: simulators[0].script[0].do: "dance" is not something this simulator does; use one of [alarm_button entrapment entrapment_flag fault inspection]`,
				"5: simulators[0].script[1]: at and for must not be negative",
			}},
		{"door script", "demo.yaml", "  - kind: door_controller\n    device: door-1-lobby\n    script:\n      - {at: 1s, do: fault, for: -2s}\n",
			[]string{
				`4: simulators[0].script[0].do: "fault" is not something this simulator does; use one of [forced held invalid_burst tamper]`,
				"4: simulators[0].script[0]: at and for must not be negative",
			}},
		{"script step key", "demo.yaml", "  - kind: elevator_monitor\n    device: lift-1-a\n    script:\n      - {at: 1s, do: fault, when: now}\n",
			[]string{"4: simulators[0].script[0].when: unknown key (check its spelling"}},
		{"script step type", "demo.yaml", "  - kind: elevator_monitor\n    device: lift-1-a\n    script:\n      - {at: soon, do: fault}\n",
			[]string{`4: simulators[0].script[0].at: expected a duration with its unit, such as 500ms, 30s, 5m or 1h, got "soon"`}},
		{"not a mapping", "demo.yaml", "  - 5\n",
			[]string{"1: simulators[0]: expected a mapping of its options, got 5"}},
		{"second entry", "demo.yaml", "  - kind: prepaid_meter\n    device: meter-1-1-101\n  - kind: prepaid_meter\n    device: meter-1-1-101\n    drain_per_second: -0.5\n",
			[]string{"5: simulators[1].drain_per_second: must not be negative"}},
		{"dlt645 bus of a modbus device", "demo-serial.yaml", "  - kind: dlt645_bus\n    device: fire-uitd-2\n    drain_per_second: -1\n",
			[]string{
				"2: simulators[0].device: a dlt645_bus simulator serves a DL/T 645 line; device fire-uitd-2 uses gbt26875",
				"3: simulators[0].drain_per_second: must not be negative",
			}},
		{"crt panel of a transmission device", "demo-serial.yaml", "  - kind: firepanel_crt\n    device: fire-uitd-2\n",
			[]string{"2: simulators[0].device: this simulator serves a fire_crt device; device fire-uitd-2 uses gbt26875"}},
		{"transmission device of a crt panel", "demo-serial.yaml", "  - kind: firepanel_gbt26875\n    device: fire-panel-2\n",
			[]string{"2: simulators[0].device: this simulator serves a gbt26875 device; device fire-panel-2 uses fire_crt"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadConfigText(t, withSimulators(t, tc.file, tc.sims))
			if err == nil {
				t.Fatal("loaded")
			}
			first := simLine(t, tc.file, 1)
			for _, w := range tc.want {
				line, msg, _ := strings.Cut(w, ": ")
				n, _ := strconv.Atoi(line)
				want := fmt.Sprintf(":%d: %s", first+n-1, msg)
				if !strings.Contains(err.Error(), want) {
					t.Errorf("missing %q in:\n%v", want, err)
				}
			}
		})
	}
}

// Options that another kind reads were ignored before each kind decoded its
// own: a configuration written so still loads.
func TestSimulatorOptionsOfOtherKindsStillLoad(t *testing.T) {
	sims := "  - kind: prepaid_meter\n    device: meter-1-1-101\n    initial_balance: 22\n    script:\n      - {at: 1s, do: fault}\n" +
		"  - kind: elevator_monitor\n    device: lift-1-a\n    initial_balance: 3\n    drain_per_second: 1\n"
	cfg, err := LoadConfigText(t, withSimulators(t, "demo.yaml", sims))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Simulators) != 2 || cfg.Simulators[1].Kind != "elevator_monitor" || cfg.Simulators[1].Device != "lift-1-a" {
		t.Errorf("simulators: %+v", cfg.Simulators)
	}
}

// Every family's simulators, by their one name, with the earlier names that
// still work; all but modbus can be configured.
func TestRegisteredSimulators(t *testing.T) {
	var got []string
	for _, k := range devices.Simulators() {
		s := k.Name
		if len(k.Aliases) > 0 {
			s += " (" + strings.Join(k.Aliases, ", ") + ")"
		}
		if !k.Configurable {
			s += " command line only"
		}
		got = append(got, s)
	}
	want := []string{"dlt645_bus (dlt645)", "door_controller (access)", "elevator_monitor (elevator)", "firepanel_crt",
		"firepanel_gbt26875", "guard_tour_reader (guardtour)", "leak_module", "modbus command line only", "power_contacts", "prepaid_meter (prepaid-meter)", "water_meter_bus"}
	if strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Errorf("simulators:\n%s\nwant:\n%s", strings.Join(got, "; "), strings.Join(want, "; "))
	}
}

// A kind written by its command-line name loads, with a warning, and serves.
func TestSimulatorEarlierKindName(t *testing.T) {
	var logged bytes.Buffer
	defer slog.SetDefault(slog.Default())
	slog.SetDefault(slog.New(slog.NewTextHandler(&logged, nil)))
	sims := "  - kind: prepaid-meter\n    device: meter-1-1-101\n    initial_balance: 22\n"
	text := strings.Replace(withSimulators(t, "demo.yaml", sims), "127.0.0.1:15020", testenv.FreeAddr(t), 1)
	cfg, err := LoadConfigText(t, text)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logged.String(), `msg="simulator kind renamed; the old name still works for now"`) ||
		!strings.Contains(logged.String(), "simulators[0].kind\" kind=prepaid-meter use=prepaid_meter") {
		t.Errorf("no warning: %s", logged.String())
	}
	logged.Reset()
	ctx, cancel := context.WithCancel(context.Background())
	wait, err := StartSimulators(ctx, cfg, slog.New(slog.NewTextHandler(&logged, nil)))
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	wait()
	if !strings.Contains(logged.String(), `msg="simulated prepaid meter serving" device=meter-1-1-101`) {
		t.Errorf("logged: %s", logged.String())
	}
}
