package httpx

import "net/http"

// CanFlush reports whether http.NewResponseController(w).Flush can flush
// w: w, or a ResponseWriter it unwraps to, has FlushError or Flush. A
// streaming handler checks it before committing to a stream, so a
// middleware that wraps the ResponseWriter without Flush or Unwrap gets a
// clear error rather than a 200 that ends at once (and an EventSource that
// reconnects forever).
func CanFlush(w http.ResponseWriter) bool {
	for {
		switch t := w.(type) {
		case interface{ FlushError() error }, http.Flusher:
			return true
		case interface{ Unwrap() http.ResponseWriter }:
			w = t.Unwrap()
		default:
			return false
		}
	}
}

// CanHijack reports whether w, or a ResponseWriter it unwraps to, can be
// hijacked (http.Hijacker), as a WebSocket upgrade needs.
func CanHijack(w http.ResponseWriter) bool {
	for {
		switch t := w.(type) {
		case http.Hijacker:
			return true
		case interface{ Unwrap() http.ResponseWriter }:
			w = t.Unwrap()
		default:
			return false
		}
	}
}
