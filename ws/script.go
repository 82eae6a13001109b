package ws

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"net/http"
	"time"
)

// The JavaScript client and its TypeScript declarations, served by
// ClientScript and ClientTypes.
//
//go:embed js/switchboard.mjs js/switchboard.d.mts
var clientFiles embed.FS

// ClientScript returns an http.Handler that serves switchboard.mjs, the
// JavaScript client of the switchboard.v1 protocol: one ES module without
// dependencies for browsers and Node, which reconnects with backoff and
// jitter, resubscribes from the last cursor, reports gaps, publishes with
// acks and idempotency keys, and sends and answers requests. Mount it next
// to the [Handler], e.g. at /switchboard.mjs, and load it from a page with
//
//	import { connect } from "/switchboard.mjs";
//	const sb = connect("/ws");
//	for await (const ev of sb.subscribe("chat/#")) { … }
//
// The module's doc comments and [ClientTypes] (switchboard.d.mts) describe
// its API. The handler answers GET and HEAD with Content-Type
// text/javascript, a strong ETag (the content's hash; If-None-Match gets
// 304), Cache-Control no-cache (browsers revalidate, so a new server's
// client is picked up at once) and Access-Control-Allow-Origin * (a page
// of another origin may import it); other methods get 405.
func ClientScript() http.Handler {
	return newStaticFile("js/switchboard.mjs", "text/javascript; charset=utf-8")
}

// ClientTypes returns an http.Handler that serves switchboard.d.mts, the
// TypeScript declarations of the module [ClientScript] serves, with the
// same caching headers. Mount it beside the module (e.g. at
// /switchboard.d.mts); saved next to switchboard.mjs, it is the file
// TypeScript looks for when code imports "./switchboard.mjs".
func ClientTypes() http.Handler {
	return newStaticFile("js/switchboard.d.mts", "application/typescript; charset=utf-8")
}

// staticFile serves one embedded file.
type staticFile struct {
	name, contentType, etag string
	body                    []byte
}

func newStaticFile(name, contentType string) *staticFile {
	b, err := clientFiles.ReadFile(name)
	if err != nil {
		panic("ws: embedded " + name + " missing: " + err.Error()) // a build defect, caught by any test
	}
	sum := sha256.Sum256(b)
	return &staticFile{name: name, contentType: contentType, body: b,
		etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:18]) + `"`}
}

func (f *staticFile) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	h.Set("Content-Type", f.contentType)
	h.Set("ETag", f.etag)
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	// Module scripts load in CORS mode: a page of another origin (allowed
	// by Options.OriginPatterns) may import the client too. It is public.
	h.Set("Access-Control-Allow-Origin", "*")
	// ServeContent answers If-None-Match (304), Range and HEAD.
	http.ServeContent(w, r, f.name, time.Time{}, bytes.NewReader(f.body))
}
