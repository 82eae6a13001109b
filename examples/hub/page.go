package main

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
)

// indexHTML is the hub's browser page: one file (inline CSS and JavaScript,
// no build step, no CDN) with live panes for SSE, WebSocket and long
// polling; its WebSocket pane imports the hub's /switchboard.mjs.
//
//go:embed page/index.html
var indexHTML []byte

func init() {
	register("page", func(h *hub) error {
		csp, err := pageCSP(indexHTML)
		if err != nil {
			return err
		}
		h.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
			hd := w.Header()
			hd.Set("Content-Type", "text/html; charset=utf-8")
			hd.Set("Content-Length", strconv.Itoa(len(indexHTML)))
			hd.Set("Cache-Control", "no-cache")
			hd.Set("X-Content-Type-Options", "nosniff")
			hd.Set("Referrer-Policy", "no-referrer")
			hd.Set("Content-Security-Policy", csp)
			if r.Method == http.MethodHead {
				return
			}
			_, _ = w.Write(indexHTML)
		})
		return nil
	})
}

// pageCSP builds a Content-Security-Policy that allows the page's own inline
// <style> and <script> (by hash), scripts of this origin (the module
// /switchboard.mjs) and connections to this origin only.
func pageCSP(page []byte) (string, error) {
	style, err := inlineBlock(page, "style")
	if err != nil {
		return "", err
	}
	script, err := inlineBlock(page, "script")
	if err != nil {
		return "", err
	}
	return "default-src 'none'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; " +
		"style-src " + hashSource(style) + "; script-src 'self' " + hashSource(script), nil
}

// inlineBlock returns the text between <tag …> and </tag>.
func inlineBlock(page []byte, tag string) ([]byte, error) {
	i := bytes.Index(page, []byte("<"+tag+">"))
	if i < 0 {
		i = bytes.Index(page, []byte("<"+tag+" "))
	}
	if i >= 0 {
		if k := bytes.IndexByte(page[i:], '>'); k >= 0 {
			i += k + 1
			if j := bytes.Index(page[i:], []byte("</"+tag+">")); j >= 0 {
				return page[i : i+j], nil
			}
		}
	}
	return nil, fmt.Errorf("page has no inline <%s> block", tag)
}

func hashSource(b []byte) string {
	sum := sha256.Sum256(b)
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}
