package longpoll

import (
	"context"
	"fmt"
	"net/http"

	"github.com/switchboard-go/switchboard/internal/httpstream"
	"github.com/switchboard-go/switchboard/internal/lifecycle"
	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
)

// Handler answers long polls from a broker. Create it with NewHandler; it
// is safe for concurrent use.
type Handler struct {
	b    pubsub.Broker
	hr   pubsub.HistoryReader // nil: degraded, live-only polls
	o    Options
	life *lifecycle.Tracker
	pre  httpstream.Preamble

	parse func(*http.Request) (request, []string, error) // h.parseRequest, bound once
}

var (
	_ http.Handler         = (*Handler)(nil)
	_ transport.Shutdowner = (*Handler)(nil)
)

// NewHandler returns a Handler answering polls from b. opts may be nil;
// the Handler keeps a copy.
func NewHandler(b pubsub.Broker, opts *Options) *Handler {
	o := opts.withDefaults()
	h := &Handler{b: b, o: o, life: lifecycle.New(o.Limits.MaxConnections)}
	h.life.Observe(o.Observer, "longpoll")
	h.pre = httpstream.Preamble{Transport: "longpoll", Methods: "GET", Auth: o.Auth, CORS: o.CORS,
		Tracker: h.life, Observer: o.Observer, RetryAfter: "1"}
	h.parse = h.parseRequest
	if hr, ok := b.(pubsub.HistoryReader); ok && b.Capabilities().History {
		h.hr = hr
	}
	return h
}

// ServeHTTP answers GET polls; see the package doc for the parameters, the
// response and the status codes.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	req, sess, ok := httpstream.Open(&h.pre, w, r, h.parse)
	if !ok {
		return
	}
	defer sess.End()
	obs := h.o.Observer
	obs.OnSubStarted("longpoll", req.filters...)
	res, err := h.poll(sess, req)
	switch {
	case sess.IsCut():
		obs.OnSubEnded("longpoll", transport.EndShutdown, err, req.filters...)
		h.pre.Unavailable(w, fmt.Errorf("%w: the server closed", transport.ErrUnavailable))
		return
	case err != nil && sess.Context().Err() != nil:
		obs.OnSubEnded("longpoll", transport.EndClient, err, req.filters...)
		return // the client left
	case err != nil:
		obs.OnSubEnded("longpoll", transport.ReasonOf(err), err, req.filters...)
		transport.WriteError(w, err)
		return
	}
	res.writeJSON(w, h.o.Limits.MaxResponseBytes, obs)
	reason := transport.EndClient // the poll was answered: the client polls again
	select {
	case <-sess.GoingAway():
		reason = transport.EndShutdown
	default:
	}
	obs.OnSubEnded("longpoll", reason, nil, req.filters...)
}

// Shutdown stops the Handler gracefully. New polls are refused with 503
// and Retry-After. Every held poll gets the long-poll go-away signal: it
// is answered at once with an empty batch and the client's cursor, so the
// client polls again (here or elsewhere) and loses nothing. Shutdown waits
// until every poll in progress has been answered; when ctx ends first it
// cuts the rest as Close does, waits for them and returns ctx's error.
// It is idempotent and safe to call concurrently with Close and
// ServeHTTP.
func (h *Handler) Shutdown(ctx context.Context) error {
	return h.life.Shutdown(ctx)
}

// Close stops the Handler abruptly: new polls are refused with 503 and
// Retry-After, and every poll in progress is cut at once, without its
// cursor: it is answered 503 with Retry-After, and the client polls again
// later with the cursor it has. Close waits until every poll has been
// answered, and returns nil. It is idempotent and safe to call
// concurrently with Shutdown and ServeHTTP.
func (h *Handler) Close() error {
	return h.life.Close()
}

// Active returns the number of polls in progress (held or being
// answered).
func (h *Handler) Active() int {
	return h.life.Active()
}
