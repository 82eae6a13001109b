package ws

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/switchboard-go/switchboard/internal/lifecycle"
	"github.com/switchboard-go/switchboard/internal/wire"

	"github.com/coder/websocket"

	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
)

// Options configures NewHandler. A nil *Options and the zero
// value mean the defaults; for durations and counts 0 means the default and
// a negative value turns the feature (or the limit) off.
type Options struct {
	// Auth authenticates each connection at upgrade (transport name "ws")
	// and authorizes every subscribe, publish and request. The zero value
	// allows everything, as does nil.
	Auth *transport.Auth

	// Limits bound what a client can make the handler hold:
	// MaxMessageBytes caps a published payload (error frame too_large),
	// MaxSubscriptions the subscriptions of one connection (error frame
	// rate_limited), MaxConnections the open connections (HTTP 503 at
	// upgrade).
	Limits transport.Limits

	// OriginPatterns lists the browser origins allowed besides the
	// request's own host (same-origin is always allowed; requests without
	// an Origin header, i.e. non-browser clients, always pass). Patterns
	// use path.Match against the origin's host, or "scheme://host" when
	// the pattern contains "://". ["*"] allows every origin. A refused
	// origin gets HTTP 403 before the upgrade.
	OriginPatterns []string

	// ReadLimit caps one client frame in bytes; 0 means 64 KiB, negative
	// means no limit. A larger frame closes the connection with 1009.
	ReadLimit int64

	// PingInterval is the period of WebSocket pings that detect dead peers;
	// 0 means 25 s, negative turns pings off. A peer that does not answer
	// within WriteTimeout is disconnected.
	PingInterval time.Duration

	// WriteTimeout bounds one frame write (and the wait for a pong); 0
	// means 10 s, negative means none. A connection whose write times out
	// is dropped.
	WriteTimeout time.Duration

	// MaxProtocolErrors is how many malformed frames (each answered with an
	// error frame) a connection may send before it is closed with 1008;
	// 0 means 10, negative never closes.
	MaxProtocolErrors int

	// MaxPendingRequests caps the requests of one connection waiting for
	// their reply; 0 means 16, negative means no cap. Beyond it a request
	// gets an error frame rate_limited.
	MaxPendingRequests int

	// DefaultRequestTimeout applies to a request frame without timeout_ms;
	// 0 means 10 s. MaxRequestTimeout caps timeout_ms; 0 means 60 s.
	DefaultRequestTimeout, MaxRequestTimeout time.Duration

	// SubscriptionBuffer is the broker buffer of each subscription, in
	// messages (pubsub.SubscribeOptions.Buffer); 0 means the broker's
	// default. It is the connection's outgoing queue: when it overflows the
	// connection is closed with CloseSlowConsumer.
	SubscriptionBuffer int

	// Logger receives connection events (connected, refused, disconnected
	// with the close code and reason) at debug level; nil means silent.
	Logger *slog.Logger
}

// Defaults of Options.
const (
	DefaultReadLimit          = 64 << 10
	DefaultPingInterval       = 25 * time.Second
	DefaultWriteTimeout       = 10 * time.Second
	DefaultMaxProtocolErrors  = 10
	DefaultMaxPendingRequests = 16
	DefaultRequestTimeout     = 10 * time.Second
	DefaultMaxRequestTimeout  = 60 * time.Second
)

// Close reasons (at most 123 bytes).
const (
	shutdownReason               = "server shutting down"
	slowConsumerReason           = "slow consumer"
	protocolErrorsReason         = "too many malformed frames"
	unsupportedSubprotocolReason = "unsupported subprotocol, want " + Subprotocol
)

func (o *Options) withDefaults() Options {
	var c Options
	if o != nil {
		c = *o
		c.OriginPatterns = append([]string(nil), o.OriginPatterns...)
	}
	c.Limits = c.Limits.WithDefaults()
	c.ReadLimit = pick(c.ReadLimit, DefaultReadLimit)
	c.PingInterval = pick(c.PingInterval, DefaultPingInterval)
	c.WriteTimeout = pick(c.WriteTimeout, DefaultWriteTimeout)
	c.MaxProtocolErrors = pick(c.MaxProtocolErrors, DefaultMaxProtocolErrors)
	c.MaxPendingRequests = pick(c.MaxPendingRequests, DefaultMaxPendingRequests)
	if c.DefaultRequestTimeout <= 0 {
		c.DefaultRequestTimeout = DefaultRequestTimeout
	}
	if c.MaxRequestTimeout <= 0 {
		c.MaxRequestTimeout = DefaultMaxRequestTimeout
	}
	if c.SubscriptionBuffer < 0 {
		c.SubscriptionBuffer = 0
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// pick returns def for 0, 0 ("off") for negative values, v otherwise.
func pick[T int | int64 | time.Duration](v, def T) T {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}

// Handler serves the switchboard.v1 WebSocket protocol over a broker.
// Create it with NewHandler and mount it on a mux (the hub uses /ws). It is
// safe for concurrent use.
//
// http.Server.Shutdown does not wait for WebSocket connections (they are
// hijacked): call Handler.Shutdown first, or register it with
// http.Server.RegisterOnShutdown and call Handler.Close after.
type Handler struct {
	broker pubsub.Broker
	opts   Options
	gate   *lifecycle.Tracker
	accept websocket.AcceptOptions
	cache  wire.EncodeCache

	mu       sync.Mutex
	closing  bool
	sessions map[*session]struct{}
	wg       sync.WaitGroup // one per ServeHTTP call or session goroutine
}

var _ http.Handler = (*Handler)(nil)

// NewHandler returns a Handler serving broker. opts may be nil.
func NewHandler(broker pubsub.Broker, opts *Options) *Handler {
	o := opts.withDefaults()
	h := &Handler{
		broker:   broker,
		opts:     o,
		gate:     lifecycle.New(o.Limits.MaxConnections),
		sessions: make(map[*session]struct{}),
	}
	h.accept = websocket.AcceptOptions{
		Subprotocols:   []string{Subprotocol},
		OriginPatterns: o.OriginPatterns,
	}
	return h
}

// ServeHTTP upgrades the request to a WebSocket speaking switchboard.v1.
// Once the connection is upgraded ServeHTTP returns, and the connection is
// served in the background until either side closes it; Shutdown and Close
// wait for it. (Wrappers that need to know when a connection ends cannot
// rely on ServeHTTP returning.)
//
// Refusals: a refused origin gets HTTP 403; over MaxConnections, or while
// shutting down, HTTP 503; a failed authentication is upgraded and then
// closed with CloseUnauthorized or CloseForbidden (browsers cannot read an
// HTTP status of a failed WebSocket handshake); a client that offers only
// other subprotocols is closed with 1002.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	if h.closing {
		h.mu.Unlock()
		transport.WriteError(w, transport.ErrUnavailable)
		return
	}
	h.wg.Add(1)
	h.mu.Unlock()
	served := false // true once a session goroutine owns wg and the gate
	defer func() {
		if !served {
			h.wg.Done()
		}
	}()

	if err := h.gate.Enter(); err != nil {
		w.Header().Set("Retry-After", "1")
		transport.WriteError(w, err)
		return
	}
	defer func() {
		if !served {
			h.gate.Leave(nil)
		}
	}()

	_, id, authErr := h.opts.Auth.AuthenticateRequest(r, "ws")
	c, err := websocket.Accept(w, r, &h.accept)
	if err != nil {
		h.opts.Logger.Debug("ws: upgrade refused", "remote", r.RemoteAddr, "err", err)
		return
	}
	if authErr != nil {
		code := CloseUnauthorized
		if errors.Is(authErr, transport.ErrForbidden) {
			code = CloseForbidden
		}
		h.opts.Logger.Debug("ws: authentication failed", "remote", r.RemoteAddr, "err", authErr)
		_ = c.Close(code, transport.Code(authErr))
		return
	}
	if c.Subprotocol() == "" && r.Header.Get("Sec-WebSocket-Protocol") != "" {
		_ = c.Close(websocket.StatusProtocolError, unsupportedSubprotocolReason)
		return
	}
	if h.opts.ReadLimit > 0 {
		c.SetReadLimit(h.opts.ReadLimit)
	} else {
		c.SetReadLimit(-1)
	}

	// The request context is unreliable after a hijack: the session gets
	// its own, carrying only the identity, so nothing of the request stays
	// reachable.
	s := newSession(h, c, transport.WithIdentity(context.Background(), id), id, r.RemoteAddr)
	h.mu.Lock()
	if h.closing {
		h.mu.Unlock()
		_ = c.Close(websocket.StatusGoingAway, shutdownReason)
		return
	}
	h.sessions[s] = struct{}{}
	h.mu.Unlock()
	h.opts.Logger.Debug("ws: connected", "remote", s.remote)

	// The connection is hijacked, so ServeHTTP may return: a fresh
	// goroutine with a small stack reads from now on, and net/http's
	// request, response and deep serving stack become garbage. It is still
	// two goroutines per connection, both awaited through h.wg.
	served = true
	go func() {
		defer h.wg.Done()
		defer h.gate.Leave(nil)
		s.run()
		h.mu.Lock()
		delete(h.sessions, s)
		h.mu.Unlock()
		h.opts.Logger.Debug("ws: disconnected", "remote", s.remote, "code", int(s.closeCode), "reason", s.closeReason)
	}()
}

// Connections returns the number of open connections.
func (h *Handler) Connections() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.sessions)
}

// Shutdown stops accepting connections (new ones get HTTP 503), closes every
// open connection with 1001 (going away) after writing what its writer
// already holds, and waits until all of them have ended or ctx is done. The
// clients resume elsewhere by cursor. When ctx ends first, Shutdown drops
// the remaining connections without a handshake, waits for their
// goroutines, and returns ctx's error.
func (h *Handler) Shutdown(ctx context.Context) error {
	h.mu.Lock()
	h.closing = true
	for s := range h.sessions {
		s.end(websocket.StatusGoingAway, shutdownReason)
	}
	h.mu.Unlock()

	done := make(chan struct{})
	go func() { h.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	h.mu.Lock()
	for s := range h.sessions {
		_ = s.conn.CloseNow()
	}
	h.mu.Unlock()
	<-done
	return ctx.Err()
}

// Close drops every connection without a close handshake and waits for the
// handler's goroutines. It is idempotent; prefer Shutdown.
func (h *Handler) Close() error {
	h.mu.Lock()
	h.closing = true
	for s := range h.sessions {
		s.end(websocket.StatusGoingAway, shutdownReason)
		_ = s.conn.CloseNow()
	}
	h.mu.Unlock()
	h.wg.Wait()
	return nil
}
