package config

import "time"

// InfluxDB is where telemetry goes.
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
	// MaxBufferedPoints bounds the points held while InfluxDB is unreachable.
	MaxBufferedPoints int `yaml:"max_buffered_points"`
	// Timeout bounds one write request.
	Timeout time.Duration `yaml:"timeout"`
}
