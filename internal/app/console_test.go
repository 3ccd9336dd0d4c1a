package app

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/estatehq/estate/gateway"
	"github.com/estatehq/estate/internal/config"
	"github.com/estatehq/estate/internal/testenv"
	"github.com/estatehq/estate/internal/ticket"
	"github.com/estatehq/estate/internal/web"
)

// artefacts is where the browser tests keep their screenshots.
const artefacts = "../../var/test-artifacts/console"

// browser starts a headless Chromium with its own profile; the flags keep it
// off the network beyond loopback.
func browser(t *testing.T) context.Context {
	t.Helper()
	exec := testenv.Chromium(t)
	// Not t.TempDir: Chromium may still be writing its profile when the test's
	// own clean-up runs, so the folder is removed after the browser is gone.
	profile, err := os.MkdirTemp("", "estate-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exec),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1366, 768),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	ctx, cancelTimeout := context.WithTimeout(ctx, 45*time.Second)
	t.Cleanup(func() {
		cancelTimeout()
		cancelCtx()
		cancelAlloc()
		for range 20 {
			if os.RemoveAll(profile) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	if err := chromedp.Run(ctx); err != nil {
		t.Fatalf("start Chromium %s: %v", exec, err)
	}
	return ctx
}

func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	var png []byte
	if err := chromedp.Run(ctx, chromedp.CaptureScreenshot(&png)); err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.MkdirAll(artefacts, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(artefacts, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s", path)
}

func login(t *testing.T, ctx context.Context, base, token string) {
	t.Helper()
	err := chromedp.Run(ctx,
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible("#token", chromedp.ByID),
		chromedp.SendKeys("#token", token, chromedp.ByID),
		chromedp.Click(`#login button[type="submit"]`, chromedp.ByQuery),
		chromedp.WaitVisible("header nav", chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("login: %v", err)
	}
}

func navTexts(t *testing.T, ctx context.Context) string {
	t.Helper()
	var text string
	if err := chromedp.Run(ctx, chromedp.Text("header nav", &text, chromedp.ByQuery)); err != nil {
		t.Fatal(err)
	}
	return text
}

func TestConsoleInBrowser(t *testing.T) {
	if !web.Built() {
		t.Fatal("the console is not built into this test binary: run `make web` (make test does)")
	}
	influxURL, bucket := testenv.InfluxDB(t)
	cfg := demoConfig(t, influxURL, bucket,
		"initial_balance: 22", "initial_balance: 11",
		"drain_per_second: 0.5", "drain_per_second: 1")
	cfg.Gateway.HeartbeatInterval = time.Second
	tokens := map[string]string{
		"engineer": "engineer-token-0123456789", "control_room": "control-token-0123456789", "assistant": "assistant-token-0123456789",
	}
	for role, tok := range tokens {
		cfg.Desk.Tokens = append(cfg.Desk.Tokens, config.Token{Name: "test-" + role, Token: tok, Role: role})
	}
	base := "http://" + cfg.Desk.Listen
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	ticketed := make(chan struct{}, 1)
	go func() {
		done <- RunDemo(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard, func(g *gateway.Gateway) {
			g.OnTicket = func(ticket.Ticket) {
				select {
				case ticketed <- struct{}{}:
				default:
				}
			}
		})
	}()
	defer func() { cancel(); <-done }()
	select {
	case <-ticketed:
	case err := <-done:
		t.Fatalf("demo stopped: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("no top-up ticket within 30 s")
	}

	t.Run("assistant sees red meters only on their page", func(t *testing.T) {
		b := browser(t)
		login(t, b, base, tokens["assistant"])
		var rows string
		if err := chromedp.Run(b, chromedp.WaitVisible("#red-meters tbody tr", chromedp.ByQuery),
			chromedp.Text("#red-meters tbody", &rows, chromedp.ByQuery)); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(rows, "1-101") {
			t.Errorf("red-meter list does not show unit 1-101: %q", rows)
		}
		if nav := navTexts(t, b); nav != "客服" {
			t.Errorf("assistant's navigation = %q, want only 客服", nav)
		}
		screenshot(t, b, "assistants-zh")
	})

	t.Run("control room sees an entrapment flash", func(t *testing.T) {
		b := browser(t)
		login(t, b, base, tokens["control_room"])
		if err := chromedp.Run(b, chromedp.WaitVisible("#page h2", chromedp.ByQuery)); err != nil {
			t.Fatal(err)
		}
		if nav := navTexts(t, b); strings.Contains(nav, "工程部") || strings.Contains(nav, "客服") {
			t.Errorf("control room's navigation shows other teams' pages: %q", nav)
		}
		created := time.Now()
		postTicket(t, base, `{"kind":"emergency","title":"3号梯困人 / elevator 3 entrapment","site":"demo-estate","building":"3","device":"elevator-3","source":"phone"}`)
		waitCtx, cancelWait := context.WithTimeout(b, 5*time.Second)
		defer cancelWait()
		if err := chromedp.Run(waitCtx, chromedp.WaitVisible("#incidents tr.flashing", chromedp.ByQuery)); err != nil {
			t.Fatalf("entrapment not flashing on the console: %v", err)
		}
		t.Logf("entrapment on screen %s after the ticket was created (refresh-based; SSE comes with the desk issue)", time.Since(created).Round(time.Millisecond))
		screenshot(t, b, "control-room-zh")
		var nav string
		if err := chromedp.Run(b, chromedp.Click("#lang", chromedp.ByID), chromedp.WaitVisible("#incidents", chromedp.ByID),
			chromedp.Text("header nav", &nav, chromedp.ByQuery)); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(nav, "Control room") {
			t.Errorf("after the language switch the navigation says %q", nav)
		}
		screenshot(t, b, "control-room-en")
	})

	t.Run("engineer sees device health and a history chart", func(t *testing.T) {
		b := browser(t)
		login(t, b, base, tokens["engineer"])
		var state string
		err := chromedp.Run(b,
			chromedp.Navigate(base+"/#/engineering"),
			chromedp.WaitVisible(`#devices tr[data-device="meter-1-1-101"]`, chromedp.ByQuery),
			chromedp.Text(`#devices tr[data-device="meter-1-1-101"] .state`, &state, chromedp.ByQuery),
		)
		if err != nil {
			t.Fatal(err)
		}
		if state != "在线" {
			t.Errorf("meter state = %q, want 在线", state)
		}
		screenshot(t, b, "engineering-zh")
		var points string
		var ok bool
		err = chromedp.Run(b,
			chromedp.Navigate(base+"/#/engineering?device=meter-1-1-101&point=balance&range=1h"),
			chromedp.WaitVisible("#chart canvas", chromedp.ByQuery),
			chromedp.AttributeValue("#chart", "data-points", &points, &ok, chromedp.ByQuery),
		)
		if err != nil {
			t.Fatal(err)
		}
		if !ok || points == "" || points == "0" {
			t.Errorf("chart has %q points", points)
		}
		t.Logf("balance chart over 1h renders %s points from InfluxDB", points)
		var alarms string
		if err := chromedp.Run(b, chromedp.WaitVisible("#alarm-history", chromedp.ByID), chromedp.Text("#alarm-history", &alarms, chromedp.ByID)); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(alarms, "prepaid_low_balance") || !strings.Contains(alarms, "告警") {
			t.Errorf("alarm history does not show the low-balance alarm: %q", alarms)
		}
		screenshot(t, b, "device-chart-zh")
	})

	t.Run("page weight", func(t *testing.T) {
		b := browser(t)
		var transferred float64
		err := chromedp.Run(b, chromedp.Navigate(base+"/"), chromedp.WaitVisible("#login", chromedp.ByID),
			chromedp.Evaluate(`performance.getEntriesByType("navigation").concat(performance.getEntriesByType("resource")).reduce((n, e) => n + e.transferSize, 0)`, &transferred))
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("first load transfers %.0f bytes", transferred)
	})
}

func postTicket(t *testing.T, base, body string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/tickets", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer demo-admin-token-not-for-production")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create ticket: status %d", resp.StatusCode)
	}
}
