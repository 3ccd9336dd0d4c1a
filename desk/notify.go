package desk

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/estatehq/estate/desk/deskconfig"
	"github.com/estatehq/estate/desk/store"
	"github.com/estatehq/estate/desk/ticket"
	"github.com/estatehq/estate/internal/config"
	"github.com/estatehq/estate/internal/wire"
)

// StorePolicy turns the desk configuration into what the store applies inside
// its transactions: deadlines per site and kind, site time zones, and which
// channels hear of which ticket events.
func StorePolicy(cfg *config.Config) store.Policy {
	fallback := time.UTC
	if l, err := time.LoadLocation(cfg.Site.Timezone); err == nil && cfg.Site.Timezone != "" {
		fallback = l
	}
	d := cfg.Desk
	return store.Policy{
		Deadlines: func(site string, kind wire.Kind) ticket.Deadlines { return deadlineTable(d, site, kind) },
		SubKindDeadlines: func(site string, kind wire.Kind, sub string) ticket.Deadlines {
			return subKindTable(d, site, kind, sub)
		},
		Calendar: loadCalendars(cfg),
		Location: func(site string) *time.Location { return d.Location(site, fallback) },
		Route: func(t wire.Ticket, _ string, levels []ticket.Level) []string {
			return routeNotice(d.Channels, t, levels)
		},
		Satisfied: func(site string) int { return siteSatisfied(d, site) },
		Targets:   func(site string) store.Targets { return siteTargets(d, site) },
	}
}

// routeNotice lists the channels that take a ticket's event for any of the levels.
func routeNotice(channels []deskconfig.Channel, t wire.Ticket, levels []ticket.Level) []string {
	var out []string
	for _, ch := range channels {
		if len(ch.Sites) > 0 && !slices.Contains(ch.Sites, t.Site) {
			continue
		}
		if len(ch.Kinds) > 0 && !slices.Contains(ch.Kinds, string(t.Kind)) {
			continue
		}
		if len(ch.Levels) > 0 && !slices.ContainsFunc(levels, func(l ticket.Level) bool { return slices.Contains(ch.Levels, string(l)) }) {
			continue
		}
		out = append(out, ch.Name)
	}
	return out
}

// Delivery is retried with doubling waits from 5 s up to 10 min, and given up
// after maxAttempts.
const (
	maxAttempts       = 10
	notificationLease = time.Minute
)

func retryDelay(attempt int) time.Duration {
	d := 5 * time.Second << min(attempt-1, 10)
	return min(d, 10*time.Minute)
}

// runNotifier sends due notifications from the outbox until ctx ends.
func (s *Server) runNotifier(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		s.sendDue(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-s.hub.wait():
		}
	}
}

// sendDue delivers one batch of due notifications; it returns how many it tried.
func (s *Server) sendDue(ctx context.Context) int {
	due, err := s.store.ClaimNotifications(ctx, s.now(), 20, notificationLease)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Error("notifications: claim", "err", err)
		}
		return 0
	}
	for _, n := range due {
		ch, known := s.senders[n.Channel]
		var sendErr error
		if !known {
			sendErr = fmt.Errorf("channel %q is no longer configured", n.Channel)
		} else {
			sendErr = s.deliver(ctx, ch, n)
		}
		now := s.now()
		switch {
		case sendErr == nil:
			s.metrics.notificationsSent.WithLabelValues(n.Channel, "sent").Inc()
			if err := s.store.MarkSent(ctx, n.ID, now); err != nil {
				s.log.Error("notifications: mark sent", "id", n.ID, "err", err)
			}
		case !known || n.Attempts >= maxAttempts:
			s.metrics.notificationsSent.WithLabelValues(n.Channel, "failed").Inc()
			s.log.Error("notification given up", "id", n.ID, "channel", n.Channel, "ticket", n.TicketID, "attempts", n.Attempts, "err", sendErr)
			if err := s.store.MarkFailed(ctx, n.ID, sendErr.Error(), time.Time{}); err != nil {
				s.log.Error("notifications: mark failed", "id", n.ID, "err", err)
			}
		default:
			s.metrics.notificationsSent.WithLabelValues(n.Channel, "retry").Inc()
			s.log.Warn("notification not delivered; will retry", "id", n.ID, "channel", n.Channel, "attempt", n.Attempts, "err", sendErr)
			if err := s.store.MarkFailed(ctx, n.ID, sendErr.Error(), now.Add(retryDelay(n.Attempts))); err != nil {
				s.log.Error("notifications: mark retry", "id", n.ID, "err", err)
			}
		}
	}
	return len(due)
}

// deliver posts one notification in the channel's format. Group robots answer
// 200 with an errcode; anything but errcode 0 is a failure.
func (s *Server) deliver(ctx context.Context, ch deskconfig.Channel, n store.Notification) error {
	_, err := s.post(ctx, ch, n)
	return err
}

// ChannelAnswer is what a channel answered to a message.
type ChannelAnswer struct {
	Status int
	Body   string
}

// post sends one notification and returns the channel's answer (bounded to
// 4 KiB): `estate notify test` prints it.
func (s *Server) post(ctx context.Context, ch deskconfig.Channel, n store.Notification) (ChannelAnswer, error) {
	var body any
	target := ch.URL
	lang := channelLang(ch)
	var m Mentions
	if s.mentions != nil {
		m = s.mentions.Mentions(ctx, ch, n.Ticket)
	}
	switch ch.Type {
	case "webhook":
		t := n.Ticket
		if !ch.ShowResident {
			// The channel's audience may not see who called and their number.
			t.Reporter, t.Phone = "", ""
		}
		loc := s.siteLocation(t.Site)
		b := map[string]any{"event": n.Event, "levels": n.Levels, "title": n.Title, "ticket": t, "notification_id": n.ID,
			"language": lang, "summary": summary(lang, t), "description": descriptionIn(lang, t), "site_name": s.siteName(t.Site), "location": s.placeText(lang, t),
			"created_at_site": t.CreatedAt.In(loc).Format(time.RFC3339), "site_timezone": loc.String(),
			"text": s.message(ch, n, Mentions{})}
		if link := s.ticketLink(t.ID); link != "" {
			b["link"] = link
		}
		body = b
	case "wecom":
		body = map[string]any{"msgtype": "markdown", "markdown": map[string]string{"content": s.message(ch, n, m)}}
	case "dingtalk":
		at := map[string]any{}
		if ids := validMentions(m.UserIDs); len(ids) > 0 {
			at["atUserIds"] = ids
		}
		if mobiles := validMentions(m.Mobiles); len(mobiles) > 0 {
			at["atMobiles"] = mobiles
		}
		msg := map[string]any{"msgtype": "markdown", "markdown": map[string]string{"title": summary(lang, n.Ticket), "text": s.message(ch, n, m)}}
		if len(at) > 0 {
			msg["at"] = at
		}
		body = msg
		if ch.Secret != "" {
			target = signDingTalk(ch.URL, ch.Secret, s.now())
		}
	default:
		return ChannelAnswer{}, fmt.Errorf("unknown channel type %q", ch.Type)
	}
	data, err := json.Marshal(body)
	if err != nil {
		return ChannelAnswer{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(data))
	if err != nil {
		return ChannelAnswer{}, redactURLError(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", "estate-notification-"+strconv.FormatInt(n.ID, 10))
	resp, err := s.client.Do(req)
	if err != nil {
		return ChannelAnswer{}, redactURLError(err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	got := ChannelAnswer{Status: resp.StatusCode, Body: strings.TrimSpace(string(answer))}
	if resp.StatusCode/100 != 2 {
		return got, fmt.Errorf("HTTP %d: %s", resp.StatusCode, got.Body)
	}
	if ch.Type == "wecom" || ch.Type == "dingtalk" {
		var r struct {
			ErrCode int    `json:"errcode"`
			ErrMsg  string `json:"errmsg"`
		}
		if err := json.Unmarshal(answer, &r); err != nil {
			return got, fmt.Errorf("robot answered %q, not JSON", answer)
		}
		if r.ErrCode != 0 {
			return got, fmt.Errorf("robot errcode %d: %s", r.ErrCode, r.ErrMsg)
		}
	}
	return got, nil
}

func validMentions(ids []string) []string {
	var out []string
	for _, id := range ids {
		if mentionID.MatchString(id) {
			out = append(out, id)
		}
	}
	return out
}

// redactURLError drops the URL (robot keys are in it) from a transport error.
func redactURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}

// signDingTalk adds DingTalk's signature for robots with 加签 enabled:
// base64(HMAC-SHA256(secret, timestamp + "\n" + secret)).
func signDingTalk(raw, secret string, now time.Time) string {
	ts := strconv.FormatInt(now.UnixMilli(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "\n" + secret))
	sign := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	sep := "?"
	if strings.Contains(raw, "?") {
		sep = "&"
	}
	return raw + sep + "timestamp=" + ts + "&sign=" + url.QueryEscape(sign)
}

// plainWord reports whether s is a non-empty word of letters, digits, "_" and "-".
func plainWord(s string) bool {
	return s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == ""
}

// mdSafe maps every character that means something to the robots' markdown to
// a full-width look-alike. Backslash escapes are not used: neither robot
// documents them, and a renderer that ignores them would show the markup
// anyway; a look-alike is inert in any renderer and still reads the same.
var mdSafe = strings.NewReplacer(
	"\\", "＼", "`", "｀", "*", "＊", "_", "＿", "~", "～", "#", "＃",
	"[", "［", "]", "］", "(", "（", ")", "）", "<", "＜", ">", "＞",
	"@", "＠", "&", "＆",
	"\r\n", " ", "\n", " ", "\r", " ", "\t", " ",
	"\u2028", " ", "\u2029", " ",
	// Bare addresses are linked by both renderers.
	"://", "：//", "www.", "www．",
)

// mdText makes user- or device-supplied text inert in group-robot markdown:
// no markup, no links or mentions, one line (a newline would let the text
// start a heading, a quote or a list item of its own). A leading "-", "+" or
// digit is harmless once the text can no longer begin a line.
func mdText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return mdSafe.Replace(s)
}

// runScheduler looks for missed deadlines every escalation interval until ctx ends.
func (s *Server) runScheduler(ctx context.Context) {
	every := s.cfg.EscalationInterval
	if every <= 0 {
		every = 15 * time.Second
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	var pruned time.Time
	for {
		s.escalate(ctx)
		if now := s.now(); now.Sub(pruned) >= time.Hour {
			pruned = now
			if n, err := s.store.Prune(ctx, now); err != nil {
				if ctx.Err() == nil {
					s.log.Error("prune old events and keys", "err", err)
				}
			} else if n > 0 {
				s.log.Info("pruned old events, idempotency keys and notifications", "rows", n)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// escalate marks every deadline missed by now, in batches.
func (s *Server) escalate(ctx context.Context) int {
	const batch = 100
	total := 0
	for ctx.Err() == nil {
		missed, err := s.store.MissDeadlines(ctx, s.now(), batch)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Error("deadline scheduler", "err", err)
			}
			break
		}
		for _, m := range missed {
			s.metrics.deadlinesMissed.WithLabelValues(string(m.Kind), string(m.Step)).Inc()
			s.log.Warn("deadline missed", "ticket", m.TicketID, "kind", m.Kind, "site", m.Site, "step", m.Step,
				"due", m.DueAt, "escalated_to", m.Level, "notified", m.Notified)
		}
		total += len(missed)
		if len(missed) < batch {
			break
		}
	}
	if total > 0 {
		s.hub.publish()
	}
	s.metrics.escalationRounds.Inc()
	return total
}
