package web

import (
	"fmt"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The console's alert colours meet WCAG 2.1 AA: text at least 4.5:1 against
// its background, the focus ring and the report's bars (non-text) at least
// 3:1. The colours are read from the stylesheet and the reports page as
// they are shipped, so that a changed colour is measured, not a copy of it.
func TestAlertColoursContrast(t *testing.T) {
	css := readSource(t, "../../web/src/style.css")
	vars := map[string]string{}
	for _, m := range regexp.MustCompile(`--([\w-]+):\s*(#[0-9a-fA-F]{3,6})`).FindAllStringSubmatch(css, -1) {
		vars[m[1]] = m[2]
	}
	rules := cssRules(css)
	colour := func(selector, prop string) string {
		t.Helper()
		v, ok := rules[selector][prop]
		if !ok {
			t.Fatalf("no %s in the rule %q of style.css", prop, selector)
		}
		if m := regexp.MustCompile(`var\(--([\w-]+)\)`).FindStringSubmatch(v); m != nil {
			v = vars[m[1]]
		}
		return v
	}
	fg, white := vars["fg"], "#ffffff"
	for _, c := range []struct {
		what, fg, bg string
		min          float64
	}{
		{"emergency badge", colour(".badge.emergency", "color"), colour(".badge.emergency", "background"), 4.5},
		{"critical severity badge", colour(".badge.sev.critical", "color"), colour(".badge.sev.critical", "background"), 4.5},
		{"warning severity badge", fg, colour(".badge.sev.warning", "background"), 4.5},
		{"alarm badge", colour(".badge.alarm", "color"), colour(".badge.alarm", "background"), 4.5},
		{"acknowledge button", white, colour("button.ack", "background"), 4.5},
		{"now strip's alert chip", colour(".now-chip.alert", "color"), colour(".now-chip.alert", "background"), 4.5},
		{"now strip's chip", colour(".now-chip", "color"), colour(".now-chip", "background"), 4.5},
		{"power cut badge (已断电)", colour(".badge.off", "color"), colour(".badge.off", "background"), 4.5},
		{"offline device", colour(".state.offline, .state.stale", "color"), colour(".state.offline, .state.stale", "background"), 4.5},
		{"stream down", colour(".conn.down", "color"), colour(".conn.down", "background"), 4.5},
		{"stream live", colour(".conn.live", "color"), colour(".conn.live", "background"), 4.5},
		{"acknowledged badge", colour(".badge.acked", "color"), colour(".badge.acked", "background"), 4.5},
		{"red figures on white", colour(".red", "color"), white, 4.5},
		{"red figures on the page", colour(".red", "color"), vars["bg"], 4.5},
		{"text in a flashing row", fg, colour("50%", "background"), 4.5},
		{"red figures in a flashing row", colour("tr.flashing .overdue, tr.flashing .red", "color"), colour("50%", "background"), 4.5},
		{"overdue countdown on white", colour(".deadline .overdue", "color"), white, 4.5},
		{"muted text", vars["muted"], white, 4.5},
		{"focus ring on white", colour(":focus-visible", "outline"), white, 3},
		{"focus ring on a flashing row", colour(":focus-visible", "outline"), colour("50%", "background"), 3},
	} {
		r := contrast(t, c.fg, c.bg)
		t.Logf("%-32s %s on %s: %.2f:1", c.what, c.fg, c.bg, r)
		if r < c.min {
			t.Errorf("%s: %s on %s is %.2f:1, below %.1f:1", c.what, c.fg, c.bg, r, c.min)
		}
	}
	// The deadline bars of the reports page (graphics: 3:1 against the card).
	reports := readSource(t, "../../web/src/pages/reports.ts")
	line := regexp.MustCompile(`colour: of === 0[^\n]*`).FindString(reports)
	bars := regexp.MustCompile(`#[0-9a-fA-F]{6}`).FindAllString(line, -1)
	if len(bars) < 4 {
		t.Fatalf("the deadline bar colours are not found in reports.ts: %q", line)
	}
	for _, b := range bars {
		if r := contrast(t, b, white); r < 3 {
			t.Errorf("deadline bar %s on white is %.2f:1, below 3:1", b, r)
		}
	}
	// A reference pair, so that the formula itself is checked: black on white is 21:1.
	if r := contrast(t, "#000", "#fff"); math.Abs(r-21) > 1e-9 {
		t.Errorf("black on white %.3f:1", r)
	}
}

func readSource(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// cssRules maps each rule's selector to its declarations (the first rule of
// a selector wins; later ones inside media queries are variants of it).
func cssRules(css string) map[string]map[string]string {
	css = regexp.MustCompile(`(?s)/\*.*?\*/`).ReplaceAllString(css, "")
	out := map[string]map[string]string{}
	for _, m := range regexp.MustCompile(`([^{}]+)\{([^{}]*)\}`).FindAllStringSubmatch(css, -1) {
		sel := strings.TrimSpace(m[1])
		if _, seen := out[sel]; seen {
			continue
		}
		decls := map[string]string{}
		for _, d := range strings.Split(m[2], ";") {
			k, v, ok := strings.Cut(d, ":")
			if !ok {
				continue
			}
			v = strings.TrimSpace(v)
			// outline: 3px solid #0969da → the colour.
			if c := regexp.MustCompile(`#[0-9a-fA-F]{3,6}\b|var\(--[\w-]+\)`).FindString(v); c != "" {
				v = c
			}
			decls[strings.TrimSpace(k)] = v
		}
		out[sel] = decls
	}
	return out
}

// contrast is WCAG 2.1's contrast ratio of two sRGB colours.
func contrast(t *testing.T, a, b string) float64 {
	t.Helper()
	la, lb := luminance(t, a), luminance(t, b)
	return (math.Max(la, lb) + 0.05) / (math.Min(la, lb) + 0.05)
}

func luminance(t *testing.T, hex string) float64 {
	t.Helper()
	h := strings.TrimPrefix(hex, "#")
	if len(h) == 3 {
		h = string([]byte{h[0], h[0], h[1], h[1], h[2], h[2]})
	}
	if len(h) != 6 {
		t.Fatalf("colour %q", hex)
	}
	var ch [3]float64
	for i := range 3 {
		v, err := strconv.ParseUint(h[2*i:2*i+2], 16, 8)
		if err != nil {
			t.Fatal(fmt.Errorf("colour %q: %w", hex, err))
		}
		c := float64(v) / 255
		if c <= 0.04045 {
			ch[i] = c / 12.92
		} else {
			ch[i] = math.Pow((c+0.055)/1.055, 2.4)
		}
	}
	return 0.2126*ch[0] + 0.7152*ch[1] + 0.0722*ch[2]
}
