// Package httpx holds the HTTP answers that the transport package's REST
// handler and the HTTP transports (sse, longpoll) give alike. It imports
// only the standard library, so that transport can use it: the stream
// preamble, which needs transport, lives in internal/httpstream.
package httpx

import (
	"encoding/json"
	"net/http"
)

// MethodNotAllowed answers 405 Method Not Allowed: an Allow header listing
// methods (plus OPTIONS when preflight is true, for a handler that answers
// CORS preflight requests) and the JSON error body every transport writes,
// {"error":{"code":"method_not_allowed","message":"method M not allowed: use …"}}
// (the code is transport.CodeMethodNotAllowed).
func MethodNotAllowed(w http.ResponseWriter, r *http.Request, methods string, preflight bool) {
	allow := methods
	if preflight {
		allow += ", OPTIONS"
	}
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	body.Error.Code = "method_not_allowed"
	body.Error.Message = "method " + r.Method + " not allowed: use " + methods
	b, _ := json.Marshal(body)
	h := w.Header()
	h.Set("Allow", allow)
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusMethodNotAllowed)
	_, _ = w.Write(append(b, '\n'))
}
