// Package lifecycle is the session tracker behind every Switchboard
// handler's Shutdown, Close and Active: it admits sessions up to a limit,
// tells them to go away or cuts them, and waits for them to leave.
//
// A session is whatever a handler keeps open for a client: a hijacked
// WebSocket, an SSE stream, a held long poll, a gRPC stream, an MQTT
// connection. The handler calls Enter before it commits to a session
// (refusing the client when Enter fails), Attach once the session can be
// told to go away, and Leave when it has ended.
package lifecycle

import (
	"context"
	"fmt"
	"sync"

	"github.com/switchboard-go/switchboard/transport"
)

// A Session is told how to end by its Tracker.
type Session interface {
	// GoAway asks the client to come back later: the transport's go-away
	// signal (close 1001, MQTT DISCONNECT 0x8B, a resume cursor...). It
	// must not block; the session ends in its own time and calls Leave.
	GoAway()
	// Cut ends the session at once, without a handshake. It must not
	// block either.
	Cut()
}

// Tracker counts and ends the sessions of one handler. The zero value is
// not usable; create one with New. It is safe for concurrent use.
type Tracker struct {
	max  int
	obs  *transport.Observer // ConnOpened and ConnClosed; nil reports nothing
	name string              // the transport, for obs

	mu               sync.Mutex
	n                int
	sessions         map[Session]struct{}
	closing          chan struct{} // closed when Shutdown or Close starts
	cut              chan struct{} // closed when Close starts or Shutdown's ctx ends
	idle             chan struct{} // closed once closing and n == 0
	isClosing, isCut bool
}

// New returns a Tracker admitting at most max sessions at once; max <= 0
// admits any number.
func New(max int) *Tracker {
	return &Tracker{max: max, sessions: make(map[Session]struct{}),
		closing: make(chan struct{}), cut: make(chan struct{}), idle: make(chan struct{})}
}

// Observe makes t report every session it admits to o (ConnOpened on
// Enter, ConnClosed on Leave) under the transport name. Call it before the
// Tracker is used.
func (t *Tracker) Observe(o *transport.Observer, name string) {
	t.obs, t.name = o, name
}

// Enter admits one session or returns an error wrapping
// transport.ErrUnavailable (HTTP 503, WebSocket close 1013 or 1001): the
// handler is shutting down, or max sessions are open. Every nil return is
// paired with one Leave.
func (t *Tracker) Enter() error {
	t.mu.Lock()
	switch {
	case t.isClosing:
		t.mu.Unlock()
		return fmt.Errorf("%w: shutting down", transport.ErrUnavailable)
	case t.max > 0 && t.n >= t.max:
		t.mu.Unlock()
		return fmt.Errorf("%w: connection limit of %d reached", transport.ErrUnavailable, t.max)
	}
	t.n++
	t.mu.Unlock()
	t.obs.OnConnOpened(t.name)
	return nil
}

// Attach registers an entered session for GoAway and Cut. When the
// Tracker is already shutting down, s is told at once, so no session
// misses the signal.
func (t *Tracker) Attach(s Session) {
	t.mu.Lock()
	t.sessions[s] = struct{}{}
	closing, cut := t.isClosing, t.isCut
	t.mu.Unlock()
	if cut {
		s.Cut()
	} else if closing {
		s.GoAway()
	}
}

// Leave ends a session admitted by Enter; s is the attached session, or
// nil when none was attached.
func (t *Tracker) Leave(s Session) {
	t.obs.OnConnClosed(t.name) // before n drops: Shutdown returns after every report
	t.mu.Lock()
	defer t.mu.Unlock()
	if s != nil {
		delete(t.sessions, s)
	}
	t.n--
	if t.n == 0 && t.isClosing {
		close(t.idle)
	}
}

// Active returns the number of sessions admitted and not yet left.
func (t *Tracker) Active() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.n
}

// Closing is closed when Shutdown or Close starts. Sessions that wait in
// a select (a held poll, an SSE stream) watch it instead of attaching.
func (t *Tracker) Closing() <-chan struct{} { return t.closing }

// Cutting is closed when Close starts or Shutdown's context ends first.
func (t *Tracker) Cutting() <-chan struct{} { return t.cut }

// Shutdown refuses new sessions, closes Closing, tells every attached
// session to go away, and waits until all sessions have left. When ctx
// ends first it cuts the remaining ones, waits for them to leave, and
// returns ctx's error. It is idempotent and safe to call with Close.
func (t *Tracker) Shutdown(ctx context.Context) error {
	for _, s := range t.begin(false) {
		s.GoAway()
	}
	select {
	case <-t.idle:
		return nil
	case <-ctx.Done():
	}
	_ = t.Close()
	return ctx.Err()
}

// Close refuses new sessions, closes Closing and Cutting, cuts every
// attached session, and waits until all sessions have left. It is
// idempotent and always returns nil.
func (t *Tracker) Close() error {
	for _, s := range t.begin(true) {
		s.Cut()
	}
	<-t.idle
	return nil
}

// begin moves the Tracker to closing (and cut) and returns the sessions
// to signal; a second call with the same cut returns none.
func (t *Tracker) begin(cut bool) []Session {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.isCut || (t.isClosing && !cut) {
		return nil
	}
	if !t.isClosing {
		t.isClosing = true
		close(t.closing)
		if t.n == 0 {
			close(t.idle)
		}
	}
	if cut {
		t.isCut = true
		close(t.cut)
	}
	ss := make([]Session, 0, len(t.sessions))
	for s := range t.sessions {
		ss = append(ss, s)
	}
	return ss
}
