package transport

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// CORS lets pages on other origins use a handler: EventSource (with
// withCredentials), fetch and XMLHttpRequest. A nil *CORS sends no CORS
// headers, so browsers keep the same-origin rule.
type CORS struct {
	// AllowedOrigins lists the origins allowed, such as
	// "https://app.example.com"; "*" allows any origin.
	AllowedOrigins []string
	// AllowCredentials lets cookies and HTTP auth travel cross-origin
	// (EventSource withCredentials, fetch credentials: "include"). The
	// allowed origin is then echoed rather than "*", as browsers require.
	AllowCredentials bool
	// AllowHeaders lists the request headers a preflight allows; nil means
	// Authorization, Content-Type, Cache-Control, Accept and Last-Event-ID.
	AllowHeaders []string
	// ExposeHeaders lists the response headers pages may read (such as
	// grpc-status); nil exposes none beyond the CORS-safelisted ones.
	ExposeHeaders []string
	// MaxAge caches preflight answers, in seconds; 0 sends none.
	MaxAge int
}

var defaultCORSHeaders = []string{"Authorization", "Content-Type", "Cache-Control", "Accept", "Last-Event-ID"}

// Handle sets the CORS headers for an allowed origin and answers a
// preflight request (204, or 403 for an origin not allowed). It reports
// whether the request is done; if not, the handler serves it as usual.
// methods lists what a preflight allows, such as "GET, HEAD".
func (c *CORS) Handle(w http.ResponseWriter, r *http.Request, methods string) bool {
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
		headers = defaultCORSHeaders
	}
	h.Set("Access-Control-Allow-Headers", strings.Join(headers, ", "))
	if c.MaxAge > 0 {
		h.Set("Access-Control-Max-Age", strconv.Itoa(c.MaxAge))
	}
	w.WriteHeader(http.StatusNoContent)
	return true
}

func (c *CORS) allowed(origin string) bool {
	for _, o := range c.AllowedOrigins {
		if o == "*" || strings.EqualFold(o, origin) {
			return true
		}
	}
	return false
}
