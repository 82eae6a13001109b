package longpoll

import (
	"net/http"
	"slices"
	"strconv"
)

// CORS lets pages on other origins poll with fetch or XMLHttpRequest.
type CORS struct {
	// AllowedOrigins lists the origins allowed, such as
	// "https://app.example.com"; "*" allows any origin.
	AllowedOrigins []string
	// AllowCredentials lets fetch send credentials: "include": cookies and
	// HTTP auth travel cross-origin. The allowed origin is then echoed
	// rather than "*", as browsers require.
	AllowCredentials bool
	// MaxAge caches preflight answers, in seconds; 0 sends none.
	MaxAge int
}

// handle sets the CORS headers for an allowed origin and answers a
// preflight request; it reports whether the request is done.
func (c *CORS) handle(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	h := w.Header()
	h.Add("Vary", "Origin")
	if origin == "" || !c.allowed(origin) {
		if r.Method == http.MethodOptions {
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
	if r.Method != http.MethodOptions || r.Header.Get("Access-Control-Request-Method") == "" {
		return false
	}
	h.Set("Access-Control-Allow-Methods", "GET, HEAD")
	h.Set("Access-Control-Allow-Headers", "Authorization, Cache-Control, Accept")
	if c.MaxAge > 0 {
		h.Set("Access-Control-Max-Age", strconv.Itoa(c.MaxAge))
	}
	w.WriteHeader(http.StatusNoContent)
	return true
}

func (c *CORS) allowed(origin string) bool {
	for _, o := range c.AllowedOrigins {
		if o == "*" || o == origin {
			return true
		}
	}
	return false
}
