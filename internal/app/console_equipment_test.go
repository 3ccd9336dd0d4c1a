package app

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/estatehq/estate/internal/testenv"
	"github.com/estatehq/estate/internal/web"
)

// TestEquipmentConsole walks the equipment page as an engineer on the demo
// with its shipped register and plans: the register with the gateways'
// devices, the plans with their next due time explained, the generator's
// usage order brought due by its running contact, its checklist completed on
// a 390 px phone, and the report; in Chinese and in English, screenshots at
// 1366 x 768 and 390 px.
func TestEquipmentConsole(t *testing.T) {
	if !web.Built() {
		t.Fatal("the console is not built into this test binary: run `make web` (make test does)")
	}
	influxURL, bucket := testenv.InfluxDB(t)
	cfg := demoConfig(t, influxURL, bucket, "{at: 20s, do: generator_run, for: 2m}", "{at: 2s, do: generator_run, for: 2m}")
	dir := filepath.Dir(cfg.File)
	if err := os.MkdirAll(filepath.Join(dir, "maintenance"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string]func(string) string{
		demoEquipmentFile: func(s string) string { return s },
		demoPlansFile:     func(s string) string { return strings.Replace(s, "every: 0.05}", "every: 0.005}", 1) },
	} {
		data, err := os.ReadFile("../../configs/" + name)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(edit(string(data))), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	base := "http://" + cfg.Desk.Listen
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- RunDemo(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard, nil) }()
	defer func() { cancel(); <-done }()
	awaitDesk(t, base)

	b := browser(t)
	tb := tab(t, b)
	login(t, tb, base, "engineer")

	// The register: nine registered pieces and the gateway's other devices.
	wait(t, tb, 10*time.Second, "the equipment page", chromedp.Navigate(base+"/#/equipment"))
	if _, ok := textWhen(t, tb, 60*time.Second, "#eq-register", "gen-1", "1号柴油发电机组", "CU2021-0815-550", "沪电机电维保", "meter-1-1-101", "未登记"); !ok {
		t.Fatal("the register does not show the demo's equipment")
	}
	wait(t, tb, 10*time.Second, "gen-1's history", chromedp.Click(`#eq-register button.eq-open`, chromedp.ByQuery),
		chromedp.WaitVisible("#eq-history-card", chromedp.ByID))
	screenshot(t, tb, "equipment-register-zh-1366")

	// The plans, each with its next due time; the generator's by its hours.
	wait(t, tb, 10*time.Second, "plans tab", chromedp.Navigate(base+"/#/equipment?tab=plans"))
	if _, ok := textWhen(t, tb, 90*time.Second, "#eq-plans", "电梯半月保养", "低压配电柜年度全面检修", "运行小时达到 0", "到期"); !ok {
		t.Fatal("the plans are not shown with their next due time")
	}
	screenshot(t, tb, "equipment-plans-zh-1366")

	// The generator's usage order, on a phone.
	wait(t, tb, 10*time.Second, "phone", chromedp.EmulateViewport(390, 844))
	clickUntil(t, tb, 150*time.Second, "the generator's order", "#eq-tab-orders", "#eq-orders button.eq-order-open")
	wait(t, tb, 10*time.Second, "open the order", chromedp.Click(`#eq-orders button.eq-order-open`, chromedp.ByQuery),
		chromedp.WaitVisible("#eq-order-card", chromedp.ByID))
	wait(t, tb, 20*time.Second, "fill the checklist",
		chromedp.Click("#eq-evidence", chromedp.ByID),
		chromedp.WaitVisible("#eq-readings-test-run", chromedp.ByID),
		chromedp.SetValue("#eq-item-fuel", "80", chromedp.ByID),
		chromedp.SetValue("#eq-item-battery", "26.4", chromedp.ByID),
		chromedp.SetValue("#eq-item-coolant", "pass", chromedp.ByID),
		chromedp.SetValue("#eq-minutes", "35", chromedp.ByID))
	if text, ok := textWhen(t, tb, 10*time.Second, "#eq-readings-test-run", "generator_running on"); !ok {
		t.Errorf("the test run's readings: %q", text)
	}
	screenshot(t, tb, "equipment-order-zh-390")
	wait(t, tb, 20*time.Second, "complete", chromedp.Click("#eq-complete", chromedp.ByID))
	if text, ok := textWhen(t, tb, 20*time.Second, "#eq-order-msg", "保养已完成"); !ok {
		t.Fatalf("completing the order: %q", text)
	}
	screenshot(t, tb, "equipment-order-done-zh-390")

	// In English, the report and the plans.
	wait(t, tb, 10*time.Second, "English", chromedp.Evaluate(`localStorage.setItem("estate.lang", "en")`, nil),
		chromedp.Navigate(base+"/#/equipment?tab=plans"), chromedp.Reload())
	if _, ok := textWhen(t, tb, 30*time.Second, "#eq-plans", "elevator maintenance every 15 days", "due on"); !ok {
		t.Error("the plans in English")
	}
	screenshot(t, tb, "equipment-plans-en-390")
	wait(t, tb, 10*time.Second, "desktop", chromedp.EmulateViewport(1366, 768), chromedp.Navigate(base+"/#/equipment?tab=report"))
	// The generator's contractor did its one order on time. (Other plans of
	// the demo, such as the lifts' every 15 days, fall due in some weeks and
	// not others, so the month's rate depends on the date.)
	var row string
	if err := chromedp.Run(tb, chromedp.Poll(`(() => {
		const tr = [...document.querySelectorAll("#eq-by-contractor tr")].find(r => r.textContent.includes("沪电机电维保"));
		return tr && tr.textContent.includes("100%") ? tr.innerText : false; })()`, &row, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		t.Errorf("the report's completion rate of the generator's contractor: %v", err)
	}
	screenshot(t, tb, "equipment-report-en-1366")
}
