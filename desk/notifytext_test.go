package desk

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/estatehq/estate/desk/deskconfig"
	"github.com/estatehq/estate/desk/store"
	"github.com/estatehq/estate/desk/ticket"
	"github.com/estatehq/estate/internal/wire"
)

// rosterStub is a MentionSource as an on-duty roster would be: whom it
// mentions depends on the ticket.
type rosterStub struct{}

func (rosterStub) Mentions(_ context.Context, _ deskconfig.Channel, t wire.Ticket) Mentions {
	if t.Kind == wire.Emergency {
		return Mentions{UserIDs: []string{"on-duty-li"}}
	}
	return Mentions{}
}

// One language per channel, the site's name and time, the whole location,
// the assignee by name and team, the resident only where the channel shows
// residents, the console link, and mentions from the source the desk has.
func TestNotificationMessageLanguages(t *testing.T) {
	d := newDesk(t, func(c *deskconfig.Config) {
		c.PublicURL = "https://desk.example.com/"
		c.Sites = []deskconfig.Site{{ID: "site-a", Name: "演示花园", Timezone: "Asia/Shanghai"}}
		c.Staff = append(c.Staff, deskconfig.Staff{Name: "li", DisplayName: "李工", Role: RoleEngineer, PasswordHash: testPasswordHash})
	})
	tk := wire.Ticket{ID: 42, Kind: wire.Emergency, Priority: "P1", Status: wire.Dispatched, Site: "site-a", Building: "2", Floor: "B1", Unit: "配电室",
		Title: "2号楼 B1 配电室 烟感报警", Reporter: "张女士", Phone: "13800001234", Assignee: "li", Team: "engineering",
		CreatedAt: time.Date(2026, 12, 3, 7, 34, 0, 0, time.UTC)}
	n := store.Notification{Event: "deadline_missed:on_site", Levels: []ticket.Level{ticket.Level("manager"), ticket.Level("leadership")}, Ticket: tk}
	zh := d.srv.message(deskconfig.Channel{Type: "wecom", ShowResident: true}, n, Mentions{UserIDs: []string{"wang", "bad id"}})
	for _, want := range []string{"### [P1 紧急] 2号楼 B1 配电室 烟感报警\n", "> **超时升级：到场** → 经理、公司领导\n",
		"- 位置：演示花园 2栋 B1层 配电室\n", "- 状态：派工（李工 · 工程部）\n", "- 工单：#42，2026-12-03 15:34（Asia/Shanghai）\n",
		"- 报修人：张女士 13800001234\n", "- 查看：[#42](https://desk.example.com/#/tickets/42)\n", "\n<@wang>\n"} {
		if !strings.Contains(zh, want) {
			t.Errorf("zh message lacks %q:\n%s", want, zh)
		}
	}
	en := d.srv.message(deskconfig.Channel{Type: "dingtalk", Language: "en"}, n, Mentions{UserIDs: []string{"wang"}, Mobiles: []string{"13900000000"}})
	for _, want := range []string{"### [P1 Emergency] 2号楼 B1 配电室 烟感报警\n", "> **Deadline missed: on site** → manager, leadership\n",
		"- Location: 演示花园, building 2, floor B1, 配电室\n", "- Status: Dispatched (李工 · Engineering)\n", "- Ticket: #42, 2026-12-03 15:34 (Asia/Shanghai)\n",
		"@wang @13900000000"} {
		if !strings.Contains(en, want) {
			t.Errorf("en message lacks %q:\n%s", want, en)
		}
	}
	for _, mixed := range []string{"紧急", "经理", "位置", "13800001234", "张女士"} {
		if strings.Contains(en, mixed) {
			t.Errorf("the English message has %q (Chinese words of the desk or the resident):\n%s", mixed, en)
		}
	}
	for _, mixed := range []string{"deadline", "Emergency", "status"} {
		if strings.Contains(zh, mixed) {
			t.Errorf("the Chinese message has %q:\n%s", mixed, zh)
		}
	}
	// An alarm's ticket has its rule's English title: the English channel
	// says it, the Chinese one the Chinese title.
	n.Ticket.Title, n.Ticket.TitleEN = "2栋 电梯 lift-1 困人: 轿厢报警按钮被按下", "building 2: people trapped in elevator lift-1: alarm button pressed"
	if en := d.srv.message(deskconfig.Channel{Type: "dingtalk", Language: "en"}, n, Mentions{}); !strings.Contains(en, "### [P1 Emergency] building 2: people trapped in elevator lift-1: alarm button pressed\n") || strings.Contains(en, "困人") {
		t.Errorf("English title on the English channel:\n%s", en)
	}
	if zh := d.srv.message(deskconfig.Channel{Type: "wecom"}, n, Mentions{}); !strings.Contains(zh, "### [P1 紧急] 2栋 电梯 lift-1 困人: 轿厢报警按钮被按下\n") || strings.Contains(zh, "trapped") {
		t.Errorf("Chinese title on the Chinese channel:\n%s", zh)
	}
	// …and its description in each language (the webhook's "description").
	n.Ticket.Description, n.Ticket.DescriptionEN = "2栋 电梯 lift-1 困人: 轿厢报警按钮被按下", "building 2: people trapped in elevator lift-1: alarm button pressed"
	for _, c := range []struct{ lang, want string }{{"en", n.Ticket.DescriptionEN}, {"zh-CN", n.Ticket.Description}} {
		if got := descriptionIn(c.lang, n.Ticket); got != c.want {
			t.Errorf("description in %s: %q", c.lang, got)
		}
	}
	if people := (wire.Ticket{Description: "楼上漏水"}); descriptionIn("en", people) != "楼上漏水" {
		t.Errorf("a ticket typed by people shows its one description in English too")
	}
	// The mention source is an interface: a roster in place of the lists.
	WithMentions(rosterStub{})(d.srv)
	if m := d.srv.mentions.Mentions(context.Background(), deskconfig.Channel{}, tk); len(m.UserIDs) != 1 || m.UserIDs[0] != "on-duty-li" {
		t.Errorf("roster mentions %v", m)
	}
}
