package mqtt

import (
	"slices"
	"strings"
	"time"

	"github.com/tidwall/gjson"
)

// linkState is what Estate believes of a device's presence.
type linkState uint8

const (
	linkUnknown linkState = iota // not heard yet, and not yet silent for long
	linkOnline
	linkOffline
)

func (s linkState) String() string { return [...]string{"unknown", "online", "offline"}[s] }

// said is what a device's status topic, birth or death last said.
type said uint8

const (
	saidNothing said = iota
	saidOnline
	saidOffline
)

// presence decides whether one device is there:
//
//   - online while it publishes (within its silence limit), or while its
//     retained status or birth says online;
//   - offline once its status or last will says offline, a death arrives, or
//     it has been silent longer than its limit with no status saying online;
//   - data after an offline status means it is back.
//
// While the gateway's own broker link is down nothing is judged: silence then
// says nothing about the device, and the clock restarts on reconnect.
type presence struct {
	silence time.Duration
	status  said
	why     string    // what the last explicit status was
	heard   time.Time // last message of any kind
	since   time.Time // start, or the last reconnect
	state   linkState
}

func newPresence(silence time.Duration, now time.Time) presence {
	return presence{silence: silence, since: now}
}

// heardAt records a data message.
func (p *presence) heardAt(now time.Time) {
	p.heard = now
	if p.status == saidOffline {
		p.status, p.why = saidNothing, ""
	}
}

// statusAt records an explicit status (retained status, will, birth, death).
func (p *presence) statusAt(now time.Time, online bool, why string) {
	p.heard = now
	p.status, p.why = saidOffline, why
	if online {
		p.status = saidOnline
	}
}

// resume restarts the silence clock after the gateway's broker link came back.
func (p *presence) resume(now time.Time) { p.since = now }

// evaluate returns the state now and whether it changed, with the reason.
func (p *presence) evaluate(now time.Time) (linkState, bool, string) {
	next, why := p.state, ""
	switch {
	case p.status == saidOffline:
		next, why = linkOffline, p.why
	case p.status == saidOnline:
		next, why = linkOnline, p.why
	case !p.heard.IsZero() && now.Sub(p.heard) <= p.silence:
		next, why = linkOnline, "publishing"
	case now.Sub(later(p.heard, p.since)) > p.silence:
		next, why = linkOffline, "silent for more than "+p.silence.String()
	}
	changed := next != p.state
	p.state = next
	return next, changed, why
}

// whyOffline says why the device is offline, for the health record.
func (p *presence) whyOffline() string {
	if p.why != "" && p.status == saidOffline {
		return p.why
	}
	return "silent for more than " + p.silence.String()
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// parseStatus reads a status payload: plain text or, with a path, a JSON field.
// ok is false when it says neither online nor offline.
func (pr *Presence) parseStatus(payload []byte) (online, ok bool) {
	text := strings.TrimSpace(string(payload))
	if pr.StatusPath != "" {
		r := gjson.GetBytes(payload, pr.StatusPath)
		if !gjson.ValidBytes(payload) || !r.Exists() {
			return false, false
		}
		text = strings.TrimSpace(r.String())
	}
	text = strings.ToLower(text)
	switch {
	case slices.Contains(pr.Online, text):
		return true, true
	case slices.Contains(pr.Offline, text):
		return false, true
	}
	return false, false
}
