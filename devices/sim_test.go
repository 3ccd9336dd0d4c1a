package devices

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/estatehq/estate/internal/config"
)

// testSimOptions are the options of the test's kind of simulator.
type testSimOptions struct {
	Address string       `yaml:"-"`
	Level   float64      `yaml:"level"`
	Script  []ScriptStep `yaml:"script"`
}

// probed is what the test_probe kind was validated with.
var probed struct {
	options *testSimOptions
	device  *config.Device
}

func init() {
	RegisterSimulator("test_tank", SimulatorKind[testSimOptions]{
		Summary: "a test tank",
		Usage:   "[--level L]",
		Aliases: []string{"test-tank"},
		Flags: func(fs *flag.FlagSet, o *testSimOptions) func() error {
			fs.Float64Var(&o.Level, "level", 5, "level")
			return func() error {
				if o.Level > 10 {
					return errors.New("--level is at most 10")
				}
				return nil
			}
		},
		Configure: func(cfg *config.Config, dev config.Device, o *testSimOptions) {
			o.Address = dev.ID
		},
		Validate: func(cfg *config.Config, dev *config.Device, o *testSimOptions, path string) []config.Problem {
			if o.Level < 0 {
				return []config.Problem{cfg.Problemf(path+".level", "must not be negative")}
			}
			return nil
		},
		Start: func(ctx context.Context, env SimEnv, o *testSimOptions) (func() error, error) {
			env.Announce("tank at "+o.Address, "simulated tank", "level", o.Level)
			return func() error { <-ctx.Done(); return nil }, nil
		},
	})
	RegisterSimulator("test_probe", SimulatorKind[testSimOptions]{
		Configure: func(*config.Config, config.Device, *testSimOptions) {},
		Validate: func(cfg *config.Config, dev *config.Device, o *testSimOptions, path string) []config.Problem {
			probed.options, probed.device = o, dev
			return nil
		},
		Start: func(context.Context, SimEnv, *testSimOptions) (func() error, error) { return nil, nil },
	})
	RegisterSimulator("test_cli_only", SimulatorKind[struct{}]{
		Start: func(ctx context.Context, env SimEnv, o *struct{}) (func() error, error) {
			return func() error { return nil }, nil
		},
	})
}

func parseSims(t *testing.T, sims string) *config.Config {
	t.Helper()
	text := "site: {id: s}\ndevices:\n  - {id: tank-1, family: meter, protocol: test, address: here}\nsimulators:\n" + sims
	cfg, err := config.Parse("s.yaml", []byte(text))
	var ps config.Problems
	if err != nil && !errors.As(err, &ps) {
		t.Fatal(err)
	}
	return cfg
}

func TestConfiguredSimulators(t *testing.T) {
	for _, tc := range []struct {
		name, sims string
		problems   []string
		warnings   []string
	}{
		{"by name", "  - {kind: test_tank, device: tank-1, level: 3}\n", nil, nil},
		{"by its earlier name", "  - {kind: test-tank, device: tank-1}\n", nil,
			[]string{`level=WARN msg="simulator kind renamed; the old name still works for now" at="s.yaml:5: simulators[0].kind" kind=test-tank use=test_tank`}},
		{"another kind's options", "  - {kind: test_tank, device: tank-1, initial_balance: 3, drain_per_second: oops}\n", nil,
			[]string{
				`msg="simulator option ignored: this kind does not use it" at="s.yaml:5: simulators[0].initial_balance" kind=test_tank`,
				`at="s.yaml:5: simulators[0].drain_per_second" kind=test_tank`,
			}},
		{"unknown key", "  - {kind: test_tank, device: tank-1, colour: red}\n",
			[]string{"s.yaml:5: simulators[0].colour: unknown key (check its spelling and the documented options in configs/)"}, nil},
		{"the kind's own check", "  - kind: test_tank\n    device: tank-1\n    level: -1\n",
			[]string{"s.yaml:7: simulators[0].level: must not be negative"}, nil},
		{"unknown kind", "  - {kind: fridge, device: tank-1}\n",
			[]string{`s.yaml:5: simulators[0].kind: "fridge" is not a simulator; use one of [test_probe test_tank]`}, nil},
		{"a command-line kind", "  - {kind: test_cli_only, device: tank-1}\n",
			[]string{`s.yaml:5: simulators[0].kind: "test_cli_only" is not a simulator; use one of [test_probe test_tank]`}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := parseSims(t, tc.sims)
			var logged bytes.Buffer
			sims, ps := ConfiguredSimulators(cfg, slog.New(slog.NewTextHandler(&logged, nil)))
			var got []string
			for _, p := range ps {
				got = append(got, p.String())
			}
			if strings.Join(got, "\n") != strings.Join(tc.problems, "\n") {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.problems, "\n"))
			}
			for _, w := range tc.warnings {
				if !strings.Contains(logged.String(), w) {
					t.Errorf("no warning %q in:\n%s", w, logged.String())
				}
			}
			if tc.warnings == nil && logged.Len() > 0 {
				t.Errorf("warned: %s", logged.String())
			}
			if tc.problems == nil && (len(sims) != 1 || sims[0].Kind != "test_tank" || sims[0].Device != "tank-1") {
				t.Errorf("simulators: %+v", sims)
			}
		})
	}
}

// A configured simulator's options come from its device, then its entry; it
// starts with them.
func TestConfiguredSimulatorStarts(t *testing.T) {
	cfg := parseSims(t, "  - {kind: test_tank, device: tank-1, level: 3}\n  - {kind: test_tank, device: ghost}\n")
	sims, _ := ConfiguredSimulators(cfg, nil)
	if len(sims) != 2 {
		t.Fatalf("simulators: %+v", sims)
	}
	var logged bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	wait, err := sims[0].Start(ctx, SimEnv{Log: slog.New(slog.NewTextHandler(&logged, nil))})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logged.String(), `msg="simulated tank" level=3`) {
		t.Errorf("logged: %s", logged.String())
	}
}

// A simulator of no configured device is still checked (that no device has
// its id is reported by the built-in checks), without a device.
func TestValidateWithoutDevice(t *testing.T) {
	cfg := parseSims(t, "  - {kind: test_probe, device: ghost}\n")
	if _, ps := ConfiguredSimulators(cfg, nil); len(ps) != 0 {
		t.Errorf("problems: %v", ps)
	}
	if probed.options == nil || probed.device != nil {
		t.Errorf("validated with device %+v", probed.device)
	}
}

func TestSimulatorFlags(t *testing.T) {
	for _, tc := range []struct {
		name, kind string
		args       []string
		wantErr    string
		out        string
	}{
		{"defaults", "test_tank", nil, "", "tank at \n"},
		{"earlier name", "test-tank", []string{"--level", "7"}, "", "tank at \n"},
		{"finish checks", "test_tank", []string{"--level", "11"}, "--level is at most 10", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("sim", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			build, ok := SimulatorFlags(tc.kind, fs)
			if !ok {
				t.Fatalf("%s not found", tc.kind)
			}
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			sim, err := build()
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || sim.Kind != "test_tank" {
				t.Fatalf("%+v %v", sim, err)
			}
			var out bytes.Buffer
			ctx, cancel := context.WithCancel(context.Background())
			wait, err := sim.Start(ctx, SimEnv{Out: &out})
			if err != nil {
				t.Fatal(err)
			}
			cancel()
			_ = wait()
			if out.String() != tc.out {
				t.Errorf("printed %q, want %q", out.String(), tc.out)
			}
		})
	}
	if _, ok := SimulatorFlags("fridge", flag.NewFlagSet("x", flag.ContinueOnError)); ok {
		t.Error("fridge found")
	}
	if n, ok := SimulatorName("test-tank"); !ok || n != "test_tank" {
		t.Errorf("SimulatorName(test-tank) = %q %v", n, ok)
	}
}

func TestSimulatorRegisteredTwice(t *testing.T) {
	for _, name := range []string{"test_tank", "test-tank"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s registered twice without a panic", name)
				}
			}()
			RegisterSimulator(name, SimulatorKind[struct{}]{
				Start: func(context.Context, SimEnv, *struct{}) (func() error, error) { return nil, nil },
			})
		}()
	}
}
