package app

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/estatehq/estate/desk"
	"github.com/estatehq/estate/internal/testenv"
	"github.com/estatehq/estate/internal/web"
)

// A checkpoint confirmed by the phone's camera, as the engineer does it: the
// checkpoint's printed QR label (the console's own label page, captured as
// an image) is what the camera sees — Chromium's fake capture device plays
// it as video — and the round page's scanner reads it (jsQR on the frames;
// headless Chromium on Linux has no BarcodeDetector) and confirms the
// checkpoint with method qr.
func TestConsoleCheckpointByCamera(t *testing.T) {
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

	// The label as it prints.
	b := browser(t)
	e := tab(t, b)
	login(t, e, base, "engineer")
	var label []byte
	wait(t, e, 20*time.Second, "the DR-1 label",
		chromedp.Navigate(base+"/#/rounds/labels"),
		chromedp.WaitVisible(`.qr-label[data-code="DR-1"] svg`, chromedp.ByQuery),
		chromedp.Screenshot(`.qr-label[data-code="DR-1"] svg`, &label, chromedp.ByQuery))
	video := filepath.Join(t.TempDir(), "label.y4m")
	if err := writeY4M(video, label, 640, 480, 10); err != nil {
		t.Fatal(err)
	}

	// The engineer's phone, whose camera looks at the label.
	cam := browser(t,
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("use-file-for-fake-video-capture", video))
	p := tab(t, cam)
	front(t, p)
	wait(t, p, 10*time.Second, "a phone's screen", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	login(t, p, base, "engineer")
	clickUntil(t, p, 20*time.Second, "open 巡检", `header nav a[data-route="rounds"]`, "#round-list")
	card := `#round-list [data-route="distribution-daily"]`
	clickUntil(t, p, 20*time.Second, "open the round", card+" a.open-round", `section[data-code="DR-1"] button.scan`)
	var hash string
	wait(t, p, 5*time.Second, "the round's address", chromedp.Evaluate(`location.hash`, &hash))
	clickUntil(t, p, 30*time.Second, "scan DR-1", `section[data-code="DR-1"] button.scan`, `section.checkpoint[data-code="DR-1"].visited .cp-items`)
	screenshot(t, p, "rounds-camera-390-zh")

	var id int64
	if _, err := fmt.Sscanf(hash, "#/rounds/%d", &id); err != nil {
		t.Fatalf("round address %q: %v", hash, err)
	}
	var r desk.RoundDetail
	getJSON(t, base, fmt.Sprintf("/api/v1/rounds/%d", id), &r)
	found := false
	for _, cp := range r.Checkpoints {
		if cp.Code == "DR-1" {
			found = true
			if cp.Visited == nil || cp.Visited.Method != "qr" || cp.Visited.By != "engineer" {
				t.Errorf("DR-1's visit: %+v", cp.Visited)
			}
		}
	}
	if !found {
		t.Errorf("round %d has no DR-1: %+v", id, r.Checkpoints)
	}
}

// writeY4M writes a still image as a few frames of YUV4MPEG2 video (4:2:0),
// the format of Chromium's fake capture file: the image centred on white
// at w×h, scaled by whole steps to fill about half the frame's height, as a
// label held before a camera.
func writeY4M(path string, pngData []byte, w, h, frames int) error {
	src, err := png.Decode(bytes.NewReader(pngData))
	if err != nil {
		return fmt.Errorf("label image: %w", err)
	}
	frame := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(frame, frame.Bounds(), &image.Uniform{color.White}, image.Point{}, draw.Src)
	sb := src.Bounds()
	scale := max(1, (h/2)/max(1, sb.Dy()))
	ox, oy := (w-sb.Dx()*scale)/2, (h-sb.Dy()*scale)/2
	for y := 0; y < sb.Dy()*scale; y++ {
		for x := 0; x < sb.Dx()*scale; x++ {
			if ox+x >= 0 && ox+x < w && oy+y >= 0 && oy+y < h {
				frame.Set(ox+x, oy+y, src.At(sb.Min.X+x/scale, sb.Min.Y+y/scale))
			}
		}
	}
	yp := make([]byte, w*h)
	up := make([]byte, (w/2)*(h/2))
	vp := make([]byte, (w/2)*(h/2))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := frame.RGBAAt(x, y)
			yy, cb, cr := color.RGBToYCbCr(c.R, c.G, c.B)
			yp[y*w+x] = yy
			if x%2 == 0 && y%2 == 0 {
				up[(y/2)*(w/2)+x/2], vp[(y/2)*(w/2)+x/2] = cb, cr
			}
		}
	}
	var out bytes.Buffer
	fmt.Fprintf(&out, "YUV4MPEG2 W%d H%d F10:1 Ip A1:1 C420jpeg\n", w, h)
	for range frames {
		out.WriteString("FRAME\n")
		out.Write(yp)
		out.Write(up)
		out.Write(vp)
	}
	return os.WriteFile(path, out.Bytes(), 0o600)
}
