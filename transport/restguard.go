package transport

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync/atomic"
	"time"

	"github.com/switchboard-go/switchboard/internal/httpx"
)

// restGuard holds what the REST handler checks before it serves a request:
// the connection gate (Limits.MaxConnections requests at once) and the
// cross-origin protection of POST.
type restGuard struct {
	max    int
	active atomic.Int64
	// cop refuses cross-origin browser POSTs; nil when CORS allows every
	// origin ("*").
	cop *http.CrossOriginProtection
}

func newRESTGuard(max int, c *CORS) *restGuard {
	return &restGuard{max: max, cop: crossOriginProtection(c)}
}

// crossOriginProtection returns the protection for state-changing requests:
// an origin CORS allows is trusted, "*" turns the protection off.
func crossOriginProtection(c *CORS) *http.CrossOriginProtection {
	cop := http.NewCrossOriginProtection()
	if c == nil {
		return cop
	}
	if slices.Contains(c.AllowedOrigins, "*") {
		return nil
	}
	for _, o := range c.AllowedOrigins {
		_ = cop.AddTrustedOrigin(o) // one that is no scheme://host[:port] never matches an Origin
	}
	return cop
}

// enter admits one request or answers 503 with Retry-After; a true return
// is paired with leave.
func (g *restGuard) enter(w http.ResponseWriter) bool {
	if n := g.active.Add(1); g.max > 0 && n > int64(g.max) {
		g.active.Add(-1)
		WriteError(w, fmt.Errorf("%w: connection limit of %d reached", ErrUnavailable, g.max))
		return false
	}
	return true
}

func (g *restGuard) leave() { g.active.Add(-1) }

// checkOrigin answers 403 to a cross-origin browser request with an unsafe
// method (a form or fetch POST from another site) and reports whether the
// request may go on. Requests without Origin and Sec-Fetch-Site (curl,
// servers) pass.
func (g *restGuard) checkOrigin(w http.ResponseWriter, r *http.Request) bool {
	if g.cop == nil {
		return true
	}
	if err := g.cop.Check(r); err != nil {
		WriteError(w, fmt.Errorf("%w: %v; add the page's origin to CORS.AllowedOrigins", ErrForbidden, err))
		return false
	}
	return true
}

// readBody reads a request body under MaxMessageBytes and ReadTimeout,
// mapping the failures to ErrTooLarge (413), a timeout (408, connection
// closed) and ErrBadRequest.
func readBody(w http.ResponseWriter, r *http.Request, l Limits) ([]byte, error) {
	data, err := httpx.ReadBody(w, r, l.MaxMessageBytes, l.ReadTimeout)
	if err == nil {
		return data, nil
	}
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return nil, fmt.Errorf("%w: body over %d bytes", ErrTooLarge, mbe.Limit)
	case httpx.IsTimeout(err):
		return nil, &bodyTimeoutError{l.ReadTimeout}
	}
	return nil, fmt.Errorf("%w: reading body: %v", ErrBadRequest, err)
}

// bodyTimeoutError: the request body did not arrive within ReadTimeout.
// It matches context.DeadlineExceeded (code "timeout").
type bodyTimeoutError struct{ d time.Duration }

func (e *bodyTimeoutError) Error() string {
	return fmt.Sprintf("transport: request body not received within %s", e.d)
}

func (e *bodyTimeoutError) Is(target error) bool { return target == context.DeadlineExceeded }

// writeBodyError answers a readBody failure: 408 for a timeout (the
// connection is then closed), WriteError's status otherwise.
func writeBodyError(w http.ResponseWriter, err error) {
	var te *bodyTimeoutError
	if errors.As(err, &te) {
		WriteError(w, err, http.StatusRequestTimeout)
		return
	}
	WriteError(w, err)
}
