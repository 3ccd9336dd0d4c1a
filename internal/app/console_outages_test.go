package app

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// consoleOutages is a planned outage by clicks: the engineer requests one
// for building 1 (site time), the manager sees the households it cuts off
// and approves it, the households told are listed with their channel, and
// the notice prints one sheet per building; then the commands page. Every
// page is shot in Chinese and English at 1366×768 and 390 px.
func consoleOutages(t *testing.T, b context.Context, base string) {
	// Three households of building 1 in the register: one by SMS, one by
	// phone, one without a way of contact (told by the posted notice).
	for _, u := range []struct{ unit, residents string }{
		{"1-201", `[{"name":"周先生","phone":"13900000201","contact":"sms"}]`},
		{"1-202", `[{"name":"吴女士","phone":"13900000202"}]`},
		{"1-203", `[]`},
	} {
		req, _ := http.NewRequest(http.MethodPut, base+"/api/v1/units/demo-estate/"+u.unit,
			strings.NewReader(`{"building":"1","floor":"2","residents":`+u.residents+`,"meters":[]}`))
		req.Header.Set("Authorization", "Bearer "+adminToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNoContent {
			t.Fatalf("household %s: %d", u.unit, resp.StatusCode)
		}
	}
	e := tab(t, b)
	front(t, e)
	wait(t, e, 10*time.Second, "a 1366×768 screen", chromedp.EmulateViewport(1366, 768))
	login(t, e, base, "engineer")
	wait(t, e, 20*time.Second, "the outages page", chromedp.Navigate(base+"/#/outages"), chromedp.WaitVisible("#out-form", chromedp.ByID))
	start := time.Now().Add(26 * time.Hour).In(shanghai(t))
	reason := fmt.Sprintf("低压配电柜年度检修 %d", time.Now().UnixNano()%10000)
	wait(t, e, 20*time.Second, "request the outage",
		chromedp.SendKeys("#out-buildings", "1", chromedp.ByID),
		chromedp.SetValue("#out-start", start.Format("2006-01-02T15:04"), chromedp.ByID),
		chromedp.SetValue("#out-end", start.Add(4*time.Hour).Format("2006-01-02T15:04"), chromedp.ByID),
		chromedp.SendKeys("#out-reason", reason, chromedp.ByID),
		chromedp.Click(`#out-form button[type="submit"]`, chromedp.ByQuery),
		chromedp.WaitVisible("#out-detail", chromedp.ByID))
	if status, ok := textWhen(t, e, 10*time.Second, "#out-detail", "待审批", reason, start.Format("15:04")); !ok {
		t.Errorf("requested outage shows %q", status)
	}
	var href string
	wait(t, e, 5*time.Second, "the outage's address", chromedp.Evaluate(`location.hash`, &href))
	var id int
	if _, err := fmt.Sscanf(href, "#/outages/%d", &id); err != nil {
		t.Fatalf("outage address %q", href)
	}
	checkLayout(t, e, "outage request at 1366×768")
	screenshot(t, e, "outage-requested-zh")

	m := tab(t, b)
	front(t, m)
	wait(t, m, 10*time.Second, "a 1366×768 screen", chromedp.EmulateViewport(1366, 768))
	login(t, m, base, "manager")
	wait(t, m, 20*time.Second, "the outage for approval", chromedp.Navigate(fmt.Sprintf("%s/#/outages/%d", base, id)), chromedp.WaitVisible("#out-approve", chromedp.ByID))
	clickUntil(t, m, 20*time.Second, "approve", "#out-approve", "#out-print-link")
	if status, ok := textWhen(t, m, 10*time.Second, "#out-status", "已批准"); !ok {
		t.Errorf("approved outage shows %q", status)
	}
	if told, ok := textWhen(t, m, 10*time.Second, "#out-notices", "1-201", "短信", "1-202", "电话", "1-203", "张贴通知"); !ok {
		t.Errorf("households told: %q", told)
	}
	screenshot(t, m, "outage-approved-zh")
	// The engineer's page of the outage, left open, shows the approval
	// without a reload (the desk's outage.approved event).
	if status, ok := textWhen(t, e, 20*time.Second, "#out-status", "已批准"); !ok {
		t.Errorf("the requester's open page shows %q after the approval", status)
	}
	clickUntil(t, m, 20*time.Second, "the notice", "#out-print-link", "#notice-sheets")
	var sheets int
	wait(t, m, 10*time.Second, "the notice sheets", chromedp.Evaluate(`document.querySelectorAll("#notice-sheets .notice-sheet").length`, &sheets))
	if text, ok := textWhen(t, m, 10*time.Second, "#notice-sheets", "停电通知", reason, "1-201", "1-203"); !ok || sheets != 1 {
		t.Errorf("notice (%d sheets) shows %q", sheets, text)
	}
	screenshot(t, m, "outage-notice-zh")

	// The engineer's tab is done: closed, so that its event stream does not
	// take one of the browser's six connections to the desk.
	_ = chromedp.Cancel(e)
	// The same pages in English, and at 390 px.
	for _, size := range []struct {
		w, h int
		name string
	}{{1366, 768, "1366"}, {390, 844, "390"}} {
		opts := []chromedp.EmulateViewportOption{}
		if size.w < 700 {
			opts = append(opts, chromedp.EmulateMobile)
		}
		wait(t, m, 10*time.Second, "viewport", chromedp.EmulateViewport(int64(size.w), int64(size.h), opts...))
		for _, lang := range []string{"zh-CN", "en"} {
			wait(t, m, 10*time.Second, "language "+lang, chromedp.Evaluate(fmt.Sprintf(`localStorage.setItem("estate.lang", %q)`, lang), nil))
			for _, pg := range []struct{ route, ready, shot string }{
				{"outages", "#out-list", "outages"}, {fmt.Sprintf("outages/%d", id), "#out-notices", "outage"},
				{fmt.Sprintf("outages/%d/print", id), "#notice-sheets", "outage-notice"}, {"commands", "#cmd-form", "commands"},
			} {
				c, cancel := context.WithTimeout(m, 30*time.Second)
				err := chromedp.Run(c, chromedp.Navigate(base+"/?layout="+lang+size.name+"#/"+pg.route), chromedp.WaitVisible(pg.ready, chromedp.ByQuery),
					chromedp.Poll(`!document.querySelector('[aria-busy="true"]')`, nil, chromedp.WithPollingTimeout(10*time.Second)))
				cancel()
				if err != nil {
					var html string
					_ = chromedp.Run(m, chromedp.Evaluate(`location.href + " busy=" + document.querySelector('.page-root')?.getAttribute('aria-busy') + " route=" + document.body.dataset.route + " api=" + performance.getEntriesByType("resource").map(e => e.name.replace(location.origin, "") + ":" + Math.round(e.duration)).filter(n => n.includes("/api/")).join(" ")`, &html))
					screenshot(t, m, "debug")
					for _, path := range []string{"/api/v1/me", "/api/v1/outages", "/api/v1/gateways"} {
						start := time.Now()
						var v map[string]any
						getJSON(t, base, path, &v)
						t.Logf("desk answers %s in %s", path, time.Since(start))
					}
					t.Fatalf("%s %s: %v: %s", pg.route, lang, err, html)
				}
				checkLayout(t, m, fmt.Sprintf("%s at %s px (%s)", pg.route, size.name, lang))
				if size.w < 700 || lang == "en" {
					screenshot(t, m, fmt.Sprintf("%s-%s-%s", pg.shot, strings.ToLower(strings.SplitN(lang, "-", 2)[0]), size.name))
				}
			}
		}
	}
	_ = chromedp.Run(m, chromedp.Evaluate(`localStorage.setItem("estate.lang", "zh-CN")`, nil))
}
