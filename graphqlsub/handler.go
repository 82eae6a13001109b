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
// package documentation. Create it with NewHandler; stop it with Shutdown
// or Close. It is safe for concurrent use.
type Handler struct {
	exec   Executor
	opts   Options
	tr     *lifecycle.Tracker // WebSockets, SSE streams and reservations
	origin originGuard

	mu           sync.Mutex
	reservations map[string]*reservation // single-connection SSE, by token

	shareMu sync.Mutex
	groups  map[string]*shareGroup // shared subscription executions, by key
	shareWG sync.WaitGroup         // their goroutines
}

var (
	_ http.Handler         = (*Handler)(nil)
	_ transport.Shutdowner = (*Handler)(nil)
)

// NewHandler returns a Handler running operations on exec. opts may be nil
// (all defaults); the Handler keeps a copy.
func NewHandler(exec Executor, opts *Options) *Handler {
	o := opts.withDefaults()
	h := &Handler{
		exec:         exec,
		opts:         o,
		tr:           lifecycle.New(o.Limits.MaxConnections),
		origin:       newOriginGuard(&o),
		reservations: make(map[string]*reservation),
		groups:       make(map[string]*shareGroup),
	}
	h.tr.Observe(o.Observer, transportName)
	return h
}

// ServeHTTP dispatches on the request: a WebSocket upgrade goes to
// graphql-transport-ws or legacy graphql-ws by Sec-WebSocket-Protocol; PUT
// and requests carrying a stream token to GraphQL over SSE's single
// connection mode; an Accept of text/event-stream to GraphQL over SSE's
// distinct connections mode; any other GET or POST to GraphQL over HTTP.
// A cross-origin browser request with an unsafe method (POST, PUT, DELETE)
// from an origin OriginPatterns does not allow gets 403 first.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !h.origin.check(w, r) {
		return
	}
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
			writeErrorBody(w, mediaJSON, http.StatusMethodNotAllowed, transport.CodeMethodNotAllowed, "method not allowed")
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

// Shutdown shuts the Handler down gracefully. New connections are refused
// (HTTP 503 with Retry-After; a WebSocket accepted in the meantime is
// closed with 1013). Every WebSocket, of either subprotocol, gets the
// go-away signal, close code 1001 (going away); every SSE stream ends after
// what was already delivered, and single-connection reservations end with
// their streams. Shutdown waits until they have all gone; when ctx ends
// first it cuts the rest (as Close does), waits for them, and returns
// ctx's error. Plain GraphQL over HTTP requests are left to
// http.Server.Shutdown. It is idempotent and may race Close and ServeHTTP.
func (h *Handler) Shutdown(ctx context.Context) error {
	err := h.tr.Shutdown(ctx)
	h.shareWG.Wait() // shared executions end with their last subscriber
	return err
}

// Close cuts every connection now: WebSockets are dropped without a close
// handshake (no go-away), SSE streams and reservations end. New
// connections are refused. Close then waits for the Handler's goroutines
// and returns nil. It is idempotent and may race Shutdown and ServeHTTP.
func (h *Handler) Close() error {
	err := h.tr.Close()
	h.shareWG.Wait() // shared executions end with their last subscriber
	return err
}

// Active returns the number of sessions open now: WebSockets, SSE streams
// and single-connection reservations (the sessions Limits.MaxConnections
// bounds).
func (h *Handler) Active() int { return h.tr.Active() }

// refuse answers a request for a session the Handler cannot open now
// (shutting down, or Limits.MaxConnections reached) with 503 and
// Retry-After.
func refuse(w http.ResponseWriter, media string, err error) {
	w.Header().Set("Retry-After", "1")
	writeErrorBody(w, media, transport.HTTPStatus(err), transport.Code(err), err.Error())
}

// serveWebSocket accepts the upgrade and runs the protocol the client chose.
func (h *Handler) serveWebSocket(w http.ResponseWriter, r *http.Request) {
	select {
	case <-h.tr.Closing():
		transport.WriteError(w, fmt.Errorf("%w: shutting down", transport.ErrUnavailable))
		return
	default:
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

	var p wsProtocol
	switch c.Subprotocol() {
	case SubprotocolTransportWS:
		p = transportWS{}
	case SubprotocolLegacyWS:
		p = legacyWS{}
	default:
		_ = c.Close(closeSubprotocolNotAcceptable, "Subprotocol not acceptable")
		return
	}
	if err := h.tr.Enter(); err != nil {
		_ = c.Close(websocket.StatusTryAgainLater, "Server overloaded or shutting down")
		return
	}
	s := newWSSession(h, c, r, p)
	defer h.tr.Leave(s)
	h.tr.Attach(s)
	s.run()
}
