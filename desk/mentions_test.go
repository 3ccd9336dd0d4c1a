package desk

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/estatehq/estate/desk/deskconfig"
	"github.com/estatehq/estate/desk/store"
	"github.com/estatehq/estate/internal/wire"
)

// The @mentions of robot channels follow the shift roster at sending time
// (issue 15): the people on duty of the ticket's department, the control
// room too for an emergency, the outgoing shift's while its handover is not
// accepted, and the new shift's alone once it is.
func TestMentionsFollowTheRoster(t *testing.T) {
	d := &dutyDesk{testDesk: newDesk(t, func(c *deskconfig.Config) {
		dutyConfig(c)
		c.Staff = append(c.Staff,
			deskconfig.Staff{Name: "li", DisplayName: "李工", Role: RoleEngineer, Team: "engineering", Phone: "13900000001", WeComUser: "wecom-li"},
			deskconfig.Staff{Name: "sun", DisplayName: "孙工", Role: RoleEngineer, Team: "engineering", Phone: "13900000003", WeComUser: "wecom-sun", DingTalkUser: "ding-sun"},
			deskconfig.Staff{Name: "qian", DisplayName: "钱值班", Role: RoleControlRoom, WeComUser: "wecom-qian", DingTalkUser: "ding-qian"})
		c.Shifts[0].Duty = append(c.Shifts[0].Duty,
			deskconfig.DutyRoster{Shift: "day", Department: "engineering", Staff: []string{"li"}},
			deskconfig.DutyRoster{Shift: "evening", Department: "engineering", Staff: []string{"sun"}},
			deskconfig.DutyRoster{Shift: "day", Department: "control_room", Staff: []string{"qian"}})
	}), t: t}
	d.clock.Set(local("00:00").Add(-10 * time.Minute))
	d.srv.newDuty()

	wecom := deskconfig.Channel{Name: "eng-group", Type: "wecom", MentionUsers: []string{"wang"}, MentionOnDuty: true}
	ding := deskconfig.Channel{Name: "ding", Type: "dingtalk", MentionOnDuty: true}
	listed := deskconfig.Channel{Name: "listed", Type: "wecom", MentionUsers: []string{"wang"}}
	repair := wire.Ticket{ID: 7, Site: "site-a", Kind: wire.Repair, Title: "走廊灯不亮"}
	emergency := wire.Ticket{ID: 8, Site: "site-a", Kind: wire.Emergency, Title: "2号楼配电室烟感"}
	mentions := func(ch deskconfig.Channel, tk wire.Ticket) Mentions {
		return d.srv.mentions.Mentions(context.Background(), ch, tk)
	}
	check := func(when string, got Mentions, users, mobiles []string) {
		t.Helper()
		if !slices.Equal(got.UserIDs, users) || !slices.Equal(got.Mobiles, mobiles) {
			t.Errorf("%s: mentions %v %v, want %v %v", when, got.UserIDs, got.Mobiles, users, mobiles)
		}
	}

	d.at("10:00") // the day shift; the night's handover not accepted (its nina is no staff account)
	check("repair by day", mentions(wecom, repair), []string{"wang", "wecom-li"}, nil)
	check("emergency by day", mentions(wecom, emergency), []string{"wang", "wecom-li", "wecom-qian"}, nil)
	// DingTalk by user id, else by phone.
	check("emergency by day, DingTalk", mentions(ding, emergency), []string{"ding-qian"}, []string{"13900000001"})
	check("a channel without mention_on_duty", mentions(listed, emergency), []string{"wang"}, nil)
	check("a team nobody of which is on duty", mentions(wecom, wire.Ticket{Site: "site-a", Kind: wire.Repair, Team: "security"}), []string{"wang"}, nil)
	check("another site", mentions(wecom, wire.Ticket{Site: "site-b", Kind: wire.Repair}), []string{"wang"}, nil)
	// The message carries them.
	if msg := d.srv.message(wecom, store.Notification{Event: "created", Ticket: emergency, Title: emergency.Title}, mentions(wecom, emergency)); !strings.Contains(msg, "<@wecom-li>") || !strings.Contains(msg, "<@wecom-qian>") {
		t.Errorf("the WeCom message does not mention the people on duty:\n%s", msg)
	}

	d.at("17:00") // the evening shift; until the day's handover is accepted, li is still on duty
	check("repair in the evening, day not handed over", mentions(wecom, repair), []string{"wang", "wecom-li", "wecom-sun"}, nil)
	var dayID int64
	for _, sh := range d.duty(dutyTokens["evan"]).Pending {
		if sh.Shift.Name == "day" {
			dayID = sh.ID
		}
	}
	if dayID == 0 {
		t.Fatal("no day sheet waiting at 17:00")
	}
	d.must(200, "POST", fmt.Sprintf("/api/v1/duty/sheets/%d/sign", dayID), dutyTokens["dora"], `{}`)
	d.must(200, "POST", fmt.Sprintf("/api/v1/duty/sheets/%d/accept", dayID), dutyTokens["evan"], `{"keys_counted":0}`)
	check("repair in the evening, handed over", mentions(wecom, repair), []string{"wang", "wecom-sun"}, nil)
	check("emergency in the evening, DingTalk", mentions(ding, emergency), []string{"ding-sun"}, nil)
}
