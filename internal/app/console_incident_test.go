package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/estatehq/estate/internal/wire"
)

// The demo's gateway token: a ticket it opens is owned by whoever accepts it.
const demoGatewayToken = "demo-gateway-token-not-for-production"

// consoleIncident is an emergency that cannot close until its incident
// report (突发事件处理表) is approved, by clicks: the control room accepts it
// (and so owns it), dispatches, arrives and resolves it; its close is refused
// with the reason; the owner writes and submits the report; the close is
// still refused; the manager approves it on the report's page; the close
// goes through. The report prints; "my cases" lists what the owner owns.
func consoleIncident(t *testing.T, b context.Context, base string) {
	id := gatewayTicket(t, base, `{"kind":"emergency","title":"3号楼电梯困人（演练）","site":"demo-estate","building":"3","source":"device_alarm"}`)
	other := gatewayTicket(t, base, `{"kind":"repair","title":"2号楼门禁离线（演练）","site":"demo-estate","building":"2","source":"device_alarm"}`)

	c := tab(t, b)
	wait(t, c, 10*time.Second, "a 1366×768 screen", chromedp.EmulateViewport(1366, 768))
	login(t, c, base, "control")
	front(t, c)
	wait(t, c, 20*time.Second, "the emergency's page", chromedp.Navigate(fmt.Sprintf("%s/#/tickets/%d", base, id)), chromedp.WaitVisible("#ticket-actions", chromedp.ByID))
	if owner, ok := textWhen(t, c, 10*time.Second, "#ticket-owner", "待受理"); !ok {
		t.Errorf("owner before anyone accepted: %q", owner)
	}
	step := func(action, fill string, status string) {
		t.Helper()
		clickUntil(t, c, 15*time.Second, "open "+action, fmt.Sprintf(`#ticket-actions button[data-action=%q]`, action), "#form-"+action)
		acts := []chromedp.Action{}
		if fill != "" {
			acts = append(acts, chromedp.Evaluate(fill, nil))
		}
		acts = append(acts, chromedp.Click(fmt.Sprintf(`#form-%s button[type="submit"]`, action), chromedp.ByQuery))
		wait(t, c, 15*time.Second, action, acts...)
		if status != "" {
			if got, ok := textWhen(t, c, 15*time.Second, "#ticket-status", status); !ok {
				t.Fatalf("after %s: status %q, want %q", action, got, status)
			}
		}
	}
	step("acknowledge", "", "")
	if owner, ok := textWhen(t, c, 15*time.Second, "#ticket-owner", "中控值班"); !ok {
		t.Errorf("owner after the control room accepted: %q", owner)
	}
	step("dispatch", `document.querySelector('#form-dispatch select[name="assignee"]').value = "engineer"`, "派工")
	step("arrive", "", "到场")
	step("resolve", `document.querySelector('#form-resolve textarea[name="resolution"]').value = "维保5分钟到场，手动盘车放人，2人无受伤"`, "完成")

	// Closing now is refused, with the reason, and changes nothing.
	closeRefused := func(what string) {
		t.Helper()
		step("close", "", "")
		if msg, ok := textWhen(t, c, 15*time.Second, "#ticket-msg", "突发事件处理表"); !ok {
			t.Errorf("%s: the refusal says %q", what, msg)
		}
		if got := getTicket(t, base, id); got.Status != wire.Resolved {
			t.Fatalf("%s: the emergency is %s", what, got.Status)
		}
	}
	closeRefused("close without a report")
	if state, ok := textWhen(t, c, 10*time.Second, "#incident-state", "未填写"); !ok {
		t.Errorf("report state on the ticket page: %q", state)
	}
	screenshot(t, c, "incident-close-refused-zh")

	// The owner writes and submits the report.
	clickUntil(t, c, 15*time.Second, "open the incident report", "#incident-link", "#incident-form")
	if tl, ok := textWhen(t, c, 10*time.Second, "#incident-timeline", "受理", "确认", "派工", "到场", "完成"); !ok {
		t.Errorf("timeline from the audit: %q", tl)
	}
	fill := map[string]string{
		"what_happened": "10:02 3号楼客梯困2人，监控报警后中控确认",
		"cause":         "厅门锁触点氧化，门锁回路断开",
		"measures":      "维保到场手动盘车放人；更换门锁触点；全梯检查",
		"result":        "2人安全离开，无人受伤，电梯10:40恢复运行",
		"people":        "中控值班、李工、维保公司张师傅",
	}
	acts := []chromedp.Action{}
	for k, v := range fill {
		acts = append(acts, chromedp.SendKeys("#inc-"+k, v, chromedp.ByID))
	}
	acts = append(acts, chromedp.Click("#incident-submit", chromedp.ByID))
	wait(t, c, 20*time.Second, "fill in and submit the report", acts...)
	if state, ok := textWhen(t, c, 15*time.Second, "#incident-page-state", "待审批"); !ok {
		t.Fatalf("after submit: %q", state)
	}
	checkLayout(t, c, "incident report at 1366×768")
	screenshot(t, c, "incident-submitted-zh")
	clickUntil(t, c, 15*time.Second, "back to the ticket", "#incident-back", "#ticket-actions")
	closeRefused("close with a submitted report")

	// The manager approves it on the report's page.
	m := tab(t, b)
	wait(t, m, 10*time.Second, "a 1366×768 screen", chromedp.EmulateViewport(1366, 768))
	login(t, m, base, "manager")
	front(t, m)
	wait(t, m, 20*time.Second, "the report for approval", chromedp.Navigate(fmt.Sprintf("%s/#/tickets/%d/incident", base, id)),
		chromedp.WaitVisible("#incident-decision", chromedp.ByID))
	screenshot(t, m, "incident-for-approval-zh")
	clickUntil(t, m, 15*time.Second, "approve", "#incident-approve", "#incident-page-state.inc-approved")
	if got, ok := textWhen(t, m, 10*time.Second, "#incident-page-state", "已批准"); !ok {
		t.Errorf("after approval: %q", got)
	}

	// Now it closes.
	front(t, c)
	wait(t, c, 20*time.Second, "the ticket again", chromedp.Navigate(fmt.Sprintf("%s/#/tickets/%d?again=1", base, id)), chromedp.WaitVisible("#ticket-actions", chromedp.ByID))
	step("close", "", "销单")
	if got := getTicket(t, base, id); got.Status != wire.Closed || got.Owner != "control" {
		t.Fatalf("after approval: %s, owner %q", got.Status, got.Owner)
	}
	if trail, ok := textWhen(t, c, 10*time.Second, "#audit", "提交突发事件处理表", "批准突发事件处理表", "王经理"); !ok {
		t.Errorf("trail: %q", trail)
	}
	screenshot(t, c, "incident-closed-zh")

	// The printed report, in Chinese and English, and on a phone.
	front(t, m)
	wait(t, m, 20*time.Second, "the printed report", chromedp.Navigate(fmt.Sprintf("%s/#/tickets/%d/incident-print", base, id)), chromedp.WaitVisible("#incident-sheet", chromedp.ByID))
	if sheet, ok := textWhen(t, m, 10*time.Second, "#incident-sheet", "突发事件处理表", "演示花园", "厅门锁触点氧化", "已批准", "王经理", "中控值班"); !ok {
		t.Errorf("printed report: %q", sheet)
	}
	screenshot(t, m, "incident-print-zh")
	wait(t, m, 10*time.Second, "switch to English", chromedp.Click("#lang", chromedp.ByID))
	if sheet, ok := textWhen(t, m, 15*time.Second, "#incident-sheet", "Incident report", "approved"); !ok {
		t.Errorf("printed report in English: %q", sheet)
	}
	screenshot(t, m, "incident-print-en")
	wait(t, m, 10*time.Second, "back to Chinese", chromedp.Click("#lang", chromedp.ByID))

	p := tab(t, b)
	wait(t, p, 10*time.Second, "a phone's screen", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	login(t, p, base, "control")
	front(t, p)
	wait(t, p, 20*time.Second, "the report on a phone", chromedp.Navigate(fmt.Sprintf("%s/#/tickets/%d/incident", base, id)), chromedp.WaitVisible("#incident-form", chromedp.ByID))
	checkLayout(t, p, "incident report at 390 px")
	screenshot(t, p, "incident-phone-zh")
	// My cases: what the control room owns — the door it accepts now, not
	// the emergency (closed).
	wait(t, p, 20*time.Second, "the door's ticket", chromedp.Navigate(fmt.Sprintf("%s/#/tickets/%d", base, other)), chromedp.WaitVisible("#ticket-actions", chromedp.ByID))
	clickUntil(t, p, 15*time.Second, "open acknowledge", `#ticket-actions button[data-action="acknowledge"]`, "#form-acknowledge")
	wait(t, p, 15*time.Second, "acknowledge", chromedp.Click(`#form-acknowledge button[type="submit"]`, chromedp.ByQuery))
	if owner, ok := textWhen(t, p, 15*time.Second, "#ticket-owner", "中控值班"); !ok {
		t.Errorf("the door's owner: %q", owner)
	}
	wait(t, p, 20*time.Second, "my cases", chromedp.Navigate(base+"/#/mycases"), chromedp.WaitVisible("#owned-count", chromedp.ByID))
	card := fmt.Sprintf(`#owned-list article[data-ticket="%d"]`, other)
	if text, ok := textWhen(t, p, 15*time.Second, card, "2号楼门禁离线（演练）", "每周回访"); !ok {
		t.Errorf("my cases card: %q", text)
	}
	if list, _ := textWhen(t, p, 5*time.Second, "#work-box"); strings.Contains(list, "3号楼电梯困人（演练）") {
		t.Errorf("a closed case in my cases: %q", list)
	}
	checkLayout(t, p, "my cases at 390 px")
	screenshot(t, p, "my-cases-phone-zh")

	// The monthly report beside its targets.
	front(t, m)
	wait(t, m, 20*time.Second, "the monthly report", chromedp.Navigate(base+"/#/reports"), chromedp.WaitVisible("#rep-targets", chromedp.ByID))
	if tg, ok := textWhen(t, m, 10*time.Second, "#rep-targets", "回访率", "满意率", "有效投诉率", "回访户数", "返修率", "≥ 96%", "≤ 1%"); !ok {
		t.Errorf("targets: %q", tg)
	}
	if rv, ok := textWhen(t, m, 10*time.Second, "#reviews", "今日未结案件"); !ok {
		t.Errorf("reviews: %q", rv)
	}
	checkLayout(t, m, "reports with targets at 1366×768")
	screenshot(t, m, "reports-targets-zh")
}

// gatewayTicket opens a ticket as the demo's gateway does (no owner yet).
func gatewayTicket(t *testing.T, base, body string) int64 {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/tickets", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+demoGatewayToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var tk wire.Ticket
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(out, &tk) != nil || tk.Owner != "" {
		t.Fatalf("the gateway's ticket: %d %s", resp.StatusCode, bytes.TrimSpace(out))
	}
	return tk.ID
}
