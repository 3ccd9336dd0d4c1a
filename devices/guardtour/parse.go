// Package guardtour is the guard-tour (巡更) device family: patrol readers
// (巡更棒, tag readers at checkpoints) that report each checkpoint scanned —
// the checkpoint's tag, the reader's id and the time — as JSON over MQTT,
// one scan or a batch of stored scans when a reader docks. The package owns
// the protocol guardtour (its device block, guardtour: {reader, topic}),
// its profile (configs/profiles/guardtour-json.yaml: which JSON fields hold
// the reader, the checkpoint and the time), its stream driver, its payload
// parser (fuzzed), and its simulator (guard_tour_reader). Each scan becomes
// a checkpoint_visit event, which the gateway forwards through its outbox to
// the desk's inspection rounds (wire.ActionVisit). A scan by an unknown
// reader, a repeat within a minute, or a payload that does not parse is
// counted and logged, and nothing else of the message is lost.
package guardtour

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Scan is one checkpoint scanned by one reader.
type Scan struct {
	Reader     string
	Checkpoint string
	At         time.Time
}

// Fields are where a payload's scan carries what (the profile's fields:).
type Fields struct {
	Reader     string `yaml:"reader"`
	Checkpoint string `yaml:"checkpoint"`
	Time       string `yaml:"time"`
	// TimeFormat: rfc3339 (default), unix (seconds) or unix_ms.
	TimeFormat string `yaml:"time_format"`
	// Records is the key of a batch's list of scans ("records"); a payload
	// may also be a bare list.
	Records string `yaml:"records"`
}

// DefaultFields are those of the shipped profile.
var DefaultFields = Fields{Reader: "reader", Checkpoint: "checkpoint", Time: "time", TimeFormat: "rfc3339", Records: "records"}

// MaxScans bounds the scans of one payload (a docked reader's batch).
const MaxScans = 1000

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// ScanError is one scan of a payload that does not parse; the others do.
type ScanError struct {
	Index int // in the batch; 0 for a single scan
	Msg   string
}

func (e ScanError) Error() string { return fmt.Sprintf("scan %d: %s", e.Index, e.Msg) }

// Parse reads a payload's scans: one JSON object, a list of them, or an
// object whose Records key holds the list. Scans that do not parse are
// returned as errors beside the ones that do; err is for a payload that is
// not such JSON at all.
func (f Fields) Parse(payload []byte) (scans []Scan, bad []ScanError, err error) {
	payload = bytes.TrimSpace(payload)
	if len(payload) == 0 {
		return nil, nil, errors.New("empty payload")
	}
	var items []json.RawMessage
	switch payload[0] {
	case '[':
		if err := json.Unmarshal(payload, &items); err != nil {
			return nil, nil, fmt.Errorf("not a JSON list of scans: %w", err)
		}
	case '{':
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(payload, &obj); err != nil {
			return nil, nil, fmt.Errorf("not a JSON object: %w", err)
		}
		if list, ok := obj[f.Records]; ok && f.Records != "" {
			if err := json.Unmarshal(list, &items); err != nil {
				return nil, nil, fmt.Errorf("%s: not a list of scans: %w", f.Records, err)
			}
		} else {
			items = []json.RawMessage{payload}
		}
	default:
		return nil, nil, errors.New("not JSON: a scan is an object, a batch a list")
	}
	if len(items) > MaxScans {
		return nil, nil, fmt.Errorf("%d scans in one payload, more than %d", len(items), MaxScans)
	}
	for i, raw := range items {
		s, err := f.parseOne(raw)
		if err != nil {
			bad = append(bad, ScanError{Index: i, Msg: err.Error()})
			continue
		}
		scans = append(scans, s)
	}
	return scans, bad, nil
}

func (f Fields) parseOne(raw json.RawMessage) (Scan, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return Scan{}, errors.New("not a JSON object")
	}
	var s Scan
	var err error
	if s.Reader, err = text(obj, f.Reader); err != nil {
		return s, err
	}
	if s.Checkpoint, err = text(obj, f.Checkpoint); err != nil {
		return s, err
	}
	s.At, err = f.when(obj[f.Time])
	if err != nil {
		return s, fmt.Errorf("%s: %w", f.Time, err)
	}
	return s, nil
}

// text reads an id: a string, or a whole number (readers number their tags).
func text(obj map[string]json.RawMessage, key string) (string, error) {
	raw, ok := obj[key]
	if !ok {
		return "", fmt.Errorf("%s: missing", key)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		var n json.Number
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if dec.Decode(&n) != nil {
			return "", fmt.Errorf("%s: must be a string or a number", key)
		}
		if _, err := n.Int64(); err != nil {
			return "", fmt.Errorf("%s: %s is not a whole number", key, n)
		}
		s = n.String()
	}
	s = strings.TrimSpace(s)
	if !idPattern.MatchString(s) {
		return "", fmt.Errorf("%s: %q is not an id (letters, digits, '.', '_', '-', at most 64)", key, s)
	}
	return s, nil
}

func (f Fields) when(raw json.RawMessage) (time.Time, error) {
	if raw == nil {
		return time.Time{}, errors.New("missing")
	}
	switch f.TimeFormat {
	case "unix", "unix_ms":
		var v float64
		if err := json.Unmarshal(raw, &v); err != nil || math.IsNaN(v) || v <= 0 || v > 1e15 {
			return time.Time{}, errors.New("must be a positive number of " + map[bool]string{true: "milliseconds", false: "seconds"}[f.TimeFormat == "unix_ms"])
		}
		if f.TimeFormat == "unix_ms" {
			return time.UnixMilli(int64(v)), nil
		}
		sec, frac := math.Modf(v)
		return time.Unix(int64(sec), int64(frac*1e9)), nil
	default:
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return time.Time{}, errors.New("must be a time in RFC 3339 (2026-12-03T08:31:00+08:00)")
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return time.Time{}, fmt.Errorf("%s is not a time in RFC 3339 with its zone", strconv.Quote(s))
		}
		return t, nil
	}
}
