package app

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// consoleKinds files an important complaint by the assistant's form (its
// type and category shown only for complaints), reads them on the ticket
// page in Chinese and English at 1366×768 and 390 px, and changes it to a
// written complaint from the page: the trail records the change.
func consoleKinds(t *testing.T, b context.Context, base string) {
	a := tab(t, b)
	front(t, a)
	wait(t, a, 10*time.Second, "a 1366×768 screen", chromedp.EmulateViewport(1366, 768))
	login(t, a, base, "assistant")
	wait(t, a, 20*time.Second, "the work-order form", chromedp.WaitVisible("#new-ticket", chromedp.ByID),
		chromedp.Poll(`document.body.dataset.route === "assistants" && !document.querySelector('[aria-busy="true"]')`, nil, chromedp.WithPollingTimeout(15*time.Second)))
	var hidden bool
	wait(t, a, 10*time.Second, "a repair has no complaint type",
		chromedp.SetValue(`#new-ticket select[name="kind"]`, "repair", chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelector('#new-ticket select[name="kind"]').dispatchEvent(new Event("change")),
			document.querySelector('#new-ticket select[name="sub_kind"]').closest("label").hidden`, &hidden))
	if !hidden {
		t.Error("the complaint type is shown for a repair")
	}
	title := fmt.Sprintf("电梯一周停运三次 %d", time.Now().UnixNano()%100000)
	wait(t, a, 20*time.Second, "fill in an important complaint",
		chromedp.SetValue(`#new-ticket select[name="kind"]`, "complaint", chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelector('#new-ticket select[name="kind"]').dispatchEvent(new Event("change"))`, nil),
		chromedp.WaitVisible(`#new-ticket select[name="sub_kind"]`, chromedp.ByQuery),
		// The site's categories come from GET /kinds.
		chromedp.Poll(`document.querySelectorAll('#new-ticket select[name="category"] option').length === 8`, nil, chromedp.WithPollingTimeout(10*time.Second)),
		chromedp.SetValue(`#new-ticket select[name="sub_kind"]`, "important", chromedp.ByQuery),
		chromedp.SetValue(`#new-ticket select[name="category"]`, "equipment", chromedp.ByQuery),
		chromedp.SendKeys(`#new-ticket input[name="title"]`, title, chromedp.ByQuery),
		chromedp.SendKeys(`#new-ticket input[name="unit"]`, "1-101", chromedp.ByQuery),
		chromedp.SendKeys(`#new-ticket input[name="cause"]`, "曳引机老化", chromedp.ByQuery))
	screenshot(t, a, "kinds-form-complaint-zh")
	wait(t, a, 15*time.Second, "submit", chromedp.Click(`#new-ticket button[type="submit"]`, chromedp.ByQuery),
		chromedp.WaitVisible("#form-created-link", chromedp.ByID))
	var href string
	wait(t, a, 5*time.Second, "the new ticket's link", chromedp.AttributeValue("#form-created-link", "href", &href, nil, chromedp.ByID))
	var id int64
	if _, err := fmt.Sscanf(href, "#/tickets/%d", &id); err != nil || id == 0 {
		t.Fatalf("created link %q", href)
	}
	// The complaint leaves the other pages' lists when this test is done.
	defer postJSON(t, base, fmt.Sprintf("/api/v1/tickets/%d/actions", id), `{"action":"cancel","note":"test over"}`, 200)
	clickUntil(t, a, 20*time.Second, "open the complaint", "#form-created-link", "#ticket-facts")
	if facts, ok := textWhen(t, a, 15*time.Second, "#ticket-facts", "重要投诉", "设备设施", "曳引机老化"); !ok {
		t.Errorf("complaint facts: %q", facts)
	}
	if badges, ok := textWhen(t, a, 10*time.Second, "#ticket-badges", "投诉", "重要投诉", "P2"); !ok {
		t.Errorf("badges: %q", badges)
	}
	checkLayout(t, a, "complaint page at 1366×768")
	screenshot(t, a, "kinds-complaint-zh")

	// Changed to a written complaint from the page: answered the same day.
	clickUntil(t, a, 15*time.Second, "open the change form", "#edit-kind", "#edit-form")
	screenshot(t, a, "kinds-edit-zh")
	wait(t, a, 15*time.Second, "save a written complaint",
		chromedp.SetValue(`#edit-form select[name="sub_kind"]`, "written", chromedp.ByQuery),
		chromedp.Click(`#edit-form button[type="submit"]`, chromedp.ByQuery))
	if trail, ok := textWhen(t, a, 15*time.Second, "#audit", "修改", "投诉类型 重要投诉 → 书面投诉"); !ok {
		t.Errorf("trail after the change: %q", trail)
	}
	if facts, ok := textWhen(t, a, 10*time.Second, "#ticket-facts", "书面投诉"); !ok {
		t.Errorf("facts after the change: %q", facts)
	}

	// English, then a phone's width, in both languages.
	wait(t, a, 10*time.Second, "English", chromedp.Click("#lang", chromedp.ByID))
	if facts, ok := textWhen(t, a, 15*time.Second, "#ticket-facts", "Written complaint", "Equipment"); !ok {
		t.Errorf("facts in English: %q", facts)
	}
	checkLayout(t, a, "complaint page in English")
	screenshot(t, a, "kinds-complaint-en")
	wait(t, a, 10*time.Second, "a phone's screen", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	checkLayout(t, a, "complaint page at 390 px in English")
	screenshot(t, a, "kinds-complaint-phone-en")
	wait(t, a, 10*time.Second, "Chinese", chromedp.Click("#lang", chromedp.ByID))
	if _, ok := textWhen(t, a, 15*time.Second, "#ticket-facts", "书面投诉"); !ok {
		t.Error("back in Chinese")
	}
	checkLayout(t, a, "complaint page at 390 px")
	screenshot(t, a, "kinds-complaint-phone-zh")
	var body string
	_ = chromedp.Run(a, chromedp.Text("#ticket-facts", &body, chromedp.ByID))
	if strings.Contains(body, "subKind.") || strings.Contains(body, "cause.") {
		t.Errorf("untranslated keys on the page: %q", body)
	}
}
