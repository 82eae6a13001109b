// Package cors applies a transport.CORS configuration to a request. It
// lives here, not in transport, so the transports and transport's own REST
// handler share one implementation without exporting it.
package cors

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// Policy has the fields of transport.CORS, in the same order, so a
// *transport.CORS converts to a *Policy: (*cors.Policy)(opts.CORS).
type Policy struct {
	AllowedOrigins   []string
	AllowCredentials bool
	AllowHeaders     []string
	ExposeHeaders    []string
	MaxAge           int
}

var defaultHeaders = []string{"Authorization", "Content-Type", "Cache-Control", "Accept", "Last-Event-ID", "Idempotency-Key"}

// Handle sets the CORS headers for an allowed origin and answers a
// preflight request (204, or 403 for an origin not allowed). It reports
// whether the request is done; if not, the handler serves it as usual.
// methods lists what a preflight allows, such as "GET, HEAD".
func Handle(c *Policy, w http.ResponseWriter, r *http.Request, methods string) bool {
	if c == nil {
		return false
	}
	origin := r.Header.Get("Origin")
	h := w.Header()
	h.Add("Vary", "Origin")
	preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
	if origin == "" || !c.allowed(origin) {
		if preflight {
			w.WriteHeader(http.StatusForbidden)
			return true
		}
		return false
	}
	if c.AllowCredentials || !slices.Contains(c.AllowedOrigins, "*") {
		h.Set("Access-Control-Allow-Origin", origin)
	} else {
		h.Set("Access-Control-Allow-Origin", "*")
	}
	if c.AllowCredentials {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
	if !preflight {
		if len(c.ExposeHeaders) > 0 {
			h.Set("Access-Control-Expose-Headers", strings.Join(c.ExposeHeaders, ", "))
		}
		return false
	}
	h.Set("Access-Control-Allow-Methods", methods)
	headers := c.AllowHeaders
	if headers == nil {
		headers = defaultHeaders
	}
	h.Set("Access-Control-Allow-Headers", strings.Join(headers, ", "))
	if c.MaxAge > 0 {
		h.Set("Access-Control-Max-Age", strconv.Itoa(c.MaxAge))
	}
	w.WriteHeader(http.StatusNoContent)
	return true
}

func (c *Policy) allowed(origin string) bool {
	for _, o := range c.AllowedOrigins {
		if o == "*" || strings.EqualFold(o, origin) {
			return true
		}
	}
	return false
}
