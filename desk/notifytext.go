package desk

// What a notification says (issue 13 part 8): one language per channel
// (desk.channels[].language, default zh-CN), times in the ticket's site
// zone, the whole location (site name, building, floor, unit), the reporter
// and phone only where the channel's audience may see them
// (show_resident), the ticket's console page, and @mentions for the group
// robots that have them. Everything a person or a device supplied goes
// through mdText.

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/estatehq/estate/desk/deskconfig"
	"github.com/estatehq/estate/desk/store"
	"github.com/estatehq/estate/internal/wire"
)

// Mentions are whom a group-robot message @mentions: robot user ids
// (WeCom's and DingTalk's userid) and mobile numbers (DingTalk).
type Mentions struct {
	UserIDs []string
	Mobiles []string
}

// MentionSource says whom a channel's message about a ticket mentions: by
// default rosterMentions (mentions.go), the channel's lists and, where the
// channel asks, the people on duty; WithMentions replaces it.
type MentionSource interface {
	Mentions(ctx context.Context, ch deskconfig.Channel, t wire.Ticket) Mentions
}

// WithMentions replaces the source of @mentions (default: rosterMentions).
func WithMentions(m MentionSource) Option { return func(s *Server) { s.mentions = m } }

// mentionID is what a mention may look like: ids and numbers go into the
// message's markup as they are.
var mentionID = regexp.MustCompile(`^[A-Za-z0-9_.+-]{1,64}$`)

// words are the desk's own words in each channel language.
var words = map[string]map[string]string{
	"zh-CN": {
		"event.created": "新工单", "event.dispatched": "已派工", "event.deadline_missed": "超时升级：{step}",
		"event.handover_overdue": "交接班未完成", "event.key_overdue": "钥匙未还", "event.round_missed": "巡检未按时进行",
		"kind.urgent_repair": "急修", "kind.enquiry": "咨询", "kind.suggestion": "建议", "kind.cleaning": "保洁", "kind.paid_service": "有偿服务",
		"step.reply": "回复", "step.weekly_call": "每周回访电话",
		"where": "位置", "status": "状态", "ticket": "工单", "reporter": "报修人", "device": "设备", "open": "查看",
		"building": "{v}栋", "floor": "{v}层", "unit": "{v}", "sep": "，", "colon": "：", "list": "、",
		"kind.emergency": "紧急", "kind.repair": "报修", "kind.top_up": "购电/购水提醒", "kind.request": "服务请求", "kind.complaint": "投诉",
		"status.new": "受理", "status.dispatched": "派工", "status.on_site": "到场", "status.resolved": "完成",
		"status.followed_up": "回访", "status.closed": "销单", "status.cancelled": "取消",
		"team.engineering": "工程部", "team.security": "秩序部（保安）", "team.customer_service": "客服部", "team.management": "管理层",
		"step.acknowledge": "确认", "step.dispatch": "派工", "step.respond": "答复", "step.on_site": "到场",
		"step.remind": "提醒", "step.resolve": "完成", "step.follow_up": "回访",
		"level.assignee": "责任人", "level.supervisor": "主管", "level.manager": "经理", "level.leadership": "公司领导",
		"test": "测试消息：Estate 通知渠道 {channel} 已接通",
	},
	"en": {
		"event.created": "New ticket", "event.dispatched": "Dispatched", "event.deadline_missed": "Deadline missed: {step}",
		"event.handover_overdue": "Handover not accepted", "event.key_overdue": "Key not returned", "event.round_missed": "Round not done in time",
		"kind.urgent_repair": "Urgent repair", "kind.enquiry": "Enquiry", "kind.suggestion": "Suggestion", "kind.cleaning": "Cleaning", "kind.paid_service": "Paid service",
		"step.reply": "reply", "step.weekly_call": "weekly call",
		"where": "Location", "status": "Status", "ticket": "Ticket", "reporter": "Reporter", "device": "Device", "open": "Open",
		"building": "building {v}", "floor": "floor {v}", "unit": "{v}", "sep": ", ", "colon": ": ", "list": ", ",
		"kind.emergency": "Emergency", "kind.repair": "Repair", "kind.top_up": "Top-up reminder", "kind.request": "Request", "kind.complaint": "Complaint",
		"status.new": "New", "status.dispatched": "Dispatched", "status.on_site": "On site", "status.resolved": "Resolved",
		"status.followed_up": "Followed up", "status.closed": "Closed", "status.cancelled": "Cancelled",
		"team.engineering": "Engineering", "team.security": "Security", "team.customer_service": "Customer service", "team.management": "Management",
		"step.acknowledge": "acknowledge", "step.dispatch": "dispatch", "step.respond": "answer", "step.on_site": "on site",
		"step.remind": "remind", "step.resolve": "resolve", "step.follow_up": "follow-up",
		"level.assignee": "assignee", "level.supervisor": "supervisor", "level.manager": "manager", "level.leadership": "leadership",
		"test": "Test message: Estate notification channel {channel} is connected",
	},
}

// Languages are the channel languages.
var Languages = []string{"zh-CN", "en"}

// word is the desk's word for key in lang; a key it has no word for (a kind
// or team added later) is shown as it is, made inert.
func word(lang, key string, vars ...string) string {
	w, ok := words[lang][key]
	if !ok {
		_, rest, _ := strings.Cut(key, ".")
		return mdText(rest)
	}
	for i := 0; i+1 < len(vars); i += 2 {
		w = strings.ReplaceAll(w, "{"+vars[i]+"}", vars[i+1])
	}
	return w
}

func channelLang(ch deskconfig.Channel) string {
	if slices.Contains(Languages, ch.Language) {
		return ch.Language
	}
	return "zh-CN"
}

// message is what a channel says about a notification, in the channel's
// language, as group-robot markdown: a heading, what happened and to whom,
// then one list item per fact; the mentions close it.
func (s *Server) message(ch deskconfig.Channel, n store.Notification, m Mentions) string {
	lang := channelLang(ch)
	t := n.Ticket
	colon := word(lang, "colon")
	var what string
	if step, ok := strings.CutPrefix(n.Event, "deadline_missed:"); ok {
		what = word(lang, "event.deadline_missed", "step", word(lang, "step."+step))
	} else {
		what = word(lang, "event."+n.Event)
	}
	levels := make([]string, len(n.Levels))
	for i, l := range n.Levels {
		levels[i] = word(lang, "level."+string(l))
	}
	var b strings.Builder
	if t.ID == 0 && t.Kind == "" {
		// A notice without a ticket (a handover not accepted, a key not
		// back, a round missed): its title, what happened and where.
		fmt.Fprintf(&b, "### %s\n> **%s**", mdText(n.Title), what)
		if len(levels) > 0 {
			fmt.Fprintf(&b, " → %s", strings.Join(levels, word(lang, "list")))
		}
		fmt.Fprintf(&b, "\n\n- %s%s%s\n", word(lang, "where"), colon, s.placeText(lang, t))
		if ats := mentionText(ch.Type, m); ats != "" {
			b.WriteString("\n" + ats + "\n")
		}
		return b.String()
	}
	// The priority is the desk's enumeration; the title anyone may have typed.
	prio := string(t.Priority)
	if !plainWord(prio) {
		prio = ""
	}
	fmt.Fprintf(&b, "### [%s] %s\n", strings.TrimSpace(prio+" "+word(lang, "kind."+string(t.Kind))), mdText(titleIn(lang, t)))
	fmt.Fprintf(&b, "> **%s**", what)
	if len(levels) > 0 {
		fmt.Fprintf(&b, " → %s", strings.Join(levels, word(lang, "list")))
	}
	b.WriteString("\n\n")
	fmt.Fprintf(&b, "- %s%s%s\n", word(lang, "where"), colon, s.placeText(lang, t))
	fmt.Fprintf(&b, "- %s%s%s", word(lang, "status"), colon, word(lang, "status."+string(t.Status)))
	if who := s.assigneeWords(lang, t); who != "" {
		if lang == "zh-CN" {
			fmt.Fprintf(&b, "（%s）", who)
		} else {
			fmt.Fprintf(&b, " (%s)", who)
		}
	}
	loc := s.siteLocation(t.Site)
	at := t.CreatedAt.In(loc).Format("2006-01-02 15:04") + " (" + loc.String() + ")"
	if lang == "zh-CN" {
		at = t.CreatedAt.In(loc).Format("2006-01-02 15:04") + "（" + loc.String() + "）"
	}
	fmt.Fprintf(&b, "\n- %s%s#%d%s%s\n", word(lang, "ticket"), colon, t.ID, word(lang, "sep"), at)
	if ch.ShowResident && (t.Reporter != "" || t.Phone != "") {
		fmt.Fprintf(&b, "- %s%s%s\n", word(lang, "reporter"), colon, mdText(strings.TrimSpace(t.Reporter+" "+t.Phone)))
	}
	if t.Device != "" {
		fmt.Fprintf(&b, "- %s%s%s\n", word(lang, "device"), colon, mdText(t.Device))
	}
	if link := s.ticketLink(t.ID); link != "" {
		fmt.Fprintf(&b, "- %s%s[#%d](%s)\n", word(lang, "open"), colon, t.ID, link)
	}
	if ats := mentionText(ch.Type, m); ats != "" {
		b.WriteString("\n" + ats + "\n")
	}
	return b.String()
}

// placeText is the whole location: 演示花园 1栋 3层 1-301 / 演示花园, building 1, floor 3, 1-301.
func (s *Server) placeText(lang string, t wire.Ticket) string {
	parts := []string{mdText(s.siteName(t.Site))}
	for _, f := range []struct{ key, v string }{{"building", t.Building}, {"floor", t.Floor}, {"unit", t.Unit}} {
		if f.v != "" {
			parts = append(parts, word(lang, f.key, "v", mdText(f.v)))
		}
	}
	if lang == "zh-CN" {
		return strings.Join(parts, " ")
	}
	return strings.Join(parts, ", ")
}

// assigneeWords is who the ticket is with: the person by display name and the team.
func (s *Server) assigneeWords(lang string, t wire.Ticket) string {
	var out []string
	if t.Assignee != "" {
		name := t.Assignee
		if st, ok := s.staffByName(t.Assignee); ok && st.DisplayName != "" {
			name = st.DisplayName
		}
		out = append(out, mdText(name))
	}
	if t.Team != "" {
		out = append(out, word(lang, "team."+t.Team))
	}
	return strings.Join(out, " · ")
}

// mentionText is the mentions' markup: WeCom's <@userid>, DingTalk's
// @userid and @mobile (DingTalk also wants them in the message's "at").
func mentionText(kind string, m Mentions) string {
	var out []string
	for _, id := range m.UserIDs {
		if !mentionID.MatchString(id) {
			continue
		}
		if kind == "wecom" {
			out = append(out, "<@"+id+">")
		} else if kind == "dingtalk" {
			out = append(out, "@"+id)
		}
	}
	if kind == "dingtalk" {
		for _, p := range m.Mobiles {
			if mentionID.MatchString(p) {
				out = append(out, "@"+p)
			}
		}
	}
	return strings.Join(out, " ")
}

// summary is the one-line title of a message in the channel's language
// (DingTalk's card title, the webhook's "summary").
func summary(lang string, t wire.Ticket) string {
	prio := string(t.Priority)
	if !plainWord(prio) {
		prio = ""
	}
	return fmt.Sprintf("[%s] %s", strings.TrimSpace(prio+" "+word(lang, "kind."+string(t.Kind))), mdText(titleIn(lang, t)))
}

// descriptionIn is the ticket's description in the channel's language: an
// alarm's English one on an English channel, else its description (people's
// tickets have one, in their words).
func descriptionIn(lang string, t wire.Ticket) string {
	if lang == "en" && t.DescriptionEN != "" {
		return t.DescriptionEN
	}
	return t.Description
}

// titleIn is the ticket's title in the channel's language: its English
// title on an English channel when it has one (an alarm's), else its title.
func titleIn(lang string, t wire.Ticket) string {
	if lang == "en" && t.TitleEN != "" {
		return t.TitleEN
	}
	return t.Title
}
