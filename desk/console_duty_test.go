package desk

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/estatehq/estate/desk/deskconfig"
	"github.com/estatehq/estate/desk/shift"
	"github.com/estatehq/estate/internal/testenv"
	"github.com/estatehq/estate/internal/web"
)

// dutyArtefacts is the browser tests' screenshot folder (internal/app's too).
const dutyArtefacts = "../var/test-artifacts/console"

// The handover in the browser (issue 15): 李娜 of the night shift builds and
// signs the sheet at 07:50, 杜拉 of the day shift is refused nothing, sees
// the night still on duty, counts the keys and accepts at 08:05; 李娜 may
// not accept her own. Then the English switch, a 390 px phone, the print
// view and the key register. The desk runs on a fake clock.
func TestDutyConsoleHandover(t *testing.T) {
	if !web.Built() {
		t.Fatal("the console is not built into this test binary: run `make web` (make test does)")
	}
	d := newDesk(t, func(c *deskconfig.Config) {
		c.Sites = []deskconfig.Site{{ID: "site-a", Name: "演示花园", Timezone: "Asia/Shanghai"}}
		c.Staff = append(c.Staff,
			deskconfig.Staff{Name: "lina", DisplayName: "李娜", Role: RoleControlRoom, Team: "security", Site: "site-a", PasswordHash: testPasswordHash},
			deskconfig.Staff{Name: "dula", DisplayName: "杜拉", Role: RoleControlRoom, Team: "security", Site: "site-a", PasswordHash: testPasswordHash})
		c.Shifts = []deskconfig.ShiftPlan{{Site: "site-a", Duty: []deskconfig.DutyRoster{
			{Shift: "night", Department: "control_room", Staff: []string{"lina"}},
			{Shift: "day", Department: "control_room", Staff: []string{"dula"}},
			{Shift: "day", Department: "engineering", Staff: []string{"eng"}},
		}}}
	})
	dd := &dutyDesk{testDesk: d, t: t}
	// The desk starts at 00:05 of the night shift (the evening before it ran without).
	dd.clock.Set(local("00:05"))
	d.srv.newDuty()
	// The night: a forced door nobody acknowledged, a fire still open, a note, a key out.
	dd.at("00:10")
	dd.must(204, "POST", "/api/v1/gateways/heartbeat", gatewayToken, `{"gateway":"gw-a-1","site":"site-a","interval":10000000000,
		"devices":[{"id":"door-1","family":"access","state":"online"}],
		"alarms":[{"key":"site-a/door_forced/door-1","rule":"door_forced","device":"door-1","state":"firing","severity":"critical","since":"2026-11-24T16:10:00Z"}]}`)
	dd.must(201, "POST", "/api/v1/tickets", gatewayToken, `{"kind":"emergency","title":"3栋 火警 烟感","site":"site-a","building":"3","alarm_key":"site-a/fire_alarm/panel-1"}`)
	k1 := decodeInto[shift.Key](t, dd.must(201, "POST", "/api/v1/keys", adminToken, `{"site":"site-a","label":"K-01","name":"B3 配电室"}`))
	dd.must(201, "POST", "/api/v1/keys", adminToken, `{"site":"site-a","label":"K-02","name":"屋顶水箱间"}`)
	dd.must(201, "POST", fmt.Sprintf("/api/v1/keys/%d/lend?site=site-a", k1.ID), adminToken, `{"borrower":"王师傅"}`)
	dd.at("07:50")

	srv := httptest.NewServer(d.h)
	t.Cleanup(srv.Close) // after the tabs close (clean-ups run last first): their event streams end
	b := dutyBrowser(t)

	night := dutyTab(t, b)
	dutyLogin(t, night, srv.URL, "lina")
	run(t, night, "the duty page", chromedp.Navigate(srv.URL+"/#/duty"), chromedp.WaitVisible("#build-sheet", chromedp.ByID))
	if s := textOf(t, night, "#duty-shift"); !strings.Contains(s, "夜班") {
		t.Errorf("shift now: %q", s)
	}
	run(t, night, "type a note", chromedp.SendKeys("#entry-body", "管理处通知: 明早 9 点 B3 配电室停电检修", chromedp.ByID))
	clickFor(t, night, "add the note", "#entry-form button", `document.querySelector("#duty-entries")?.textContent.includes("停电检修")`)
	clickFor(t, night, "build the sheet", "#build-sheet", `document.querySelector("article.duty-sheet[data-state=built]") !== null`)
	sheet := textOf(t, night, "article.duty-sheet")
	for _, want := range []string{"未确认告警（1）", "door_forced", "3栋 火警 烟感", "停电检修", "在柜 1 / 共 2", "王师傅", "交班人：未签字"} {
		if !strings.Contains(sheet, want) {
			t.Errorf("the sheet shows no %q: %s", want, sheet)
		}
	}
	screenshot(t, night, "duty-sheet-zh")
	run(t, night, "a note with the signature", chromedp.SendKeys("article.duty-sheet .sheet-note", "火警已通知工程部", chromedp.ByQuery))
	clickFor(t, night, "sign", "article.duty-sheet button[id^=sign-]", `document.querySelector("article.duty-sheet[data-state=signed]") !== null`)
	if s := textOf(t, night, "article.duty-sheet"); !strings.Contains(s, "交班人：李娜，") || !strings.Contains(s, "火警已通知工程部") {
		t.Errorf("signed sheet: %s", s)
	}

	// 08:05: the day shift has begun, the night is still on duty.
	dd.at("08:05")
	day := dutyTab(t, b)
	dutyLogin(t, day, srv.URL, "dula")
	run(t, day, "the duty page at 08:05", chromedp.Navigate(srv.URL+"/#/duty"), chromedp.WaitVisible("#duty-holdover", chromedp.ByID))
	if s := textOf(t, day, `#on-duty td[data-dept="control_room"]`); s != "李娜、杜拉" {
		t.Errorf("control room on duty at 08:05: %q", s)
	}
	screenshot(t, day, "duty-holdover-zh")
	// The night's operator may not accept her own handover.
	run(t, night, "reload at 08:05", chromedp.Reload(), chromedp.WaitVisible("article.duty-sheet button[id^=accept-]", chromedp.ByQuery))
	clickFor(t, night, "accept as the signer", "article.duty-sheet button[id^=accept-]",
		`document.querySelector("article.duty-sheet .msg.error")?.textContent.includes("lina signed this handover")`)
	// 杜拉 counts one key in the box: as registered.
	run(t, day, "count the keys", chromedp.SetValue("article.duty-sheet input[type=number]", "1", chromedp.ByQuery))
	clickFor(t, day, "accept", "article.duty-sheet button[id^=accept-]", `document.querySelector("#duty-holdover") === null && document.querySelector("article.duty-sheet") === null`)
	if s := textOf(t, day, `#on-duty td[data-dept="control_room"]`); s != "杜拉" {
		t.Errorf("control room on duty after the handover: %q", s)
	}
	sh, err := d.srv.Duty().Store().SheetAt(context.Background(), "site-a", local("00:00"))
	if err != nil || sh.State != shift.StateAccepted || sh.SignedBy != "lina" || sh.AcceptedBy != "dula" ||
		!sh.SignedAt.Equal(local("07:50")) || !sh.AcceptedAt.Equal(local("08:05")) || *sh.KeysCounted != 1 || sh.SignNote != "火警已通知工程部" {
		t.Errorf("the night's sheet in the store: %+v %v", sh, err)
	}

	// The duty log of the day, searched, and its print view.
	run(t, day, "the log", chromedp.Navigate(srv.URL+"/#/duty/log?day=2026-11-25&q=配电室"), chromedp.WaitVisible("#log-entries", chromedp.ByID))
	if s := textOf(t, day, "#log-entries"); !strings.Contains(s, "停电检修") || strings.Contains(s, "交班签字") {
		t.Errorf("log searched for 配电室: %s", s)
	}
	run(t, day, "the printed sheet", chromedp.Navigate(fmt.Sprintf("%s/#/duty/%d/print", srv.URL, sh.ID)), chromedp.WaitVisible(".duty-print .signatures", chromedp.ByQuery))
	if s := textOf(t, day, ".duty-print"); !strings.Contains(s, "接班人：杜拉") || !strings.Contains(s, "交班人签字") {
		t.Errorf("print view: %s", s)
	}
	screenshot(t, day, "duty-print-zh")
	run(t, day, "the keys", chromedp.Navigate(srv.URL+"/#/keys"), chromedp.WaitVisible("#keys", chromedp.ByID))
	if s := textOf(t, day, `#keys tr[data-key="K-01"]`); !strings.Contains(s, "借出：王师傅") {
		t.Errorf("K-01: %s", s)
	}
	clickFor(t, day, "K-01 comes back", fmt.Sprintf("#return-%d", k1.ID), `document.querySelector("#keys-count")?.textContent === "在柜 2 / 共 2"`)
	screenshot(t, day, "keys-zh")

	// English, then a phone.
	run(t, day, "back to duty", chromedp.Navigate(srv.URL+"/#/duty"), chromedp.WaitVisible("#on-duty", chromedp.ByID))
	// The desk's own entries in the UI's language; people's notes as written.
	if s := textOf(t, day, "#duty-entries"); !strings.Contains(s, "钥匙归还: K-01 (B3 配电室)") || !strings.Contains(s, "接班确认: 夜班") || strings.Contains(s, "returned by") {
		t.Errorf("the shift's entries in Chinese: %s", s)
	}
	clickFor(t, day, "English", "#lang", `document.querySelector("#duty-shift")?.textContent.includes("Shift now")`)
	if s := textOf(t, day, "#duty-shift"); !strings.Contains(s, "Day shift") || strings.Contains(s, "早班") {
		t.Errorf("the shift in English: %s", s)
	}
	if s := textOf(t, day, "#duty-entries"); !strings.Contains(s, "key K-01 (B3 配电室) returned by 王师傅") || !strings.Contains(s, "handover of night shift") || strings.Contains(s, "钥匙归还") {
		t.Errorf("the shift's entries in English: %s", s)
	}
	screenshot(t, day, "duty-en")
	run(t, day, "a 390 px phone", chromedp.EmulateViewport(390, 844))
	var scroll struct{ Scroll, Client int }
	run(t, day, "layout on the phone", chromedp.Evaluate(`({scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth})`, &scroll))
	if scroll.Scroll > scroll.Client {
		t.Errorf("the duty page scrolls sideways on a phone: %d > %d", scroll.Scroll, scroll.Client)
	}
	screenshot(t, day, "duty-phone-en")
	clickFor(t, day, "Chinese", "#lang", `document.querySelector("#duty-shift")?.textContent.includes("当前班次")`)
	screenshot(t, day, "duty-phone-zh")
}

// dutyBrowser starts a headless Chromium on loopback only, with its own profile.
func dutyBrowser(t *testing.T) context.Context {
	t.Helper()
	exec := testenv.Chromium(t)
	profile, err := os.MkdirTemp("", "estate-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exec), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(profile), chromedp.WindowSize(1366, 768))
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	ctx, cancelTimeout := context.WithTimeout(ctx, 4*time.Minute)
	t.Cleanup(func() {
		cancelTimeout()
		cancelCtx()
		cancelAlloc()
		for range 20 {
			if os.RemoveAll(profile) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond) // Chromium may still be writing its profile
		}
	})
	if err := chromedp.Run(ctx); err != nil {
		t.Fatalf("start Chromium %s: %v", exec, err)
	}
	return ctx
}

func dutyTab(t *testing.T, b context.Context) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b)
	t.Cleanup(cancel)
	// The first Run opens the tab, for the life of ctx (not of a step's timeout).
	if err := chromedp.Run(ctx); err != nil {
		t.Fatal(err)
	}
	run(t, ctx, "a 1366×768 tab", chromedp.EmulateViewport(1366, 768))
	return ctx
}

func run(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Run(c, actions...); err != nil {
		var body string
		c2, cancel2 := context.WithTimeout(ctx, 5*time.Second)
		_ = chromedp.Run(c2, chromedp.Evaluate(`document.body ? document.body.innerText.slice(0, 600) : ""`, &body))
		cancel2()
		t.Fatalf("%s: %v; the page shows: %q", what, err, body)
	}
}

func dutyLogin(t *testing.T, ctx context.Context, base, name string) {
	t.Helper()
	run(t, ctx, "login as "+name, chromedp.Navigate(base+"/"), chromedp.WaitVisible("#name", chromedp.ByID),
		chromedp.SendKeys("#name", name, chromedp.ByID), chromedp.SendKeys("#password", "correct horse", chromedp.ByID),
		chromedp.Click(`#login button[type="submit"]`, chromedp.ByQuery), chromedp.WaitVisible("header nav", chromedp.ByQuery))
}

// textOf reads an element's text once its section is drawn (not aria-busy).
func textOf(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	var s string
	run(t, ctx, "read "+sel, chromedp.Poll(fmt.Sprintf(`(() => { const el = document.querySelector(%q);
		return el && !el.closest('[aria-busy="true"]') ? el.textContent : null; })()`, sel), &s, chromedp.WithPollingTimeout(20*time.Second)))
	return s
}

// clickFor clicks sel (looked up and clicked in one evaluation, as the page
// redraws) until done holds, with a deadline.
func clickFor(t *testing.T, ctx context.Context, what, sel, done string) {
	t.Helper()
	js := fmt.Sprintf(`(() => { if (%s) return true; const el = document.querySelector(%q);
		if (el && !el.closest('[aria-busy="true"]')) el.click(); return false; })()`, done, sel)
	deadline := time.Now().Add(30 * time.Second)
	for {
		var ok bool
		run(t, ctx, what, chromedp.Evaluate(js, &ok))
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s not true within 30 s", what, done)
		}
		// Give the click's request and redraw up to 2 s before clicking again.
		c, cancel := context.WithTimeout(ctx, 2*time.Second)
		_ = chromedp.Run(c, chromedp.Poll(done, nil))
		cancel()
	}
}

func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	var png []byte
	run(t, ctx, "screenshot "+name, chromedp.FullScreenshot(&png, 100))
	if err := os.MkdirAll(dutyArtefacts, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dutyArtefacts, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s", path)
}
