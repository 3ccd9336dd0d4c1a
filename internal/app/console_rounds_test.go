package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/estatehq/estate/desk"
	"github.com/estatehq/estate/internal/testenv"
	"github.com/estatehq/estate/internal/web"
	"github.com/estatehq/estate/internal/wire"
)

// The demo's daily distribution-room round walked on a 390 px phone by
// clicks, as the engineer does it: today's rounds, each checkpoint confirmed
// by its code (the camera's fallback), every item answered, the transformer's
// temperature above its limit; the failed item's ticket opens from the
// round with its 24-hour deadline; the round finishes and its record
// prints; the checkpoints' QR labels print.
func TestConsoleRoundOnPhone(t *testing.T) {
	if !web.Built() {
		t.Fatal("the console is not built into this test binary: run `make web` (make test does)")
	}
	influxURL, bucket := testenv.InfluxDB(t)
	cfg := demoConfig(t, influxURL, bucket)
	base := "http://" + cfg.Desk.Listen
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- RunDemo(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard, nil) }()
	defer func() { cancel(); <-done }()
	awaitDesk(t, base)

	b := browser(t)
	e := tab(t, b)
	front(t, e)
	wait(t, e, 10*time.Second, "a phone's screen", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	login(t, e, base, "engineer")
	clickUntil(t, e, 20*time.Second, "open 巡检", `header nav a[data-route="rounds"]`, "#round-list")
	card := `#round-list [data-route="distribution-daily"]`
	if text, ok := textWhen(t, e, 20*time.Second, card, "配电房日常巡检", "到点 0/2"); !ok {
		t.Fatalf("today's rounds show %q", text)
	}
	checkLayout(t, e, "today's rounds at 390 px")
	screenshot(t, e, "rounds-list-390-zh")
	clickUntil(t, e, 20*time.Second, "open the round", card+" a.open-round", `section[data-code="DR-1"]`)
	round := func(sel string) string { return `section.checkpoint` + sel }

	// A code that is not on the route is refused in words, nothing recorded.
	wait(t, e, 10*time.Second, "type a wrong code",
		chromedp.SendKeys(round(`[data-code="DR-1"] input[name="code"]`), "DR-9", chromedp.ByQuery),
		chromedp.Click(round(`[data-code="DR-1"] button.confirm-code`), chromedp.ByQuery))
	if text, ok := textWhen(t, e, 10*time.Second, round(`[data-code="DR-1"] .msg.error`), "DR-9"); !ok {
		t.Errorf("a wrong code says %q", text)
	}
	confirm := func(code string) {
		t.Helper()
		sec := fmt.Sprintf(`[data-code=%q]`, code)
		wait(t, e, 10*time.Second, "type "+code,
			chromedp.Evaluate(fmt.Sprintf(`document.querySelector(%q).value = ""`, round(sec+` input[name="code"]`)), nil),
			chromedp.SendKeys(round(sec+` input[name="code"]`), code, chromedp.ByQuery),
			chromedp.Click(round(sec+` button.confirm-code`), chromedp.ByQuery),
			chromedp.WaitVisible(round(sec+`.visited .cp-items`), chromedp.ByQuery))
	}
	item := func(code, id string) string {
		return fmt.Sprintf(`section.checkpoint[data-code=%q] .round-item[data-item=%q]`, code, id)
	}
	reading := func(code, id, value, note string) {
		t.Helper()
		acts := []chromedp.Action{chromedp.SendKeys(item(code, id)+` input[name="value"]`, value, chromedp.ByQuery)}
		if note != "" {
			acts = append(acts, chromedp.SendKeys(item(code, id)+` input[name="note"]`, note, chromedp.ByQuery))
		}
		acts = append(acts, chromedp.Click(item(code, id)+` button.save`, chromedp.ByQuery),
			chromedp.WaitVisible(item(code, id)+` .item-result`, chromedp.ByQuery))
		wait(t, e, 15*time.Second, "reading "+id, acts...)
	}
	check := func(code, id string) {
		t.Helper()
		clickUntil(t, e, 15*time.Second, "pass "+id, item(code, id)+` button.pass`, item(code, id)+`[data-outcome="pass"]`)
	}

	confirm("DR-1")
	screenshot(t, e, "rounds-checkpoint-390-zh")
	reading("DR-1", "transformer-temp", "92", "A相温度高，风机未启动")
	check("DR-1", "smell-noise")
	check("DR-1", "indicators")
	if text, ok := textWhen(t, e, 10*time.Second, item("DR-1", "transformer-temp"), "异常", "92 °C", "24 小时内处理"); !ok {
		t.Fatalf("the failed reading shows %q", text)
	}
	confirm("DR-2")
	reading("DR-2", "busbar-voltage", "398", "")
	reading("DR-2", "power-factor", "0.95", "")
	check("DR-2", "room")
	wait(t, e, 10*time.Second, "the remarks",
		chromedp.SendKeys(item("DR-2", "remarks")+` input[name="note"]`, "低压室正常", chromedp.ByQuery),
		chromedp.Click(item("DR-2", "remarks")+` button.save`, chromedp.ByQuery),
		chromedp.WaitVisible(item("DR-2", "remarks")+`[data-outcome="noted"]`, chromedp.ByQuery))
	checkLayout(t, e, "a round at 390 px")
	screenshot(t, e, "rounds-walked-390-zh")
	clickUntil(t, e, 15*time.Second, "finish", "#round-finish", "#round-done")

	// The failed item's ticket, from its link: a repair due within 24 hours,
	// with the item's note.
	var tid string
	wait(t, e, 10*time.Second, "the ticket's number", chromedp.AttributeValue(item("DR-1", "transformer-temp")+` a.item-ticket`, "data-ticket", &tid, nil, chromedp.ByQuery))
	clickUntil(t, e, 15*time.Second, "open the ticket", item("DR-1", "transformer-temp")+` a.item-ticket`, "#ticket-deadlines")
	if text, ok := textWhen(t, e, 15*time.Second, "#page", "巡检异常", "变压器温度", "A相温度高"); !ok {
		t.Errorf("the ticket page shows %q", text)
	}
	var due string
	wait(t, e, 10*time.Second, "the resolve deadline", chromedp.AttributeValue(`#ticket-deadlines [data-step="resolve"]`, "data-due", &due, nil, chromedp.ByQuery))
	var tk desk.TicketDetail
	getJSON(t, base, "/api/v1/tickets/"+tid, &tk)
	dueAt, err := time.Parse(time.RFC3339Nano, due)
	if err != nil || !dueAt.Equal(tk.CreatedAt.Add(24*time.Hour)) || tk.Kind != wire.Repair || tk.Source != wire.SourceRound ||
		!strings.Contains(tk.Description, "92 °C (0–85)") {
		t.Errorf("ticket %s: resolve due %q (err %v), created %s, kind %s, source %s, description %q", tid, due, err, tk.CreatedAt, tk.Kind, tk.Source, tk.Description)
	}
	checkLayout(t, e, "the anomaly's ticket at 390 px")
	screenshot(t, e, "rounds-ticket-390-zh")

	// The record prints, with the ticket and its due time.
	wait(t, e, 10*time.Second, "back", chromedp.NavigateBack())
	clickUntil(t, e, 15*time.Second, "the record", "#round-print", "#print-sheet")
	if text, ok := textWhen(t, e, 15*time.Second, "#print-sheet", "巡检记录", "1号配电房 高压室", "异常 92 °C", "工单 #"+tid); !ok {
		t.Errorf("the printed record shows %q", text)
	}
	checkLayout(t, e, "the round's record at 390 px")
	screenshot(t, e, "rounds-record-390-zh")

	// The labels, in English at 1366×768.
	wait(t, e, 10*time.Second, "wide screen in English", chromedp.EmulateViewport(1366, 768),
		chromedp.Evaluate(`localStorage.setItem("estate.lang", "en")`, nil),
		chromedp.Navigate(base+"/?en#/rounds/labels"), chromedp.WaitVisible(`.qr-label[data-code="B1-FIRE"] svg`, chromedp.ByQuery))
	if text, ok := textWhen(t, e, 10*time.Second, "#page", "Distribution room 1, HV", "Building 1 fire equipment"); !ok {
		t.Errorf("labels show %q", text)
	}
	screenshot(t, e, "rounds-labels-1366-en")
	wait(t, e, 10*time.Second, "the round in English", chromedp.Navigate(base+"/?en2#/rounds"), chromedp.WaitVisible("#round-list", chromedp.ByQuery))
	if text, ok := textWhen(t, e, 10*time.Second, card, "done", "1 failed"); !ok {
		t.Errorf("the finished round shows %q", text)
	}
	screenshot(t, e, "rounds-list-1366-en")
	_ = chromedp.Run(e, chromedp.Evaluate(`localStorage.setItem("estate.lang", "zh-CN")`, nil))
}
