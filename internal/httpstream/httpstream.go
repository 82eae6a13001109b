// Package httpstream is what the HTTP streaming transports (sse and
// longpoll) run around a long-lived response, written once:
//
//   - the preamble every request goes through before the handler commits
//     to it, in this order: CORS (a preflight is answered here), the
//     method (405), parsing (400), the access check (transport.Auth.Admit
//     with ActionSubscribe on every filter: 401 or 403), and admission by
//     the handler's lifecycle.Tracker (503 with Retry-After over
//     Limits.MaxConnections, or the handler's own answer once it is
//     shutting down);
//   - the Session that Shutdown and Close reach afterwards: told to go
//     away, or cut.
//
// The 405 answer itself is internal/httpx's, shared with the transport
// package's REST handler (which cannot import this package: it imports
// transport).
package httpstream

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-go/switchboard/internal/cors"
	"github.com/switchboard-go/switchboard/internal/httpx"
	"github.com/switchboard-go/switchboard/internal/lifecycle"
	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
)

// Preamble admits the requests of one handler. Set its fields once, in
// the handler's constructor; it is then safe for concurrent use.
type Preamble struct {
	// Transport names the transport in transport.Credentials ("sse").
	Transport string
	// Methods lists the methods served, comma and space separated
	// ("GET, HEAD"); it is also what a CORS preflight allows.
	Methods string
	// Auth is the handler's access hooks; nil allows everyone.
	Auth *transport.Auth
	// CORS is the handler's cross-origin policy; nil sends no CORS
	// headers.
	CORS *transport.CORS
	// Tracker admits sessions (with the connection limit) and ends them.
	Tracker *lifecycle.Tracker
	// RetryAfter is the Retry-After header of a 503, in seconds.
	RetryAfter string
	// Closed answers a request that arrives once Shutdown or Close has
	// started; nil answers 503 with Retry-After.
	Closed func(w http.ResponseWriter)
	// Observer hears of subscriptions refused by Auth (SubEnded, Refused); the
	// Tracker reports sessions. nil reports nothing.
	Observer *transport.Observer
	// CutWrites makes Cut also fail a write in progress, so that a stream
	// blocked on a client that stopped reading ends at once.
	CutWrites bool
}

// Open runs the preamble for r, parsing it with parse, which returns the
// request and the filters to authorize. When Open answers r itself
// (preflight, refusal) it returns ok false. Otherwise the caller serves
// req within s, whose Context carries the identity, and calls s.End when
// done.
func Open[R any](p *Preamble, w http.ResponseWriter, r *http.Request, parse func(*http.Request) (R, []string, error)) (req R, s *Session, ok bool) {
	if cors.Handle((*cors.Policy)(p.CORS), w, r, p.Methods) {
		return req, nil, false
	}
	if !p.serves(r.Method) {
		httpx.MethodNotAllowed(w, r, p.Methods, p.CORS != nil)
		return req, nil, false
	}
	req, filters, err := parse(r)
	if err != nil {
		transport.WriteError(w, err)
		return req, nil, false
	}
	ctx, _, err := p.Auth.Admit(r, p.Transport, transport.ActionSubscribe, filters)
	if err != nil {
		p.Observer.OnSubRefused(p.Transport, err, filters...)
		transport.WriteError(w, err)
		return req, nil, false
	}
	if err := p.Tracker.Enter(); err != nil {
		select {
		case <-p.Tracker.Closing():
			if p.Closed != nil {
				p.Closed(w)
				return req, nil, false
			}
		default:
		}
		p.Unavailable(w, err)
		return req, nil, false
	}
	s = &Session{t: p.Tracker, away: make(chan struct{})}
	// The session's context ends with the request's, through a link that
	// Detach removes: a stream taken over from net/http outlives its
	// request.
	s.ctx, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	s.unlink = context.AfterFunc(ctx, s.cancel)
	if p.CutWrites {
		s.rc = http.NewResponseController(w)
	}
	p.Tracker.Attach(s)
	return req, s, true
}

// Unavailable answers 503 with Retry-After and err's JSON body.
func (p *Preamble) Unavailable(w http.ResponseWriter, err error) {
	w.Header().Set("Retry-After", p.RetryAfter)
	transport.WriteError(w, err)
}

// serves reports whether m is one of p.Methods.
func (p *Preamble) serves(m string) bool {
	for rest := p.Methods; rest != ""; {
		var one string
		one, rest, _ = strings.Cut(rest, ",")
		if strings.TrimSpace(one) == m {
			return true
		}
	}
	return false
}

// Query parses a subscribe request's query. Its topic parameters are the
// filters: at least one, at most max (max <= 0: any number), each a valid
// filter, returned deduplicated in request order. per names what max
// applies to in the error ("stream", "poll"). Errors wrap
// transport.ErrBadRequest or pubsub.ErrInvalidFilter (both 400).
func Query(rawQuery string, max int, per string) (url.Values, []string, error) {
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: query: %v", transport.ErrBadRequest, err)
	}
	topics := q["topic"]
	if len(topics) == 0 {
		return nil, nil, fmt.Errorf("%w: at least one topic parameter is required", transport.ErrBadRequest)
	}
	if max > 0 && len(topics) > max {
		return nil, nil, fmt.Errorf("%w: %d topic filters, at most %d per %s", transport.ErrBadRequest, len(topics), max, per)
	}
	filters := make([]string, 0, len(topics))
	seen := make(map[string]bool, len(topics))
	for _, t := range topics {
		if _, err := pubsub.ParseFilter(t); err != nil {
			return nil, nil, err
		}
		if !seen[t] {
			seen[t] = true
			filters = append(filters, t)
		}
	}
	return q, filters, nil
}

// Session is one admitted request (a stream, a held poll) as its
// handler's Tracker sees it. The request's goroutine uses Context,
// GoingAway, IsCut and End; the Tracker calls GoAway and Cut from any
// goroutine.
type Session struct {
	ctx    context.Context
	cancel context.CancelFunc
	unlink func() bool // stops the request's end from cancelling ctx
	t      *lifecycle.Tracker
	away   chan struct{}
	once   sync.Once
	cut    atomic.Bool

	mu   sync.Mutex
	rc   *http.ResponseController // with CutWrites, until End or Detach; guarded by mu
	conn net.Conn                 // after Detach, until End; guarded by mu
	wake func()                   // after Detach, until End; guarded by mu
}

// Context is the request's context with the client's identity. It is
// done when the client leaves or the session is cut.
func (s *Session) Context() context.Context { return s.ctx }

// GoingAway is closed when the session is told to go away (Shutdown) or
// is cut (Close); IsCut tells which.
func (s *Session) GoingAway() <-chan struct{} { return s.away }

// IsCut reports whether the session was cut: end it without the go-away
// signal.
func (s *Session) IsCut() bool { return s.cut.Load() }

// GoAway closes GoingAway (and calls the wake function of a detached
// session). It implements lifecycle.Session.
func (s *Session) GoAway() {
	s.once.Do(func() { close(s.away) })
	s.mu.Lock()
	wake := s.wake
	s.mu.Unlock()
	if wake != nil {
		wake()
	}
}

// Detach prepares the session to outlive its request, for a handler that
// takes the connection over (http.Hijacker) and returns: the request's end
// no longer cancels Context, Cut fails writes on conn, and GoAway and Cut
// call wake (on their caller's goroutine: it must not block) after
// GoingAway is closed, as the goroutine that waited on GoingAway is gone.
// Detach reports false when the request has already ended (the client
// left); Context is then done. When the session was told to go away
// before Detach, wake is called at once.
func (s *Session) Detach(conn net.Conn, wake func()) bool {
	if !s.unlink() {
		return false
	}
	s.mu.Lock()
	s.rc, s.conn, s.wake = nil, conn, wake
	s.mu.Unlock()
	if s.cut.Load() {
		_ = conn.SetWriteDeadline(time.Now())
	}
	select {
	case <-s.away:
		wake()
	default:
	}
	return true
}

// Cut marks the session cut, closes GoingAway, cancels Context and, with
// Preamble.CutWrites, fails a write in progress. It implements
// lifecycle.Session.
func (s *Session) Cut() {
	s.cut.Store(true)
	s.mu.Lock()
	if s.conn != nil {
		_ = s.conn.SetWriteDeadline(time.Now())
	}
	if s.rc != nil {
		// A deadline in the past fails the write blocked on a client that
		// stopped reading; http.ResponseController allows it from another
		// goroutine while the handler runs (End stops it after). It is set
		// before the handler is woken: woken first, it could return before
		// the deadline and let net/http send an empty 200.
		_ = s.rc.SetWriteDeadline(time.Now())
	}
	s.mu.Unlock()
	s.cancel() // before GoingAway closes: a watcher of either sees both
	s.GoAway()
}

// End leaves the Tracker. Call it once, before the handler returns (after
// Detach: when the stream ends).
func (s *Session) End() {
	s.unlink()
	s.mu.Lock()
	s.rc, s.conn, s.wake = nil, nil, nil
	s.mu.Unlock()
	s.cancel()
	s.t.Leave(s)
}
