package sse

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/switchboard-go/switchboard/internal/cors"

	"github.com/switchboard-go/switchboard/internal/wire"

	"github.com/switchboard-go/switchboard/internal/lifecycle"
	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
)

// Format chooses what an event's data lines carry.
type Format int

const (
	// FormatData sends the payload itself, one data line per line of the
	// payload. Browsers decode it as UTF-8 and join lines with LF, so CR and
	// CRLF arrive as LF; use FormatEnvelope for byte-exact binary payloads.
	FormatData Format = iota
	// FormatEnvelope sends the transport JSON envelope (topic, id, cursor,
	// time, header, data or data_b64) on one data line; payloads round-trip
	// byte for byte.
	FormatEnvelope
)

// Defaults for Options.
const (
	DefaultRetry        = 3 * time.Second
	DefaultHeartbeat    = 15 * time.Second
	DefaultWriteTimeout = 10 * time.Second
)

// Options configures a Handler. The zero value (or nil) is a good default.
type Options struct {
	// Auth authenticates each stream ("sse") and authorizes each filter
	// (transport.ActionSubscribe). nil allows everyone.
	Auth *transport.Auth
	// Limits: MaxSubscriptions caps the topic filters of one stream (400
	// beyond), MaxConnections the open streams (503 beyond).
	// MaxMessageBytes is not used: the handler only sends.
	Limits transport.Limits
	// Format chooses raw payloads (the default) or the JSON envelope.
	Format Format
	// EventName returns the event: field for a message; "" sends none, so
	// the browser fires "message". nil uses the message's "event" header.
	// A name holding CR, LF or NUL is dropped.
	EventName func(m *pubsub.Message) string
	// Retry is sent once as the retry: field (the browser's reconnection
	// delay); 0 means DefaultRetry, negative sends none.
	Retry time.Duration
	// Heartbeat is the interval of ": ping" comments that keep proxies from
	// closing an idle stream; 0 means DefaultHeartbeat, negative sends none.
	Heartbeat time.Duration
	// WriteTimeout bounds each write to the client; a client that does not
	// read for this long is disconnected. 0 means DefaultWriteTimeout,
	// negative means none.
	WriteTimeout time.Duration
	// Buffer is the stream's subscription buffer in messages; 0 means the
	// broker's default (pubsub.DefaultBuffer for the memory broker).
	// When it overflows the stream ends after the last delivered event.
	Buffer int
	// CORS allows cross-origin EventSource; nil sends no CORS headers.
	CORS *transport.CORS
	// Logger receives debug and warning events; nil is silent.
	Logger *slog.Logger
}

// Handler streams broker messages as text/event-stream. Create it with
// NewHandler; it is safe for concurrent use.
type Handler struct {
	b    pubsub.Broker
	hr   pubsub.HistoryReader // nil when the broker keeps no history
	o    Options
	gate *lifecycle.Tracker
	log  *slog.Logger

	life *lifecycle.Tracker

	cache  wire.EncodeCache
	encode func([]byte, *pubsub.Message) []byte // h.encodeEvent, bound once
}

var _ http.Handler = (*Handler)(nil)

// NewHandler returns a Handler serving SSE streams from b. opts may be nil.
func NewHandler(b pubsub.Broker, opts *Options) *Handler {
	var o Options
	if opts != nil {
		o = *opts
	}
	o.Limits = o.Limits.WithDefaults()
	o.Retry = pick(o.Retry, DefaultRetry)
	o.Heartbeat = pick(o.Heartbeat, DefaultHeartbeat)
	o.WriteTimeout = pick(o.WriteTimeout, DefaultWriteTimeout)
	if o.Buffer < 0 {
		o.Buffer = 0
	}
	h := &Handler{b: b, o: o, gate: lifecycle.New(o.Limits.MaxConnections), log: o.Logger, life: lifecycle.New(0)}
	h.encode = h.encodeEvent
	if hr, ok := b.(pubsub.HistoryReader); ok && b.Capabilities().History {
		h.hr = hr
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	return h
}

func pick(v, def time.Duration) time.Duration {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}

// ServeHTTP serves GET (and HEAD) requests; see the package doc for the
// query parameters, the events and the status codes.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if cors.Handle((*cors.Policy)(h.o.CORS), w, r, "GET, HEAD") {
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD, OPTIONS")
		writeStatus(w, http.StatusMethodNotAllowed, "method_not_allowed", "use GET")
		return
	}
	req, err := parseRequest(r.URL.RawQuery, r.Header.Values("Last-Event-ID"), h.o.Limits.MaxSubscriptions)
	if err != nil {
		transport.WriteError(w, err)
		return
	}
	ctx, _, err := h.o.Auth.Admit(r, "sse", transport.ActionSubscribe, req.filters)
	if err != nil {
		transport.WriteError(w, err)
		return
	}
	if h.life.Enter() != nil {
		h.goAway(w)
		return
	}
	defer h.life.Leave(nil)
	if err := h.gate.Enter(); err != nil {
		w.Header().Set("Retry-After", "5")
		transport.WriteError(w, err)
		return
	}
	defer h.gate.Leave(nil)
	if r.Method == http.MethodHead {
		h.writeHeaders(w)
		return
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sub, pre, err := h.subscribe(ctx, req)
	if errors.Is(err, pubsub.ErrClosed) {
		h.goAway(w) // the broker is closing with the server
		return
	}
	if err != nil {
		transport.WriteError(w, err)
		return
	}
	defer func() { _ = sub.Close() }()
	st := newStream(h, w, sub)
	h.writeHeaders(w)
	st.preamble(pre)
	if err := st.flush(); err != nil {
		h.log.Debug("sse: cannot start stream", "err", err)
		return
	}
	st.run(ctx)
}

func (h *Handler) writeHeaders(w http.ResponseWriter) {
	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Accel-Buffering", "no")
	hd.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
}

// goAway answers a stream the server cannot serve because it is going
// away: a 200 with only retry: makes the browser reconnect later (to
// another instance behind a balancer), where a 503 would stop EventSource
// for good.
func (h *Handler) goAway(w http.ResponseWriter) {
	h.writeHeaders(w)
	buf := []byte(": shutting down\n")
	if h.o.Retry > 0 {
		buf = appendRetry(buf, h.o.Retry.Milliseconds())
	}
	_, _ = w.Write(append(buf, '\n'))
}

func writeStatus(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(`{"error":{"code":` + strconv.Quote(code) + `,"message":` + strconv.Quote(msg) + "}}\n"))
}

// Shutdown ends every stream after writing the events already delivered to
// it (clients reconnect with Last-Event-ID, to this server or another) and
// waits until all streams have returned or ctx is done. Streams that arrive
// later get an empty 200 response with retry:, so browsers try again
// later. Call it before http.Server.Shutdown, which does not end streaming
// responses. It is idempotent.
func (h *Handler) Shutdown(ctx context.Context) error {
	return h.life.Shutdown(ctx)
}

// Active returns the number of open streams.
func (h *Handler) Active() int {
	return h.life.Active()
}
