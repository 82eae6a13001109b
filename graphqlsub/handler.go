package graphqlsub

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/coder/websocket"

	"github.com/switchboard-go/switchboard/internal/lifecycle"
	"github.com/switchboard-go/switchboard/transport"
)

// WebSocket subprotocols the Handler speaks.
const (
	// SubprotocolTransportWS is graphql-transport-ws, spoken by npm's
	// graphql-ws library.
	SubprotocolTransportWS = "graphql-transport-ws"
	// SubprotocolLegacyWS is graphql-ws, spoken by the deprecated
	// subscriptions-transport-ws library (Apollo's older clients).
	SubprotocolLegacyWS = "graphql-ws"
)

// Handler serves one GraphQL endpoint over HTTP, WebSocket and SSE; see the
// package documentation. Create it with NewHandler. It is safe for
// concurrent use.
type Handler struct {
	exec Executor
	opts Options
	gate *lifecycle.Tracker

	mu           sync.Mutex
	closing      bool
	sessions     map[session]struct{}
	reservations map[string]*reservation // single-connection SSE, by token
	wg           sync.WaitGroup          // streaming ServeHTTP calls
}

var _ http.Handler = (*Handler)(nil)

// session is a long-lived connection the Handler drains on Shutdown.
type session interface {
	// goAway ends the session gracefully (WebSocket close 1001, end of
	// an SSE stream). It may block for a close handshake.
	goAway()
	// kill ends the session at once.
	kill()
}

// NewHandler returns a Handler running operations on exec. opts may be nil.
func NewHandler(exec Executor, opts *Options) *Handler {
	o := opts.withDefaults()
	return &Handler{
		exec:         exec,
		opts:         o,
		gate:         lifecycle.New(o.Limits.MaxConnections),
		sessions:     make(map[session]struct{}),
		reservations: make(map[string]*reservation),
	}
}

// ServeHTTP dispatches on the request: a WebSocket upgrade goes to
// graphql-transport-ws or legacy graphql-ws by Sec-WebSocket-Protocol; PUT
// and requests carrying a stream token to GraphQL over SSE's single
// connection mode; an Accept of text/event-stream to GraphQL over SSE's
// distinct connections mode; any other GET or POST to GraphQL over HTTP.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	token := streamToken(r)
	switch {
	case isWebSocketUpgrade(r):
		h.serveWebSocket(w, r)
	case r.Method == http.MethodPut:
		h.serveReserve(w, r)
	case token != "":
		res := h.lookup(token)
		switch {
		case res == nil:
			writeErrorBody(w, mediaJSON, http.StatusNotFound, transport.CodeNotFound, "Stream not found")
		case acceptsEventStream(r):
			h.serveReservedStream(w, r, res)
		case r.Method == http.MethodDelete:
			h.serveStopOperation(w, r, res)
		case r.Method == http.MethodGet || r.Method == http.MethodPost:
			h.serveReservedOperation(w, r, res)
		default:
			w.Header().Set("Allow", "GET, POST, PUT, DELETE")
			writeErrorBody(w, mediaJSON, http.StatusMethodNotAllowed, transport.CodeBadRequest, "method not allowed")
		}
	case acceptsEventStream(r):
		h.serveSSE(w, r)
	default:
		h.serveHTTP(w, r)
	}
}

func isWebSocketUpgrade(r *http.Request) bool {
	return headerHasToken(r.Header, "Connection", "upgrade") && headerHasToken(r.Header, "Upgrade", "websocket")
}

func headerHasToken(h http.Header, key, token string) bool {
	for _, v := range h.Values(key) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// begin registers a long-lived session; it fails when the handler is
// shutting down or the connection limit is reached.
func (h *Handler) begin(s session) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closing {
		return fmt.Errorf("%w: shutting down", transport.ErrUnavailable)
	}
	if err := h.gate.Enter(); err != nil {
		return err
	}
	h.sessions[s] = struct{}{}
	h.wg.Add(1)
	return nil
}

// end unregisters a session begun with begin.
func (h *Handler) end(s session) {
	h.mu.Lock()
	delete(h.sessions, s)
	h.mu.Unlock()
	h.gate.Leave(nil)
	h.wg.Done()
}

// Shutdown stops accepting connections, ends every WebSocket with close code
// 1001 (going away) and every SSE stream, and waits for them to finish or
// for ctx to be done; then it closes what is left at once and returns ctx's
// error. Plain HTTP requests are left to http.Server.Shutdown.
func (h *Handler) Shutdown(ctx context.Context) error {
	h.mu.Lock()
	h.closing = true
	ss := make([]session, 0, len(h.sessions))
	for s := range h.sessions {
		ss = append(ss, s)
	}
	h.mu.Unlock()

	var wg sync.WaitGroup
	for _, s := range ss {
		wg.Add(1)
		go func() { defer wg.Done(); s.goAway() }()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); h.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		h.killAll()
		<-done
		return ctx.Err()
	}
}

// Close ends every session at once, without close handshakes, and waits for
// them. It is idempotent.
func (h *Handler) Close() error {
	h.mu.Lock()
	h.closing = true
	h.mu.Unlock()
	h.killAll()
	h.wg.Wait()
	return nil
}

func (h *Handler) killAll() {
	h.mu.Lock()
	ss := make([]session, 0, len(h.sessions))
	for s := range h.sessions {
		ss = append(ss, s)
	}
	h.mu.Unlock()
	for _, s := range ss {
		s.kill()
	}
}

// serveWebSocket accepts the upgrade and runs the protocol the client chose.
func (h *Handler) serveWebSocket(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	closing := h.closing
	h.mu.Unlock()
	if closing {
		transport.WriteError(w, fmt.Errorf("%w: shutting down", transport.ErrUnavailable))
		return
	}
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		Subprotocols:       []string{SubprotocolTransportWS, SubprotocolLegacyWS},
		OriginPatterns:     h.opts.OriginPatterns,
		InsecureSkipVerify: h.opts.InsecureSkipVerify,
	})
	if err != nil {
		h.opts.Logger.Debug("graphqlsub: websocket accept failed", "err", err, "remote", r.RemoteAddr)
		return // Accept wrote the HTTP error
	}
	defer c.CloseNow()
	limit := h.opts.Limits.MaxMessageBytes
	if limit <= 0 {
		limit = -1
	}
	c.SetReadLimit(limit)

	switch c.Subprotocol() {
	case SubprotocolTransportWS:
		s := newTransportConn(h, c, r)
		if err := h.begin(s); err != nil {
			_ = c.Close(websocket.StatusTryAgainLater, "Server overloaded or shutting down")
			return
		}
		defer h.end(s)
		s.run()
	case SubprotocolLegacyWS:
		s := newLegacyConn(h, c, r)
		if err := h.begin(s); err != nil {
			_ = c.Close(websocket.StatusTryAgainLater, "Server overloaded or shutting down")
			return
		}
		defer h.end(s)
		s.run()
	default:
		_ = c.Close(closeSubprotocolNotAcceptable, "Subprotocol not acceptable")
	}
}
