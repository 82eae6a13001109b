package sse

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/switchboard-go/switchboard/internal/coalesce"
	"github.com/switchboard-go/switchboard/internal/httpstream"
	"github.com/switchboard-go/switchboard/internal/httpx"
	"github.com/switchboard-go/switchboard/internal/lifecycle"
	"github.com/switchboard-go/switchboard/internal/wire"
	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
)

// Handler streams broker messages as text/event-stream. Create it with
// NewHandler; it is safe for concurrent use.
type Handler struct {
	b    pubsub.Broker
	hr   pubsub.HistoryReader // nil when the broker keeps no history
	o    Options
	log  *slog.Logger
	life *lifecycle.Tracker
	held coalesce.Queue[*stream] // taken-over streams waiting for Options.Coalesce
	pre  httpstream.Preamble

	parse  func(*http.Request) (request, []string, error) // h.parseRequest, bound once
	cache  wire.EncodeCache
	encode func([]byte, *pubsub.Message) []byte // h.encodeEvent, bound once
	// The other format, for requests that ask for it with format=.
	alt       wire.EncodeCache
	altEncode func([]byte, *pubsub.Message) []byte // h.encodeAlt, bound once
}

var (
	_ http.Handler         = (*Handler)(nil)
	_ transport.Shutdowner = (*Handler)(nil)
)

// NewHandler returns a Handler serving SSE streams from b. opts may be
// nil; the Handler keeps a copy.
func NewHandler(b pubsub.Broker, opts *Options) *Handler {
	o := opts.withDefaults()
	h := &Handler{b: b, o: o, log: o.Logger, life: lifecycle.New(o.Limits.MaxConnections)}
	h.life.Observe(o.Observer, "sse")
	h.pre = httpstream.Preamble{Transport: "sse", Methods: "GET, HEAD", Auth: o.Auth, CORS: o.CORS,
		Tracker: h.life, Observer: o.Observer, RetryAfter: "5", Closed: h.goAway, CutWrites: true}
	h.held.Release = func(s *stream) { go s.pump() }
	h.parse = h.parseRequest
	h.encode = h.encodeEvent
	h.altEncode = h.encodeAlt
	if hr, ok := b.(pubsub.HistoryReader); ok && b.Capabilities().History {
		h.hr = hr
	}
	return h
}

// ServeHTTP serves GET (and HEAD) requests; see the package doc for the
// query parameters, the events and the status codes.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !httpx.CanFlush(w) {
		h.refuseNoFlush(w)
		return
	}
	req, sess, ok := httpstream.Open(&h.pre, w, r, h.parse)
	if !ok {
		return
	}
	kept := true // false once the stream is taken over: it ends on its own
	defer func() {
		if kept {
			sess.End()
		}
	}()
	if r.Method == http.MethodHead {
		h.writeHeaders(w)
		return
	}
	sub, pre, err := h.subscribe(sess.Context(), req)
	if err != nil {
		switch {
		case sess.IsCut(): // cut before the stream started: no answer
		case errors.Is(err, pubsub.ErrClosed):
			h.goAway(w) // the broker is closing with the server
		default:
			transport.WriteError(w, err)
		}
		return
	}
	defer func() {
		if kept {
			_ = sub.Close()
		}
	}()
	obs := h.o.Observer
	obs.OnSubStarted("sse", req.filters...)
	st := newStream(h, w, sub, sess)
	st.alt = req.format != h.o.Format
	h.writeHeaders(w)
	st.preamble(pre)
	if err := st.flush(); err != nil {
		h.log.Debug("sse: cannot start stream", "err", err)
		obs.OnSubEnded("sse", transport.EndError, err, req.filters...)
		return
	}
	if st.takeOver(r, req.filters) {
		kept = false
		return
	}
	reason, err := st.run()
	obs.OnSubEnded("sse", reason, err, req.filters...)
}

// refuseNoFlush answers 500 naming the problem when w cannot flush (a
// middleware wrapped it without Flush or Unwrap): a stream would end at
// once and EventSource would reconnect forever. The message is for the
// developer who mounted the handler; it discloses nothing about the
// request.
func (h *Handler) refuseNoFlush(w http.ResponseWriter) {
	msg := fmt.Sprintf("sse: the ResponseWriter (%T) cannot flush: a middleware wraps it without Flush or Unwrap", w)
	h.log.Warn(msg)
	var b transport.ErrorBody
	b.Error.Code = transport.CodeInternal
	b.Error.Message = msg
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusInternalServerError)
	_ = json.NewEncoder(w).Encode(b)
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

// Shutdown stops the Handler gracefully. New streams get an empty 200
// response with only retry: (a 503 would stop EventSource for good), so
// browsers come back later, to this server or another. Every open stream
// gets the SSE go-away signal: the events already delivered to it are
// written and the stream ends, so the client reconnects with the
// Last-Event-ID of the last event it got and loses nothing. Shutdown waits
// until every stream has returned; when ctx ends first it cuts the rest as
// Close does, waits for them and returns ctx's error. Call it before
// http.Server.Shutdown, which does not end streaming responses, or use
// transport.Shutdown. It is idempotent and safe to call concurrently with
// Close and ServeHTTP.
func (h *Handler) Shutdown(ctx context.Context) error {
	return h.life.Shutdown(ctx)
}

// Close stops the Handler abruptly: new streams are answered as after
// Shutdown, and every open stream is cut at once, without writing what
// was delivered to it (a write blocked on a client that stopped reading
// fails). The client reconnects with the Last-Event-ID of the last event
// it got. Close waits until every stream has returned, and returns nil. It
// is idempotent and safe to call concurrently with Shutdown and ServeHTTP.
func (h *Handler) Close() error {
	return h.life.Close()
}

// Active returns the number of open streams.
func (h *Handler) Active() int {
	return h.life.Active()
}
