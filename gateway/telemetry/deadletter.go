package telemetry

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// deadLetter is the file of points InfluxDB refused as bad (a field whose type
// conflicts with earlier writes, a line it cannot parse). One JSON object per
// line: when, the HTTP status, the server's message and the line protocol, so
// that an operator can fix and replay them (`jq -r .line | curl --data-binary @- …`).
type deadLetter struct {
	mu   sync.Mutex
	f    *os.File
	sync bool
}

// DeadLetterEntry is one refused point.
type DeadLetterEntry struct {
	Time   time.Time `json:"time"`
	Status int       `json:"status"`
	Error  string    `json:"error"`
	Line   string    `json:"line"`
}

func openDeadLetter(path string, sync bool) (*deadLetter, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("dead-letter file: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("dead-letter file: %w", err)
	}
	return &deadLetter{f: f, sync: sync}, nil
}

func (d *deadLetter) write(lines []byte, status int, msg string) error {
	var out []byte
	now := time.Now().UTC()
	for line := range bytes.SplitSeq(lines, []byte{'\n'}) {
		b, err := json.Marshal(DeadLetterEntry{Time: now, Status: status, Error: msg, Line: string(line)})
		if err != nil {
			return err
		}
		out = append(append(out, b...), '\n')
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, err := d.f.Write(out); err != nil {
		return fmt.Errorf("dead-letter file: %w", err)
	}
	if d.sync {
		if err := d.f.Sync(); err != nil {
			return fmt.Errorf("dead-letter file: %w", err)
		}
	}
	return nil
}

func (d *deadLetter) Close() error { return d.f.Close() }

// deadLetter moves refused lines aside; they are acknowledged with their batch
// so that one bad point never holds back the ones behind it.
func (w *Writer) deadLetter(lines []byte, status int, msg string) {
	n := uint64(bytes.Count(lines, []byte{'\n'}) + 1)
	w.m.pointsDeadLettered.Add(float64(n))
	w.status.deadLettered.Add(n)
	w.status.setError(fmt.Errorf("dead-lettered %d point(s): %s", n, msg))
	w.log.Warn("InfluxDB refused points; moved to the dead-letter file",
		"points", n, "status", status, "reason", msg, "file", w.dead.f.Name())
	if err := w.dead.write(lines, status, msg); err != nil {
		w.log.Error("cannot write the dead-letter file; the refused points are only in this log",
			"err", err, "lines", string(lines))
	}
}
