package grpcx

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// CORS lets browser pages on other origins call the service with gRPC-Web
// or the Connect protocol.
type CORS struct {
	// AllowedOrigins lists the origins allowed, such as
	// "https://app.example.com"; "*" allows any origin.
	AllowedOrigins []string
	// AllowCredentials lets cookies and HTTP auth travel cross-origin
	// (fetch's credentials: "include"). The origin is then echoed rather
	// than "*", as browsers require.
	AllowCredentials bool
	// MaxAge caches preflight answers, in seconds; 0 sends none.
	MaxAge int
}

// Headers browsers may send and read cross-origin: those of gRPC-Web and
// Connect (as connectrpc.com/cors lists them), plus Authorization, and the
// resume cursor of a stream the server ended.
var (
	corsAllowHeaders  = "Content-Type, Connect-Protocol-Version, Connect-Timeout-Ms, Connect-Accept-Encoding, Connect-Content-Encoding, Grpc-Timeout, Grpc-Accept-Encoding, X-Grpc-Web, X-User-Agent, Authorization"
	corsExposeHeaders = "Grpc-Status, Grpc-Message, Grpc-Status-Details-Bin, Content-Encoding, Connect-Content-Encoding, " + http.CanonicalHeaderKey(ResumeCursorKey)
)

// handle sets the CORS headers for an allowed origin and answers a
// preflight request; it reports whether the request is done.
func (c *CORS) handle(w http.ResponseWriter, r *http.Request) bool {
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
		h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
		return false
	}
	h.Set("Access-Control-Allow-Methods", "GET, POST")
	h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
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
