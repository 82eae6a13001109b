package ws

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/switchboard-go/switchboard/internal/coalesce"
	"github.com/switchboard-go/switchboard/internal/httpx"
	"github.com/switchboard-go/switchboard/internal/lifecycle"
	"github.com/switchboard-go/switchboard/internal/wire"

	"github.com/coder/websocket"

	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
)

// Close reasons (at most 123 bytes).
const (
	shutdownReason               = "server shutting down"
	cutReason                    = "server closed" // logged only: a cut sends no close frame
	slowConsumerReason           = "slow consumer"
	writeTimeoutReason           = "write timeout"
	protocolErrorsReason         = "too many malformed frames"
	unsupportedSubprotocolReason = "unsupported subprotocol, want " + Subprotocol
)

// Handler serves the switchboard.v1 WebSocket protocol over a broker.
// Create it with NewHandler and mount it on a mux (the hub uses /ws). It is
// safe for concurrent use.
//
// http.Server.Shutdown does not wait for WebSocket connections (they are
// hijacked): stop the handler with its own Shutdown or Close, for example
// with transport.Shutdown(ctx, server, handler), which shuts the handlers
// down before the server.
type Handler struct {
	broker    pubsub.Broker
	requester pubsub.Broker // broker, reporting the request's publish to the Observer
	opts      Options
	life      *lifecycle.Tracker // the connections, with MaxConnections
	accept    websocket.AcceptOptions
	cache     wire.EncodeCache
	guide     wire.EncodeCache         // message frames of guide-form subscriptions
	held      coalesce.Queue[*session] // sessions waiting for Options.Coalesce
}

var (
	_ http.Handler         = (*Handler)(nil)
	_ transport.Shutdowner = (*Handler)(nil)
	_ lifecycle.Session    = (*session)(nil)
)

// NewHandler returns a Handler serving broker. opts may be nil; it is copied.
func NewHandler(broker pubsub.Broker, opts *Options) *Handler {
	o := opts.withDefaults()
	h := &Handler{
		broker: broker,
		opts:   o,
		life:   lifecycle.New(o.Limits.MaxConnections),
		accept: websocket.AcceptOptions{
			Subprotocols:   []string{Subprotocol},
			OriginPatterns: o.OriginPatterns,
		},
	}
	h.held.Release = func(s *session) { go s.burst() }
	h.life.Observe(o.Observer, "ws")
	h.requester = transport.ObserveBroker(broker, o.Observer, "ws")
	return h
}

// ServeHTTP upgrades the request to a WebSocket speaking switchboard.v1.
// Once the connection is upgraded ServeHTTP returns, and the connection is
// served in the background until either side closes it; Shutdown and Close
// wait for it. (Wrappers that need to know when a connection ends cannot
// rely on ServeHTTP returning.)
//
// Refusals: a refused origin gets HTTP 403; over MaxConnections, or once
// Shutdown or Close has started, HTTP 503 with Retry-After; a failed
// authentication is upgraded and then closed with CloseUnauthorized or
// CloseForbidden (browsers cannot read an HTTP status of a failed WebSocket
// handshake); a client that offers only other subprotocols is closed with
// 1002.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := h.life.Enter(); err != nil {
		transport.WriteError(w, err) // 503 with Retry-After
		return
	}
	s := h.upgrade(w, r)
	if s == nil {
		h.life.Leave(nil)
		return
	}
	// Told at once when Shutdown or Close has started meanwhile.
	h.life.Attach(s)
	h.opts.Logger.Debug("ws: connected", "remote", s.remote)

	// The connection is hijacked, so ServeHTTP may return: a fresh
	// goroutine with a small stack reads from now on, and net/http's
	// request, response and deep serving stack become garbage. It is still
	// two goroutines per connection, both awaited through h.life.
	go func() {
		s.run()
		if s.authDone != nil {
			s.authDone()
		}
		h.life.Leave(s)
		h.opts.Logger.Debug("ws: disconnected", "remote", s.remote, "code", int(s.closeCode), "reason", s.closeReason)
	}()
}

// upgrade accepts the WebSocket, authenticates it and returns its session;
// nil when the client was refused (and answered).
func (h *Handler) upgrade(w http.ResponseWriter, r *http.Request) *session {
	// Authenticate gets a context with the request's values that ends
	// with the connection (the request's own ends when ServeHTTP returns,
	// right after the upgrade), so a hook may hold something, such as a
	// connection count, for as long as the connection lasts.
	areq, authDone := r, context.CancelFunc(nil)
	if a := h.opts.Auth; a != nil && a.Authenticate != nil {
		var actx context.Context
		actx, authDone = context.WithCancel(context.WithoutCancel(r.Context()))
		areq = r.WithContext(actx)
	}
	s := h.acceptAs(w, r, areq)
	if s == nil && authDone != nil {
		authDone()
	} else if s != nil {
		s.authDone = authDone
	}
	return s
}

// acceptAs is upgrade, with areq the request Authenticate sees.
func (h *Handler) acceptAs(w http.ResponseWriter, r, areq *http.Request) *session {
	_, id, authErr := h.opts.Auth.AuthenticateRequest(areq, "ws")
	hw := &hijackWriter{ResponseWriter: w}
	opts := h.accept
	opts.OnPongReceived = func(_ context.Context, p []byte) { hw.conn.sess.onPong(p) }
	var c *websocket.Conn
	var err error
	if httpx.CanHijack(w) {
		c, err = websocket.Accept(hw, r, &opts)
	} else {
		c, err = websocket.Accept(w, r, &opts) // answers 501
	}
	// The pong hook keeps hw: it must not keep net/http's response (and
	// with it the connection's 8 KiB of buffers and the request).
	hw.ResponseWriter = nil
	if err != nil {
		if !httpx.CanHijack(w) {
			// A 501 the browser cannot read: say why where an operator looks.
			h.opts.Logger.Warn(fmt.Sprintf("ws: the ResponseWriter (%T) cannot hijack: a middleware wraps it without Hijack or Unwrap", w))
		}
		h.opts.Logger.Debug("ws: upgrade refused", "remote", r.RemoteAddr, "err", err)
		return nil
	}
	if authErr != nil {
		code := CloseUnauthorized
		switch {
		case errors.Is(authErr, transport.ErrForbidden):
			code = CloseForbidden
		case transport.Code(authErr) == transport.CodeRateLimited:
			code = CloseRateLimited
		}
		h.opts.Logger.Debug("ws: authentication failed", "remote", r.RemoteAddr, "err", authErr)
		_ = c.Close(code, transport.Code(authErr))
		return nil
	}
	if c.Subprotocol() == "" && r.Header.Get("Sec-WebSocket-Protocol") != "" {
		_ = c.Close(websocket.StatusProtocolError, unsupportedSubprotocolReason)
		return nil
	}
	c.SetReadLimit(readLimit(h.opts.ReadLimit))
	// The request context is unreliable after a hijack: the session gets
	// its own, carrying only the identity, so nothing of the request stays
	// reachable.
	s := newSession(h, c, hw.conn, transport.WithIdentity(context.Background(), id), id, r.RemoteAddr)
	hw.conn.sess = s
	return s
}

// Active returns the number of open connections, counting those being
// upgraded.
func (h *Handler) Active() int { return h.life.Active() }

// Shutdown stops the handler gracefully. New connections get HTTP 503 with
// Retry-After; every open connection writes what its writer already holds
// and is closed with 1001 (going away), after which its client reconnects
// elsewhere and resumes from its last cursor. Shutdown waits until every
// connection has ended. When ctx ends first, it cuts the remaining
// connections without a close handshake, waits for them, and returns ctx's
// error; a connection already in its close handshake (a client that does not
// answer the 1001) ends within the handshake's own bound of 5 s. It is
// idempotent and safe to call concurrently with Close and ServeHTTP.
func (h *Handler) Shutdown(ctx context.Context) error { return h.life.Shutdown(ctx) }

// Close stops the handler abruptly: new connections get HTTP 503, every
// open connection is cut now without a close handshake (its clients see
// 1006), and Close waits for the handler's goroutines. It is idempotent,
// safe to call concurrently with Shutdown and ServeHTTP, and returns nil.
func (h *Handler) Close() error { return h.life.Close() }
