// Package web serves the console: the pages built from web/ by `make web`
// (esbuild bundles web/src into internal/web/dist) and embedded in the binary,
// so that a desk needs no other files and nothing is fetched from a CDN.
package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"sync"
)

//go:embed all:dist
var dist embed.FS

// asset is one file, kept whole and gzipped, with its ETag.
type asset struct {
	body, gz []byte
	etag     string
	mimeType string
}

var (
	loadOnce sync.Once
	assets   map[string]*asset
)

func load() {
	assets = map[string]*asset{}
	_ = fs.WalkDir(dist, "dist", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), ".") {
			return err
		}
		body, err := dist.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		var gz bytes.Buffer
		w, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
		_, _ = w.Write(body)
		_ = w.Close()
		mt := mime.TypeByExtension(path.Ext(p))
		if mt == "" {
			mt = "application/octet-stream"
		}
		assets[strings.TrimPrefix(p, "dist")] = &asset{body: body, gz: gz.Bytes(), etag: `"` + hex.EncodeToString(sum[:8]) + `"`, mimeType: mt}
		return nil
	})
}

// Built reports whether the console's assets are in the binary.
func Built() bool {
	loadOnce.Do(load)
	_, ok := assets["/index.html"]
	return ok
}

const notBuilt = `<!doctype html><meta charset="utf-8"><title>Estate</title>
<p>控制台资源未构建。请在项目目录运行 <code>make web</code> 后重新编译。</p>
<p>The console's assets are not built into this binary: run <code>make web</code> and build again.</p>`

// Handler serves the console; unknown paths get index.html (the console
// routes in the browser).
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		loadOnce.Do(load)
		a, ok := assets[r.URL.Path]
		if !ok {
			a, ok = assets["/index.html"]
		}
		if !ok {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(notBuilt))
			return
		}
		h := w.Header()
		h.Set("Content-Type", a.mimeType)
		h.Set("ETag", a.etag)
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Vary", "Accept-Encoding")
		if r.Header.Get("If-None-Match") == a.etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		body := a.body
		if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			h.Set("Content-Encoding", "gzip")
			body = a.gz
		}
		_, _ = w.Write(body)
	})
}
