package transport

// CORS lets pages on other origins use a handler: EventSource (with
// withCredentials), fetch and XMLHttpRequest. A nil *CORS sends no CORS
// headers, so browsers keep the same-origin rule.
//
// The handlers answer preflight requests themselves (204, or 403 for an
// origin not allowed) and add the headers to the responses of allowed
// origins; the methods a preflight allows are each handler's own.
type CORS struct {
	// AllowedOrigins lists the origins allowed, such as
	// "https://app.example.com"; "*" allows any origin.
	AllowedOrigins []string
	// AllowCredentials lets cookies and HTTP auth travel cross-origin
	// (EventSource withCredentials, fetch credentials: "include"). The
	// allowed origin is then echoed rather than "*", as browsers require.
	AllowCredentials bool
	// AllowHeaders lists the request headers a preflight allows; nil means
	// Authorization, Content-Type, Cache-Control, Accept, Last-Event-ID and
	// Idempotency-Key.
	AllowHeaders []string
	// ExposeHeaders lists the response headers pages may read (such as
	// grpc-status); nil exposes none beyond the CORS-safelisted ones.
	ExposeHeaders []string
	// MaxAge caches preflight answers, in seconds; 0 sends none.
	MaxAge int
}
