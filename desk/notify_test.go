package desk

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/estatehq/estate/desk/deskconfig"
	"github.com/estatehq/estate/desk/store"
	"github.com/estatehq/estate/desk/ticket"
	"github.com/estatehq/estate/internal/wire"
)

// Hostile ticket titles (and places, assignees, devices) must reach the
// group robots as text: no link, mention, heading, quote, list item, bold,
// code or HTML of their own.
func TestMarkdownEscapesSuppliedText(t *testing.T) {
	d := newDesk(t, func(c *deskconfig.Config) { c.PublicURL = "https://desk.example.com" })
	wecom := deskconfig.Channel{Name: "w", Type: "wecom", ShowResident: true}
	for _, tc := range []struct {
		name, title string
		ticket      wire.Ticket
	}{
		{name: "link", title: "[click here](http://evil.example/phish)"},
		{name: "image", title: "![x](https://evil.example/x.png)"},
		{name: "bare url", title: "see http://evil.example and www.evil.example"},
		{name: "wecom mention", title: "<@all> <@zhangsan> fire"},
		{name: "dingtalk mention", title: "@13800000000 @all call me"},
		{name: "new heading", title: "leak\n### 已处理 resolved\n> **dispatched** → engineer"},
		{name: "carriage return", title: "a\r\n- 状态 status: closed\rb"},
		{name: "line separator", title: "a\u2028# b\u2029> c"},
		{name: "emphasis and code", title: "**bold** __u__ *i* `code` ~~s~~"},
		{name: "html", title: `<font color="warning">red</font> <a href="x">y</a> &lt;b&gt;`},
		{name: "backslash", title: `\[not a link\]\(x\)`},
		{name: "invalid utf-8", title: "bad \xff\xfe [x](y)"},
		{name: "fields", title: "ok", ticket: wire.Ticket{Site: "s[1](http://a)", Building: "<@all>", Unit: "#\n> u",
			Assignee: "**boss**", Team: "@team", Device: "`m1`\n- fake"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tk := tc.ticket
			tk.ID, tk.Kind, tk.Priority, tk.Status, tk.Title = 7, wire.Emergency, "P1", "new", tc.title
			tk.CreatedAt = time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)
			// The reporter is hostile too (the channel shows residents).
			tk.Reporter, tk.Phone = tc.title, "138[0](x)"
			md := d.srv.message(wecom, store.Notification{Event: "created", Levels: []ticket.Level{"manager"},
				Title: fmt.Sprintf("[%s %s] %s", tk.Priority, tk.Kind, tc.title), Ticket: tk}, Mentions{UserIDs: []string{"duty1"}})
			lines := strings.Split(strings.TrimSuffix(md, "\n"), "\n")
			// The message's own shape: heading, quote, blank, four list items
			// (five with a device) and the link, blank, the mentions.
			want := 10
			if tk.Device != "" {
				want = 11
			}
			if len(lines) != want || !strings.HasPrefix(lines[0], "### [P1 紧急] ") ||
				lines[1] != "> **新工单** → 经理" || lines[len(lines)-1] != "<@duty1>" {
				t.Fatalf("message shape changed:\n%s", md)
			}
			for i, l := range lines[3 : len(lines)-2] {
				if !strings.HasPrefix(l, "- ") {
					t.Errorf("line %d is not one of the message's list items: %q", i+3, l)
				}
			}
			// Nothing supplied survives as markup.
			supplied := strings.TrimPrefix(lines[0], "### [P1 紧急] ")
			for _, l := range lines[3 : len(lines)-3] { // not the link line
				_, v, _ := strings.Cut(l, "：")
				if strings.HasPrefix(l, "- 工单") {
					continue // the desk's number and time
				}
				if o, c := strings.Index(v, "（"), strings.LastIndex(v, "）"); o >= 0 && c == len(v)-len("）") {
					v = v[:o] + " " + v[o+len("（"):c] // the parentheses around the assignee are the desk's
				}
				supplied += " " + v
			}
			for _, bad := range []string{"[", "]", "(", ")", "<", ">", "*", "_", "`", "~", "#", "@", "&", `\`, "://", "www.", "\r", "\u2028", "\xff"} {
				if strings.Contains(supplied, bad) {
					t.Errorf("%q survived in %q", bad, supplied)
				}
			}
		})
	}
	// Ordinary titles read as they were typed.
	md := d.srv.message(wecom, store.Notification{Event: "created", Title: "[P2 repair] 电梯困人 lift 2 - door 3",
		Ticket: wire.Ticket{Kind: wire.Repair, Priority: "P2", Title: "电梯困人 lift 2 - door 3"}}, Mentions{})
	if !strings.HasPrefix(md, "### [P2 报修] 电梯困人 lift 2 - door 3\n") {
		t.Errorf("plain title changed: %q", md)
	}
}
