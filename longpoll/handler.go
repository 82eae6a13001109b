package longpoll

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/switchboard-go/switchboard/internal/cors"

	"github.com/switchboard-go/switchboard/internal/lifecycle"
	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
)

// Defaults for Options.
const (
	DefaultTimeout  = 25 * time.Second
	DefaultMaxBatch = 100
)

// Options configures a Handler. The zero value (or nil) is a good default.
type Options struct {
	// Auth authenticates each poll ("longpoll") and authorizes each filter
	// (transport.ActionSubscribe). nil allows everyone.
	Auth *transport.Auth
	// Limits: MaxSubscriptions caps the topic filters of one poll (400
	// beyond), MaxConnections the polls in progress (503 beyond).
	Limits transport.Limits
	// DefaultTimeout is how long an empty poll is held when the request
	// has no timeout parameter; 0 means DefaultTimeout, negative answers
	// at once.
	DefaultTimeout time.Duration
	// MaxTimeout caps the timeout parameter; 0 means twice DefaultTimeout
	// (at least DefaultTimeout, the package constant).
	MaxTimeout time.Duration
	// MaxBatch caps the messages of one response (the limit parameter may
	// ask for fewer); 0 means DefaultMaxBatch.
	MaxBatch int
	// CORS allows polls from pages on other origins; nil sends no CORS
	// headers.
	CORS *transport.CORS
	// Logger receives debug events; nil is silent.
	Logger *slog.Logger
}

// Handler answers long polls from a broker. Create it with NewHandler; it
// is safe for concurrent use.
type Handler struct {
	b    pubsub.Broker
	hr   pubsub.HistoryReader // nil: degraded, live-only polls
	o    Options
	gate *lifecycle.Tracker
	log  *slog.Logger

	life *lifecycle.Tracker
}

var _ http.Handler = (*Handler)(nil)

// NewHandler returns a Handler answering polls from b. opts may be nil.
func NewHandler(b pubsub.Broker, opts *Options) *Handler {
	var o Options
	if opts != nil {
		o = *opts
	}
	o.Limits = o.Limits.WithDefaults()
	switch {
	case o.DefaultTimeout == 0:
		o.DefaultTimeout = DefaultTimeout
	case o.DefaultTimeout < 0:
		o.DefaultTimeout = 0
	}
	if o.MaxTimeout <= 0 {
		o.MaxTimeout = max(2*o.DefaultTimeout, DefaultTimeout)
	}
	o.DefaultTimeout = min(o.DefaultTimeout, o.MaxTimeout)
	if o.MaxBatch <= 0 {
		o.MaxBatch = DefaultMaxBatch
	}
	h := &Handler{b: b, o: o, gate: lifecycle.New(o.Limits.MaxConnections), log: o.Logger, life: lifecycle.New(0)}
	if hr, ok := b.(pubsub.HistoryReader); ok && b.Capabilities().History {
		h.hr = hr
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	return h
}

// ServeHTTP answers GET polls; see the package doc for the parameters, the
// response and the status codes.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if cors.Handle((*cors.Policy)(h.o.CORS), w, r, "GET") {
		return
	}
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET, OPTIONS")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusMethodNotAllowed)
		_, _ = w.Write([]byte(`{"error":{"code":"method_not_allowed","message":"use GET"}}` + "\n"))
		return
	}
	req, err := parseRequest(r.URL.RawQuery, &h.o)
	if err != nil {
		transport.WriteError(w, err)
		return
	}
	ctx, _, err := h.o.Auth.Admit(r, "longpoll", transport.ActionSubscribe, req.filters)
	if err != nil {
		transport.WriteError(w, err)
		return
	}
	if h.life.Enter() != nil {
		w.Header().Set("Retry-After", "1")
		transport.WriteError(w, transport.ErrUnavailable)
		return
	}
	defer h.life.Leave(nil)
	if err := h.gate.Enter(); err != nil {
		w.Header().Set("Retry-After", "1")
		transport.WriteError(w, err)
		return
	}
	defer h.gate.Leave(nil)

	res, err := h.poll(ctx, req)
	if err != nil {
		if ctx.Err() != nil {
			return // the client left
		}
		transport.WriteError(w, err)
		return
	}
	body := res.appendJSON(make([]byte, 0, 256))
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	_, _ = w.Write(body)
}

// Shutdown answers every held poll at once (an empty batch with the
// client's cursor, so it loses nothing), refuses new polls with 503 and
// Retry-After, and waits until the polls in progress have returned or ctx
// is done. It is idempotent.
func (h *Handler) Shutdown(ctx context.Context) error {
	return h.life.Shutdown(ctx)
}

// Held returns the number of polls in progress.
func (h *Handler) Held() int {
	return h.life.Active()
}
