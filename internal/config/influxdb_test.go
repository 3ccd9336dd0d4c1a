package config

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

const influxBase = `site: {id: s}
gateway: {id: gw, desk_url: "http://127.0.0.1:8080", desk_token: "0123456789abcdef0123", state_dir: /srv/estate}
influxdb:
  url: http://127.0.0.1:8086
  bucket: estate/autogen
`

func TestInfluxDBDefaults(t *testing.T) {
	cfg, err := Parse("site.yaml", []byte(influxBase))
	if err != nil {
		t.Fatal(err)
	}
	in := cfg.InfluxDB
	if in.BatchSize != 1000 || in.MaxInFlight != 2 || in.ReplayRate != 20000 || in.Spool.Fsync != "interval" ||
		in.Spool.Dir != filepath.Join("/srv/estate", "telemetry-spool") || in.Spool.MaxSizeMB != 1024 ||
		in.Spool.DeadLetterFile != filepath.Join("/srv/estate", "telemetry-spool", "dead-letter.jsonl") {
		t.Fatalf("defaults: %+v", in)
	}
}

func TestInfluxDBProblems(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"  max_in_flight: 0\n  batch_size: -1\n", "site.yaml:7: influxdb.batch_size: must be between 1 and 50000"},
		{"  max_in_flight: 100\n", "site.yaml:6: influxdb.max_in_flight: must be between 1 and 64"},
		{"  retry_interval: 2s\n  max_retry_interval: 1s\n", "site.yaml:7: influxdb.max_retry_interval: must be at least retry_interval"},
		{"  replay_rate: -5\n", "site.yaml:6: influxdb.replay_rate: must be at least 1"},
		{"  spool:\n    fsync: sometimes\n", "site.yaml:7: influxdb.spool.fsync: \"sometimes\" is not a policy"},
		{"  spool:\n    segment_size_mb: 64\n    max_size_mb: 100\n", "site.yaml:8: influxdb.spool.max_size_mb: must hold at least two segments"},
		{"  spool:\n    max_size: 10\n", "site.yaml:7: influxdb.spool.max_size: unknown key"},
	} {
		_, err := Parse("site.yaml", []byte(influxBase+tc.yaml))
		var ps Problems
		if !errors.As(err, &ps) || !strings.Contains(ps.Error(), tc.want) {
			t.Errorf("%q: got %v, want a problem containing %q", tc.yaml, err, tc.want)
		}
	}
}
