// Package history reads device telemetry back from InfluxDB with Flux, for the
// consoles' live values and charts. Long ranges are downsampled in the query
// (aggregateWindow) so that a chart never carries more than about 1,500 points.
package history

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/influxdata/influxdb-client-go/v2/api"

	"github.com/estatehq/estate/internal/config"
)

// Sample is one value of a series.
type Sample struct {
	Time  time.Time `json:"t"`
	Value float64   `json:"v"`
}

// Reader queries one InfluxDB bucket.
type Reader struct {
	client influxdb2.Client
	query  api.QueryAPI
	bucket string
}

// New returns a reader for the configured InfluxDB.
func New(cfg config.InfluxDB) *Reader {
	c := influxdb2.NewClientWithOptions(cfg.URL, cfg.Token, influxdb2.DefaultOptions().SetHTTPRequestTimeout(15))
	return &Reader{client: c, query: c.QueryAPI(cfg.Org), bucket: cfg.Bucket}
}

// Close releases the client.
func (r *Reader) Close() { r.client.Close() }

// Ranges the consoles offer, with the window each is averaged over.
var Ranges = map[string]time.Duration{"1h": 0, "24h": time.Minute, "7d": 10 * time.Minute, "30d": time.Hour}

// rangeLength is the span of each named range.
var rangeLength = map[string]time.Duration{"1h": time.Hour, "24h": 24 * time.Hour, "7d": 7 * 24 * time.Hour, "30d": 30 * 24 * time.Hour}

// name is what identifiers in a query may look like: they are spliced into Flux.
var name = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// Series returns one point of one device over a named range, oldest first.
func (r *Reader) Series(ctx context.Context, site, measurement, device, point, rng string) ([]Sample, error) {
	length, ok := rangeLength[rng]
	if !ok {
		return nil, fmt.Errorf("range %q is not one of 1h, 24h, 7d, 30d", rng)
	}
	for _, v := range []string{site, measurement, device, point} {
		if !name.MatchString(v) {
			return nil, fmt.Errorf("%q is not a valid name", v)
		}
	}
	q := fmt.Sprintf(`from(bucket: %q) |> range(start: -%ds)
  |> filter(fn: (r) => r._measurement == %q and r.site == %q and r.device == %q and r._field == %q)`,
		r.bucket, int(length.Seconds()), measurement, site, device, point)
	if every := Ranges[rng]; every > 0 {
		q += fmt.Sprintf(`
  |> aggregateWindow(every: %ds, fn: mean, createEmpty: false)`, int(every.Seconds()))
	}
	return r.samples(ctx, q, device, point)
}

// AroundSpan is the window of Around on either side of its moment.
const AroundSpan = 30 * time.Minute

// Around returns one point of one device from AroundSpan before at to
// AroundSpan after it (10-second means, at most 360 samples): the chart of a
// ticket's reading around the moment it raised the ticket.
func (r *Reader) Around(ctx context.Context, site, measurement, device, point string, at time.Time) ([]Sample, error) {
	for _, v := range []string{site, measurement, device, point} {
		if !name.MatchString(v) {
			return nil, fmt.Errorf("%q is not a valid name", v)
		}
	}
	q := fmt.Sprintf(`from(bucket: %q) |> range(start: %s, stop: %s)
  |> filter(fn: (r) => r._measurement == %q and r.site == %q and r.device == %q and r._field == %q)
  |> aggregateWindow(every: 10s, fn: mean, createEmpty: false)`,
		r.bucket, at.Add(-AroundSpan).UTC().Format(time.RFC3339), at.Add(AroundSpan).UTC().Format(time.RFC3339),
		measurement, site, device, point)
	return r.samples(ctx, q, device, point)
}

// samples runs a series query and reads its values, oldest first.
func (r *Reader) samples(ctx context.Context, q, device, point string) ([]Sample, error) {
	q += `
  |> keep(columns: ["_time", "_value"])`
	res, err := r.query.Query(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("history of %s.%s: %w", device, point, err)
	}
	out := []Sample{}
	for res.Next() {
		v, ok := toFloat(res.Record().Value())
		if !ok {
			continue
		}
		out = append(out, Sample{Time: res.Record().Time(), Value: v})
	}
	if res.Err() != nil {
		return nil, fmt.Errorf("history of %s.%s: %w", device, point, res.Err())
	}
	return out, nil
}

// Latest returns the last value of every numeric point of a device within the
// last day, and when the newest of them was taken.
func (r *Reader) Latest(ctx context.Context, site, measurement, device string) (map[string]float64, time.Time, error) {
	for _, v := range []string{site, measurement, device} {
		if !name.MatchString(v) {
			return nil, time.Time{}, fmt.Errorf("%q is not a valid name", v)
		}
	}
	q := fmt.Sprintf(`from(bucket: %q) |> range(start: -24h)
  |> filter(fn: (r) => r._measurement == %q and r.site == %q and r.device == %q)
  |> last()`, r.bucket, measurement, site, device)
	res, err := r.query.Query(ctx, q)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("latest of %s: %w", device, err)
	}
	values := map[string]float64{}
	var newest time.Time
	for res.Next() {
		rec := res.Record()
		if v, ok := toFloat(rec.Value()); ok {
			values[rec.Field()] = v
			if rec.Time().After(newest) {
				newest = rec.Time()
			}
		}
	}
	if res.Err() != nil {
		return nil, time.Time{}, fmt.Errorf("latest of %s: %w", device, res.Err())
	}
	return values, newest, nil
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

// AlarmChange is one alarm transition of a device, as the gateway recorded it.
type AlarmChange struct {
	Time     time.Time `json:"t"`
	Rule     string    `json:"rule"`
	Severity string    `json:"severity"`
	State    string    `json:"state"`
	Value    float64   `json:"value"`
	// MessageZH and MessageEN are the rule's messages as the gateway
	// rendered them (empty for transitions written before it did).
	MessageZH string `json:"message_zh,omitempty"`
	MessageEN string `json:"message_en,omitempty"`
}

// Alarms returns a device's alarm transitions over the last days, newest first.
func (r *Reader) Alarms(ctx context.Context, site, device string, days int) ([]AlarmChange, error) {
	for _, v := range []string{site, device} {
		if !name.MatchString(v) {
			return nil, fmt.Errorf("%q is not a valid name", v)
		}
	}
	q := fmt.Sprintf(`from(bucket: %q) |> range(start: -%dd)
  |> filter(fn: (r) => r._measurement == "alarm" and r.site == %q and r.device == %q)
  |> pivot(rowKey: ["_time", "rule", "severity"], columnKey: ["_field"], valueColumn: "_value")
  |> group()
  |> sort(columns: ["_time"], desc: true)
  |> limit(n: 200)`, r.bucket, days, site, device)
	res, err := r.query.Query(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("alarms of %s: %w", device, err)
	}
	out := []AlarmChange{}
	for res.Next() {
		rec := res.Record()
		c := AlarmChange{Time: rec.Time()}
		c.Rule, _ = rec.ValueByKey("rule").(string)
		c.Severity, _ = rec.ValueByKey("severity").(string)
		c.State, _ = rec.ValueByKey("state").(string)
		c.Value, _ = toFloat(rec.ValueByKey("value"))
		c.MessageZH, _ = rec.ValueByKey("message_zh").(string)
		c.MessageEN, _ = rec.ValueByKey("message_en").(string)
		out = append(out, c)
	}
	if res.Err() != nil {
		return nil, fmt.Errorf("alarms of %s: %w", device, res.Err())
	}
	return out, nil
}

// Reading is the newest value of one point.
type Reading struct {
	Value float64   `json:"value"`
	At    time.Time `json:"at"`
}

// latestChunk is how many devices one LatestPoints query names: the filter
// is a chain of equalities that InfluxDB pushes down to its index.
const latestChunk = 100

// LatestPoints returns, for each of devices of a site, the newest value of
// each of points within the last day (device → point → reading): the
// balance and relay state now of the meters on the red-meter list, in one
// query per hundred devices. Devices or points without a reading are absent.
func (r *Reader) LatestPoints(ctx context.Context, site, measurement string, devices, points []string) (map[string]map[string]Reading, error) {
	for _, v := range append([]string{site, measurement}, points...) {
		if !name.MatchString(v) {
			return nil, fmt.Errorf("%q is not a valid name", v)
		}
	}
	out := map[string]map[string]Reading{}
	var valid []string
	for _, d := range devices {
		if name.MatchString(d) {
			valid = append(valid, d)
		}
	}
	if len(valid) == 0 || len(points) == 0 {
		return out, nil
	}
	or := func(column string, values []string) string {
		parts := make([]string, len(values))
		for i, v := range values {
			parts[i] = fmt.Sprintf("r.%s == %q", column, v)
		}
		return "(" + strings.Join(parts, " or ") + ")"
	}
	for start := 0; start < len(valid); start += latestChunk {
		chunk := valid[start:min(start+latestChunk, len(valid))]
		q := fmt.Sprintf(`from(bucket: %q) |> range(start: -24h)
  |> filter(fn: (r) => r._measurement == %q and r.site == %q and %s and %s)
  |> last()`, r.bucket, measurement, site, or("device", chunk), or("_field", points))
		res, err := r.query.Query(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("latest %s of %d devices: %w", strings.Join(points, ", "), len(chunk), err)
		}
		for res.Next() {
			rec := res.Record()
			v, ok := toFloat(rec.Value())
			if !ok {
				continue
			}
			dev, _ := rec.ValueByKey("device").(string)
			if out[dev] == nil {
				out[dev] = map[string]Reading{}
			}
			out[dev][rec.Field()] = Reading{Value: v, At: rec.Time()}
		}
		if res.Err() != nil {
			return nil, fmt.Errorf("latest %s of %d devices: %w", strings.Join(points, ", "), len(chunk), res.Err())
		}
	}
	return out, nil
}
