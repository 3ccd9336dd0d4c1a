package config

import (
	"path/filepath"
	"time"
)

// InfluxDB is where telemetry goes, and how it is spooled on the way.
type InfluxDB struct {
	URL string `yaml:"url"`
	// Token is an InfluxDB 2.x/3.x API token, or "user:password" for 1.8 with auth; empty for 1.8 without auth.
	Token string `yaml:"token"`
	Org   string `yaml:"org"`
	// Bucket is a 2.x bucket, or "database/retention-policy" on 1.8.
	Bucket string `yaml:"bucket"`
	// BatchSize is the most points in one write.
	BatchSize int `yaml:"batch_size"`
	// FlushInterval is the longest a point waits before it is written.
	FlushInterval time.Duration `yaml:"flush_interval"`
	// Timeout bounds one write request.
	Timeout time.Duration `yaml:"timeout"`
	// MaxInFlight bounds the write requests open at once.
	MaxInFlight int `yaml:"max_in_flight"`
	// RetryInterval is the first wait after a failed write; it doubles up to MaxRetryInterval.
	RetryInterval    time.Duration `yaml:"retry_interval"`
	MaxRetryInterval time.Duration `yaml:"max_retry_interval"`
	// ReplayRate bounds how fast a backlog is sent after an outage (points per second).
	ReplayRate int `yaml:"replay_rate"`
	// Spool is the on-disk store-and-forward log every point goes through.
	Spool TelemetrySpool `yaml:"spool"`
}

// TelemetrySpool configures the on-disk spool of telemetry.
type TelemetrySpool struct {
	// Dir holds the segment files, the cursor and the status file; default
	// <gateway.state_dir>/telemetry-spool.
	Dir string `yaml:"dir"`
	// MaxSizeMB bounds the spool; beyond it the oldest segment is dropped.
	MaxSizeMB int `yaml:"max_size_mb"`
	// SegmentSizeMB is the size of one segment file.
	SegmentSizeMB int `yaml:"segment_size_mb"`
	// Fsync is always, interval or never (see README).
	Fsync         string        `yaml:"fsync"`
	FsyncInterval time.Duration `yaml:"fsync_interval"`
	// DeadLetterFile receives points InfluxDB refused; default <dir>/dead-letter.jsonl.
	DeadLetterFile string `yaml:"dead_letter_file"`
}

// FsyncPolicies are the accepted values of influxdb.spool.fsync.
var FsyncPolicies = []string{"always", "interval", "never"}

func (c *InfluxDB) applyDefaults(stateDir string) {
	if c.BatchSize == 0 {
		c.BatchSize = 1000
	}
	if c.FlushInterval == 0 {
		c.FlushInterval = time.Second
	}
	if c.Timeout == 0 {
		c.Timeout = 5 * time.Second
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = 2
	}
	if c.RetryInterval == 0 {
		c.RetryInterval = time.Second
	}
	if c.MaxRetryInterval == 0 {
		c.MaxRetryInterval = 30 * time.Second
	}
	if c.ReplayRate == 0 {
		c.ReplayRate = 20_000
	}
	s := &c.Spool
	if s.Dir == "" {
		s.Dir = filepath.Join(stateDir, "telemetry-spool")
	}
	if s.MaxSizeMB == 0 {
		s.MaxSizeMB = 1024
	}
	if s.SegmentSizeMB == 0 {
		s.SegmentSizeMB = 16
	}
	if s.Fsync == "" {
		s.Fsync = "interval"
	}
	if s.FsyncInterval == 0 {
		s.FsyncInterval = time.Second
	}
	if s.DeadLetterFile == "" {
		s.DeadLetterFile = filepath.Join(s.Dir, "dead-letter.jsonl")
	}
}

func (c *Config) validateInfluxDB() []Problem {
	var ps []Problem
	add := func(path, format string, args ...any) { ps = append(ps, c.Problemf(path, format, args...)) }
	in := &c.InfluxDB
	if err := checkHTTPURL(in.URL); err != nil {
		add("influxdb.url", "%v", err)
	}
	if in.Bucket == "" {
		add("influxdb.bucket", "required: a 2.x bucket, or \"database/retention\" on InfluxDB 1.8 (such as estate/autogen)")
	}
	if in.BatchSize < 1 || in.BatchSize > 50_000 {
		add("influxdb.batch_size", "must be between 1 and 50000 points, got %d", in.BatchSize)
	}
	if in.FlushInterval < 10*time.Millisecond {
		add("influxdb.flush_interval", "must be at least 10ms, got %s", in.FlushInterval)
	}
	if in.Timeout <= 0 {
		add("influxdb.timeout", "must be positive")
	}
	if in.MaxInFlight < 1 || in.MaxInFlight > 64 {
		add("influxdb.max_in_flight", "must be between 1 and 64 requests, got %d", in.MaxInFlight)
	}
	if in.RetryInterval < 10*time.Millisecond {
		add("influxdb.retry_interval", "must be at least 10ms, got %s", in.RetryInterval)
	}
	if in.MaxRetryInterval < in.RetryInterval {
		add("influxdb.max_retry_interval", "must be at least retry_interval (%s), got %s", in.RetryInterval, in.MaxRetryInterval)
	}
	if in.ReplayRate < 1 {
		add("influxdb.replay_rate", "must be at least 1 point per second, got %d", in.ReplayRate)
	}
	s := &in.Spool
	if s.SegmentSizeMB < 1 || s.SegmentSizeMB > 1024 {
		add("influxdb.spool.segment_size_mb", "must be between 1 and 1024, got %d", s.SegmentSizeMB)
	}
	if s.MaxSizeMB < 2*s.SegmentSizeMB {
		add("influxdb.spool.max_size_mb", "must hold at least two segments (%d MB), got %d", 2*s.SegmentSizeMB, s.MaxSizeMB)
	}
	switch s.Fsync {
	case "always", "interval", "never":
	default:
		add("influxdb.spool.fsync", "%q is not a policy; use always (fsync before a point counts as accepted), interval or never", s.Fsync)
	}
	if s.Fsync == "interval" && s.FsyncInterval < time.Millisecond {
		add("influxdb.spool.fsync_interval", "must be at least 1ms, got %s", s.FsyncInterval)
	}
	return ps
}
