package history

import (
	"context"
	"fmt"
	"time"
)

// MaxRangeSamples bounds what Range returns: longer spans are averaged
// over windows of span/MaxRangeSamples (a running contact's mean over a
// window is the fraction of it the contact was on).
const MaxRangeSamples = 4000

// Range returns one point of one device from from to to, oldest first,
// with the window it was averaged over (0: raw samples). Maintenance reads
// usage (running hours, starts, counters) and checklist evidence with it.
func (r *Reader) Range(ctx context.Context, site, measurement, device, point string, from, to time.Time) ([]Sample, time.Duration, error) {
	for _, v := range []string{site, measurement, device, point} {
		if !name.MatchString(v) {
			return nil, 0, fmt.Errorf("%q is not a valid name", v)
		}
	}
	if !to.After(from) {
		return []Sample{}, 0, nil
	}
	q := fmt.Sprintf(`from(bucket: %q) |> range(start: %s, stop: %s)
  |> filter(fn: (r) => r._measurement == %q and r.site == %q and r.device == %q and r._field == %q)`,
		r.bucket, from.UTC().Format(time.RFC3339Nano), to.UTC().Format(time.RFC3339Nano), measurement, site, device, point)
	var every time.Duration
	if span := to.Sub(from); span > 6*time.Hour {
		every = max(time.Second, (span / MaxRangeSamples).Truncate(time.Second))
		// timeSrc _start: each mean is stamped at its window's start, so a
		// window's value is held forward over the window it describes.
		q += fmt.Sprintf(`
  |> aggregateWindow(every: %ds, fn: mean, createEmpty: false, timeSrc: "_start")`, int(every.Seconds()))
	}
	s, err := r.samples(ctx, q, device, point)
	return s, every, err
}
