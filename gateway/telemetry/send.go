package telemetry

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	influxhttp "github.com/influxdata/influxdb-client-go/v2/api/http"

	"github.com/estatehq/estate/gateway/spool"
)

// batch is a run of spooled points sent in one request (or split further).
type batch struct {
	seqs   []uint64 // sorted
	body   []byte   // lines separated by '\n'
	ends   []int    // end offset in body of each line
	replay bool
}

func (b *batch) add(rec spool.Record) {
	if len(b.body) > 0 {
		b.body = append(b.body, '\n')
	}
	b.body = append(b.body, rec.Data...)
	b.ends = append(b.ends, len(b.body))
	b.seqs = append(b.seqs, rec.Seq)
}

func (b *batch) start(i int) int {
	if i == 0 {
		return 0
	}
	return b.ends[i-1] + 1
}

func (b *batch) lines(i, j int) []byte { return b.body[b.start(i):b.ends[j-1]] }

func (b *batch) holds(seq uint64) bool {
	if len(b.seqs) == 0 || seq < b.seqs[0] || seq > b.seqs[len(b.seqs)-1] {
		return false
	}
	_, found := slices.BinarySearch(b.seqs, seq)
	return found
}

// sender is Run's state; it lives on Run's goroutine except where noted.
type sender struct {
	w        *Writer
	live     *spool.Reader // points appended since the last (re)start of live sending
	replay   *spool.Reader // the backlog, oldest first
	liveFrom uint64        // seqs below are the replay lane's, at and above the live lane's
	inflight []*batch
	results  chan sendResult

	pendingSince time.Time // when the live lane first had unsent points
	replayAt     time.Time // token bucket: when the next replay batch may go
	mu           sync.Mutex
	down         bool // a write is failing; dispatch pauses until one succeeds
	downSince    time.Time
	recovered    bool // an outage just ended: the live lane should jump ahead
}

type sendResult struct {
	b   *batch
	err error // only a cancelled context: the batch stays in the spool
}

// Run sends spooled points to InfluxDB until ctx ends, then makes a last
// bounded attempt to send what is waiting, and closes the spool. Whatever is
// not acknowledged stays in the spool for the next start.
func (w *Writer) Run(ctx context.Context) error {
	defer w.client.Close()
	s := &sender{w: w, results: make(chan sendResult, w.cfg.MaxInFlight)}
	s.liveFrom = w.spool.NextSeq()
	s.live = w.spool.NewReader(s.liveFrom)
	s.replay = w.spool.NewReader(w.spool.FirstUnacked(1))
	defer s.live.Close()
	defer s.replay.Close()
	if st := w.spool.Stats(); st.Backlog > 0 {
		w.log.Info("spooled telemetry from before the start will be replayed",
			"points", st.Backlog, "oldest", st.Oldest.UTC().Format(time.RFC3339))
	}

	// Writes outlive ctx by the final drain; workCtx ends them.
	workCtx, stopWork := context.WithCancel(context.Background())
	defer stopWork()
	var workers sync.WaitGroup

	tick := time.NewTicker(min(w.cfg.FlushInterval, 250*time.Millisecond))
	defer tick.Stop()
	statusTick := time.NewTicker(2 * time.Second)
	defer statusTick.Stop()
	s.publish()

	dispatch := func(now time.Time, final bool) {
		for len(s.inflight) < w.cfg.MaxInFlight && !s.isDown() {
			b := s.nextBatch(now, final)
			if b == nil {
				return
			}
			s.inflight = append(s.inflight, b)
			workers.Go(func() {
				err := s.deliver(workCtx, b, 0, len(b.seqs))
				s.results <- sendResult{b, err}
			})
		}
	}
	finish := func(r sendResult) {
		s.inflight = slices.DeleteFunc(s.inflight, func(b *batch) bool { return b == r.b })
		if r.err != nil {
			return // shutting down: not acknowledged, sent again after the restart
		}
		if err := w.spool.AckSeqs(r.b.seqs); err != nil {
			w.log.Error("spool cursor not saved; these points may be sent again after a restart", "err", err)
		}
		if s.takeRecovered() {
			s.resplit()
		}
	}

	for ctx.Err() == nil {
		dispatch(time.Now(), false)
		select {
		case <-ctx.Done():
		case r := <-s.results:
			finish(r)
		case <-w.spool.Notify():
		case <-tick.C:
		case <-statusTick.C:
			s.publish()
		}
	}

	// Shutting down: the pollers have stopped. Send what is waiting while
	// InfluxDB answers, for at most the write timeout; the rest stays spooled.
	deadline := time.NewTimer(w.cfg.Timeout)
	defer deadline.Stop()
drain:
	for {
		dispatch(time.Now(), true)
		if len(s.inflight) == 0 {
			break
		}
		select {
		case r := <-s.results:
			finish(r)
		case <-deadline.C:
			break drain
		}
	}
	stopWork()
	go func() { workers.Wait(); close(s.results) }()
	for r := range s.results {
		finish(r)
	}
	s.publish()
	st := w.spool.Stats()
	if st.Backlog > 0 {
		w.log.Info("telemetry stopped; unsent points stay in the spool for the next start",
			"points", st.Backlog, "spool", w.cfg.Spool.Dir)
	}
	return errors.Join(w.spool.Close(), w.dead.Close())
}

// nextBatch picks the next batch to send: live points when a batch is full
// or its oldest point has waited flush_interval (or at shutdown), otherwise
// backlog at the replay rate.
func (s *sender) nextBatch(now time.Time, final bool) *batch {
	w := s.w
	replayInFlight := 0
	for _, b := range s.inflight {
		if b.replay {
			replayInFlight++
		}
	}
	pending := w.spool.NextSeq() - s.live.Pos()
	if pending == 0 {
		s.pendingSince = time.Time{}
	} else if s.pendingSince.IsZero() {
		s.pendingSince = now
	}
	if pending > 0 && (pending >= uint64(w.cfg.BatchSize) || final || now.Sub(s.pendingSince) >= w.cfg.FlushInterval) {
		if b := s.read(s.live, 0, false); b != nil {
			s.pendingSince = time.Time{}
			return b
		}
	}
	// The replay lane leaves one slot to live points when there are several.
	if s.replay.Pos() >= s.liveFrom || (w.cfg.MaxInFlight > 1 && replayInFlight >= w.cfg.MaxInFlight-1) {
		return nil
	}
	if now.Before(s.replayAt) && !final {
		return nil
	}
	b := s.read(s.replay, s.liveFrom, true)
	if b == nil {
		return nil
	}
	spacing := time.Duration(float64(len(b.seqs)) / float64(w.cfg.ReplayRate) * float64(time.Second))
	if s.replayAt.Before(now) {
		s.replayAt = now
	}
	s.replayAt = s.replayAt.Add(spacing)
	return b
}

// read collects up to batch_size records from r. The replay lane stops at
// limit and skips points already acknowledged or in flight.
func (s *sender) read(r *spool.Reader, limit uint64, replay bool) *batch {
	b := &batch{replay: replay}
	for len(b.seqs) < s.w.cfg.BatchSize {
		if replay && r.Pos() >= limit {
			break
		}
		rec, ok, err := r.Next()
		if err != nil {
			continue // logged and counted by the spool; it skipped the damage
		}
		if !ok {
			break
		}
		if replay {
			if rec.Seq >= limit {
				r.Seek(rec.Seq) // the live lane's: not ours
				break
			}
			if s.w.spool.Acked(rec.Seq) || s.inFlight(rec.Seq) {
				continue
			}
		}
		b.add(rec)
	}
	if len(b.seqs) == 0 {
		return nil
	}
	return b
}

func (s *sender) inFlight(seq uint64) bool {
	for _, b := range s.inflight {
		if b.holds(seq) {
			return true
		}
	}
	return false
}

func (s *sender) isDown() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.down
}

// markDown records a failing write; the first failure of an outage is logged.
func (s *sender) markDown(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.w.status.setError(err)
	if s.down {
		return
	}
	s.down, s.downSince = true, time.Now()
	s.w.m.influxUp.Set(0)
	s.w.status.setUp(false)
	s.w.log.Error("InfluxDB write failing; telemetry stays in the spool and is retried",
		"url", s.w.cfg.URL, "bucket", s.w.cfg.Bucket, "err", err)
}

// markUp records a successful write; at the end of an outage the live lane
// jumps to the newest points and what it had not sent joins the backlog, so
// that current values reach InfluxDB first while the backlog is replayed.
func (s *sender) markUp() {
	now := time.Now()
	s.w.status.setWritten(now)
	s.w.m.lastWrite.Set(float64(now.UnixNano()) / 1e9)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.down {
		return
	}
	s.down, s.recovered = false, true
	s.w.m.influxUp.Set(1)
	s.w.status.setUp(true)
	s.w.log.Info("InfluxDB writes succeed again; replaying the backlog",
		"url", s.w.cfg.URL, "outage", now.Sub(s.downSince).Round(time.Millisecond))
}

func (s *sender) takeRecovered() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.recovered
	s.recovered = false
	return r
}

// resplit is called on Run's goroutine after an outage ends.
func (s *sender) resplit() {
	next := s.w.spool.NextSeq()
	if next-s.live.Pos() <= uint64(s.w.cfg.BatchSize) {
		return
	}
	s.liveFrom = next
	s.live.Seek(next)
}

// deliver writes lines [i, j) of b, splitting and retrying as the answers
// require. It returns an error only when ctx ends first.
func (s *sender) deliver(ctx context.Context, b *batch, i, j int) error {
	w := s.w
	backoff := w.cfg.RetryInterval
	for {
		body := b.lines(i, j)
		start := time.Now()
		wctx, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
		err := w.api.WriteRecord(wctx, string(body))
		cancel()
		w.m.writeLatency.Observe(time.Since(start).Seconds())
		if err == nil {
			s.markUp()
			w.m.pointsWritten.Add(float64(j - i))
			w.status.written.Add(uint64(j - i))
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		kind, status, msg, retryAfter := classify(err)
		w.m.writeErrors.WithLabelValues(kind).Inc()
		switch {
		case kind == "4xx" && droppedAll(msg, j-i):
			// InfluxDB 1.8 says how many it dropped (points beyond the
			// retention period, say): all of them, so no need to look for
			// the good ones.
			s.markUp()
			w.deadLetter(b.lines(i, j), status, msg)
			return nil
		case kind == "413" && j-i > 1, kind == "4xx" && j-i > 1:
			// Too large: halve it. Refused: halve it until the bad lines are
			// alone, so that every good line is written.
			mid := i + (j-i)/2
			if err := s.deliver(ctx, b, i, mid); err != nil {
				return err
			}
			return s.deliver(ctx, b, mid, j)
		case kind == "413" || kind == "4xx":
			s.markUp() // InfluxDB answered: it is up, this point is bad
			w.deadLetter(b.lines(i, j), status, msg)
			return nil
		}
		s.markDown(fmt.Errorf("%s", msg))
		w.m.pointsRetried.Add(float64(j - i))
		wait := backoff/2 + rand.N(backoff/2+1) // jitter: gateways do not retry in step
		if retryAfter > wait {
			wait = retryAfter
		}
		backoff = min(backoff*2, w.cfg.MaxRetryInterval)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// classify sorts a failed write: "network" (no answer, timeout), "429",
// "5xx", "auth" (401/403/404: a configuration problem that an operator fixes
// while points wait), all retried; "413" (split) and "4xx" (bad points).
func classify(err error) (kind string, status int, msg string, retryAfter time.Duration) {
	var he *influxhttp.Error
	if !errors.As(err, &he) || he.StatusCode == 0 {
		return "network", 0, err.Error(), 0
	}
	msg = serverMessage(he)
	retryAfter = time.Duration(he.RetryAfter) * time.Second
	switch code := he.StatusCode; {
	case code == http.StatusTooManyRequests:
		return "429", code, msg, retryAfter
	case code >= 500:
		return "5xx", code, msg, retryAfter
	case code == http.StatusUnauthorized, code == http.StatusForbidden, code == http.StatusNotFound:
		return "auth", code, msg, retryAfter
	case code == http.StatusRequestEntityTooLarge:
		return "413", code, msg, 0
	case code >= 400:
		return "4xx", code, msg, 0
	}
	return "network", he.StatusCode, msg, retryAfter
}

var droppedCount = regexp.MustCompile(`dropped=(\d+)`)

// droppedAll reports whether InfluxDB's partial-write message says that every
// one of the n points it was sent was dropped.
func droppedAll(msg string, n int) bool {
	m := droppedCount.FindStringSubmatch(msg)
	if m == nil {
		return false
	}
	dropped, err := strconv.Atoi(m[1])
	return err == nil && dropped >= n
}

// serverMessage is InfluxDB's own explanation. 1.8 puts it in a JSON "error"
// member that the client cannot decode, and repeats it in X-Influxdb-Error.
func serverMessage(he *influxhttp.Error) string {
	if h := he.Header.Get("X-Influxdb-Error"); h != "" {
		return fmt.Sprintf("%d: %s", he.StatusCode, h)
	}
	if he.Message != "" {
		return fmt.Sprintf("%d: %s", he.StatusCode, strings.TrimSpace(he.Message))
	}
	return fmt.Sprintf("%d: %v", he.StatusCode, he)
}

// publish refreshes the backlog gauges and the status file.
func (s *sender) publish() {
	st := s.w.spool.Stats()
	s.w.m.backlogPoints.Set(float64(st.Backlog))
	age := 0.0
	if !st.Oldest.IsZero() {
		age = max(0, time.Since(st.Oldest).Seconds())
	}
	s.w.m.oldestAge.Set(age)
	s.w.status.save(st)
}
