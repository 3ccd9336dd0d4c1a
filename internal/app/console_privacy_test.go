package app

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/estatehq/estate/internal/wire"
)

// consolePrivacy is issue 15 parts 4, 5 and 7 by clicks: the manager makes
// building 1 the assistant's area and reassigns it with a note, the
// assistant's red-meter list keeps her area alone when asked, the top-up
// ticket shows its text-message box, and the manager reads the access log
// of who saw residents' phones; each page at 1366×768 and 390 px in
// Chinese and English.
func consolePrivacy(t *testing.T, b context.Context, base string) {
	start := time.Now()
	step := func(what string) { t.Logf("%s at %s", what, time.Since(start).Round(time.Millisecond)) }
	defer step("done")
	m := tab(t, b)
	front(t, m)
	wait(t, m, 10*time.Second, "a 1366×768 screen", chromedp.EmulateViewport(1366, 768))
	login(t, m, base, "manager")
	wait(t, m, 20*time.Second, "the areas page",
		chromedp.Navigate(base+"/#/areas"), chromedp.WaitVisible("#area-form", chromedp.ByID),
		chromedp.SetValue("#pv-site", "demo-estate", chromedp.ByID),
		chromedp.Evaluate(`document.querySelector("#pv-site").dispatchEvent(new Event("change"))`, nil),
		chromedp.WaitVisible("#area-list h3", chromedp.ByQuery))
	name := fmt.Sprintf("1 栋 %d", time.Now().UnixNano()%10000)
	wait(t, m, 20*time.Second, "create the area",
		chromedp.SendKeys("#area-name", name, chromedp.ByID),
		chromedp.SetValue("#area-assistant", "assistant", chromedp.ByID),
		chromedp.SendKeys("#area-buildings", "1", chromedp.ByID),
		chromedp.Click("#area-submit", chromedp.ByID))
	if msg, ok := textWhen(t, m, 15*time.Second, "#area-msg", "已保存区域 "+name); !ok {
		t.Fatalf("after saving: %q", msg)
	}
	if list, ok := textWhen(t, m, 15*time.Second, "#areas", name, "陈助理", "1 栋"); !ok {
		t.Errorf("areas: %q", list)
	}
	checkLayout(t, m, "areas at 1366×768")
	screenshot(t, m, "areas-zh")
	step("area created")

	// Reassign to the manager with a note: the open cases move.
	clickUntil(t, m, 15*time.Second, "edit the area", `#areas button[data-edit]`, "#area-cancel:not([hidden])")
	wait(t, m, 15*time.Second, "reassign",
		chromedp.SetValue("#area-assistant", "manager", chromedp.ByID),
		chromedp.SendKeys("#area-note", "陈助理休假", chromedp.ByID),
		chromedp.Click("#area-submit", chromedp.ByID))
	if msg, ok := textWhen(t, m, 15*time.Second, "#area-msg", "移交"); !ok {
		t.Errorf("after reassigning: %q", msg)
	}
	if list, ok := textWhen(t, m, 15*time.Second, "#areas", "王经理"); !ok {
		t.Errorf("areas after reassigning: %q", list)
	}
	var audit []struct{ Action, Note string }
	var tickets struct{ Tickets []wire.Ticket }
	getJSON(t, base, "/api/v1/tickets?kind=top_up&open=true&limit=50", &tickets)
	moved := false
	for _, tk := range tickets.Tickets {
		if tk.Building != "1" {
			continue
		}
		var a struct {
			Audit []struct{ Action, Note string }
		}
		getJSON(t, base, fmt.Sprintf("/api/v1/tickets/%d/audit", tk.ID), &a)
		audit = append(audit, a.Audit...)
		for _, e := range a.Audit {
			if e.Action == "area" && strings.Contains(e.Note, "moved from assistant to manager: 陈助理休假") {
				moved = true
			}
		}
	}
	if !moved {
		t.Errorf("no top-up of building 1 moved with the note: %+v", audit)
	}
	step("reassigned")
	// And back to the assistant, for her list.
	clickUntil(t, m, 15*time.Second, "edit the area again", `#areas button[data-edit]`, "#area-cancel:not([hidden])")
	wait(t, m, 15*time.Second, "reassign back",
		chromedp.SetValue("#area-assistant", "assistant", chromedp.ByID),
		chromedp.Click("#area-submit", chromedp.ByID))
	if _, ok := textWhen(t, m, 15*time.Second, "#areas", "陈助理"); !ok {
		t.Error("not back to the assistant")
	}

	step("reassigned back")
	// The assistant's red-meter list, her area alone.
	// The assistant's tab, closed once her part is done (its event stream
	// holds one of the browser's six connections to the desk).
	a, closeA := chromedp.NewContext(b)
	defer closeA()
	watchCSP(t, a)
	if err := chromedp.Run(a); err != nil {
		t.Fatal(err)
	}
	front(t, a)
	wait(t, a, 10*time.Second, "a 1366×768 screen", chromedp.EmulateViewport(1366, 768))
	login(t, a, base, "assistant")
	wait(t, a, 20*time.Second, "the red-meter list", chromedp.Navigate(base+"/#/assistants"), chromedp.WaitVisible("#red-mine", chromedp.ByID),
		chromedp.Poll(`!document.querySelector('[aria-busy="true"]')`, nil, chromedp.WithPollingTimeout(15*time.Second)))
	var all, mine int
	wait(t, a, 10*time.Second, "count", chromedp.Evaluate(`document.querySelectorAll("#red-meters tbody tr").length`, &all))
	wait(t, a, 20*time.Second, "my area only", chromedp.Click("#red-mine", chromedp.ByID),
		chromedp.Poll(`document.querySelector("#red-mine") && document.querySelector("#red-mine").checked && !document.querySelector('[aria-busy="true"]')`, nil, chromedp.WithPollingTimeout(15*time.Second)),
		chromedp.Evaluate(`document.querySelectorAll("#red-meters tbody tr").length`, &mine))
	var topups struct {
		TopUps []struct {
			TicketID  int64  `json:"ticket_id"`
			Building  string `json:"building"`
			Assistant string `json:"assistant"`
		}
	}
	getJSON(t, base, "/api/v1/topups", &topups)
	inArea := 0
	for _, l := range topups.TopUps {
		if l.Assistant == "assistant" {
			inArea++
		}
	}
	if mine != inArea || mine > all {
		t.Errorf("my area only shows %d rows of %d; %d are hers", mine, all, inArea)
	}
	screenshot(t, a, "red-meters-my-area-zh")
	wait(t, a, 10*time.Second, "all areas again", chromedp.Click("#red-mine", chromedp.ByID))

	step("red-meter list")
	// The top-up ticket's text-message box: the demo site has no SMS channel.
	if len(topups.TopUps) > 0 {
		wait(t, a, 20*time.Second, "a top-up ticket", chromedp.Navigate(fmt.Sprintf("%s/#/tickets/%d", base, topups.TopUps[0].TicketID)),
			chromedp.WaitVisible("#sms-card", chromedp.ByID))
		if txt, ok := textWhen(t, a, 15*time.Second, "#sms-card", "短信提醒", "本站点未配置短信通道"); !ok {
			t.Errorf("sms card: %q", txt)
		}
	}

	step("sms card")
	// The assistant opens a household's repair with the resident's phone: a view that is logged.
	repair := createTicket(t, base, `{"kind":"repair","title":"门铃不响","site":"demo-estate","building":"1","unit":"1-1-101","reporter":"赵先生","phone":"13712345678","source":"phone"}`)
	wait(t, a, 20*time.Second, "the assistant opens the repair", chromedp.Navigate(fmt.Sprintf("%s/#/tickets/%d", base, repair)),
		chromedp.WaitVisible("#ticket-facts", chromedp.ByID))
	if facts, ok := textWhen(t, a, 15*time.Second, "#ticket-facts", "赵先生", "13712345678"); !ok {
		t.Errorf("the assistant's view of the repair: %q", facts)
	}

	closeA()
	// The repair was only for the access log: cancelled, it leaves the control room as it was.
	postJSON(t, base, fmt.Sprintf("/api/v1/tickets/%d/actions", repair), `{"action":"cancel","note":"test walk"}`, http.StatusOK)
	// The manager reads who saw which phone: the assistant's view is there.
	front(t, m)
	wait(t, m, 20*time.Second, "the access log", chromedp.Navigate(base+"/#/access"), chromedp.WaitVisible("#access-filter", chromedp.ByID))
	if txt, ok := textWhen(t, m, 15*time.Second, "#access-list", "陈助理 (客服助理)", fmt.Sprintf("工单 #%d", repair), "完整电话", "查看工单"); !ok {
		t.Errorf("access log: %.400q", txt)
	}
	checkLayout(t, m, "access log at 1366×768")
	screenshot(t, m, "access-log-zh")

	step("access log")
	// Each page at both sizes in both languages, in a fresh tab (as the
	// layout walk of every page does).
	m = tab(t, b)
	front(t, m)
	login(t, m, base, "manager")
	wait(t, m, 10*time.Second, "the site", chromedp.Evaluate(`sessionStorage.setItem("estate.privacy.site", "demo-estate")`, nil))
	for _, size := range []struct {
		w, h int
		name string
	}{{1366, 768, "1366"}, {390, 844, "390"}} {
		opts := []chromedp.EmulateViewportOption{}
		if size.w < 700 {
			opts = append(opts, chromedp.EmulateMobile)
		}
		wait(t, m, 10*time.Second, "viewport "+size.name, chromedp.EmulateViewport(int64(size.w), int64(size.h), opts...))
		for _, lang := range []string{"zh-CN", "en"} {
			// The language switch redraws the page in place (no reload, so
			// no new event stream per step).
			wait(t, m, 10*time.Second, "language "+lang, chromedp.Evaluate(fmt.Sprintf(`document.documentElement.lang !== %q && document.querySelector("#lang").click()`, lang), nil),
				chromedp.Poll(fmt.Sprintf(`document.documentElement.lang === %q`, lang), nil, chromedp.WithPollingTimeout(5*time.Second)))
			for _, pg := range []struct{ route, ready string }{{"areas", "#area-list h3"}, {"access", "#access-list h3"}} {
				wait(t, m, 30*time.Second, pg.route+" "+size.name+" "+lang,
					chromedp.Evaluate(`document.body.dataset.route = ""`, nil),
					chromedp.Evaluate(fmt.Sprintf(`location.hash = "#/%s"`, pg.route), nil),
					chromedp.Poll(fmt.Sprintf(`document.body.dataset.route === %q`, pg.route), nil, chromedp.WithPollingTimeout(20*time.Second)),
					chromedp.WaitVisible(pg.ready, chromedp.ByQuery),
					chromedp.Poll(`!document.querySelector('[aria-busy="true"]')`, nil, chromedp.WithPollingTimeout(10*time.Second)))
				checkLayout(t, m, fmt.Sprintf("%s at %s px (%s)", pg.route, size.name, lang))
				if size.w < 700 || lang == "en" {
					screenshot(t, m, fmt.Sprintf("%s-%s-%s", pg.route, size.name, lang))
				}
			}
		}
	}
	_ = chromedp.Run(m, chromedp.Evaluate(`localStorage.setItem("estate.lang", "zh-CN")`, nil))
}
